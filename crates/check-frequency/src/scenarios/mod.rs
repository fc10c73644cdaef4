//! The instrumented runs: the lesson's workers in forked processes, with a flag that counts
//! its reads, a start barrier, per-worker results in shared memory, and the figures derived
//! from them. Nothing here prints.
//!
//! * [`example`]: Example 27.2 as written, corrected, and two references.
//! * [`sweep`]: Concept 4.1's loop at every check interval, with a locked and an atomic flag.
//! * [`read_cost`]: what one flag read costs, alone and with every worker reading at once.
//! * [`recommend`]: the interval the lesson's rule gives for this run's figures.
//! * [`stop_run`]: Example 27.2 with the flag raised, recorded for the timeline.
//! * [`run`]: all of it in the order the binary prints it.

pub mod example;
pub mod read_cost;
pub mod recommend;
pub mod stop_run;
pub mod sweep;

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use coord_core::{ExitStatus, Process, join_all};
use serde::Serialize;

use crate::config::Config;
use example::ExampleReport;
use read_cost::ReadCosts;
use recommend::Recommendation;
use sweep::{SweepConfig, SweepReport, Work, WorkKind};

/// The longest any scenario may wait for its workers before it kills them and reports an error.
const JOIN_TIMEOUT: Duration = Duration::from_secs(600);
/// The longest the workers may take to reach the start barrier.
const START_TIMEOUT: Duration = Duration::from_secs(30);

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

/// Joins every worker within [`JOIN_TIMEOUT`]; a worker that did not finish or did not exit
/// cleanly is an error.
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

/// Median of the values (0 for none).
pub fn median(v: &[f64]) -> f64 {
    lab_support::stats::median(v).unwrap_or(0.0)
}

/// One finished part of the run, handed out as soon as it is measured.
pub enum Section<'a> {
    Example(&'a ExampleReport),
    Sweep(&'a SweepReport),
    ReadCosts(&'a ReadCosts),
    Recommendations(&'a [Recommendation], f64),
}

/// Everything one run measured (the `--json` object).
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    #[serde(rename = "crate")]
    pub crate_name: &'static str,
    pub claims: Vec<lab_support::Claim>,
    pub cpus: usize,
    pub dev_build: bool,
    pub example: Option<ExampleReport>,
    pub sweeps: Vec<SweepReport>,
    pub read_costs: ReadCosts,
    pub budget_us: f64,
    pub recommendations: Vec<Recommendation>,
    pub elapsed_s: f64,
}

/// Runs Example 27.2, the single-read costs, the sweeps and the recommendation, in that order,
/// calling `show` with each part as soon as it is done.
pub fn run(cfg: &Config, mut show: impl FnMut(Section<'_>)) -> Result<Outcome> {
    let t0 = Instant::now();
    let (size, workers) = (cfg.size(), cfg.workers as usize);
    let ex_rounds = cfg.example_rounds.map_or(size.pick(3, 11, 21), |r| r as usize);
    let example = example::run_example(workers, cfg.limit, ex_rounds)?;
    show(Section::Example(&example));

    let reads = size.pick(200_000, 2_000_000, 5_000_000);
    let alone = read_cost::alone(reads, reads * 10)?;
    let contended = read_cost::contended(
        workers,
        size.pick(200_000, 1_000_000, 2_000_000),
        size.pick(2_000_000, 10_000_000, 20_000_000),
    )?;

    let mut sweeps = vec![];
    for kind in cfg.work.kinds() {
        let (iters, rounds) = match kind {
            WorkKind::Tight => (
                cfg.tight_iters.unwrap_or(size.pick(10_000, 50_000, 200_000)),
                size.pick(1, 3, 5),
            ),
            WorkKind::Heavy => (
                cfg.heavy_iters.unwrap_or(size.pick(8, 40, 100)),
                size.pick(1, 1, 3),
            ),
        };
        let sweep_cfg = SweepConfig {
            workers,
            work_kind: kind,
            iters,
            stop_iters: iters,
            rounds: cfg.rounds.map_or(rounds, |r| r as usize),
            intervals: cfg.intervals.clone(),
            kinds: FlagKind::BOTH.to_vec(),
        };
        let sweep = sweep::run_sweep(&sweep_cfg, Work::calibrate(kind.target_ns()))?;
        show(Section::Sweep(&sweep));
        sweeps.push(sweep);
    }
    let costs = ReadCosts::new(alone, contended, &sweeps);
    show(Section::ReadCosts(&costs));

    let budget_us = cfg.budget_us as f64;
    let recs = recommend::recommendations(&sweeps, &costs, budget_us);
    show(Section::Recommendations(&recs, budget_us));

    Ok(Outcome {
        crate_name: "check-frequency",
        claims: crate::claims::claims(Some(&example), &sweeps, &costs),
        cpus: std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        dev_build: cfg!(debug_assertions),
        example: Some(example),
        sweeps,
        read_costs: costs,
        budget_us,
        recommendations: recs,
        elapsed_s: t0.elapsed().as_secs_f64(),
    })
}
