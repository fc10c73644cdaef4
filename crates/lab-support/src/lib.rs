//! Plumbing shared by coord-lab's binaries and their tests. It is not part of the lesson: no
//! coordination is taught here, it only keeps the same few helpers from being written once per
//! crate.
//!
//! | module | what |
//! |---|---|
//! | [`claim`] | [`Claim`]: one claim of the lecture next to what a run measured (the `--json` reports) |
//! | [`cli_test`] | the CLI tests' way to run a built binary: its own process group, a deadline, no process left behind |
//! | [`clock`] | CPU-time clocks (process, thread) |
//! | [`fmt`] | number formatting for the binaries' tables (`1,234,567`) |
//! | [`procfs`] | a process's state and parent from `/proc/<pid>/stat` |
//! | [`stats`] | the median the binaries quote |
//! | [`work`] | the work the lecture's examples compute: [`is_prime`] |
//! | (root) | the `main` preamble: [`restore_default_sigpipe`], [`dev_build_note`], [`RUST_FIGURES`] |

pub mod claim;
pub mod cli_test;
pub mod clock;
pub mod fmt;
pub mod procfs;
pub mod stats;
pub mod work;

pub use claim::Claim;
pub use work::is_prime;

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

/// The header line that says whose figures a binary prints: this Rust program's, not the
/// lecture's (which are Python's).
pub const RUST_FIGURES: &str = "Every figure below is measured by this Rust program, with real processes, on this machine \
     (the lecture's figures are Python's).";

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
