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
