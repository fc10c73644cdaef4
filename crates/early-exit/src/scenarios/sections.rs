//! The sections built from repeated searches: early exit against none, the price of the
//! flag read, and lock-check-set against the bare check-then-set.

use anyhow::{Result, ensure};
use serde::Serialize;

use super::flags::FlagKind;
use super::search::{SearchConfig, SearchRun, SetMode, search, search_traced};
use super::work::Target;

/// The median of the samples (NaN for none: printed as NaN, never as a made-up figure).
fn median(v: &[f64]) -> f64 {
    lab_support::stats::median(v).unwrap_or(f64::NAN)
}

/// The same search with and without early exit.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub with_early_exit: SearchRun,
    pub without_early_exit: SearchRun,
}

pub fn compare_early_exit(cfg: &SearchConfig) -> Result<Comparison> {
    Ok(compare_early_exit_traced(cfg, false)?.0)
}

/// As [`compare_early_exit`], with the early-exit run's timeline if `trace`.
pub fn compare_early_exit_traced(
    cfg: &SearchConfig,
    trace: bool,
) -> Result<(Comparison, Option<timeline::Timeline>)> {
    let (with_early_exit, t) = search_traced(
        &SearchConfig {
            early_exit: true,
            ..*cfg
        },
        trace,
    )?;
    let c = Comparison {
        with_early_exit,
        without_early_exit: search(&SearchConfig {
            early_exit: false,
            ..*cfg
        })?,
    };
    Ok((c, t))
}

/// CPU ns per iteration of a search that finds nothing (every worker runs its whole range),
/// for one way of checking the flag. Medians over `reps` runs, interleaved.
#[derive(Debug, Clone, Serialize)]
pub struct FlagCost {
    pub workers: usize,
    pub range_len: u64,
    pub work: u32,
    pub reps: usize,
    /// No flag read at all (`--no-early-exit`).
    pub none_ns: f64,
    pub atomic_ns: f64,
    pub locked_ns: f64,
    pub samples_none: Vec<f64>,
    pub samples_atomic: Vec<f64>,
    pub samples_locked: Vec<f64>,
}

impl FlagCost {
    /// What one locked read costs beyond one atomic read, per iteration.
    pub fn locked_extra_ns(&self) -> f64 {
        self.locked_ns - self.atomic_ns
    }
    pub fn atomic_extra_ns(&self) -> f64 {
        self.atomic_ns - self.none_ns
    }
}

pub fn flag_read_cost(workers: usize, range_len: u64, work: u32, reps: usize) -> Result<FlagCost> {
    ensure!(reps >= 1, "reps must be at least 1");
    // Nothing matches: the needle sits past the last range.
    let base = SearchConfig {
        workers,
        range_len,
        target: Target::Needle(u64::MAX),
        work,
        flag: FlagKind::Atomic,
        early_exit: true,
        set_mode: SetMode::LockCheckSet,
    };
    let (mut none, mut atomic, mut locked) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        none.push(search(&SearchConfig {
            early_exit: false,
            ..base
        })?);
        atomic.push(search(&base)?);
        locked.push(search(&SearchConfig {
            flag: FlagKind::Locked,
            ..base
        })?);
    }
    let per = |runs: &[SearchRun]| {
        runs.iter()
            .map(SearchRun::cpu_ns_per_iteration)
            .collect::<Vec<_>>()
    };
    let (samples_none, samples_atomic, samples_locked) = (per(&none), per(&atomic), per(&locked));
    Ok(FlagCost {
        workers,
        range_len,
        work,
        reps,
        none_ns: median(&samples_none),
        atomic_ns: median(&samples_atomic),
        locked_ns: median(&samples_locked),
        samples_none,
        samples_atomic,
        samples_locked,
    })
}

// --------------------------------------------------------------------------------------------
// Lock-check-set against check-then-set
// --------------------------------------------------------------------------------------------

/// Repeated races where every worker finds a match on its very first item.
#[derive(Debug, Clone, Serialize)]
pub struct RaceTally {
    pub workers: usize,
    pub runs: usize,
    pub set_mode: SetMode,
    pub flag: FlagKind,
    /// `winners_histogram[k]` = runs in which `k` workers reported a win.
    pub winners_histogram: Vec<usize>,
    /// Every worker pid used over all runs (for leak checks).
    #[serde(skip)]
    pub pids: Vec<u32>,
    /// Every reported result was a match inside its worker's range.
    pub results_valid: bool,
}

impl RaceTally {
    /// Runs in which two or more workers reported a win.
    pub fn runs_with_several_winners(&self) -> usize {
        self.winners_histogram.iter().skip(2).sum()
    }
    pub fn runs_with_exactly_one(&self) -> usize {
        self.winners_histogram.get(1).copied().unwrap_or(0)
    }
    pub fn max_winners(&self) -> usize {
        self.winners_histogram.iter().rposition(|&c| c > 0).unwrap_or(0)
    }
}

pub fn race_trials(workers: usize, runs: usize, set_mode: SetMode, flag: FlagKind) -> Result<RaceTally> {
    ensure!(runs >= 1, "runs must be at least 1");
    // Every item matches, and each worker has a range of 1: all find a match at once.
    let cfg = SearchConfig {
        workers,
        range_len: 1,
        target: Target::Density(1),
        work: 1,
        flag,
        early_exit: true,
        set_mode,
    };
    let mut hist = vec![0usize; workers + 1];
    let mut pids = Vec::new();
    let mut results_valid = true;
    for _ in 0..runs {
        let run = search(&cfg)?;
        let k = run.winners.len().min(workers);
        hist[k] += 1;
        pids.extend(run.pids());
        for &(w, n) in &run.winners {
            let r = cfg.range_of(w as usize);
            results_valid &= (w as usize) < workers && r.contains(&n);
        }
    }
    Ok(RaceTally {
        workers,
        runs,
        set_mode,
        flag,
        winners_histogram: hist,
        pids,
        results_valid,
    })
}
