//! Exercises 2 and 3 (lecture sections 2.1 and 6.1): the shared "found" flag and its lock.

use std::sync::Arc;

use coord_core::{Error, Lock, LockGuard, LockResult, LockResultExt, RawValue};
use serde::{Deserialize, Serialize};

use crate::{Roster, Table, wait_until};

/// A result a worker found, as it goes onto the result queue.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Find {
    pub worker: usize,
    pub value: u64,
}

/// The shared "found" flag with its lock: Python's `Value('b', False)` and its `get_lock()`.
///
/// Use it as you would a coord-core `Value<bool>` with its lock:
/// - [`get`](Flag::get) reads it (`found.value`), [`set`](Flag::set) writes it
///   (`found.value = True`); each is one step of its own;
/// - [`get_lock`](Flag::get_lock)`().lock()` takes the lock for a compound step
///   (`with found.get_lock():`) and returns a guard; the lock is released when the guard is
///   dropped. `get` and `set` work inside, as they do for a `Value` inside `get_lock().lock()`.
///   [`lock`](Flag::lock) is a shorter name for the same thing.
///
/// One difference from `Value<bool>`: `Value::lock()` hands out a guard that *is* the way to
/// the value (`*guard = true`), and `get`/`set` panic while it lives. This flag has no such
/// guard: here `lock()` is `get_lock().lock()`, and you read and write with `get`/`set`.
///
/// Bind the guard to a name that lives until the end of the critical section:
/// `let _guard = found.lock();`. `let _ = found.lock();` drops it on the spot: the lock is
/// released before the next line runs.
///
/// **Instrumented.** To make the race real on every run: a `get` that reads `false` while the
/// caller does *not* hold the lock waits until every other worker has read the flag too; and
/// a worker that read `false` under the lock and lets the lock go without setting the flag
/// waits, once outside, until the others have read it. Code that checks and sets under one
/// lock is never held up by this (nobody waits while holding the lock); code that checks
/// anywhere else lets everybody see `false` before anybody writes `true`, every time.
pub struct Flag {
    lock: FlagLock,
}

/// The lock of a [`Flag`] (what [`Flag::get_lock`] returns).
pub struct FlagLock {
    s: Arc<Shared>,
}

/// Holds a [`Flag`]'s lock; the lock is released when it is dropped.
#[must_use = "the lock is released as soon as the guard is dropped: bind it with `let _guard = ...`"]
pub struct FlagGuard<'a> {
    lock: &'a FlagLock,
    me: Option<usize>,
    guard: Option<LockGuard<'a>>,
}

/// The checker's handle on a [`Flag`]: registers workers and reads what they did.
#[doc(hidden)]
pub struct FlagControl {
    s: Arc<Shared>,
}

// Per-worker counters (columns of `Shared::t`).
const READS: usize = 0; // get() calls
const READS_UNLOCKED: usize = 1; // get() without holding the lock
const READS_TRUE: usize = 2; // get() that returned true
const SETS: usize = 3; // set(true) calls
const SETS_UNLOCKED: usize = 4; // set() without holding the lock
const EMPTY_HOLDS: usize = 5; // lock taken and released with no get/set in between
const UNCLAIMED: usize = 6; // read false under the lock, released without setting
const HOLD_ACCESS: usize = 7; // this hold: get/set happened (0/1)
const HOLD_READ_FALSE: usize = 8; // this hold: a get read false
const HOLD_SET: usize = 9; // this hold: a set(true)
const PAUSING: usize = 10; // inside one of the flag's own pauses (has read false)
const PARKED: usize = 11; // held by the checker until the flag is set (cannot read meanwhile)
const FINISHED: usize = 12; // the worker's code has returned
const EMPTY_THEN_UNLOCKED: usize = 13; // a get/set outside the lock right after an empty hold
const LAST_HOLD_EMPTY: usize = 14;
const FIELDS: usize = 15;

/// After this many reads that said "set", a worker is stopped with a panic: it is looping.
pub const READS_AFTER_SET_CAP: u64 = 1000;

struct Shared {
    roster: Roster,
    lock: Lock,
    value: RawValue<bool>,
    /// Whether reads outside the lock are held back (see the type's doc).
    armed: RawValue<bool>,
    /// Worker + 1 holding the lock, 0 = nobody (or the checker).
    holder: RawValue<u64>,
    /// Worker + 1 that first set the flag.
    first_setter: RawValue<u64>,
    pause_timed_out: RawValue<bool>,
    t: Table,
}

impl Flag {
    /// A flag, initially `false`, shared by `workers` processes, and the checker's handle on it.
    #[doc(hidden)]
    pub fn new(workers: usize, armed: bool) -> Result<(Flag, FlagControl), Error> {
        let s = Arc::new(Shared {
            roster: Roster::new(workers)?,
            lock: Lock::new()?,
            value: RawValue::new(false)?,
            armed: RawValue::new(armed)?,
            holder: RawValue::new(0)?,
            first_setter: RawValue::new(0)?,
            pause_timed_out: RawValue::new(false)?,
            t: Table::new(workers, FIELDS)?,
        });
        Ok((
            Flag {
                lock: FlagLock { s: s.clone() },
            },
            FlagControl { s },
        ))
    }

    /// The flag's lock (`found.get_lock()`), for a compound step: `found.get_lock().lock()`.
    pub fn get_lock(&self) -> &FlagLock {
        &self.lock
    }

    /// Takes the flag's lock: the same as `get_lock().lock()`.
    pub fn lock(&self) -> LockResult<FlagGuard<'_>> {
        self.lock.lock()
    }

    /// Reads the flag (`found.value`): one step, under the lock for that step alone.
    pub fn get(&self) -> bool {
        let s = &self.lock.s;
        let v = s.value.get();
        let Some(me) = s.roster.me() else { return v };
        s.t.bump(me, READS);
        let holding = s.holder.get() == me as u64 + 1;
        if holding {
            s.t.set(me, HOLD_ACCESS, 1);
            if !v {
                s.t.set(me, HOLD_READ_FALSE, 1);
            }
        } else {
            s.t.bump(me, READS_UNLOCKED);
            s.outside_after_empty_hold(me);
        }
        if v && s.t.bump(me, READS_TRUE) > READS_AFTER_SET_CAP {
            panic!(
                "worker {me} read the flag {READS_AFTER_SET_CAP} times after it was set and kept going: \
                 once it says someone found it, return {}",
                crate::STOPPED
            );
        }
        if !v && !holding && s.armed.get() {
            s.pause_for_readers(me);
        }
        v
    }

    /// Writes the flag (`found.value = True`): one step, under the lock for that step alone.
    pub fn set(&self, v: bool) {
        let s = &self.lock.s;
        if let Some(me) = s.roster.me() {
            if s.holder.get() == me as u64 + 1 {
                s.t.set(me, HOLD_ACCESS, 1);
                if v {
                    s.t.set(me, HOLD_SET, 1);
                }
            } else {
                s.t.bump(me, SETS_UNLOCKED);
                s.outside_after_empty_hold(me);
            }
            if v {
                s.t.bump(me, SETS);
                let _ = s.first_setter.compare_exchange(0, me as u64 + 1);
            }
        }
        s.value.set(v);
    }
}

impl FlagLock {
    /// Takes the lock (`with found.get_lock():`); released when the guard is dropped.
    /// As for coord-core's `Lock::lock`, `Err` would mean its last owner died holding it.
    pub fn lock(&self) -> LockResult<FlagGuard<'_>> {
        let guard = self.s.lock.lock().recover();
        let me = self.s.roster.me();
        if let Some(me) = me {
            self.s.holder.set(me as u64 + 1);
            for f in [HOLD_ACCESS, HOLD_READ_FALSE, HOLD_SET] {
                self.s.t.set(me, f, 0);
            }
        }
        Ok(FlagGuard {
            lock: self,
            me,
            guard: Some(guard),
        })
    }
}

impl Drop for FlagGuard<'_> {
    fn drop(&mut self) {
        let s = &self.lock.s;
        let Some(me) = self.me else {
            self.guard.take();
            return;
        };
        let empty = s.t.get(me, HOLD_ACCESS) == 0;
        s.t.set(me, LAST_HOLD_EMPTY, empty as u64);
        if empty {
            s.t.bump(me, EMPTY_HOLDS);
        }
        let unclaimed = s.t.get(me, HOLD_READ_FALSE) == 1 && s.t.get(me, HOLD_SET) == 0 && !s.value.get();
        if unclaimed {
            s.t.bump(me, UNCLAIMED);
        }
        s.holder.set(0);
        self.guard.take(); // unlock
        if unclaimed && s.armed.get() {
            s.pause_for_readers(me);
        }
    }
}

impl Shared {
    fn outside_after_empty_hold(&self, me: usize) {
        if self.t.get(me, LAST_HOLD_EMPTY) == 1 {
            self.t.bump(me, EMPTY_THEN_UNLOCKED);
        }
    }

    /// Worker `me` has seen `false` outside the lock: wait until every other worker has read
    /// the flag after this moment (or is itself waiting here, or is parked, or has finished).
    fn pause_for_readers(&self, me: usize) {
        let snap: Vec<u64> = (0..self.roster.len()).map(|j| self.t.get(j, READS)).collect();
        self.t.set(me, PAUSING, 1);
        let ok = wait_until(|| {
            (0..self.roster.len()).filter(|&j| j != me).all(|j| {
                self.t.get(j, READS) > snap[j]
                    || self.t.get(j, PAUSING) == 1
                    || self.t.get(j, PARKED) == 1
                    || self.t.get(j, FINISHED) == 1
                    || !self.roster.alive(j)
            })
        });
        self.t.set(me, PAUSING, 0);
        if !ok {
            self.pause_timed_out.set(true);
        }
    }
}

/// What the workers did with the flag, per worker (`Vec` index = worker).
#[doc(hidden)]
#[derive(Debug, Clone, Default)]
pub struct FlagStats {
    pub reads: Vec<u64>,
    pub reads_unlocked: Vec<u64>,
    pub reads_true: Vec<u64>,
    pub sets: Vec<u64>,
    pub sets_unlocked: Vec<u64>,
    pub empty_holds: Vec<u64>,
    pub empty_then_unlocked: Vec<u64>,
    pub unclaimed: Vec<u64>,
    /// The worker that first set the flag.
    pub first_setter: Option<usize>,
    pub pause_timed_out: bool,
}

#[doc(hidden)]
impl FlagControl {
    /// Called in worker `i`'s process before the code under test runs.
    pub fn register(&self, i: usize) {
        self.s.roster.register(i);
    }
    /// Called in worker `i`'s process after the code under test returned.
    pub fn finished(&self, i: usize) {
        self.s.t.set(i, FINISHED, 1);
    }
    /// Worker `i` is held by the checker and reads nothing until `unpark`.
    pub fn park(&self, i: usize, parked: bool) {
        self.s.t.set(i, PARKED, parked as u64);
    }
    pub fn is_set(&self) -> bool {
        self.s.value.get()
    }
    pub fn arm(&self, on: bool) {
        self.s.armed.set(on);
    }
    pub(crate) fn worker_me(&self) -> Option<usize> {
        self.s.roster.me()
    }
    /// Worker `j` is parked, or has finished, or is gone.
    pub(crate) fn parked_or_gone(&self, j: usize) -> bool {
        self.s.t.get(j, PARKED) == 1 || self.gone(j)
    }
    /// Worker `j` has finished, or is gone.
    pub(crate) fn gone(&self, j: usize) -> bool {
        self.s.t.get(j, FINISHED) == 1 || !self.s.roster.alive(j)
    }
    pub(crate) fn share(&self) -> FlagControl {
        FlagControl { s: self.s.clone() }
    }
    pub fn stats(&self) -> FlagStats {
        let t = &self.s.t;
        FlagStats {
            reads: t.column(READS),
            reads_unlocked: t.column(READS_UNLOCKED),
            reads_true: t.column(READS_TRUE),
            sets: t.column(SETS),
            sets_unlocked: t.column(SETS_UNLOCKED),
            empty_holds: t.column(EMPTY_HOLDS),
            empty_then_unlocked: t.column(EMPTY_THEN_UNLOCKED),
            unclaimed: t.column(UNCLAIMED),
            first_setter: match self.s.first_setter.get() {
                0 => None,
                w => Some(w as usize - 1),
            },
            pause_timed_out: self.s.pause_timed_out.get(),
        }
    }
}
