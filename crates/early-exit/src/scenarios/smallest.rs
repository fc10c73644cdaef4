//! Smallest, not first: branch and bound over a shared best-so-far. Not code from the lecture
//! (it names branch and bound among the uses of early exit); it shows that "first found" and
//! "smallest" are different answers.

use std::ops::Range;

use anyhow::{Result, bail};
use coord_core::{Barrier, Process, RawArray, RawValue};
use serde::Serialize;

use super::Exit;
use super::work::{Matcher, Target};
use crate::procs::{JOIN_TIMEOUT, check_shape, join_checked};

/// The result of a [`smallest`] search.
#[derive(Debug, Clone, Serialize)]
pub struct Smallest {
    pub workers: usize,
    pub range_len: u64,
    pub target: Target,
    /// The smallest match over all ranges, or `None` if there is none.
    pub smallest: Option<u64>,
    pub iterations: Vec<u64>,
    pub exits: Vec<Exit>,
    pub pids: Vec<u32>,
}

/// Lowers `best` to `n` unless it already holds something smaller (an atomic min).
fn lower_best(best: &RawValue<u64>, n: u64) {
    let mut cur = best.get();
    while n < cur {
        match best.compare_exchange(cur, n) {
            Ok(_) => return,
            Err(now) => cur = now,
        }
    }
}

/// A worker of the branch-and-bound search. Ranges are scanned upward, so the first match
/// in a range is that range's smallest; `best` holds the smallest match anyone has found so
/// far, and a worker whose next item is not below it abandons its range.
fn smallest_worker(range: Range<u64>, matcher: &Matcher, best: &RawValue<u64>) -> (u64, Exit) {
    let mut done = 0;
    for n in range {
        if n >= best.get() {
            return (done, Exit::Pruned); // the bound: nothing left here can beat `best`
        }
        done += 1;
        if matcher.matches(n) {
            lower_best(best, n); // share it: others may now prune
            return (done, Exit::Found);
        }
    }
    (done, Exit::Exhausted)
}

/// Finds the smallest match over `workers` ranges of `range_len` items, in parallel.
pub fn smallest(workers: usize, range_len: u64, target: Target, work: u32) -> Result<Smallest> {
    check_shape(workers, range_len)?;
    if let Target::Density(0) = target {
        bail!("density must be at least 1 (one match in every d items)");
    }
    let best = RawValue::new(u64::MAX)?;
    let iterations = RawArray::new(workers, 0u64)?;
    let exits = RawArray::new(workers, 0u64)?;
    let gate = Barrier::new(workers)?;
    let matcher = Matcher::new(target, work);
    let procs = (0..workers)
        .map(|i| {
            let lo = i as u64 * range_len;
            let (best, iterations, exits, matcher, gate) = (&best, &iterations, &exits, &matcher, &gate);
            Process::start(move || -> Result<()> {
                gate.wait_timeout(JOIN_TIMEOUT)?;
                let (done, exit) = smallest_worker(lo..lo + range_len, matcher, best);
                iterations.set(i, done)?;
                exits.set(i, exit.code())?;
                Ok(())
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    join_checked(&procs)?;
    let b = best.get();
    Ok(Smallest {
        workers,
        range_len,
        target,
        smallest: (b != u64::MAX).then_some(b),
        iterations: iterations.to_vec(),
        exits: exits.to_vec().into_iter().map(Exit::from_code).collect(),
        pids: procs.iter().map(Process::pid).collect(),
    })
}
