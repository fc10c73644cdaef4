//! # check-frequency: how often should a worker look at the stop flag?
//!
//! Lecture 27, Concept 4.1 and Example 27.2, run with real forked processes and a real shared
//! flag. Three scenarios, each a function returning plain data so that the binary, the tests
//! and the docs can all use it:
//!
//! * [`run_example`]: Example 27.2 as the lecture wrote it (four processes count the primes
//!   below 20,000 and test `count % K == 0 && flag` on every number), next to the corrected
//!   form (test the *iteration* number) and two references (every iteration, never). Every
//!   worker counts how many times it really read the flag.
//! * [`run_sweep`]: one loop with a fixed cost per iteration, checked every 1, 10, ...,
//!   100,000 iterations or never, with a locked or an atomic flag. For each interval: the
//!   throughput cost against the never-check loop, and, on a run where worker 0 raises the
//!   flag half-way, how long the last worker took to stop and how many iterations were done
//!   after the flag went up.
//! * [`recommend`]: from the measured iteration cost, flag-read cost and a latency budget, the
//!   interval that keeps the checks under 1 % of the work while meeting the budget.

pub mod chart;
pub mod report;

use std::hint::black_box;
use std::sync::atomic::{Ordering, fence};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use coord_core::{ExitStatus, Process, RawArray, RawValue, Value, join_all, monotonic_ns};
use serde::Serialize;

/// The longest any scenario may wait for its workers before it kills them and reports an error.
const JOIN_TIMEOUT: Duration = Duration::from_secs(600);

// ------------------------------------------------------------------------------------------
// The flag
// ------------------------------------------------------------------------------------------

/// Which kind of shared flag the workers read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FlagKind {
    /// `Value<bool>`: every read takes a process-shared mutex, as Python's default
    /// `multiprocessing.Value('b', False)` does for `flag.value`.
    Locked,
    /// `RawValue<bool>`: every read is one atomic load (acquire), no lock.
    Atomic,
}

impl FlagKind {
    pub const BOTH: [FlagKind; 2] = [FlagKind::Locked, FlagKind::Atomic];
    pub fn name(self) -> &'static str {
        match self {
            FlagKind::Locked => "locked",
            FlagKind::Atomic => "atomic",
        }
    }
}

/// A shared stop flag: something a worker can read and someone can raise.
pub trait StopFlag: Sync {
    /// Reads the flag (the call whose cost and frequency this crate measures).
    fn is_set(&self) -> bool;
    /// Raises the flag.
    fn raise(&self);
}

impl StopFlag for Value<bool> {
    fn is_set(&self) -> bool {
        self.get() // lock, read, unlock: Python's `flag.value`
    }
    fn raise(&self) {
        self.set(true)
    }
}

impl StopFlag for RawValue<bool> {
    fn is_set(&self) -> bool {
        self.get() // one acquire load: on x86 a plain `mov`
    }
    fn raise(&self) {
        self.set(true)
    }
}

// ------------------------------------------------------------------------------------------
// Example 27.2
// ------------------------------------------------------------------------------------------

/// The lecture's primality test: `all(n % i != 0 for i in range(2, isqrt(n) + 1))`.
pub fn is_prime(n: u64) -> bool {
    (2..=n.isqrt()).all(|i| n % i != 0)
}

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
    /// Reads the flag at iteration `i` (0-based) and records it.
    #[inline]
    pub fn read(&mut self, i: u64, flag: &impl StopFlag) -> bool {
        self.note(i);
        flag.is_set()
    }

    /// Records a read at iteration `i` without a flag (for the sequential simulation).
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

// ANCHOR: example_27_2_lecture
/// Example 27.2's worker as the lecture wrote it: count the primes below `limit`, and test
/// `count % k == 0 && flag` before every number. `count` is the number of primes found so
/// far, not the number of iterations: while it sits on a multiple of `k` the flag is read on
/// every iteration, and while it does not, the flag is not read at all.
pub fn lecture_worker(limit: u64, k: u64, flag: &impl StopFlag, tally: &mut Tally) -> u64 {
    let mut count = 0;
    for n in 2..limit {
        let i = n - 2; // iteration number, only for the tally
        if count % k == 0 && tally.read(i, flag) {
            tally.finish(i);
            return count;
        }
        if is_prime(n) {
            count += 1;
        }
    }
    tally.finish(limit.saturating_sub(2));
    count
}
// ANCHOR_END: example_27_2_lecture

// ANCHOR: corrected_check
/// The corrected worker: the test is on the iteration number `i`, so the flag is read exactly
/// once every `k` iterations (on iterations 0, k, 2k, ...), whatever the data.
pub fn corrected_worker(limit: u64, k: u64, flag: &impl StopFlag, tally: &mut Tally) -> u64 {
    let mut count = 0;
    for n in 2..limit {
        let i = n - 2;
        if i % k == 0 && tally.read(i, flag) {
            tally.finish(i);
            return count;
        }
        if is_prime(n) {
            count += 1;
        }
    }
    tally.finish(limit.saturating_sub(2));
    count
}
// ANCHOR_END: corrected_check

/// The same count with no flag at all.
pub fn unchecked_worker(limit: u64, tally: &mut Tally) -> u64 {
    let count = (2..limit).filter(|&n| is_prime(n)).count() as u64;
    tally.finish(limit.saturating_sub(2));
    count
}

/// Runs one worker of Example 27.2 with the given check.
pub fn example_worker(check: Check, limit: u64, flag: &impl StopFlag, tally: &mut Tally) -> u64 {
    match check {
        Check::Lecture(k) => lecture_worker(limit, k, flag, tally),
        Check::Corrected(k) => corrected_worker(limit, k, flag, tally),
        Check::Never => unchecked_worker(limit, tally),
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
                let mut tally = Tally::default();
                let t0 = thread_cpu_ns();
                let count = example_worker(check, limit, &flag, &mut tally);
                let t1 = thread_cpu_ns();
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

// ------------------------------------------------------------------------------------------
// The sweep
// ------------------------------------------------------------------------------------------

/// The cost of one iteration of the sweep's loop.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkKind {
    /// About a microsecond per iteration.
    Tight,
    /// About a millisecond per iteration.
    Heavy,
}

impl WorkKind {
    pub fn name(self) -> &'static str {
        match self {
            WorkKind::Tight => "tight",
            WorkKind::Heavy => "heavy",
        }
    }
    /// The calibration target, in nanoseconds per iteration.
    pub fn target_ns(self) -> u64 {
        match self {
            WorkKind::Tight => 1_000,
            WorkKind::Heavy => 1_000_000,
        }
    }
}

/// A fixed amount of arithmetic per iteration: a chain of multiply-xorshift steps, each
/// depending on the one before, so the CPU cannot overlap or skip them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Work {
    pub steps: u64,
}

impl Work {
    #[inline]
    pub fn iteration(self, i: u64, acc: u64) -> u64 {
        let mut x = acc ^ i;
        for _ in 0..black_box(self.steps) {
            x = (x ^ (x >> 29))
                .wrapping_mul(0xbf58_476d_1ce4_e5b9)
                .wrapping_add(1);
        }
        x
    }

    /// Picks the number of steps that makes one iteration take about `target_ns` here, from
    /// the fastest of a few timed trials (the machine is shared: the fastest is the least
    /// disturbed).
    pub fn calibrate(target_ns: u64) -> Work {
        let probe = Work { steps: 20_000 };
        let best = (0..7)
            .map(|_| {
                let t = Instant::now();
                black_box(probe.iteration(1, 7));
                t.elapsed().as_nanos() as f64
            })
            .fold(f64::INFINITY, f64::min);
        let ns_per_step = (best / probe.steps as f64).max(0.05);
        Work {
            steps: ((target_ns as f64 / ns_per_step).round() as u64).max(1),
        }
    }
}

/// One run of the sweep loop.
#[derive(Clone, Copy, Debug)]
pub struct SweepRun {
    pub workers: usize,
    pub work: Work,
    pub iters: u64,
    /// Check every `interval` iterations; `None`: never.
    pub interval: Option<u64>,
    pub kind: FlagKind,
    /// Worker 0 raises the flag at the top of this iteration; `None`: nobody raises it.
    pub raise_at: Option<u64>,
}

/// What one worker of one sweep run reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct WorkerReport {
    /// Iterations completed before the worker left the loop.
    pub done: u64,
    pub reads: u64,
    pub t_start: u64,
    pub t_exit: u64,
    /// CPU time of the loop (this process only), ns.
    pub cpu_ns: u64,
    /// Iterations this worker had completed when the flag went up (read by worker 0 right
    /// after raising it); 0 when the flag was never raised.
    ///
    /// With the locked flag, `done - done_at_raise <= K` holds exactly: the mutex orders each
    /// read against the raise, so a worker's last "not set" read comes before the raise and its
    /// progress at that read is visible to worker 0. With the atomic flag nothing orders the
    /// worker's progress store before its flag load (x86 may let the load pass the store), so
    /// the figure can exceed K by the iteration or so still sitting in a store buffer.
    pub done_at_raise: u64,
}

impl WorkerReport {
    /// Iterations done after the flag was raised.
    pub fn after_raise(&self) -> u64 {
        self.done.saturating_sub(self.done_at_raise)
    }
}

/// What one sweep run reports.
#[derive(Clone, Debug)]
pub struct RunReport {
    pub workers: Vec<WorkerReport>,
    /// When worker 0 raised the flag (monotonic ns).
    pub t_raise: Option<u64>,
    pub pids: Vec<u32>,
}

impl RunReport {
    /// CPU nanoseconds per iteration, over all workers.
    pub fn ns_per_iter(&self) -> f64 {
        let cpu: u64 = self.workers.iter().map(|w| w.cpu_ns).sum();
        let done: u64 = self.workers.iter().map(|w| w.done).sum();
        cpu as f64 / done.max(1) as f64
    }
    /// From raising the flag to the last worker leaving its loop, ns.
    pub fn stop_latency_ns(&self) -> Option<u64> {
        let t = self.t_raise?;
        Some(
            self.workers
                .iter()
                .map(|w| w.t_exit.saturating_sub(t))
                .max()
                .unwrap_or(0),
        )
    }
    pub fn reads(&self) -> Vec<u64> {
        self.workers.iter().map(|w| w.reads).collect()
    }
    pub fn after_raise(&self) -> Vec<u64> {
        self.workers.iter().map(|w| w.after_raise()).collect()
    }
}

// Shared memory of a sweep run. Each worker's progress counter sits on its own 128-byte
// stretch (two cache lines, so the adjacent-line prefetcher does not couple neighbours):
// it is written on every iteration and must not slow the others down.
const PROGRESS_STRIDE: usize = 16;
const R_DONE: usize = 0;
const R_READS: usize = 1;
const R_T0: usize = 2;
const R_T1: usize = 3;
const R_CPU: usize = 4;
const R_AT_RAISE: usize = 5;
const R_ACC: usize = 6;
const R_FIELDS: usize = 8;

struct SweepShared {
    progress: RawArray<u64>,
    results: RawArray<u64>,
    t_raise: RawValue<u64>,
    ready: RawValue<u32>,
    go: RawValue<bool>,
}

/// CPU time used by the calling thread (a forked worker has one thread), ns.
pub fn thread_cpu_ns() -> u64 {
    let t = nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID).expect("thread CPU clock");
    t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64
}

// ANCHOR: sweep_worker
/// The sweep's worker loop: `run.iters` iterations of fixed work, reading the flag every
/// `run.interval` iterations. A countdown decides when, so the loop pays one decrement per
/// iteration and no division; with `interval: None` the countdown never reaches zero and the
/// very same loop runs with no reads at all (the baseline).
fn sweep_worker(w: usize, run: &SweepRun, flag: &impl StopFlag, sh: &SweepShared) {
    let k = run.interval.unwrap_or(u64::MAX);
    let mut until_check = if run.interval.is_some() { 0 } else { u64::MAX };
    let raise_at = if w == 0 {
        run.raise_at.unwrap_or(u64::MAX)
    } else {
        u64::MAX
    };
    let (mut reads, mut done, mut acc) = (0u64, run.iters, w as u64);
    let (t0, cpu0) = (monotonic_ns(), thread_cpu_ns());
    for i in 0..run.iters {
        if i == raise_at {
            // Worker 0 raises the flag, then notes how far every worker had got.
            sh.t_raise.set(monotonic_ns());
            flag.raise();
            fence(Ordering::SeqCst); // the raise is visible before we read the others' progress
            for v in 0..run.workers {
                let at = sh.progress.get(v * PROGRESS_STRIDE).unwrap_or(0);
                let _ = sh.results.set(v * R_FIELDS + R_AT_RAISE, at);
            }
        }
        if until_check == 0 {
            until_check = k;
            reads += 1;
            if flag.is_set() {
                done = i;
                break;
            }
        }
        until_check -= 1;
        acc = run.work.iteration(i, acc);
        let _ = sh.progress.set(w * PROGRESS_STRIDE, i + 1);
    }
    let (t1, cpu1) = (monotonic_ns(), thread_cpu_ns());
    let base = w * R_FIELDS;
    for (f, v) in [
        (R_DONE, done),
        (R_READS, reads),
        (R_T0, t0),
        (R_T1, t1),
        (R_CPU, cpu1 - cpu0),
        (R_ACC, acc),
    ] {
        let _ = sh.results.set(base + f, v);
    }
}
// ANCHOR_END: sweep_worker

fn check_joined(procs: &[Process]) -> Result<()> {
    let statuses = join_all(procs, JOIN_TIMEOUT)?;
    for (i, st) in statuses.iter().enumerate() {
        match st {
            None => bail!("worker {i} did not finish within {JOIN_TIMEOUT:?} and was killed"),
            Some(ExitStatus::Exited(0)) => {}
            Some(other) => bail!("worker {i} {other}"),
        }
    }
    Ok(())
}

fn sweep_run_with(run: &SweepRun, flag: &impl StopFlag) -> Result<RunReport> {
    let n = run.workers;
    let sh = SweepShared {
        progress: RawArray::new(n * PROGRESS_STRIDE, 0u64)?,
        results: RawArray::new(n * R_FIELDS, 0u64)?,
        t_raise: RawValue::new(0u64)?,
        ready: RawValue::new(0u32)?,
        go: RawValue::new(false)?,
    };
    let procs = (0..n)
        .map(|w| {
            let sh = &sh;
            Process::start(move || {
                // Start together: wait (politely, the CPUs are shared) for the parent's go.
                sh.ready.fetch_add(1);
                while !sh.go.get() {
                    std::thread::yield_now();
                }
                sweep_worker(w, run, flag, sh);
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while sh.ready.get() < n as u32 {
        if Instant::now() > deadline {
            bail!("the workers did not start within 30 s"); // dropping `procs` kills them
        }
        std::thread::sleep(Duration::from_micros(50));
    }
    sh.go.set(true);
    check_joined(&procs)?;
    let vals = sh.results.to_vec();
    let workers = (0..n)
        .map(|w| {
            let r = &vals[w * R_FIELDS..(w + 1) * R_FIELDS];
            WorkerReport {
                done: r[R_DONE],
                reads: r[R_READS],
                t_start: r[R_T0],
                t_exit: r[R_T1],
                cpu_ns: r[R_CPU],
                done_at_raise: r[R_AT_RAISE],
            }
        })
        .collect();
    let t = sh.t_raise.get();
    Ok(RunReport {
        workers,
        t_raise: (t != 0).then_some(t),
        pids: procs.iter().map(|p| p.pid()).collect(),
    })
}

/// Runs the sweep loop once in `run.workers` forked processes, with a fresh flag of the
/// requested kind.
pub fn sweep_run(run: &SweepRun) -> Result<RunReport> {
    if run.workers == 0 {
        bail!("the sweep needs at least 1 worker");
    }
    if run.interval == Some(0) {
        bail!("a check interval must be at least 1 iteration");
    }
    match run.kind {
        FlagKind::Locked => sweep_run_with(run, &Value::new(false)?),
        FlagKind::Atomic => sweep_run_with(run, &RawValue::new(false)?),
    }
}

/// Sizes of a sweep.
#[derive(Clone, Debug, Serialize)]
pub struct SweepConfig {
    pub workers: usize,
    pub work_kind: WorkKind,
    /// Iterations per worker of the throughput runs (flag never raised).
    pub iters: u64,
    /// Iterations per worker of the stop runs (flag raised by worker 0 half-way).
    pub stop_iters: u64,
    /// Throughput runs per (interval, kind), interleaved; the median is reported.
    pub rounds: usize,
    pub intervals: Vec<u64>,
    pub kinds: Vec<FlagKind>,
}

/// One row of the sweep: one interval, one flag kind.
#[derive(Clone, Debug, Serialize)]
pub struct SweepRow {
    pub work: WorkKind,
    pub kind: FlagKind,
    /// `None`: never checks.
    pub interval: Option<u64>,
    /// Median over rounds of CPU ns per iteration (throughput runs).
    pub ns_per_iter: f64,
    /// Median over rounds of (ns/iter with this interval) / (ns/iter never checking) - 1, in %.
    pub overhead_pct: f64,
    /// Flag reads per worker in a throughput run.
    pub reads_per_worker: u64,
    /// Stop run: flag reads per worker.
    pub stop_reads: Vec<u64>,
    /// Stop run: from raising the flag to the last worker leaving its loop, µs.
    pub stop_latency_us: f64,
    /// Stop run: iterations each worker did after the flag went up.
    pub after_raise: Vec<u64>,
}

impl SweepRow {
    pub fn interval_label(&self) -> String {
        interval_label(self.interval)
    }
    pub fn after_raise_max(&self) -> u64 {
        self.after_raise.iter().copied().max().unwrap_or(0)
    }
    pub fn after_raise_total(&self) -> u64 {
        self.after_raise.iter().sum()
    }
}

pub fn interval_label(i: Option<u64>) -> String {
    match i {
        Some(k) => group_digits(k),
        None => "never".to_string(),
    }
}

/// A full sweep for one work kind.
#[derive(Clone, Debug, Serialize)]
pub struct SweepReport {
    pub config: SweepConfig,
    pub work: Work,
    /// Iteration at which worker 0 raises the flag in the stop runs.
    pub raise_at: u64,
    pub rows: Vec<SweepRow>,
    #[serde(skip)]
    pub pids: Vec<u32>,
}

impl SweepReport {
    pub fn row(&self, kind: FlagKind, interval: Option<u64>) -> Option<&SweepRow> {
        self.rows
            .iter()
            .find(|r| r.kind == kind && r.interval == interval)
    }
    /// How far apart the never-check baselines of the flag kinds came out (the same loop, so
    /// this is the run's noise), in % of their mean; 0 with one kind.
    pub fn baseline_spread_pct(&self) -> f64 {
        let v: Vec<f64> = self
            .rows
            .iter()
            .filter(|r| r.interval.is_none())
            .map(|r| r.ns_per_iter)
            .collect();
        let (lo, hi) = v.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
        if v.len() < 2 {
            0.0
        } else {
            (hi - lo) / (v.iter().sum::<f64>() / v.len() as f64) * 100.0
        }
    }

    /// ns per iteration of the never-check loop (median over kinds' baselines).
    pub fn baseline_ns(&self) -> f64 {
        let v: Vec<f64> = self
            .rows
            .iter()
            .filter(|r| r.interval.is_none())
            .map(|r| r.ns_per_iter)
            .collect();
        median(&v)
    }
}

/// Runs the sweep: throughput runs (flag never raised) in `rounds` interleaved rounds, then one
/// stop run per (interval, kind) in which worker 0 raises the flag at the top of iteration
/// `stop_iters / 2 + 1`.
pub fn run_sweep(cfg: &SweepConfig, work: Work) -> Result<SweepReport> {
    if cfg.workers == 0 {
        bail!("the sweep needs at least 1 worker");
    }
    if cfg.intervals.contains(&0) {
        bail!("a check interval must be at least 1 iteration");
    }
    if cfg.iters == 0 || cfg.stop_iters < 2 || cfg.rounds == 0 {
        bail!("the sweep needs at least 1 iteration, 2 stop-run iterations and 1 round");
    }
    let mut intervals: Vec<Option<u64>> = cfg.intervals.iter().map(|&k| Some(k)).collect();
    intervals.push(None);
    let cells: Vec<(FlagKind, Option<u64>)> = cfg
        .kinds
        .iter()
        .flat_map(|&kd| intervals.iter().map(move |&i| (kd, i)))
        .collect();
    let mut pids = vec![];

    // Throughput: ns/iter per cell per round; overhead is taken within a round.
    let mut ns = vec![vec![]; cells.len()];
    let mut reads = vec![0u64; cells.len()];
    for round in 0..cfg.rounds {
        let order: Vec<usize> = if round % 2 == 0 {
            (0..cells.len()).collect()
        } else {
            (0..cells.len()).rev().collect()
        };
        for ci in order {
            let (kind, interval) = cells[ci];
            let rep = sweep_run(&SweepRun {
                workers: cfg.workers,
                work,
                iters: cfg.iters,
                interval,
                kind,
                raise_at: None,
            })
            .with_context(|| {
                format!(
                    "throughput run, {} flag, interval {}",
                    kind.name(),
                    interval_label(interval)
                )
            })?;
            ns[ci].push(rep.ns_per_iter());
            reads[ci] = rep.workers.iter().map(|w| w.reads).max().unwrap_or(0);
            pids.extend(rep.pids);
        }
    }
    let raise_at = cfg.stop_iters / 2 + 1;
    let mut rows = vec![];
    for (ci, &(kind, interval)) in cells.iter().enumerate() {
        let base = cells
            .iter()
            .position(|&(k, i)| k == kind && i.is_none())
            .expect("never cell");
        let overheads: Vec<f64> = ns[ci]
            .iter()
            .zip(&ns[base])
            .map(|(a, b)| (a / b - 1.0) * 100.0)
            .collect();
        let stop = sweep_run(&SweepRun {
            workers: cfg.workers,
            work,
            iters: cfg.stop_iters,
            interval,
            kind,
            raise_at: Some(raise_at),
        })
        .with_context(|| {
            format!(
                "stop run, {} flag, interval {}",
                kind.name(),
                interval_label(interval)
            )
        })?;
        pids.extend(stop.pids.iter().copied());
        rows.push(SweepRow {
            work: cfg.work_kind,
            kind,
            interval,
            ns_per_iter: median(&ns[ci]),
            overhead_pct: median(&overheads),
            reads_per_worker: reads[ci],
            stop_reads: stop.reads(),
            stop_latency_us: stop.stop_latency_ns().unwrap_or(0) as f64 / 1e3,
            after_raise: stop.after_raise(),
        });
    }
    Ok(SweepReport {
        config: cfg.clone(),
        work,
        raise_at,
        rows,
        pids,
    })
}

// ------------------------------------------------------------------------------------------
// Read cost, and the recommendation
// ------------------------------------------------------------------------------------------

/// The cost of one flag read in a single process, nobody else touching the flag: median of 5
/// loops of `reads` reads, timed in CPU time (a loop preempted by another program is not
/// charged for the wait), in ns.
pub fn read_cost_ns(kind: FlagKind, reads: u64) -> Result<f64> {
    fn time(flag: &impl StopFlag, reads: u64) -> f64 {
        let flag = black_box(flag);
        let mut v: Vec<f64> = (0..5)
            .map(|_| {
                let t = thread_cpu_ns();
                let mut seen = 0u64;
                for _ in 0..reads {
                    seen += flag.is_set() as u64;
                }
                black_box(seen);
                (thread_cpu_ns() - t) as f64 / reads as f64
            })
            .collect();
        v.sort_by(f64::total_cmp);
        v[2]
    }
    Ok(match kind {
        FlagKind::Locked => time(&Value::new(false)?, reads),
        FlagKind::Atomic => time(&RawValue::new(false)?, reads),
    })
}

/// `workers` processes reading one flag back to back, all at once.
#[derive(Clone, Debug, Serialize)]
pub struct Contended {
    pub kind: FlagKind,
    pub workers: usize,
    pub reads_per_worker: u64,
    /// CPU time per read, over all workers, ns.
    pub cpu_ns_per_read: f64,
    /// Reads per second by all workers together (first start to last finish).
    pub total_reads_per_s: f64,
    /// The readers' pids (all reaped), for tests that check none is left.
    #[serde(skip)]
    pub pids: Vec<u32>,
}

/// Starts `workers` processes that, released together, each read one shared flag `reads` times
/// with nothing in between: the flag's cost when everybody wants it at once.
pub fn contended_read_cost(workers: usize, kind: FlagKind, reads: u64) -> Result<Contended> {
    fn go(workers: usize, reads: u64, flag: &impl StopFlag) -> Result<(Vec<u64>, Vec<u32>)> {
        let out = RawArray::new(workers * 3, 0u64)?;
        let ready = RawValue::new(0u32)?;
        let start = RawValue::new(false)?;
        let procs = (0..workers)
            .map(|w| {
                let (out, ready, start) = (&out, &ready, &start);
                Process::start(move || {
                    ready.fetch_add(1);
                    while !start.get() {
                        std::thread::yield_now();
                    }
                    let (t0, c0) = (monotonic_ns(), thread_cpu_ns());
                    let mut seen = 0u64;
                    for _ in 0..reads {
                        seen += flag.is_set() as u64;
                    }
                    black_box(seen);
                    let (t1, c1) = (monotonic_ns(), thread_cpu_ns());
                    for (f, v) in [t0, t1, c1 - c0].into_iter().enumerate() {
                        let _ = out.set(w * 3 + f, v);
                    }
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while ready.get() < workers as u32 {
            if Instant::now() > deadline {
                bail!("the readers did not start within 30 s");
            }
            std::thread::sleep(Duration::from_micros(50));
        }
        start.set(true);
        check_joined(&procs)?;
        Ok((out.to_vec(), procs.iter().map(|p| p.pid()).collect()))
    }
    if workers == 0 || reads == 0 {
        bail!("the contended read needs at least 1 worker and 1 read");
    }
    let (v, pids) = match kind {
        FlagKind::Locked => go(workers, reads, &Value::new(false)?)?,
        FlagKind::Atomic => go(workers, reads, &RawValue::new(false)?)?,
    };
    let t0 = (0..workers).map(|w| v[w * 3]).min().unwrap_or(0);
    let t1 = (0..workers).map(|w| v[w * 3 + 1]).max().unwrap_or(0);
    let cpu: u64 = (0..workers).map(|w| v[w * 3 + 2]).sum();
    let total = (workers as u64 * reads) as f64;
    Ok(Contended {
        kind,
        workers,
        reads_per_worker: reads,
        cpu_ns_per_read: cpu as f64 / total,
        total_reads_per_s: total / ((t1.saturating_sub(t0)).max(1) as f64 / 1e9),
        pids,
    })
}

/// The arithmetic behind a recommended interval.
#[derive(Clone, Debug, Serialize)]
pub struct Recommendation {
    pub work: WorkKind,
    pub kind: FlagKind,
    /// Measured cost of one iteration (never-check loop), ns.
    pub iter_ns: f64,
    /// Cost of one flag read used in the formula, ns, and where it came from.
    pub read_ns: f64,
    pub read_source: String,
    /// The largest overhead allowed, as a fraction (0.01).
    pub max_overhead: f64,
    pub budget_us: f64,
    /// Smallest interval with overhead under `max_overhead`: ceil(read / (max_overhead * iter)).
    pub k_min: u64,
    /// Largest interval whose worst-case stop delay K * iter fits the budget: floor(budget / iter).
    pub k_max: u64,
    /// `Some(k_min)` when k_min <= k_max, else `None`: no interval meets both.
    pub recommended: Option<u64>,
}

impl Recommendation {
    /// The formula with the numbers, one line per step.
    pub fn derivation(&self) -> Vec<String> {
        let pct = self.max_overhead * 100.0;
        let mut v = vec![
            format!(
                "overhead(K) = read / (K * iter) < {pct:.0}%  =>  K >= {:.2} ns / ({:.2} * {}) = {:.3}  =>  K_min = {}",
                self.read_ns,
                self.max_overhead,
                fmt_ns(self.iter_ns),
                self.read_ns / (self.max_overhead * self.iter_ns),
                group_digits(self.k_min)
            ),
            format!(
                "stop delay(K) <= K * iter <= budget  =>  K <= {} / {} = {:.1}  =>  K_max = {}",
                fmt_ns(self.budget_us * 1e3),
                fmt_ns(self.iter_ns),
                self.budget_us * 1e3 / self.iter_ns,
                group_digits(self.k_max)
            ),
        ];
        v.push(match self.recommended {
            Some(k) => format!(
                "K_min <= K_max: check every {} iteration{} (overhead about {:.3}%, stop delay at most {})",
                group_digits(k),
                if k == 1 { "" } else { "s" },
                self.read_ns / (k as f64 * self.iter_ns) * 100.0,
                fmt_ns(k as f64 * self.iter_ns)
            ),
            None if self.k_max == 0 => format!(
                "the budget is shorter than one iteration: no interval meets it; checking every iteration (K = 1) \
                 comes closest, with a stop delay up to {}",
                fmt_ns(self.iter_ns)
            ),
            None => format!(
                "K_min > K_max: no interval meets both. At K_max = {} the overhead is {:.1}%; at K_min = {} \
                 the stop delay is up to {}",
                group_digits(self.k_max),
                self.read_ns / (self.k_max.max(1) as f64 * self.iter_ns) * 100.0,
                group_digits(self.k_min),
                fmt_ns(self.k_min as f64 * self.iter_ns)
            ),
        });
        v
    }
}

// ANCHOR: recommend
/// The interval that keeps the flag reads under `max_overhead` of the work and the stop delay
/// within `budget_us`:
///
/// * each read costs `read_ns` and is spread over `K` iterations of `iter_ns`, so the overhead
///   is `read_ns / (K * iter_ns)`; keeping it under `max_overhead` needs
///   `K >= read_ns / (max_overhead * iter_ns)`;
/// * a running worker notices the flag at its next read, at most `K` iterations later, so the
///   delay is at most `K * iter_ns`; meeting the budget needs `K <= budget / iter_ns`.
///
/// The smallest `K` that passes the first test is the most responsive interval that is still
/// cheap; it is recommended when it also passes the second.
pub fn recommend(
    work: WorkKind,
    kind: FlagKind,
    iter_ns: f64,
    read_ns: f64,
    read_source: &str,
    budget_us: f64,
    max_overhead: f64,
) -> Recommendation {
    let k_min = ((read_ns / (max_overhead * iter_ns)).ceil() as u64).max(1);
    let k_max = (budget_us * 1e3 / iter_ns).floor() as u64;
    Recommendation {
        work,
        kind,
        iter_ns,
        read_ns,
        read_source: read_source.to_string(),
        max_overhead,
        budget_us,
        k_min,
        k_max,
        recommended: (k_min <= k_max).then_some(k_min),
    }
}
// ANCHOR_END: recommend

// ------------------------------------------------------------------------------------------
// Small helpers
// ------------------------------------------------------------------------------------------

/// Median of the values (0 for none).
pub fn median(v: &[f64]) -> f64 {
    lab_support::stats::median(v).unwrap_or(0.0)
}

/// Interquartile range (0 for fewer than 2 values).
pub fn iqr(v: &[f64]) -> f64 {
    if v.len() < 2 {
        return 0.0;
    }
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    let q = |p: f64| {
        let x = p * (s.len() - 1) as f64;
        let (i, f) = (x.floor() as usize, x - x.floor());
        s[i] + (s[(i + 1).min(s.len() - 1)] - s[i]) * f
    };
    q(0.75) - q(0.25)
}

pub use lab_support::fmt::group_digits;

/// A duration in ns, printed with a unit that keeps 3 significant figures.
pub fn fmt_ns(ns: f64) -> String {
    let a = ns.abs();
    if a < 1e3 {
        format!("{ns:.1} ns")
    } else if a < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else if a < 1e9 {
        format!("{:.1} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}
