//! Exercise 2 (lecture sections 2.1 and 6.1): lock, check, set.

use coord_core::{Error, Lock, LockGuard, LockResultExt, RawArray, RawValue};
use serde::{Deserialize, Serialize};

use crate::{alive, my_pid, wait_until, worker_index};

/// A result a worker found, as it goes onto the result queue.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Find {
    pub worker: usize,
    pub value: u64,
}

const UNTOUCHED: u8 = 0;
const TOUCHED: u8 = 1;
const FINISHED: u8 = 2;

/// The shared "found" flag with its lock: Python's `Value('b', False)` and its `get_lock()`.
///
/// Use it as you would a coord-core `Value<bool>`: [`lock`](Flag::lock) for a critical
/// section, [`get`](Flag::get) to read, [`set`](Flag::set) to write. A `get` needs no lock of
/// its own (it is one atomic read), so it is also fine outside the lock.
///
/// **Instrumented.** To make the race real on every run, a `get` that reads `false` pauses
/// until every other worker has also touched the flag (read it, asked for its lock, or
/// finished). Code that checks and sets under one lock is not slowed by this: the others
/// are already waiting for the lock. Code that checks outside the lock lets everybody read
/// `false` before anybody writes `true`, every time.
pub struct Flag {
    lock: Lock,
    value: RawValue<bool>,
    state: RawArray<u8>,
    pids: RawArray<i32>,
}

impl Flag {
    /// A flag, initially `false`, shared by `workers` processes.
    pub fn new(workers: usize) -> Result<Flag, Error> {
        Ok(Flag {
            lock: Lock::new()?,
            value: RawValue::new(false)?,
            state: RawArray::new(workers, UNTOUCHED)?,
            pids: RawArray::new(workers, 0)?,
        })
    }

    /// Takes the flag's lock (`with found.get_lock():`); released when the guard drops.
    pub fn lock(&self) -> LockGuard<'_> {
        self.touch();
        self.lock.lock().recover()
    }

    /// Reads the flag (`found.value`).
    pub fn get(&self) -> bool {
        let v = self.value.get();
        self.touch();
        if !v {
            self.wait_for_the_others();
        }
        v
    }

    /// Writes the flag (`found.value = True`).
    pub fn set(&self, v: bool) {
        self.value.set(v);
    }

    /// The flag's value, read without any instrumentation (for the checker).
    #[doc(hidden)]
    pub fn peek(&self) -> bool {
        self.value.get()
    }

    /// The checker calls this in worker `i`'s process before your code runs.
    #[doc(hidden)]
    pub fn register(&self, i: usize) {
        let _ = self.pids.set(i, my_pid());
    }

    /// The checker calls this in a worker's process after your code returned.
    #[doc(hidden)]
    pub fn finished(&self) {
        if let Some(i) = worker_index() {
            let _ = self.state.set(i, FINISHED);
        }
    }

    fn touch(&self) {
        if let Some(i) = worker_index() {
            let _ = self.state.compare_exchange(i, UNTOUCHED, TOUCHED);
        }
    }

    fn wait_for_the_others(&self) {
        let Some(me) = worker_index() else { return };
        wait_until(|| {
            (0..self.state.len()).filter(|&j| j != me).all(|j| {
                self.state.get(j).unwrap_or(FINISHED) != UNTOUCHED || !alive(self.pids.get(j).unwrap_or(0))
            })
        });
    }
}
