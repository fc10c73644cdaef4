//! Reference solution of exercise 1 (spoiler). `cargo run -p coord-exercises -- solution 1`
//! shows it once your own code passes.

use coord_core::{Error, Queue};
use coord_exercises_kit::ex01::{Done, Job, process};

// ANCHOR: submit
pub fn submit(jobs: &Queue<Job>, tasks: &[u64], workers: usize) -> Result<(), Error> {
    for &t in tasks {
        jobs.put(&Job::Task(t))?;
    }
    // One pill per worker, after the last task: the queue keeps that order.
    for _ in 0..workers {
        jobs.put(&Job::Stop)?;
    }
    Ok(())
}
// ANCHOR_END: submit

// ANCHOR: worker
pub fn worker(me: usize, jobs: &Queue<Job>, done: &Queue<Done>) -> Result<(), Error> {
    loop {
        match jobs.get()? {
            Job::Task(task) => done.put(&Done {
                worker: me,
                task,
                answer: process(task),
            })?,
            // The pill: leave, and take nothing more (the other pills are for the others).
            Job::Stop => return Ok(()),
        }
    }
}
// ANCHOR_END: worker
