//! Exercise 1 (lecture section 1.1): the poison pill.

use serde::{Deserialize, Serialize};

/// What travels on the job queue: a task, or the pill that tells one worker to leave
/// (Python's `None` sentinel).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Task(u64),
    Stop,
}

/// What a worker reports for each task it processed.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    pub worker: usize,
    pub task: u64,
    /// `process(task)`
    pub answer: u64,
}

/// The work of one task: the smallest prime factor of `n` (`n` itself when it is prime).
pub fn process(n: u64) -> u64 {
    if n < 4 {
        return n;
    }
    let mut d = 2;
    while d * d <= n {
        if n % d == 0 {
            return d;
        }
        d += 1;
    }
    n
}
