//! # The fixed parts of the coord-lab exercises
//!
//! Each exercise crate (`exercises/ex01-poison-pill`, ...) holds one file you edit. The types
//! your functions receive live here, so the checker and your code agree on them. Some are
//! *instrumented*: they behave like the coord-core primitive they stand for, and also count
//! what your code did with them (flag reads, tests after the stop...) so the checker can
//! judge the behaviour, not only the answer.
//!
//! Every way your code can reach the shared state of an instrumented type goes through the
//! instrumentation: there is no "quiet" read. What the checker needs (registering workers,
//! raising a stop, reading the counts) lives in a separate *control* handle that only the
//! checker holds.
//!
//! Nothing in here is the answer to an exercise.

pub mod ex01;
pub mod ex02;
pub mod ex03;
pub mod ex04;
pub mod ex05;

use std::time::{Duration, Instant};

use coord_core::{Error, RawArray};

/// Ends the message of every panic an instrumented type raises to stop a worker that would
/// otherwise run on for ever (the checker tells those apart from your code's own panics).
pub const STOPPED: &str = "(stopped by the checker)";

/// How long an instrumented type waits for the other processes before giving up (only a
/// broken implementation ever waits this long).
pub const PATIENCE: Duration = Duration::from_secs(10);

/// Which worker a process is: worker `i`'s pid, in shared memory. The checker registers each
/// worker in its own process before your code runs; an instrumented type asks "which worker
/// am I?" by looking up its own pid, so nothing your code calls can change the answer.
#[derive(Clone)]
pub(crate) struct Roster {
    pids: RawArray<i32>,
}

impl Roster {
    pub(crate) fn new(workers: usize) -> Result<Roster, Error> {
        Ok(Roster {
            pids: RawArray::new(workers, 0)?,
        })
    }
    pub(crate) fn register(&self, i: usize) {
        let _ = self.pids.set(i, my_pid());
    }
    /// This process's worker index, `None` in the checker's own processes.
    pub(crate) fn me(&self) -> Option<usize> {
        let pid = my_pid();
        (0..self.pids.len()).find(|&i| self.pids.get(i).ok() == Some(pid))
    }
    pub(crate) fn len(&self) -> usize {
        self.pids.len()
    }
    /// Whether worker `j` was registered and its process still runs.
    pub(crate) fn alive(&self, j: usize) -> bool {
        alive(self.pids.get(j).unwrap_or(0))
    }
}

/// Per-worker counters in one shared array: `fields` counters for each worker.
#[derive(Clone)]
pub(crate) struct Table {
    cells: RawArray<u64>,
    fields: usize,
}

impl Table {
    pub(crate) fn new(workers: usize, fields: usize) -> Result<Table, Error> {
        Ok(Table {
            cells: RawArray::new(workers * fields, 0)?,
            fields,
        })
    }
    pub(crate) fn get(&self, w: usize, f: usize) -> u64 {
        self.cells.get(w * self.fields + f).unwrap_or(0)
    }
    pub(crate) fn set(&self, w: usize, f: usize, v: u64) {
        let _ = self.cells.set(w * self.fields + f, v);
    }
    /// Adds one; returns the new value.
    pub(crate) fn bump(&self, w: usize, f: usize) -> u64 {
        self.cells.fetch_add(w * self.fields + f, 1).unwrap_or(0) + 1
    }
    pub(crate) fn column(&self, f: usize) -> Vec<u64> {
        (0..self.cells.len() / self.fields)
            .map(|w| self.get(w, f))
            .collect()
    }
}

/// Waits (yielding the CPU) until `done()` or `PATIENCE` has passed; false on timeout.
pub(crate) fn wait_until(mut done: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + PATIENCE;
    let mut spins = 0u32;
    while !done() {
        if Instant::now() >= deadline {
            return false;
        }
        spins += 1;
        if spins < 1000 {
            std::thread::yield_now();
        } else {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
    true
}

/// Whether `pid` is a process that still runs (0 = never registered, counts as gone).
pub(crate) fn alive(pid: i32) -> bool {
    pid > 0 && coord_core::pid_alive(pid as u32)
}

pub(crate) fn my_pid() -> i32 {
    std::process::id() as i32
}
