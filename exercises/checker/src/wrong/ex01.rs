//! Wrong implementations of exercise 1, each making one mistake the lecture warns about.
//! The test suite proves the contract rejects every one of them.

use coord_core::{Error, Queue};
use coord_exercises_kit::ex01::{Done, Job};

pub use crate::solutions::ex01::worker;

// Mistake: forgets the sentinel; the workers wait for ever on a queue that stays empty.
pub fn submit_no_pill(jobs: &Queue<Job>, tasks: &[u64], _workers: usize) -> Result<(), Error> {
    for &t in tasks {
        jobs.put(&Job::Task(t))?;
    }
    Ok(())
}

// Mistake: one pill for the whole pool; only the worker that takes it ever leaves.
pub fn submit_one_pill(jobs: &Queue<Job>, tasks: &[u64], _workers: usize) -> Result<(), Error> {
    for &t in tasks {
        jobs.put(&Job::Task(t))?;
    }
    jobs.put(&Job::Stop)
}

// Mistake: the pills go in before the tasks; every worker leaves before the work arrives.
pub fn submit_pills_first(jobs: &Queue<Job>, tasks: &[u64], workers: usize) -> Result<(), Error> {
    for _ in 0..workers {
        jobs.put(&Job::Stop)?;
    }
    for &t in tasks {
        jobs.put(&Job::Task(t))?;
    }
    Ok(())
}

// Mistake: the worker swallows its pill and keeps waiting; the sentinel is sent but never obeyed.
pub fn worker_ignores_pill(me: usize, jobs: &Queue<Job>, done: &Queue<Done>) -> Result<(), Error> {
    loop {
        if let Job::Task(task) = jobs.get()? {
            done.put(&Done {
                worker: me,
                task,
                answer: coord_exercises_kit::ex01::process(task),
            })?;
        }
    }
}
