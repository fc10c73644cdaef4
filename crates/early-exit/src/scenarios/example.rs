//! Example 27.1 as written (the lesson's `main` and `search_for_primes`), with each worker
//! noting how its loop ended for the table.

use anyhow::Result;
use coord_core::RawArray;
use lab_support::is_prime;
use serde::Serialize;

use super::Exit;
use super::flags::Watched;
use crate::lesson::{self, lock_check_set, search_for_primes};
use crate::procs::check_shape;

/// The result of one run of Example 27.1.
#[derive(Debug, Clone, Serialize)]
pub struct Example271 {
    pub workers: usize,
    pub range_len: u64,
    /// `(worker id, prime)` as taken from the queue, in order; Python prints the first.
    pub results: Vec<(u32, u64)>,
    /// From the first `start()` to the last `join()`, as the Python example times it.
    pub elapsed_ns: u64,
    /// Loop iterations each worker ran (numbers it looked at).
    pub iterations: Vec<u64>,
    pub exits: Vec<Exit>,
    /// The first prime in each worker's range (a sequential scan in the parent).
    pub first_prime_in_range: Vec<Option<u64>>,
    pub pids: Vec<u32>,
}

impl Example271 {
    pub fn winner(&self) -> Option<(u32, u64)> {
        self.results.first().copied()
    }
    pub fn max_iterations(&self) -> u64 {
        self.iterations.iter().copied().max().unwrap_or(0)
    }
    /// How far from its range's start the farthest first prime lies.
    pub fn far_prime(&self) -> u64 {
        self.first_prime_in_range
            .iter()
            .enumerate()
            .filter_map(|(i, p)| p.map(|p| p - i as u64 * self.range_len))
            .max()
            .unwrap_or(0)
    }
}

/// Runs Example 27.1 once: `workers` processes, worker `i` searching
/// `i*range_len .. (i+1)*range_len` for a prime (the lecture uses 4 and 100,000).
pub fn example_27_1(workers: usize, range_len: u64) -> Result<Example271> {
    check_shape(workers, range_len)?;
    // Written by each worker as it returns: loop iterations, how it ended, its pid.
    let iterations = RawArray::new(workers, 0u64)?;
    let exits = RawArray::new(workers, 0u64)?;
    let pids = RawArray::new(workers, 0u32)?;
    let (results, elapsed) = lesson::main(workers, range_len, |i, range, found_flag, result_queue| {
        // The lesson's worker as the lecture runs it; only the flag is a watched stand-in.
        let flag = Watched::new(found_flag, true, || {});
        let searched = search_for_primes(
            i,
            range,
            &flag,
            result_queue,
            |n| flag.test(n, is_prime(n)),
            lock_check_set,
        );
        let i = i as usize;
        iterations.set(i, flag.checks())?;
        exits.set(i, flag.exit().code())?;
        pids.set(i, std::process::id())?;
        searched
    })?;
    Ok(Example271 {
        workers,
        range_len,
        results,
        elapsed_ns: elapsed.as_nanos() as u64,
        iterations: iterations.to_vec(),
        exits: exits.to_vec().into_iter().map(Exit::from_code).collect(),
        first_prime_in_range: (0..workers as u64)
            .map(|i| (i * range_len..(i + 1) * range_len).find(|&n| is_prime(n)))
            .collect(),
        pids: pids.to_vec(),
    })
}
