//! # shared-state: Lecture 27, concepts 3.1 and 5.1, measured
//!
//! "Which shared-state primitive, at what cost?" answered with this machine's numbers. Start
//! with [`lesson`]: the lecture's code, short. A manager object lives in another process, so
//! every access to it is a round trip over a socket; a [`coord_core::Value`] or
//! [`coord_core::Array`] lives in memory every process has mapped, so an access is a load or a
//! store, with a process-shared lock around it unless it is the raw (atomic) form. The manager
//! takes any shape and grows; shared memory has a layout fixed when it is created.
//!
//! The rest measures the lesson's functions:
//!
//! | module | what |
//! |---|---|
//! | [`lesson`] | the accesses, the four ways to add to one counter, read-then-write without a lock, a fixed array against a growing list |
//! | [`scenarios::latency`] | 3.1: one access of each kind, timed in one process |
//! | [`scenarios::counter`] | one run: workers add to one counter, released by a barrier; time, manager load, lost increments |
//! | [`scenarios::bottleneck`], [`scenarios::lost_updates`] | 3.1's bottleneck and 5.1's lost updates, a few runs each |
//! | [`scenarios::fixed`] | 5.1: a fixed-size array against the manager's list |
//! | [`claims`] | the lecture's claims against this run's figures; the `--json` report |
//! | [`render`] | the text output |
//! | [`lanes`], [`class`] | `--timeline`: the bottleneck run drawn; `--class`: one scenario for a room |
//!
//! Every worker is a real forked process and every shared object real `MAP_SHARED` memory or
//! a real manager server (see `coord-core`).

pub mod claims;
pub mod class;
pub mod cli;
pub mod lanes;
pub mod lesson;
pub mod render;
pub mod scenarios;
