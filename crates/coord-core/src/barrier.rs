//! A barrier between processes: Python's `multiprocessing.Barrier(parties)`.
//!
//! Every party calls [`Barrier::wait`]; nobody gets past it until all `parties` have arrived,
//! then all are let go at once. The concept programs use one as a start gate, so that their
//! workers really race instead of the first-forked one getting a head start.
//!
//! The state is three words in `MAP_SHARED` memory: how many have arrived, a generation number
//! that the last arrival bumps (it is what the others wait on), and a "broken" mark. Waiting
//! spins briefly (a release usually comes within microseconds when workers start together),
//! then sleeps on the generation word with a futex, so an early arrival costs no CPU.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crossbeam_utils::Backoff;

use crate::error::{Error, Result};
use crate::futex;
use crate::shm::SharedRegion;

#[repr(C)]
struct State {
    arrived: AtomicU32,
    /// Bumped by the last arrival of each round: the futex word the others sleep on.
    generation: AtomicU32,
    /// Non-zero once a waiter gave up (timeout) or [`Barrier::abort`] was called.
    broken: AtomicU32,
    /// `monotonic_ns()` when the last round opened.
    opened_ns: AtomicU64,
}

/// A reusable barrier for `parties` processes (Python's `multiprocessing.Barrier`).
///
/// Create it before forking; every process that calls [`wait`](Barrier::wait) must have it.
/// A wait that times out breaks the barrier for everyone, as in Python: the others get
/// [`Error::BrokenBarrier`] instead of waiting for a party that is not coming.
///
/// ```
/// use coord_core::{Barrier, Process};
/// use std::time::Duration;
///
/// let gate = Barrier::new(2)?;
/// let child = Process::start(|| {
///     gate.wait_timeout(Duration::from_secs(10)).expect("parent arrives");
/// })?;
/// gate.wait_timeout(Duration::from_secs(10))?; // both are past this line together
/// assert!(child.join()?.success());
/// # Ok::<(), coord_core::Error>(())
/// ```
pub struct Barrier {
    region: SharedRegion,
    parties: u32,
}

// SAFETY: the shared state is only touched through atomics (see `state`), so sharing a
// `&Barrier` between threads, or moving it, is as safe as sharing the atomics themselves.
unsafe impl Send for Barrier {}
// SAFETY: as above.
unsafe impl Sync for Barrier {}

impl Barrier {
    /// A barrier that opens when `parties` processes are waiting. Zero parties is an error.
    pub fn new(parties: usize) -> Result<Barrier> {
        if parties == 0 || parties > u32::MAX as usize {
            return Err(Error::InvalidArgument(format!(
                "a barrier needs between 1 and {} parties, not {parties}",
                u32::MAX
            )));
        }
        let region = SharedRegion::new("coord-barrier", std::mem::size_of::<State>())?;
        Ok(Barrier {
            region,
            parties: parties as u32,
        })
    }

    fn state(&self) -> &State {
        // SAFETY: the region is page-aligned, zero-filled and at least `size_of::<State>()`
        // long; all-zero bytes are a valid `State` (atomics of 0). Other processes change it
        // concurrently, which is fine because every field is an atomic: we only ever take
        // shared references to it, never `&mut`.
        unsafe { &*(self.region.ptr() as *const State) }
    }

    /// How many processes must call `wait` to open the barrier.
    pub fn parties(&self) -> usize {
        self.parties as usize
    }

    /// How many are waiting in the current round.
    pub fn n_waiting(&self) -> usize {
        self.state().arrived.load(Ordering::Acquire) as usize
    }

    /// Whether a waiter timed out or [`abort`](Barrier::abort) was called.
    pub fn broken(&self) -> bool {
        self.state().broken.load(Ordering::Acquire) != 0
    }

    /// `monotonic_ns()` at the moment the last round opened (0 before the first): the time
    /// the workers were let go, for measuring from a common start.
    pub fn opened_at_ns(&self) -> u64 {
        self.state().opened_ns.load(Ordering::Acquire)
    }

    /// Breaks the barrier: every process waiting now or later gets [`Error::BrokenBarrier`].
    pub fn abort(&self) {
        let s = self.state();
        s.broken.store(1, Ordering::Release);
        // Bump the word the waiters sleep on, so that none of them sleeps through the news.
        s.generation.fetch_add(1, Ordering::AcqRel);
        futex::wake(&s.generation, u32::MAX);
    }

    /// Waits, with no time limit, until all parties have arrived. Returns this caller's
    /// arrival index (`0..parties`), as Python's `wait()` does.
    pub fn wait(&self) -> Result<usize> {
        self.wait_until(None)
    }

    /// As [`wait`](Barrier::wait), but gives up after `timeout`: the barrier is then broken
    /// for everyone and this caller gets [`Error::Timeout`].
    pub fn wait_timeout(&self, timeout: Duration) -> Result<usize> {
        self.wait_until(Instant::now().checked_add(timeout))
    }

    fn wait_until(&self, deadline: Option<Instant>) -> Result<usize> {
        let s = self.state();
        if self.broken() {
            return Err(Error::BrokenBarrier);
        }
        // Read the round *before* arriving: the last arrival can only bump it after our
        // arrival below, so if it differs later, our round has opened.
        let round = s.generation.load(Ordering::Acquire);
        let index = s.arrived.fetch_add(1, Ordering::AcqRel);
        if index + 1 == self.parties {
            // Last to arrive: reset the count for the next round, then open this one.
            s.arrived.store(0, Ordering::Release);
            s.opened_ns.store(crate::monotonic_ns(), Ordering::Release);
            s.generation.fetch_add(1, Ordering::AcqRel);
            futex::wake(&s.generation, u32::MAX);
            return Ok(index as usize);
        }
        let backoff = Backoff::new();
        loop {
            if s.generation.load(Ordering::Acquire) != round {
                return if self.broken() {
                    Err(Error::BrokenBarrier)
                } else {
                    Ok(index as usize)
                };
            }
            if !backoff.is_completed() {
                backoff.snooze();
                continue;
            }
            let left = match deadline {
                None => None,
                Some(d) => match d.checked_duration_since(Instant::now()) {
                    Some(left) if !left.is_zero() => Some(left),
                    _ => {
                        // Give up, and tell the others nobody else is coming through this round.
                        if s.generation.load(Ordering::Acquire) != round && !self.broken() {
                            return Ok(index as usize); // it opened just now after all
                        }
                        self.abort();
                        return Err(Error::Timeout);
                    }
                },
            };
            futex::wait(&s.generation, round, left);
        }
    }
}

impl std::fmt::Debug for Barrier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Barrier")
            .field("parties", &self.parties)
            .field("n_waiting", &self.n_waiting())
            .field("broken", &self.broken())
            .finish()
    }
}
