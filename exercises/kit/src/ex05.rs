//! Exercise 5 (lecture section 4.1): the check interval.

use coord_core::{Error, RawArray, RawValue};
use serde::{Deserialize, Serialize};

use crate::{wait_until, worker_index};

/// What a worker reports when it stops.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    /// Items processed (calls to `Work::step`).
    pub iterations: u64,
    /// Times the worker read the stop flag.
    pub flag_reads: u64,
}

/// The shared stop flag (a `RawValue<bool>`).
///
/// **Instrumented:** it counts every read per worker.
pub struct StopFlag {
    flag: RawValue<bool>,
    reads: RawArray<u64>,
}

impl StopFlag {
    #[doc(hidden)]
    pub fn new(workers: usize) -> Result<StopFlag, Error> {
        Ok(StopFlag {
            flag: RawValue::new(false)?,
            reads: RawArray::new(workers, 0)?,
        })
    }

    /// Reads the flag: `true` once the workers should stop.
    pub fn is_set(&self) -> bool {
        if let Some(me) = worker_index() {
            let _ = self.reads.fetch_add(me, 1);
        }
        self.flag.get()
    }

    #[doc(hidden)]
    pub fn raise(&self) {
        self.flag.set(true);
    }
    #[doc(hidden)]
    pub fn reads(&self) -> Vec<u64> {
        self.reads.to_vec()
    }
}

/// A worker's items: `len()` of them, numbered `0..len()`.
///
/// **Instrumented:** it counts the steps per worker and the steps taken after the stop. To
/// make the stop land at the same place on every run, each worker pauses inside its step
/// number `pause_at` until the stop is raised.
pub struct Work {
    len: u64,
    pause_at: u64,
    steps: RawArray<u64>,
    after_stop: RawArray<u64>,
    paused: RawValue<u32>,
    stopped: RawValue<bool>,
    pause_timed_out: RawValue<bool>,
}

impl Work {
    #[doc(hidden)]
    pub fn new(workers: usize, len: u64, pause_at: u64) -> Result<Work, Error> {
        Ok(Work {
            len,
            pause_at,
            steps: RawArray::new(workers, 0)?,
            after_stop: RawArray::new(workers, 0)?,
            paused: RawValue::new(0)?,
            stopped: RawValue::new(false)?,
            pause_timed_out: RawValue::new(false)?,
        })
    }

    /// How many items this worker has.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Always false: there is work.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Processes item `i`; returns whether it was a hit (here: whether `i` is prime).
    pub fn step(&self, i: u64) -> bool {
        if let Some(me) = worker_index() {
            let n = self.steps.fetch_add(me, 1).unwrap_or(0) + 1;
            if self.stopped.get() {
                let _ = self.after_stop.fetch_add(me, 1);
            } else if n == self.pause_at {
                self.paused.fetch_add(1);
                if !wait_until(|| self.stopped.get()) {
                    self.pause_timed_out.set(true);
                }
            }
        }
        is_prime(i)
    }

    /// How many workers are paused, waiting for the stop.
    #[doc(hidden)]
    pub fn paused(&self) -> u32 {
        self.paused.get()
    }
    /// Marks the stop (call after raising the `StopFlag`).
    #[doc(hidden)]
    pub fn mark_stopped(&self) {
        self.stopped.set(true);
    }
    #[doc(hidden)]
    pub fn steps(&self) -> Vec<u64> {
        self.steps.to_vec()
    }
    #[doc(hidden)]
    pub fn after_stop(&self) -> Vec<u64> {
        self.after_stop.to_vec()
    }
    #[doc(hidden)]
    pub fn pause_at(&self) -> u64 {
        self.pause_at
    }
    #[doc(hidden)]
    pub fn pause_timed_out(&self) -> bool {
        self.pause_timed_out.get()
    }
}

fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    let mut d = 2;
    while d * d <= n {
        if n % d == 0 {
            return false;
        }
        d += 1;
    }
    true
}
