//! # The fixed parts of the coord-lab exercises
//!
//! Each exercise crate (`exercises/ex01-poison-pill`, ...) holds one file you edit. The types
//! your functions receive live here, so the checker and your code agree on them. Some are
//! *instrumented*: they behave like the coord-core primitive they stand for, and also count
//! what your code did with them (flag reads, tests after the stop...) so the checker can
//! judge the behaviour, not only the answer.
//!
//! Nothing in here is the answer to an exercise.

pub mod ex01;
pub mod ex02;
pub mod ex03;
pub mod ex04;
pub mod ex05;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// How long an instrumented type waits for the other processes before giving up (only a
/// broken implementation ever waits this long).
pub const PATIENCE: Duration = Duration::from_secs(10);

static WORKER: AtomicUsize = AtomicUsize::new(usize::MAX);

/// The index of the worker this process is (set by the checker in each worker process).
pub fn worker_index() -> Option<usize> {
    match WORKER.load(Ordering::Relaxed) {
        usize::MAX => None,
        i => Some(i),
    }
}

/// Called by the checker at the start of worker `i`'s process. Every forked process has its
/// own copy of this static, so each worker sees its own index.
#[doc(hidden)]
pub fn set_worker_index(i: usize) {
    WORKER.store(i, Ordering::Relaxed);
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
