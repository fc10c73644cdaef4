//! # Exercise 1: the poison pill (lecture section 1.1)
//!
//! A pool of worker processes takes jobs from one queue. Shut the pool down through that
//! same queue: after the last task, put one `Job::Stop` per worker. A worker that takes a
//! `Stop` leaves at once. No flag, no lock, no timeout, no `terminate()`.
//!
//! Done when: every task is processed exactly once and answered by the worker that did it,
//! every worker leaves on its own (exit code 0) while the producer is still alive, and
//! nothing is left on the job queue. The checker runs pools of 3, 1 and 5 workers, and the
//! first pool waits on an empty queue for a while before the producer starts.
//!
//! Check:  cargo run -p coord-exercises -- check 1     (or: cargo test -p ex01-poison-pill)
//! Hint:   cargo run -p coord-exercises -- hint 1
//!
//! Replace each `todo!()`; keep the signatures (the checker calls them).
#![allow(unused_variables)] // only so the unfinished stub compiles without warnings

use coord_core::{Error, Queue};
pub use coord_exercises_kit::ex01::{Done, Job, process};

// ANCHOR: stub
/// The producer: put every task on `jobs` (as `Job::Task`), in order, then shut down the
/// pool of `workers` workers.
pub fn submit(jobs: &Queue<Job>, tasks: &[u64], workers: usize) -> Result<(), Error> {
    todo!("put the tasks, then shut the pool down through the queue")
}

/// Worker number `me`: take jobs one at a time. For each task, put
/// `Done { worker: me, task, answer: process(task) }` on `done`. Return `Ok(())` when told
/// to stop.
pub fn worker(me: usize, jobs: &Queue<Job>, done: &Queue<Done>) -> Result<(), Error> {
    todo!("take jobs until the pill")
}
// ANCHOR_END: stub
