//! The flags the measured runs hand to the lesson's worker: Python's locked `Value`, an atomic
//! flag, and [`Watched`], the instrumented stand-in that wraps either one inside a worker.

use std::cell::Cell;

use coord_core::{Lock, RawValue, monotonic_ns};
use serde::Serialize;

use super::Exit;
use crate::lesson::FoundFlag;

/// How the workers read the shared flag on every iteration (also the binary's `--flag`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    /// `Value<bool>`: every read takes the process-shared lock, as Python's `flag.value` does.
    #[value(help = "Value<bool>: every read takes the lock (Python's default Value)")]
    Locked,
    /// `RawValue<bool>`: every read is one atomic load (a plain `mov` on x86).
    #[value(help = "RawValue<bool>: every read is one atomic load")]
    Atomic,
}

impl FlagKind {
    pub fn name(self) -> &'static str {
        match self {
            FlagKind::Locked => "locked Value<bool>",
            FlagKind::Atomic => "atomic RawValue<bool>",
        }
    }
}

/// An atomic flag and a separate lock for claiming: reads cost a load, claims still lock.
pub struct AtomicFlag {
    flag: RawValue<bool>,
    lock: Lock,
}

impl AtomicFlag {
    pub fn new() -> anyhow::Result<AtomicFlag> {
        Ok(AtomicFlag {
            flag: RawValue::new(false)?,
            lock: Lock::new()?,
        })
    }
}

impl FoundFlag for AtomicFlag {
    fn get(&self) -> bool {
        self.flag.get()
    }
    fn set(&self, v: bool) {
        self.flag.set(v)
    }
    fn get_lock(&self) -> &Lock {
        &self.lock
    }
}

/// The instrumented stand-in for the found flag. A worker makes one around the shared flag
/// and hands it to `lesson::search_for_primes` instead of the flag itself; every call goes
/// on to the real flag, and the stand-in notes what the worker did with it. Process-local
/// (`Cell`s): each forked worker has its own.
pub struct Watched<'a, F, S> {
    flag: &'a F,
    /// `false` for the run without early exit: the loop's check reads `false` without
    /// touching the flag. The claim's check, once the worker has a match, still reads it.
    look: bool,
    /// Runs just before this worker raises the flag (the search notes time and progress).
    on_raise: S,
    /// The loop's checks so far (one per number the loop reached).
    checks: Cell<u64>,
    found: Cell<Option<u64>>,
    /// When the loop's check first read `true` (monotonic ns).
    saw_at: Cell<Option<u64>>,
    raised: Cell<bool>,
}

impl<'a, F: FoundFlag, S: Fn()> Watched<'a, F, S> {
    pub fn new(flag: &'a F, look: bool, on_raise: S) -> Self {
        Watched {
            flag,
            look,
            on_raise,
            checks: Cell::new(0),
            found: Cell::new(None),
            saw_at: Cell::new(None),
            raised: Cell::new(false),
        }
    }

    /// Wrap the worker's test with this: `|n| watched.test(n, is_prime(n))`. A match marks
    /// the reads that follow as the claim's.
    pub fn test(&self, n: u64, matched: bool) -> bool {
        if matched {
            self.found.set(Some(n));
        }
        matched
    }

    /// How the worker's search ended, from what it did with the flag.
    pub fn exit(&self) -> Exit {
        match (self.raised.get(), self.found.get(), self.saw_at.get()) {
            (true, _, _) => Exit::Won,
            (false, Some(_), _) => Exit::FoundLate,
            (false, None, Some(_)) => Exit::SawFlag,
            (false, None, None) => Exit::Exhausted,
        }
    }

    pub fn checks(&self) -> u64 {
        self.checks.get()
    }
    pub fn found(&self) -> Option<u64> {
        self.found.get()
    }
    pub fn saw_at(&self) -> Option<u64> {
        self.saw_at.get()
    }
}

impl<F: FoundFlag, S: Fn()> FoundFlag for Watched<'_, F, S> {
    fn get(&self) -> bool {
        if self.found.get().is_some() {
            return self.flag.get(); // the claim's check, after a match: always the real flag
        }
        self.checks.set(self.checks.get() + 1);
        if !self.look {
            return false;
        }
        let set = self.flag.get();
        if set {
            self.saw_at.set(Some(monotonic_ns()));
        }
        set
    }
    fn set(&self, v: bool) {
        if v {
            (self.on_raise)();
            self.raised.set(true);
        }
        self.flag.set(v)
    }
    fn get_lock(&self) -> &Lock {
        self.flag.get_lock()
    }
}

#[cfg(test)]
mod tests {
    //! The stand-in in one process (no fork needed): it must report what the lesson's worker
    //! really did, and without early exit it must still let the claim read the real flag.

    use std::cell::Cell;

    use super::*;
    use crate::lesson::{ClaimWin, ResultQueue, lock_check_set, search_for_primes, unsafe_set};

    #[test]
    fn a_set_flag_stops_the_loop_at_its_first_check() {
        let flag = AtomicFlag::new().unwrap();
        flag.set(true);
        let queue = ResultQueue::new().unwrap();
        let w = Watched::new(&flag, true, || panic!("nobody raises a raised flag"));
        search_for_primes(3, 10..20, &w, &queue, |n| w.test(n, true), lock_check_set).unwrap();
        assert_eq!((w.exit(), w.checks(), w.found()), (Exit::SawFlag, 1, None));
        assert!(w.saw_at().is_some());
        assert!(queue.try_get().is_err());
    }

    #[test]
    fn the_finder_raises_the_flag_once_and_reports() {
        let flag = AtomicFlag::new().unwrap();
        let queue = ResultQueue::new().unwrap();
        let raised = Cell::new(0);
        let w = Watched::new(&flag, true, || raised.set(raised.get() + 1));
        search_for_primes(2, 10..20, &w, &queue, |n| w.test(n, n == 13), lock_check_set).unwrap();
        assert_eq!((w.exit(), w.checks(), w.found()), (Exit::Won, 4, Some(13)));
        assert_eq!(raised.get(), 1);
        assert!(flag.get());
        assert_eq!(queue.try_get().unwrap(), (2, 13));
    }

    #[test]
    fn without_early_exit_the_loop_never_looks_but_the_claim_does() {
        for with_lock in [true, false] {
            let flag = AtomicFlag::new().unwrap();
            flag.set(true); // someone else already won
            let queue = ResultQueue::new().unwrap();
            let w = Watched::new(&flag, false, || panic!("the flag is already up"));
            let claim: ClaimWin<_> = if with_lock { lock_check_set } else { unsafe_set };
            search_for_primes(1, 10..20, &w, &queue, |n| w.test(n, n == 17), claim).unwrap();
            assert_eq!((w.exit(), w.checks(), w.found()), (Exit::FoundLate, 8, Some(17)));
            assert!(w.saw_at().is_none());
            assert!(queue.try_get().is_err());
        }
    }
}
