//! Lecture 27, Concept 4.1 and Example 27.2, in Rust: how often a worker looks at a shared
//! stop flag. This file is the lecture's code and nothing else; the rest of the crate runs
//! these very functions in forked processes, hands them a flag that counts its reads, and
//! prints what it measured.

use coord_core::{RawValue, Value};
use lab_support::is_prime;

// ANCHOR: example_27_2_lecture
/// Example 27.2 as the lecture wrote it: count the primes among `numbers` (Python:
/// `range(2, limit)`), looking at the flag "every K iterations". Python writes this body
/// twice, with K = 10 and K = 1000 (the two functions below), and passes a `taskId` it never
/// uses, left out here.
///
/// The bug: `count` is the number of primes found so far, not the number of iterations.
/// While it sits on a multiple of K the flag is read on every number; while it does not,
/// the flag is not read at all, for as long as the next prime takes to turn up.
pub fn worker_with_check(k: u64, numbers: impl IntoIterator<Item = u64>, shared_flag: &impl StopFlag) -> u64 {
    let mut count = 0;
    for n in numbers {
        if count % k == 0 && shared_flag.is_set() {
            return count; // someone else asked us to stop
        }
        if is_prime(n) {
            count += 1;
        }
    }
    count
}

/// Python's `workerWithFrequentCheck`: "check every 10 iterations".
pub fn worker_with_frequent_check(
    numbers: impl IntoIterator<Item = u64>,
    shared_flag: &impl StopFlag,
) -> u64 {
    worker_with_check(10, numbers, shared_flag)
}

/// Python's `workerWithRareCheck`: "check every 1000 iterations".
pub fn worker_with_rare_check(numbers: impl IntoIterator<Item = u64>, shared_flag: &impl StopFlag) -> u64 {
    worker_with_check(1000, numbers, shared_flag)
}
// ANCHOR_END: example_27_2_lecture

// ANCHOR: corrected_check
/// The corrected worker: the test is on the iteration number `i`, so the flag is read exactly
/// once every `k` iterations (on iterations 0, k, 2k, ...), wherever the primes fall.
pub fn worker_checking_every(
    k: u64,
    numbers: impl IntoIterator<Item = u64>,
    shared_flag: &impl StopFlag,
) -> u64 {
    let mut count = 0;
    for (i, n) in (0u64..).zip(numbers) {
        if i % k == 0 && shared_flag.is_set() {
            return count;
        }
        if is_prime(n) {
            count += 1;
        }
    }
    count
}
// ANCHOR_END: corrected_check

// ANCHOR: sweep_worker
/// Concept 4.1's worker, the check interval as a parameter: `iterations` rounds of `work`,
/// looking at the flag once every `every` iterations (`None`: never). Returns the number of
/// iterations it completed: all of them, or fewer if it saw the flag up.
pub fn sweep_worker(
    every: Option<u64>,
    iterations: u64,
    flag: &impl StopFlag,
    mut work: impl FnMut(u64),
) -> u64 {
    // A countdown rather than `i % every == 0`: one decrement per iteration and no division.
    // With `None` it never reaches zero, so the very same loop runs with no reads at all.
    let k = every.unwrap_or(u64::MAX);
    let mut until_check = if every.is_some() { 0 } else { u64::MAX };
    for i in 0..iterations {
        if until_check == 0 {
            until_check = k;
            if flag.is_set() {
                return i;
            }
        }
        until_check -= 1;
        work(i);
    }
    iterations
}
// ANCHOR_END: sweep_worker

// ANCHOR: recommend
/// Choosing the interval K from two measured costs (ns): one flag read, `read_ns`, and one
/// iteration of work, `iter_ns`. Returns `(k_min, k_max)`: every K in between keeps the reads
/// under `max_overhead` of the work (0.01 = 1 %) and lets a running worker notice the flag
/// within `budget_ns`. Use `k_min`, the most responsive of them; if `k_min > k_max`, no K
/// meets both and one of the two goals has to give.
pub fn interval_bounds(read_ns: f64, iter_ns: f64, max_overhead: f64, budget_ns: f64) -> (u64, u64) {
    // Throughput: one read every K iterations adds read_ns / (K * iter_ns) to the work, so
    // staying under max_overhead needs K >= read_ns / (max_overhead * iter_ns).
    let k_min = ((read_ns / (max_overhead * iter_ns)).ceil() as u64).max(1);
    // Responsiveness: a running worker sees the flag at its next read, at most K iterations
    // (K * iter_ns) after it went up, so meeting the budget needs K <= budget_ns / iter_ns.
    let k_max = (budget_ns / iter_ns).floor() as u64;
    (k_min, k_max)
}
// ANCHOR_END: recommend

// ANCHOR: stop_flag
/// A shared stop flag. The workers above are generic over it, so that the measurements can
/// hand them a stand-in that counts every read (`scenarios::example::Probe`,
/// `scenarios::sweep::CountingFlag`).
pub trait StopFlag {
    /// Python's `sharedFlag.value`: has someone asked us to stop?
    fn is_set(&self) -> bool;
    /// Python's `sharedFlag.value = True`.
    fn raise(&self);
}

/// The lecture's flag, `multiprocessing.Value('b', False)`: a read takes its lock.
impl StopFlag for Value<bool> {
    fn is_set(&self) -> bool {
        self.get() // lock, read, unlock
    }
    fn raise(&self) {
        self.set(true)
    }
}

/// The same flag without a lock (Python's `RawValue`): a read is one atomic load.
impl StopFlag for RawValue<bool> {
    fn is_set(&self) -> bool {
        self.get() // on x86 a plain `mov`
    }
    fn raise(&self) {
        self.set(true)
    }
}
// ANCHOR_END: stop_flag
