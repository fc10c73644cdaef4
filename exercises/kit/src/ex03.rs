//! Exercise 3 (lecture section 2.1): cooperative early exit.

use std::ops::Range;
use std::sync::Arc;

use coord_core::{Error, RawValue};

use crate::ex02::FlagControl;
use crate::{Table, wait_until};

pub use crate::ex02::{Find, Flag, FlagLock};

/// The test a search applies to each candidate ("is this the record we look for?").
///
/// **Instrumented.** It counts every test per worker, and the tests that began after the
/// shared flag was already set: that is the wasted work. To make the measure the same on
/// every run, the checker places the stop: a worker that cannot win is held inside one of
/// its tests (a different one in each scenario) until the flag is set, and a finder's
/// matching test returns only once every other worker is held (or done), so that two
/// finders find at the very same moment. Whatever a worker does after that happens after
/// the stop.
pub struct Probe {
    s: Arc<Shared>,
}

/// The checker's handle on a [`Probe`].
#[doc(hidden)]
pub struct ProbeControl {
    s: Arc<Shared>,
}

const TESTS: usize = 0;
const WASTED: usize = 1;
const OUTSIDE: usize = 2;
const FIRST_OUTSIDE: usize = 3; // candidate + 1
const AT_MATCH: usize = 4;
const FIELDS: usize = 5;

/// After this many tests begun after the stop, a worker is stopped with a panic.
pub const WASTED_CAP: u64 = 1000;

struct Shared {
    flag: FlagControl,
    /// (worker, candidate) of every match.
    matches: Vec<(usize, u64)>,
    ranges: Vec<Range<u64>>,
    /// Per worker: the test number it is held at until the stop (0 = never).
    pause_at: Vec<u64>,
    t: Table,
    timed_out: RawValue<bool>,
}

impl Probe {
    #[doc(hidden)]
    pub fn new(
        flag: &FlagControl,
        ranges: Vec<Range<u64>>,
        matches: Vec<(usize, u64)>,
        pause_at: Vec<u64>,
    ) -> Result<(Probe, ProbeControl), Error> {
        let s = Arc::new(Shared {
            flag: flag.share(),
            t: Table::new(ranges.len(), FIELDS)?,
            matches,
            ranges,
            pause_at,
            timed_out: RawValue::new(false)?,
        });
        Ok((Probe { s: s.clone() }, ProbeControl { s }))
    }

    /// Whether `candidate` is one the search is looking for.
    pub fn test(&self, candidate: u64) -> bool {
        let s = &*self.s;
        let is_match = s.matches.iter().any(|&(_, c)| c == candidate);
        let Some(me) = s.flag.worker_me() else {
            return is_match;
        };
        let n = s.t.bump(me, TESTS);
        if !s.ranges[me].contains(&candidate) {
            if s.t.bump(me, OUTSIDE) == 1 {
                s.t.set(me, FIRST_OUTSIDE, candidate + 1);
            }
            return false;
        }
        if s.flag.is_set() {
            if s.t.bump(me, WASTED) > WASTED_CAP {
                panic!(
                    "worker {me} began {WASTED_CAP} tests after the flag was set and kept going: \
                     look at the flag before each test {}",
                    crate::STOPPED
                );
            }
            return is_match;
        }
        if s.matches.contains(&(me, candidate)) {
            // A finder: return only when every other finder is at its match too and every
            // other worker is held (or done), so the claims race for real.
            s.t.set(me, AT_MATCH, 1);
            let ok = wait_until(|| {
                (0..s.ranges.len()).filter(|&j| j != me).all(|j| {
                    if s.matches.iter().any(|&(w, _)| w == j) {
                        s.t.get(j, AT_MATCH) == 1 || s.flag.gone(j)
                    } else {
                        s.flag.parked_or_gone(j)
                    }
                })
            });
            if !ok {
                s.timed_out.set(true);
            }
            s.flag.arm(true);
        } else if n == s.pause_at[me] {
            s.flag.park(me, true);
            let ok = wait_until(|| s.flag.is_set() || s.matches.iter().all(|&(w, _)| s.flag.gone(w)));
            s.flag.park(me, false);
            if !ok {
                s.timed_out.set(true);
            } else if !s.flag.is_set() {
                panic!(
                    "worker {me} was held until the flag was set, but every finder has returned and the \
                     flag is still unset: this worker would search for ever {}",
                    crate::STOPPED
                );
            }
        }
        is_match
    }
}

#[doc(hidden)]
impl ProbeControl {
    /// Tests per worker.
    pub fn tests(&self) -> Vec<u64> {
        self.s.t.column(TESTS)
    }
    /// Tests per worker that began after the flag was set.
    pub fn wasted(&self) -> Vec<u64> {
        self.s.t.column(WASTED)
    }
    /// Per worker: the first candidate it tested outside its own range.
    pub fn outside(&self) -> Vec<Option<u64>> {
        self.s
            .t
            .column(FIRST_OUTSIDE)
            .into_iter()
            .map(|c| c.checked_sub(1))
            .collect()
    }
    /// Per worker: whether it had a parked test (it was held until the stop).
    pub fn timed_out(&self) -> bool {
        self.s.timed_out.get()
    }
}
