//! Exercise 3 (lecture section 2.1): cooperative early exit.

use coord_core::{Error, RawArray, RawValue, Value};

use crate::{alive, my_pid, wait_until, worker_index};

pub use crate::ex02::Find;

/// The test a search applies to each candidate ("is this the record we look for?").
///
/// **Instrumented.** It counts every test per worker, and the tests that began after the
/// shared flag was already set: that is the wasted work. To make the measure the same on
/// every run, a worker that cannot win pauses at its tenth test until the winner has set the
/// flag (or finished): whatever it does after that pause happens after the stop.
pub struct Probe {
    flag: Value<bool>,
    target: u64,
    winner: usize,
    pause_at: u64,
    tests: RawArray<u64>,
    wasted: RawArray<u64>,
    finished: RawArray<u8>,
    pids: RawArray<i32>,
    pause_timed_out: RawValue<bool>,
}

impl Probe {
    #[doc(hidden)]
    pub fn new(workers: usize, target: u64, winner: usize, pause_at: u64) -> Result<Probe, Error> {
        Ok(Probe {
            flag: Value::new(false)?,
            target,
            winner,
            pause_at,
            tests: RawArray::new(workers, 0)?,
            wasted: RawArray::new(workers, 0)?,
            finished: RawArray::new(workers, 0)?,
            pids: RawArray::new(workers, 0)?,
            pause_timed_out: RawValue::new(false)?,
        })
    }

    /// Whether `candidate` is the one the search is looking for.
    pub fn test(&self, candidate: u64) -> bool {
        if let Some(me) = worker_index() {
            let n = self.tests.fetch_add(me, 1).unwrap_or(0) + 1;
            if self.flag.get() {
                let _ = self.wasted.fetch_add(me, 1);
            } else if me != self.winner && n == self.pause_at {
                let ok = wait_until(|| {
                    self.flag.get()
                        || self.finished.get(self.winner).unwrap_or(1) != 0
                        || !alive(self.pids.get(self.winner).unwrap_or(0))
                });
                if !ok {
                    self.pause_timed_out.set(true);
                }
            }
        }
        candidate == self.target
    }

    /// The shared "found" flag the checker hands to every worker.
    #[doc(hidden)]
    pub fn flag(&self) -> &Value<bool> {
        &self.flag
    }
    #[doc(hidden)]
    pub fn register(&self, i: usize) {
        let _ = self.pids.set(i, my_pid());
    }
    #[doc(hidden)]
    pub fn finished(&self, i: usize) {
        let _ = self.finished.set(i, 1);
    }
    /// Tests per worker.
    #[doc(hidden)]
    pub fn tests(&self) -> Vec<u64> {
        self.tests.to_vec()
    }
    /// Tests per worker that began after the flag was set.
    #[doc(hidden)]
    pub fn wasted(&self) -> Vec<u64> {
        self.wasted.to_vec()
    }
    #[doc(hidden)]
    pub fn pause_timed_out(&self) -> bool {
        self.pause_timed_out.get()
    }
}
