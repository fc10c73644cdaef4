//! Concept 4.1 measured: the lesson's [`sweep_worker`](crate::lesson::sweep_worker) with a
//! fixed cost per iteration, checked every 1, 10, ..., 100,000 iterations or never, with a
//! locked and an atomic flag. For each interval: the throughput cost against the never-check
//! loop, and, on a run where worker 0 raises the flag half-way, how long the last worker took
//! to stop and how many iterations were done after the flag went up.

use std::cell::Cell;
use std::hint::black_box;
use std::sync::atomic::{Ordering, fence};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use coord_core::{Barrier, Process, RawArray, RawValue, Value, monotonic_ns};
use crossbeam_utils::CachePadded;
use lab_support::clock::thread_cpu_ns;
use lab_support::fmt::group_digits;
use serde::Serialize;

use super::{FlagKind, START_TIMEOUT, check_joined, median};
use crate::lesson::{StopFlag, sweep_worker};

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

/// A lighter stand-in for the sweep: it only counts the reads, so that the loop it measures
/// pays as little as possible for being measured.
pub struct CountingFlag<'a, F> {
    flag: &'a F,
    reads: Cell<u64>,
}

impl<'a, F: StopFlag> CountingFlag<'a, F> {
    pub fn new(flag: &'a F) -> Self {
        CountingFlag {
            flag,
            reads: Cell::new(0),
        }
    }
    pub fn reads(&self) -> u64 {
        self.reads.get()
    }
}

impl<F: StopFlag> StopFlag for CountingFlag<'_, F> {
    fn is_set(&self) -> bool {
        self.reads.set(self.reads.get() + 1);
        self.flag.is_set()
    }
    fn raise(&self) {
        self.flag.raise()
    }
}

// Shared memory of a sweep run. Each worker's progress counter, written on every iteration,
// sits in its own `CachePadded` slot (128 bytes on x86-64: two cache lines, so the
// adjacent-line prefetcher does not couple neighbours) and does not slow the others down.
const PROGRESS_STRIDE: usize = size_of::<CachePadded<u64>>() / size_of::<u64>();
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
}

impl SweepShared {
    /// Worker 0 raises the flag, then notes how far every worker had got.
    fn raise(&self, workers: usize, flag: &impl StopFlag) {
        self.t_raise.set(monotonic_ns());
        flag.raise();
        fence(Ordering::SeqCst); // the raise is visible before we read the others' progress
        for v in 0..workers {
            let at = self.progress.get(v * PROGRESS_STRIDE).unwrap_or(0);
            let _ = self.results.set(v * R_FIELDS + R_AT_RAISE, at);
        }
    }
}

/// One forked worker of a sweep run: the lesson's `sweep_worker`, given a flag that counts its
/// reads and, as its work, the fixed arithmetic plus a progress store. Worker 0's work also
/// raises the flag after iteration `raise_at - 1`, i.e. at the top of iteration `raise_at`.
fn sweep_child(w: usize, run: &SweepRun, flag: &impl StopFlag, sh: &SweepShared) {
    let counted = CountingFlag::new(flag);
    let raise_at = match run.raise_at {
        Some(r) if w == 0 && r < run.iters => r,
        _ => u64::MAX,
    };
    if raise_at == 0 {
        sh.raise(run.workers, flag);
    }
    let mut acc = w as u64;
    let (t0, cpu0) = (monotonic_ns(), thread_cpu_ns());
    let done = sweep_worker(run.interval, run.iters, &counted, |i| {
        acc = run.work.iteration(i, acc);
        let _ = sh.progress.set(w * PROGRESS_STRIDE, i + 1);
        if i + 1 == raise_at {
            sh.raise(run.workers, flag);
        }
    });
    let (t1, cpu1) = (monotonic_ns(), thread_cpu_ns());
    let base = w * R_FIELDS;
    for (f, v) in [
        (R_DONE, done),
        (R_READS, counted.reads()),
        (R_T0, t0),
        (R_T1, t1),
        (R_CPU, cpu1 - cpu0),
        (R_ACC, acc),
    ] {
        let _ = sh.results.set(base + f, v);
    }
}

fn sweep_run_with(run: &SweepRun, flag: &impl StopFlag) -> Result<RunReport> {
    let n = run.workers;
    let sh = SweepShared {
        progress: RawArray::new(n * PROGRESS_STRIDE, 0u64)?,
        results: RawArray::new(n * R_FIELDS, 0u64)?,
        t_raise: RawValue::new(0u64)?,
    };
    // Workers and parent meet here, so that the workers start together.
    let gate = Barrier::new(n + 1)?;
    let procs = (0..n)
        .map(|w| {
            let (sh, gate) = (&sh, &gate);
            Process::start(move || {
                // A broken barrier means the parent gave up on the start; it reports that.
                if gate.wait_timeout(START_TIMEOUT).is_ok() {
                    sweep_child(w, run, flag, sh);
                }
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if gate.wait_timeout(START_TIMEOUT).is_err() {
        bail!("the workers did not start within {START_TIMEOUT:?}"); // dropping `procs` kills them
    }
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
