//! Example 27.2 measured: the lesson's workers, as the lecture wrote them and corrected, in
//! forked processes that count the primes below `limit`, next to two references (a read on
//! every iteration, and no read at all). Every worker's flag is a [`Probe`] around the lecture's
//! locked `Value<bool>`, which nobody sets, exactly as in the lecture.

use std::cell::Cell;
use std::time::Instant;

use anyhow::{Result, bail};
use coord_core::{Process, RawArray, Value};
use lab_support::clock::thread_cpu_ns;
use lab_support::is_prime;
use serde::Serialize;

use super::{check_joined, median};
use crate::lesson::{self, StopFlag};

/// Counts the flag reads a worker makes and the longest run of iterations it spent without
/// one (the most work it could do after the flag went up, had it gone up right after a read).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Tally {
    pub reads: u64,
    pub longest_without_read: u64,
    #[serde(skip)]
    last_read: Option<u64>,
}

impl Tally {
    /// Records a read at iteration `i` (0-based).
    pub fn note(&mut self, i: u64) {
        let gap = match self.last_read {
            Some(last) => i - last,
            None => i, // iterations done before the first read
        };
        self.longest_without_read = self.longest_without_read.max(gap);
        self.reads += 1;
        self.last_read = Some(i);
    }

    /// Closes the tally when the loop ends after `done` iterations.
    pub fn finish(&mut self, done: u64) {
        let tail = match self.last_read {
            Some(last) => done.saturating_sub(last),
            None => done,
        };
        self.longest_without_read = self.longest_without_read.max(tail);
    }
}

/// The stand-in the lesson's workers get instead of the bare flag: it passes every read on to
/// the real flag and notes it in a [`Tally`]. To know at which iteration a read happens, it
/// also hands out the worker's numbers ([`Probe::numbers`]) and counts them as they are taken.
pub struct Probe<'a, F> {
    flag: &'a F,
    taken: Cell<u64>,
    stopped: Cell<bool>,
    tally: Cell<Tally>,
}

impl<'a, F: StopFlag> Probe<'a, F> {
    pub fn new(flag: &'a F) -> Self {
        Probe {
            flag,
            taken: Cell::new(0),
            stopped: Cell::new(false),
            tally: Cell::new(Tally::default()),
        }
    }

    /// `range`, counted as the worker takes it.
    pub fn numbers(&self, range: std::ops::Range<u64>) -> impl Iterator<Item = u64> + '_ {
        range.inspect(|_| self.taken.set(self.taken.get() + 1))
    }

    /// Numbers handed out so far: the one under test is number `taken() + 1` of `2..`.
    pub fn taken(&self) -> u64 {
        self.taken.get()
    }

    /// Whether the last read found the flag up.
    pub fn stopped(&self) -> bool {
        self.stopped.get()
    }

    /// The tally, once the worker has returned.
    pub fn finish(&self) -> Tally {
        let taken = self.taken.get();
        // A worker that saw the flag up returned in the iteration it took last.
        let done = if self.stopped.get() {
            taken.saturating_sub(1)
        } else {
            taken
        };
        let mut t = self.tally.get();
        t.finish(done);
        t
    }
}

impl<F: StopFlag> StopFlag for Probe<'_, F> {
    fn is_set(&self) -> bool {
        let mut t = self.tally.get();
        t.note(self.taken.get().saturating_sub(1)); // the iteration under way
        self.tally.set(t);
        let set = self.flag.is_set();
        self.stopped.set(set);
        set
    }
    fn raise(&self) {
        self.flag.raise()
    }
}

/// How a worker of Example 27.2 decides when to look at the flag.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "check", content = "k", rename_all = "snake_case")]
pub enum Check {
    /// As the lecture wrote it: `if count % k == 0 and sharedFlag.value`, where `count` is the
    /// number of primes found so far.
    Lecture(u64),
    /// Corrected: test the iteration number, so the flag is read every `k` iterations.
    Corrected(u64),
    /// No check at all: the floor the other variants are compared with.
    Never,
}

impl Check {
    pub fn test_text(self) -> String {
        match self {
            Check::Lecture(k) => format!("count % {k} == 0"),
            Check::Corrected(1) => "every iteration".to_string(),
            Check::Corrected(k) => format!("i % {k} == 0"),
            Check::Never => "no check".to_string(),
        }
    }
    pub fn label(self) -> String {
        match self {
            Check::Lecture(10) => "lecture 'frequent'".to_string(),
            Check::Lecture(1000) => "lecture 'rare'".to_string(),
            Check::Lecture(k) => format!("lecture, K={k}"),
            Check::Corrected(1) => "reference".to_string(),
            Check::Corrected(k) => format!("corrected, K={k}"),
            Check::Never => "reference".to_string(),
        }
    }
}

/// One worker of Example 27.2: the lesson's function for `check`, counting `2..limit`, with
/// `probe` as its flag. The "no check" reference is the same count with no flag at all.
fn run_worker<F: StopFlag>(check: Check, limit: u64, probe: &Probe<'_, F>) -> u64 {
    let numbers = probe.numbers(2..limit);
    match check {
        Check::Lecture(10) => lesson::worker_with_frequent_check(numbers, probe),
        Check::Lecture(1000) => lesson::worker_with_rare_check(numbers, probe),
        Check::Lecture(k) => lesson::worker_with_check(k, numbers, probe),
        Check::Corrected(k) => lesson::worker_checking_every(k, numbers, probe),
        Check::Never => numbers.filter(|&n| is_prime(n)).count() as u64,
    }
}

/// Counts the primes below `limit` with a sieve of Eratosthenes: a different method from the
/// workers' trial division, to check them against.
pub fn sieve(limit: u64) -> Vec<bool> {
    let n = limit as usize;
    let mut prime = vec![true; n.max(2)];
    prime[0] = false;
    prime[1] = false;
    let mut p = 2;
    while p * p < n {
        if prime[p] {
            let mut m = p * p;
            while m < n {
                prime[m] = false;
                m += p;
            }
        }
        p += 1;
    }
    prime.truncate(n);
    prime
}

/// The number of primes below `limit`, counted sequentially by the sieve.
pub fn sequential_prime_count(limit: u64) -> u64 {
    sieve(limit).iter().filter(|&&p| p).count() as u64
}

/// What the lecture's `count % k == 0` test does over `2..limit` when the flag is never set,
/// worked out sequentially from the sieve: the reads it makes and the longest stretch without
/// one.
pub fn simulate_lecture_reads(limit: u64, k: u64) -> Tally {
    let prime = sieve(limit);
    let mut t = Tally::default();
    let mut found = 0u64; // primes below n
    for n in 2..limit {
        if found % k == 0 {
            t.note(n - 2);
        }
        if prime[n as usize] {
            found += 1;
        }
    }
    t.finish(limit.saturating_sub(2));
    t
}

/// The number of reads the corrected check makes over `iters` iterations: ceil(iters / k).
pub fn corrected_reads(iters: u64, k: u64) -> u64 {
    iters.div_ceil(k)
}

/// One variant of Example 27.2, run `rounds` times with `workers` processes each.
#[derive(Clone, Debug, Serialize)]
pub struct ExampleVariant {
    pub check: Check,
    pub label: String,
    pub test: String,
    /// Primes found by each worker in the first round (all rounds are checked to agree).
    pub primes_per_worker: Vec<u64>,
    /// Flag reads by each worker (the same in every round: the flag is never set).
    pub reads_per_worker: Vec<u64>,
    /// Longest run of iterations without a read, per worker.
    pub longest_without_read: u64,
    /// Python's figure: from the first `start()` to the last `join()`, one value per round (ms).
    pub start_join_ms: Vec<f64>,
    /// A worker's own CPU time for its loop, mean over the workers, one value per round (ms):
    /// no fork, no join, no time spent waiting for a CPU.
    pub worker_cpu_ms: Vec<f64>,
}

impl ExampleVariant {
    pub fn start_join_median(&self) -> f64 {
        median(&self.start_join_ms)
    }
    pub fn worker_cpu_median(&self) -> f64 {
        median(&self.worker_cpu_ms)
    }
    /// Flag reads of the first worker (all workers read the same number of times).
    pub fn reads(&self) -> u64 {
        self.reads_per_worker.first().copied().unwrap_or(0)
    }
}

/// Example 27.2 and its corrected form, measured side by side.
#[derive(Clone, Debug, Serialize)]
pub struct ExampleReport {
    pub workers: usize,
    pub limit: u64,
    pub rounds: usize,
    /// Iterations per worker (the numbers 2..limit).
    pub iterations: u64,
    pub sequential_primes: u64,
    pub variants: Vec<ExampleVariant>,
    /// Child pids of the last round (all reaped), for tests that check none is left.
    #[serde(skip)]
    pub last_pids: Vec<u32>,
}

impl ExampleReport {
    pub fn variant(&self, check: Check) -> Option<&ExampleVariant> {
        self.variants.iter().find(|v| v.check == check)
    }
}

/// The variants [`run_example`] measures, in the order they are printed.
pub fn example_checks() -> Vec<Check> {
    vec![
        Check::Lecture(10),
        Check::Lecture(1000),
        Check::Corrected(10),
        Check::Corrected(1000),
        Check::Corrected(1),
        Check::Never,
    ]
}

// Slots per worker in the result array of Example 27.2.
const EX_COUNT: usize = 0;
const EX_READS: usize = 1;
const EX_GAP: usize = 2;
const EX_T0: usize = 3;
const EX_T1: usize = 4;
const EX_FIELDS: usize = 5;

/// One round of one variant: `workers` processes, the flag a locked `Value<bool>` that nobody
/// sets, exactly as in the lecture. Returns (start..join ms, per-worker results, pids).
fn example_round(workers: usize, limit: u64, check: Check) -> Result<(f64, Vec<[u64; EX_FIELDS]>, Vec<u32>)> {
    let flag = Value::new(false)?; // Python: multiprocessing.Value('b', False)
    let out = RawArray::new(workers * EX_FIELDS, 0u64)?;
    let start = Instant::now();
    let procs = (0..workers)
        .map(|w| {
            Process::start(|| {
                let probe = Probe::new(&flag);
                let t0 = thread_cpu_ns();
                let count = run_worker(check, limit, &probe);
                let t1 = thread_cpu_ns();
                let tally = probe.finish();
                let base = w * EX_FIELDS;
                let fields = [count, tally.reads, tally.longest_without_read, t0, t1];
                for (f, v) in fields.into_iter().enumerate() {
                    out.set(base + f, v).expect("slot in bounds");
                }
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    check_joined(&procs)?;
    let elapsed_ms = start.elapsed().as_secs_f64() * 1e3;
    let vals = out.to_vec();
    let per = (0..workers)
        .map(|w| std::array::from_fn(|f| vals[w * EX_FIELDS + f]))
        .collect();
    Ok((elapsed_ms, per, procs.iter().map(|p| p.pid()).collect()))
}

/// Runs Example 27.2 (both lecture variants), the corrected check and the two references,
/// in `rounds` interleaved rounds, and checks every worker's prime count against the sieve.
pub fn run_example(workers: usize, limit: u64, rounds: usize) -> Result<ExampleReport> {
    if workers == 0 || rounds == 0 {
        bail!("Example 27.2 needs at least 1 worker and 1 round");
    }
    if limit < 3 {
        bail!("the prime limit must be at least 3 (the range 2..limit would be empty)");
    }
    let sequential = sequential_prime_count(limit);
    let checks = example_checks();
    let mut variants: Vec<ExampleVariant> = checks
        .iter()
        .map(|&c| ExampleVariant {
            check: c,
            label: c.label(),
            test: c.test_text(),
            primes_per_worker: vec![],
            reads_per_worker: vec![],
            longest_without_read: 0,
            start_join_ms: vec![],
            worker_cpu_ms: vec![],
        })
        .collect();
    let mut last_pids = vec![];
    for round in 0..rounds {
        // Alternate the order so that slow drift (other load, CPU clocks) hits every variant.
        let order: Vec<usize> = if round % 2 == 0 {
            (0..checks.len()).collect()
        } else {
            (0..checks.len()).rev().collect()
        };
        for vi in order {
            let v = &mut variants[vi];
            let (ms, per, pids) = example_round(workers, limit, v.check)?;
            let primes: Vec<u64> = per.iter().map(|r| r[EX_COUNT]).collect();
            let reads: Vec<u64> = per.iter().map(|r| r[EX_READS]).collect();
            if let Some(bad) = primes.iter().find(|&&p| p != sequential) {
                bail!(
                    "a worker of '{}' counted {bad} primes, the sieve {sequential}",
                    v.test
                );
            }
            if round == 0 {
                v.primes_per_worker = primes;
                v.reads_per_worker = reads;
                v.longest_without_read = per.iter().map(|r| r[EX_GAP]).max().unwrap_or(0);
            } else if reads != v.reads_per_worker {
                bail!(
                    "'{}' read the flag {reads:?} times, earlier {:?}",
                    v.test,
                    v.reads_per_worker
                );
            }
            v.start_join_ms.push(ms);
            let cpu: u64 = per.iter().map(|r| r[EX_T1].saturating_sub(r[EX_T0])).sum();
            v.worker_cpu_ms.push(cpu as f64 / workers as f64 / 1e6);
            last_pids = pids;
        }
    }
    Ok(ExampleReport {
        workers,
        limit,
        rounds,
        iterations: limit - 2,
        sequential_primes: sequential,
        variants,
        last_pids,
    })
}
