//! Example 27.2 with the flag actually raised, for the timeline: the lecture's workers (or the
//! corrected one) count the primes below `limit` in forked processes, and worker 0 raises the
//! shared flag when it reaches the number `raise_at`. Every read of the flag is noted in the
//! timeline's shared event log by a stand-in flag around the scenario's [`Probe`]; the lesson's
//! code is called unchanged.

use std::time::Instant;

use anyhow::{Result, bail};
use coord_core::{Barrier, Process, RawArray, Value, monotonic_ns};
use lab_support::clock::thread_cpu_ns;
use serde::Serialize;
use timeline::{Recorder, Timeline};

use super::example::{Check, Probe};
use super::{START_TIMEOUT, check_joined};
use crate::lanes::{self, code};
use crate::lesson::{self, StopFlag};

/// What to run: `workers` processes, each counting 2..`limit` with `check`.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct StopConfig {
    pub workers: usize,
    pub limit: u64,
    pub check: Check,
    /// Worker 0 raises the flag just before it tests this number.
    pub raise_at: u64,
}

/// One worker's own figures, written into shared memory by the worker itself.
#[derive(Clone, Copy, Debug, Serialize)]
pub struct WorkerFigures {
    pub index: usize,
    pub primes: u64,
    /// Numbers it took from its range (it returns inside the last one if it saw the flag).
    pub numbers_tested: u64,
    pub reads: u64,
    pub saw_flag: bool,
    /// Most numbers tested between two reads (or before the first, or after the last).
    pub longest_without_read: u64,
    pub cpu_ms: f64,
    pub wall_ms: f64,
}

/// A run and its timeline (lane `i` is worker `i`).
#[derive(Debug, Serialize)]
pub struct StopRun {
    pub config: StopConfig,
    pub test: String,
    pub workers: Vec<WorkerFigures>,
    pub start_join_ms: f64,
    pub timeline: Vec<lanes::LaneCounts>,
    #[serde(skip)]
    pub lanes: Timeline,
    #[serde(skip)]
    pub pids: Vec<u32>,
}

/// The flag the lesson's worker is handed: the probe (which counts reads and numbers), with
/// every read also noted in the worker's lane, tagged with the number under test.
struct Logged<'a, F> {
    probe: &'a Probe<'a, F>,
    rec: &'a Recorder,
    lane: usize,
}

impl<F: StopFlag> StopFlag for Logged<'_, F> {
    fn is_set(&self) -> bool {
        let set = self.probe.is_set();
        let n = self.probe.taken() + 1; // the numbers start at 2
        let kind = if set { code::SAW } else { code::READ };
        let _ = self.rec.record(self.lane, kind, n as u32);
        set
    }
    fn raise(&self) {
        self.probe.raise()
    }
}

const FIELDS: usize = 7;

/// Runs the scenario once; every worker is joined (or killed) before it returns.
pub fn run_stop(cfg: &StopConfig) -> Result<StopRun> {
    if cfg.workers == 0 || cfg.limit < 3 || cfg.limit > u32::MAX as u64 {
        bail!(
            "the timeline run needs at least 1 worker and a limit from 3 to {}",
            u32::MAX
        );
    }
    let rec = Recorder::new(cfg.workers, lanes::capacity(cfg.limit))?;
    let flag = Value::new(false)?; // Python: multiprocessing.Value('b', False)
    let out = RawArray::new(cfg.workers * FIELDS, 0u64)?;
    // Released together, so that the lanes overlap as Python's start() loop intends.
    let gate = Barrier::new(cfg.workers + 1)?;
    let start = Instant::now();
    let procs = (0..cfg.workers)
        .map(|w| {
            let (rec, flag, out, gate) = (&rec, &flag, &out, &gate);
            Process::start(move || {
                if gate.wait_timeout(START_TIMEOUT).is_err() {
                    return; // the parent gave up on the start and reports it
                }
                let probe = Probe::new(flag);
                let logged = Logged {
                    probe: &probe,
                    rec,
                    lane: w,
                };
                let numbers = probe.numbers(2..cfg.limit).inspect(|&n| {
                    if w == 0 && n == cfg.raise_at {
                        flag.raise(); // sharedFlag.value = True
                        let _ = rec.record(0, code::RAISE, n as u32);
                    }
                });
                let (t0, c0) = (monotonic_ns(), thread_cpu_ns());
                let _ = rec.record_at(w, code::COUNT, 0, t0, c0);
                let primes = match cfg.check {
                    Check::Lecture(10) => lesson::worker_with_frequent_check(numbers, &logged),
                    Check::Lecture(1000) => lesson::worker_with_rare_check(numbers, &logged),
                    Check::Lecture(k) => lesson::worker_with_check(k, numbers, &logged),
                    Check::Corrected(k) => lesson::worker_checking_every(k, numbers, &logged),
                    Check::Never => lesson::worker_checking_every(u64::MAX, numbers, &logged),
                };
                let (t1, c1) = (monotonic_ns(), thread_cpu_ns());
                let _ = rec.record_at(w, code::RETURNED, primes as u32, t1, c1);
                let tally = probe.finish();
                let fields = [
                    primes,
                    probe.taken(),
                    tally.reads,
                    probe.stopped() as u64,
                    tally.longest_without_read,
                    c1 - c0,
                    t1 - t0,
                ];
                for (f, v) in fields.into_iter().enumerate() {
                    out.set(w * FIELDS + f, v).expect("slot in bounds");
                }
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if gate.wait_timeout(START_TIMEOUT).is_err() {
        bail!("the workers did not start within {START_TIMEOUT:?}");
    }
    check_joined(&procs)?;
    let start_join_ms = start.elapsed().as_secs_f64() * 1e3;
    let v = out.to_vec();
    let workers = (0..cfg.workers)
        .map(|w| {
            let f = |i: usize| v[w * FIELDS + i];
            WorkerFigures {
                index: w,
                primes: f(0),
                numbers_tested: f(1),
                reads: f(2),
                saw_flag: f(3) == 1,
                longest_without_read: f(4),
                cpu_ms: f(5) as f64 / 1e6,
                wall_ms: f(6) as f64 / 1e6,
            }
        })
        .collect();
    let names = lanes::names(cfg.workers);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let t = rec
        .collect(&names, lanes::KINDS)
        .with_idle_label("not counting (not started, or returned)");
    Ok(StopRun {
        config: *cfg,
        test: cfg.check.test_text(),
        workers,
        start_join_ms,
        timeline: t.lane_counts(),
        lanes: t,
        pids: procs.iter().map(|p| p.pid()).collect(),
    })
}
