//! Lecture 27, Concept 2.1 and Example 27.1, as the lecture writes them: four processes search
//! four ranges for a prime, the first to find one wins, and the others stop.
//!
//! | Python | here |
//! |---|---|
//! | `searchForPrimes(workerId, searchRange, foundFlag, resultQueue)` | [`search_for_primes`] |
//! | `with foundFlag.get_lock(): if not foundFlag.value: ...` | [`lock_check_set`] |
//! | the same without the lock (what goes wrong) | [`unsafe_set`] |
//! | `if __name__ == "__main__":` | [`main`] |
//!
//! The measured runs (`crate::scenarios`) call these very functions, handing in an
//! instrumented flag and, for the longer searches, a test whose match they place.

use std::ops::Range;
use std::time::{Duration, Instant};

use anyhow::Result;
use coord_core::{Lock, LockResultExt, Process, Queue, Value};

use crate::procs::join_checked;

// ANCHOR: example_27_1_worker
/// Python's `searchForPrimes`: scan `search_range` upward, stop at the first prime, or as
/// soon as another worker has found one. Two things Python writes inline come in as
/// arguments, so that the measured runs use this very loop: the test (`is_prime`) and the
/// claim (`lock_check_set`, or `unsafe_set` to show the race it prevents).
pub fn search_for_primes<F: FoundFlag>(
    worker_id: u32,
    search_range: Range<u64>,
    found_flag: &F,
    result_queue: &ResultQueue,
    is_prime: impl Fn(u64) -> bool,
    claim: ClaimWin<F>,
) -> Result<()> {
    for n in search_range {
        // Check the shared flag: the coordination cost, paid once per number.
        if found_flag.get() {
            return Ok(()); // someone else won: stop here
        }
        if is_prime(n) {
            claim(found_flag, result_queue, (worker_id, n))?;
            return Ok(()); // won or came second: either way this worker is done
        }
    }
    Ok(())
}
// ANCHOR_END: example_27_1_worker

// ANCHOR: lock_check_set
/// Lock, check again, set: of several workers that find a prime at the same moment,
/// exactly one sets the flag and reports.
pub fn lock_check_set<F: FoundFlag>(
    found_flag: &F,
    result_queue: &ResultQueue,
    result: (u32, u64),
) -> Result<bool> {
    // Python: `with foundFlag.get_lock():` (released when `_held` goes out of scope).
    let _held = found_flag.get_lock().lock().recover();
    // Python: `if not foundFlag.value:`. Another worker may have won between our check
    // in the loop and taking the lock: then we lost, and say nothing.
    if !found_flag.get() {
        found_flag.set(true); // Python: `foundFlag.value = True`
        result_queue.put(&result)?; // Python: `resultQueue.put((workerId, n))`
        return Ok(true);
    }
    Ok(false)
}
// ANCHOR_END: lock_check_set

// ANCHOR: unsafe_set
/// The same without the lock: check, then set. Two workers that find a prime at the same
/// moment can both read `false` before either writes `true`, and both report a win.
pub fn unsafe_set<F: FoundFlag>(
    found_flag: &F,
    result_queue: &ResultQueue,
    result: (u32, u64),
) -> Result<bool> {
    if !found_flag.get() {
        // <- the race: another worker can pass the same check right here
        found_flag.set(true);
        result_queue.put(&result)?;
        return Ok(true);
    }
    Ok(false)
}
// ANCHOR_END: unsafe_set

// ANCHOR: example_27_1_main
/// Python's `if __name__ == "__main__":` block: one flag, one queue, `workers` ranges of
/// `range_len` numbers (the lecture: 4 and 100,000), one process each; start them, join
/// them, read the queue. `target` is what each process runs, as Python's `target=`.
/// Returns everything on the queue and the time from the first start to the last join.
pub fn main<T>(workers: usize, range_len: u64, target: T) -> Result<(Vec<(u32, u64)>, Duration)>
where
    T: Fn(u32, Range<u64>, &Value<bool>, &ResultQueue) -> Result<()>,
{
    let found_flag = Value::new(false)?;
    let result_queue = ResultQueue::new()?;
    let ranges: Vec<Range<u64>> = (0..workers as u64)
        .map(|i| i * range_len..(i + 1) * range_len)
        .collect();
    let start = Instant::now();
    let workers = (0..workers)
        .map(|i| {
            let (target, range) = (&target, ranges[i].clone());
            let (found_flag, result_queue) = (&found_flag, &result_queue);
            Process::start(move || target(i as u32, range, found_flag, result_queue))
        })
        .collect::<Result<Vec<_>, _>>()?;
    join_checked(&workers)?; // Python: `for w in workers: w.join()` (with a deadline here)
    let elapsed = start.elapsed();
    let mut results = Vec::new();
    while let Ok(r) = result_queue.try_get() {
        results.push(r);
    }
    Ok((results, elapsed))
}
// ANCHOR_END: example_27_1_main

// ANCHOR: found_flag
/// What a worker needs from the shared "found" flag: Python's `Value('b', False)`.
/// coord-core's [`Value<bool>`] is one; so are the measured runs' atomic flag and stand-ins.
pub trait FoundFlag {
    /// Python's `foundFlag.value`.
    fn get(&self) -> bool;
    /// Python's `foundFlag.value = v`.
    fn set(&self, v: bool);
    /// Python's `foundFlag.get_lock()`: the lock that makes "check, then set" one step.
    fn get_lock(&self) -> &Lock;
}

impl FoundFlag for Value<bool> {
    fn get(&self) -> bool {
        Value::get(self) // takes the flag's lock for the read, as Python's `.value` does
    }
    fn set(&self, v: bool) {
        Value::set(self, v)
    }
    fn get_lock(&self) -> &Lock {
        Value::get_lock(self)
    }
}

/// Python's `resultQueue`: the winner puts `(worker id, prime)` on it.
pub type ResultQueue = Queue<(u32, u64)>;

/// How a worker that found a prime claims the win: [`lock_check_set`] or [`unsafe_set`].
/// Returns whether this worker won.
pub type ClaimWin<F> = fn(&F, &ResultQueue, (u32, u64)) -> Result<bool>;
// ANCHOR_END: found_flag
