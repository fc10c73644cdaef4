//! # coord-exercises: the checker of the coord-lab exercises
//!
//! The exercises of Lecture 27, rustlings-style. Each exercise crate under `exercises/`
//! holds one file a learner edits; this crate holds everything else:
//!
//! - [`contract`]: one `check` per exercise that runs the scenario with real processes
//!   against any implementation and says pass (with the facts it saw) or fail (with why);
//! - [`solutions`]: the reference solutions (spoilers);
//! - [`wrong`]: known-wrong implementations, each making one named mistake;
//! - [`info`]: the table of exercises, sections and hints;
//! - the `coord-exercises` binary: `list`, `check N`, `hint N`, `solution N`.
//!
//! The test suite (`tests/contracts.rs`) proves every contract: the solution passes, every
//! wrong implementation fails for its reason, and the untouched stub fails.

pub mod contract;
pub mod harness;
pub mod info;
pub mod solutions;
pub mod wrong;

pub use harness::{Failure, Options, Report, Verdict};

/// Runs exercise `n`'s check as a test: what `cargo test -p ex01-poison-pill` (and each other
/// exercise crate) calls, so an editor's test runner can check an exercise.
///
/// While the exercise file is exactly the shipped stub, the test passes and says the exercise
/// is not started (a fresh clone's `cargo test --workspace` passes; the checker's own suite
/// proves the stub fails its contract). Once the file is edited, this *is* the check: it
/// fails with the checker's reason until the contract passes.
pub fn check_as_test(n: u32) {
    use std::io::Write;
    let e = info::find(n).expect("there is such an exercise");
    // Written to stderr directly: the test harness shows it even when the test passes.
    let mut err = std::io::stderr();
    if e.untouched() {
        let _ = writeln!(
            err,
            "exercise {n} ({}): not started: {} is the shipped stub; edit it, then run this test again \
             (or: cargo run -p coord-exercises -- check {n})",
            e.name, e.file
        );
        return;
    }
    match (e.learner)(&Options::default()) {
        Ok(report) => {
            let _ = writeln!(err, "exercise {n} ({}): PASS", e.name);
            for fact in report.facts {
                let _ = writeln!(err, "  {fact}");
            }
        }
        Err(f) => panic!(
            "exercise {n} ({}) does not pass yet: {f}\n(stuck? cargo run -p coord-exercises -- hint {n})",
            e.name
        ),
    }
}
