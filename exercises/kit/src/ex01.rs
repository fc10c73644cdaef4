//! Exercise 1 (lecture section 1.1): the poison pill.

use std::sync::Arc;
use std::sync::atomic::{AtomicPtr, Ordering};

use coord_core::{Error, RawArray, RawValue};
use serde::{Deserialize, Serialize};

use crate::{Roster, wait_until};

/// What travels on the job queue: a task, or the pill that tells one worker to leave
/// (Python's `None` sentinel).
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    Task(u64),
    Stop,
}

/// What a worker reports for each task it processed.
#[derive(Serialize, Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
pub struct Done {
    pub worker: usize,
    pub task: u64,
    /// `process(task)`
    pub answer: u64,
}

/// The work of one task: the smallest prime factor of `n` (`n` itself when it is prime).
///
/// **Instrumented** while the checker runs: it notes which worker processed which task (so
/// the checker can tell whether a `Done` names the worker that did the work), and a worker's
/// first call waits until every other worker has started a task too, so that every worker of
/// the pool really gets work.
pub fn process(n: u64) -> u64 {
    if let Some(r) = recorder() {
        r.note(n);
    }
    smallest_factor(n)
}

fn smallest_factor(n: u64) -> u64 {
    if n < 4 {
        return n;
    }
    let mut d = 2;
    while d * d <= n {
        if n % d == 0 {
            return d;
        }
        d += 1;
    }
    n
}

/// The checker's record of who processed what (one per scenario run).
#[doc(hidden)]
pub struct Recorder {
    roster: Roster,
    tasks: Vec<u64>,
    /// Per task (index into `tasks`): worker + 1 that first processed it.
    by: RawArray<u64>,
    /// Per worker: tasks processed.
    count: RawArray<u64>,
    finished: RawArray<u8>,
    calls: RawValue<u64>,
}

static RECORDER: AtomicPtr<Recorder> = AtomicPtr::new(std::ptr::null_mut());

fn recorder() -> Option<&'static Recorder> {
    let p = RECORDER.load(Ordering::Acquire);
    // SAFETY: a non-null pointer here comes from `Recorder::install`, which leaks its Arc
    // (the recorder is never freed), so it stays valid for the life of the process.
    (!p.is_null()).then(|| unsafe { &*p })
}

#[doc(hidden)]
impl Recorder {
    /// Makes `process` record for `tasks` in this process and every process forked after.
    pub fn install(workers: usize, tasks: &[u64]) -> Result<Arc<Recorder>, Error> {
        let mut sorted = tasks.to_vec();
        sorted.sort_unstable();
        let r = Arc::new(Recorder {
            roster: Roster::new(workers)?,
            by: RawArray::new(sorted.len(), 0)?,
            count: RawArray::new(workers, 0)?,
            finished: RawArray::new(workers, 0)?,
            calls: RawValue::new(0)?,
            tasks: sorted,
        });
        let leaked = Arc::into_raw(r.clone()) as *mut Recorder;
        RECORDER.store(leaked, Ordering::Release);
        Ok(r)
    }
    pub fn register(&self, i: usize) {
        self.roster.register(i);
    }
    pub fn finished(&self, i: usize) {
        let _ = self.finished.set(i, 1);
    }
    /// The worker that processed `task`, if any did.
    pub fn processed_by(&self, task: u64) -> Option<usize> {
        let i = self.tasks.binary_search(&task).ok()?;
        match self.by.get(i) {
            Ok(w) if w > 0 => Some(w as usize - 1),
            _ => None,
        }
    }

    fn note(&self, n: u64) {
        let Some(me) = self.roster.me() else { return };
        self.calls.fetch_add(1);
        if let Ok(i) = self.tasks.binary_search(&n) {
            let _ = self.by.compare_exchange(i, 0, me as u64 + 1);
        }
        let mine = self.count.fetch_add(me, 1).unwrap_or(0) + 1;
        if mine == 1 {
            let workers = self.roster.len();
            wait_until(|| {
                self.calls.get() >= self.tasks.len() as u64
                    || (0..workers).all(|j| {
                        self.count.get(j).unwrap_or(0) > 0
                            || self.finished.get(j).unwrap_or(1) == 1
                            || !self.roster.alive(j)
                    })
            });
        }
    }
}
