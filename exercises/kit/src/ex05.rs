//! Exercise 5 (lecture section 4.1): the check interval.

use std::sync::Arc;

use coord_core::{Error, RawValue};
use serde::{Deserialize, Serialize};

use crate::{Roster, Table, wait_until};

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
/// **Instrumented:** it counts every read per worker, and the reads made after one already
/// said "stop".
pub struct StopFlag {
    s: Arc<Shared>,
}

/// A worker's items: `len()` of them, numbered `0..len()`, to be processed in that order.
///
/// **Instrumented:** it counts the steps per worker, the steps taken after the stop, and the
/// steps taken after a read of the flag said "stop". To make the stop land at a known place
/// on every run, the checker holds each worker inside one chosen step until the stop is
/// raised (a different step for each worker and each scenario, some right after a read of
/// the flag: the worst case).
pub struct Work {
    s: Arc<Shared>,
}

/// The checker's handle on a [`StopFlag`] and its [`Work`].
#[doc(hidden)]
pub struct Control {
    s: Arc<Shared>,
}

const READS: usize = 0;
const READS_AFTER_SEEN: usize = 1; // reads after a read already said stop
const SEEN: usize = 2; // a read has said stop (0/1)
const STEPS: usize = 3;
const AFTER_STOP: usize = 4; // steps begun after the stop was raised
const AFTER_SEEN: usize = 5; // steps begun after a read said stop
const NEXT: usize = 6; // the item the worker should step next
const BAD_STEP: usize = 7; // first out-of-order item + 1
const PAUSED: usize = 8;
const FIELDS: usize = 9;

/// After this many steps or reads past the stop, a worker is stopped with a panic.
pub const AFTER_STOP_CAP: u64 = 100_000;

struct Shared {
    roster: Roster,
    len: u64,
    pause_at: Vec<u64>,
    flag: RawValue<bool>,
    stopped: RawValue<bool>,
    timed_out: RawValue<bool>,
    t: Table,
}

impl StopFlag {
    /// Reads the flag: `true` once the workers should stop.
    pub fn is_set(&self) -> bool {
        let s = &*self.s;
        let v = s.flag.get();
        if let Some(me) = s.roster.me() {
            s.t.bump(me, READS);
            if s.t.get(me, SEEN) == 1 && s.t.bump(me, READS_AFTER_SEEN) > AFTER_STOP_CAP {
                panic!(
                    "worker {me} kept reading the stop flag after it said stop: return at once {}",
                    crate::STOPPED
                );
            }
            if v {
                s.t.set(me, SEEN, 1);
            }
        }
        v
    }
}

impl Work {
    /// How many items this worker has.
    pub fn len(&self) -> u64 {
        self.s.len
    }

    /// False: there is work.
    pub fn is_empty(&self) -> bool {
        self.s.len == 0
    }

    /// Processes item `i`; returns whether it was a hit (here: whether `i` is prime).
    pub fn step(&self, i: u64) -> bool {
        let s = &*self.s;
        if let Some(me) = s.roster.me() {
            let n = s.t.bump(me, STEPS);
            if i != s.t.get(me, NEXT) && s.t.get(me, BAD_STEP) == 0 {
                s.t.set(me, BAD_STEP, i + 1);
            }
            s.t.set(me, NEXT, i + 1);
            if s.t.get(me, SEEN) == 1 {
                s.t.bump(me, AFTER_SEEN);
            }
            if s.stopped.get() {
                if s.t.bump(me, AFTER_STOP) > AFTER_STOP_CAP {
                    panic!(
                        "worker {me} kept stepping long after the stop: read the flag every k iterations {}",
                        crate::STOPPED
                    );
                }
            } else if n == s.pause_at[me] {
                s.t.set(me, PAUSED, 1);
                if !wait_until(|| s.stopped.get()) {
                    s.timed_out.set(true);
                }
            }
        }
        lab_support::is_prime(i)
    }
}

/// Creates the flag and the work of one scenario: `workers` workers with `len` items each;
/// worker `w` is held in its step number `pause_at[w]` (0 = never) until the stop.
#[doc(hidden)]
pub fn scenario(len: u64, pause_at: Vec<u64>) -> Result<(StopFlag, Work, Control), Error> {
    let s = Arc::new(Shared {
        roster: Roster::new(pause_at.len())?,
        len,
        flag: RawValue::new(false)?,
        stopped: RawValue::new(false)?,
        timed_out: RawValue::new(false)?,
        t: Table::new(pause_at.len(), FIELDS)?,
        pause_at,
    });
    Ok((StopFlag { s: s.clone() }, Work { s: s.clone() }, Control { s }))
}

/// What one worker did, as counted by the instruments.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Counts {
    pub reads: u64,
    pub reads_after_seen: u64,
    pub steps: u64,
    pub after_stop: u64,
    pub after_seen: u64,
    /// The first item stepped out of order (`0, 1, 2, ...` expected).
    pub bad_step: Option<u64>,
    /// Whether it was held in its chosen step until the stop.
    pub paused: bool,
}

#[doc(hidden)]
impl Control {
    pub fn register(&self, i: usize) {
        self.s.roster.register(i);
    }
    /// How many workers are held, waiting for the stop.
    pub fn paused(&self) -> usize {
        self.s.t.column(PAUSED).iter().filter(|&&p| p == 1).count()
    }
    /// Raises the stop flag and marks the stop for the instruments.
    pub fn raise(&self) {
        self.s.stopped.set(true);
        self.s.flag.set(true);
    }
    pub fn timed_out(&self) -> bool {
        self.s.timed_out.get()
    }
    pub fn counts(&self, w: usize) -> Counts {
        let t = &self.s.t;
        Counts {
            reads: t.get(w, READS),
            reads_after_seen: t.get(w, READS_AFTER_SEEN),
            steps: t.get(w, STEPS),
            after_stop: t.get(w, AFTER_STOP),
            after_seen: t.get(w, AFTER_SEEN),
            bad_step: t.get(w, BAD_STEP).checked_sub(1),
            paused: t.get(w, PAUSED) == 1,
        }
    }
}
