//! # coord-core: Python's `multiprocessing`, in Rust, for real
//!
//! The runnable companion to *Lecture 27 — Coordination speed trade-off in
//! multiprocessing* needs the same building blocks the lecture uses in Python. This crate
//! provides them with real operating-system mechanisms: children are `fork`ed processes,
//! shared values live in `MAP_SHARED` memory, the lock is a process-shared robust POSIX
//! mutex, the queue is a pipe, and the manager is a separate server process.
//!
//! ## Python → coord-core
//!
//! | Python (`multiprocessing`) | coord-core | what differs |
//! |---|---|---|
//! | `Process(target=f).start()` | [`Process::start(f)`](Process::start) | starts at once; `f` may borrow from the parent (fork copies memory) |
//! | `p.join()`, `p.exitcode` | [`Process::join`] → [`ExitStatus`] | says *how* it ended: code, signal, or panic message |
//! | `p.join(timeout)` | [`Process::join_timeout`] | `None` if still running |
//! | `p.is_alive()`, `p.pid` | [`Process::is_alive`], [`Process::pid`] | |
//! | `p.terminate()`, `p.kill()` | [`Process::terminate`], [`Process::kill`] | a dropped, unjoined `Process` is killed and reaped |
//! | `Value('b', False)` | [`Value::new(false)`](Value::new) | lock taken on every `get`/`set`, as in Python |
//! | `v.value`, `v.value = x` | [`Value::get`], [`Value::set`] | |
//! | `with v.get_lock():` | [`Value::get_lock`]`().lock()` or [`Value::lock`] | re-entrant like Python's RLock; with `lock()`, go through its guard (`*g += 1`) |
//! | `RawValue('b', False)` | [`RawValue::new(false)`](RawValue::new) | atomic: safe to read while others write |
//! | `Array('d', n)` | [`Array::new(n, 0.0)`](Array::new) | a bad index is [`Error::OutOfBounds`] |
//! | `RawArray('d', n)` | [`RawArray::new`] | elements are atomics |
//! | `Lock()` | [`Lock::new`] | survives a dead owner: [`OwnerDied`] instead of a deadlock |
//! | `Queue()`, `q.put(x)`, `q.get()` | [`Queue::new`], [`Queue::put`], [`Queue::get`] | typed (serde); no feeder thread; [`Error::Disconnected`] when all producers are gone |
//! | `q.get(timeout=t)`, `q.get_nowait()` | [`Queue::get_timeout`], [`Queue::try_get`] | |
//! | `q.put(x, timeout=t)` | [`Queue::put_timeout`] | a message that fits the pipe is written whole or not at all |
//! | `Queue()` when microseconds matter | [`ShmQueue::new`], [`ShmQueue::with_capacity`] | a ring in shared memory, no system call on the fast path; bounded, messages up to a fixed size; waits by [`Waiting`] (spin, then futex) |
//! | `Barrier(n)`, `b.wait(timeout)` | [`Barrier::new`], [`Barrier::wait_timeout`] | a timeout breaks it for all, as in Python |
//! | `Manager()` | [`Manager::start`] | |
//! | `m.Value('i', 0)`, `m.list()`, `m.dict()` | [`Manager::value`], [`Manager::list`], [`Manager::dict`] | integers only; every call is one counted round trip |
//!
//! ## What a child may do
//! A child starts as a copy of its parent at the moment of `fork`. If the parent had other
//! threads (the `cargo test` harness does), locks they held stay locked in the child for
//! ever, and the child's `println!` may go into a copied capture buffer. So a child should
//! do its work through this crate's primitives and report back through them, not print.
//! It leaves through `_exit`: the parent's destructors and buffers are never run twice.

mod barrier;
mod error;
mod fork_table;
mod futex;
mod lock;
mod manager;
mod process;
mod queue;
mod shm;
mod shm_queue;
mod value;

pub use barrier::Barrier;
pub use error::{Error, Result};
pub use lock::{Lock, LockGuard, LockResult, LockResultExt, OwnerDied};
pub use manager::{DictProxy, ListProxy, Manager, ManagerStats, ValueProxy};
pub use process::{ChildResult, ExitStatus, PANIC_EXIT_CODE, Process, join_all, start_all};
#[allow(deprecated)]
pub use queue::{MAX_MESSAGE, MAX_PRODUCERS, Queue, QueueStats};
pub use shm_queue::{
    LIVENESS_EVERY, MAX_SHM_BYTES, MAX_SHM_PRODUCERS, SHM_DEFAULT_CAPACITY, SHM_DEFAULT_MAX_MESSAGE,
    ShmQueue, ShmQueueStats, Waiting,
};
pub use value::{
    Array, ArrayGuard, AtomicInt, AtomicPlain, MAX_SHARED_BYTES, Plain, RawArray, RawValue, Value, ValueGuard,
};

pub use nix::sys::signal::Signal;

/// Monotonic nanoseconds (`CLOCK_MONOTONIC`), comparable across processes on one machine:
/// stamp an event in one process, read it in another.
pub fn monotonic_ns() -> u64 {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC).expect("CLOCK_MONOTONIC");
    t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64
}

/// Whether a process with this pid is running (exists and is not a zombie).
pub fn pid_alive(pid: u32) -> bool {
    process::process_alive(pid as i32)
}
