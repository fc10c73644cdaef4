//! Wrong implementations of exercise 1, each making one mistake the lecture warns about.
//! The test suite proves the contract rejects every one of them.

use std::time::Duration;

use coord_core::{Error, Queue};
use coord_exercises_kit::ex01::{Done, Job, process};

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
                answer: process(task),
            })?;
        }
    }
}

// Mistake: the producer ignores `workers` and always puts four pills, the size it was tried with.
pub fn submit_fixed_pool(jobs: &Queue<Job>, tasks: &[u64], _workers: usize) -> Result<(), Error> {
    for &t in tasks {
        jobs.put(&Job::Task(t))?;
    }
    for _ in 0..4 {
        jobs.put(&Job::Stop)?;
    }
    Ok(())
}

// Mistake: the worker leaves when the queue is empty instead of waiting for its pill.
pub fn worker_leaves_on_empty(me: usize, jobs: &Queue<Job>, done: &Queue<Done>) -> Result<(), Error> {
    loop {
        match jobs.try_get() {
            Ok(Job::Task(task)) => done.put(&Done {
                worker: me,
                task,
                answer: process(task),
            })?,
            Ok(Job::Stop) | Err(Error::Empty) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

// Mistake: the worker leaves after half a second without a job instead of waiting for its pill.
pub fn worker_leaves_on_timeout(me: usize, jobs: &Queue<Job>, done: &Queue<Done>) -> Result<(), Error> {
    loop {
        match jobs.get_timeout(Duration::from_millis(500)) {
            Ok(Job::Task(task)) => done.put(&Done {
                worker: me,
                task,
                answer: process(task),
            })?,
            Ok(Job::Stop) | Err(Error::Timeout) => return Ok(()),
            Err(e) => return Err(e),
        }
    }
}

// Mistake: every answer names worker 0, whoever did the work.
pub fn done_names_worker_zero(_me: usize, jobs: &Queue<Job>, done: &Queue<Done>) -> Result<(), Error> {
    loop {
        match jobs.get()? {
            Job::Task(task) => done.put(&Done {
                worker: 0,
                task,
                answer: process(task),
            })?,
            Job::Stop => return Ok(()),
        }
    }
}

// Mistake: answers are sent in batches of 10, and the unsent batch is lost when the pill comes.
pub fn worker_batches_answers(me: usize, jobs: &Queue<Job>, done: &Queue<Done>) -> Result<(), Error> {
    let mut batch = Vec::new();
    loop {
        match jobs.get()? {
            Job::Task(task) => {
                batch.push(Done {
                    worker: me,
                    task,
                    answer: process(task),
                });
                if batch.len() == 10 {
                    for d in batch.drain(..) {
                        done.put(&d)?;
                    }
                }
            }
            Job::Stop => return Ok(()),
        }
    }
}
