//! # check-frequency: how often should a worker look at the stop flag?
//!
//! Lecture 27, Concept 4.1 and Example 27.2. A worker that checks a shared stop flag pays for
//! every check, and cannot notice anything between two checks: check often and the checks
//! cost time, check rarely and the workers run on after they were told to stop. The interval
//! is a design knob, to be set from two measured costs (one read, one iteration of work).
//!
//! **Start with [`lesson`]**: the lecture's workers in Rust. Example 27.2 as the lecture wrote
//! it, where `count % 10` tests the number of primes found rather than the iteration (so
//! "every 10 iterations" is not what happens), the corrected worker that tests `i % K`, the
//! loop with a tunable interval, and the rule for choosing it.
//!
//! The other modules run those very functions with real forked processes and a real shared
//! flag, and report:
//!
//! | module | what |
//! |---|---|
//! | [`lesson`] | the lecture's code, nothing else |
//! | [`scenarios`] | the instrumented runs: Example 27.2, the interval sweep, read costs, the recommended interval |
//! | [`claims`] | the results judged against the lecture's claims (`--json`) |
//! | [`config`] | the options a run takes (`--help`) |
//! | [`render`], [`chart`] | the text the binary prints |
//! | [`lanes`], [`class`] | `--timeline` (one lane per worker) and `--class` |
//! | [`cli`] | the command line |

pub mod chart;
pub mod claims;
pub mod class;
pub mod cli;
pub mod config;
pub mod lanes;
pub mod lesson;
pub mod render;
pub mod scenarios;
