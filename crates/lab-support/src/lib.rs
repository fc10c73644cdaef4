//! Plumbing shared by coord-lab's binaries and their tests. It is not part of the lesson: no
//! coordination is taught here, it only keeps the same few helpers from being written once per
//! crate.
//!
//! | module | what |
//! |---|---|
//! | [`cli_test`] | the CLI tests' way to run a built binary: its own process group, a deadline, no process left behind |
//! | [`fmt`] | number formatting for the binaries' tables (`1,234,567`) |
//! | [`stats`] | the median the binaries quote |
//! | (root) | the `main` preamble: [`restore_default_sigpipe`], [`dev_build_note`] |

pub mod cli_test;
pub mod fmt;
pub mod stats;

use nix::sys::signal::{SigHandler, Signal, signal};

/// Puts SIGPIPE back to its default action (SIG_DFL), so that when the reader of stdout goes
/// away (`binary | head -3`) the kernel ends the process quietly, like any Unix tool, instead
/// of the next print failing on "Broken pipe" (Rust ignores SIGPIPE by default).
///
/// Call it first in `main`, before any thread or child process exists.
pub fn restore_default_sigpipe() {
    // SAFETY: `signal` is unsafe because a handler function could interrupt any code; SIG_DFL
    // installs no function of ours. It runs first in main, before any thread or child exists.
    unsafe {
        let _ = signal(Signal::SIGPIPE, SigHandler::SigDfl);
    }
}

/// The header line saying this is the (optimized) dev build, for `cargo run -p <crate_name>`.
pub fn dev_build_text(crate_name: &str) -> String {
    format!(
        "(dev build: optimized, overflow checks on; for final numbers: cargo run --release -p {crate_name})"
    )
}

/// [`dev_build_text`] when debug assertions are on (the dev profile), `None` in a release build.
pub fn dev_build_note(crate_name: &str) -> Option<String> {
    cfg!(debug_assertions).then(|| dev_build_text(crate_name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_build_text_names_the_crate() {
        assert_eq!(
            dev_build_text("early-exit"),
            "(dev build: optimized, overflow checks on; for final numbers: cargo run --release -p early-exit)"
        );
        assert_eq!(dev_build_note("x").is_some(), cfg!(debug_assertions));
    }
}
