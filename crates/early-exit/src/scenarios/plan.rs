//! What the binary runs: a [`Plan`] of sections, run in order into [`Results`].

use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use super::{
    Comparison, Example271, FlagCost, FlagKind, Matcher, RaceTally, SearchConfig, SearchRun, SetMode,
    Smallest, Target, compare_early_exit_traced, example_27_1, flag_read_cost, median_u64, race_trials,
    search,
};

/// Which sections to run, and with what shape.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub example: bool,
    pub compare: bool,
    pub flag_cost: bool,
    pub race: bool,
    pub smallest: bool,
    pub workers: usize,
    pub range_len: u64,
    /// What the compared searches look for (one early-exit/no-early-exit comparison each).
    pub targets: Vec<Target>,
    /// The density of the first-found/smallest section.
    pub smallest_density: u64,
    pub work: u32,
    pub flag: FlagKind,
    pub runs: usize,
    pub reps: usize,
    /// Record the timeline of each comparison's shown early-exit run (`--timeline`).
    #[serde(skip)]
    pub trace: bool,
}

impl Plan {
    fn search_config(&self, target: Target) -> SearchConfig {
        SearchConfig {
            workers: self.workers,
            range_len: self.range_len,
            target,
            work: self.work,
            flag: self.flag,
            early_exit: true,
            set_mode: SetMode::LockCheckSet,
        }
    }
}

/// What the compared searches look for: the one `--needle` or `--density` given, or by
/// default the lecture's case (found at position 1,000), then a late needle: the middle of
/// the last range, so that every worker is busy when the flag goes up. Call it after
/// `check_shape`, which makes `workers * range` fit.
pub fn targets(needle: Option<u64>, density: Option<u64>, workers: usize, range: u64) -> Vec<Target> {
    match (needle, density) {
        (_, Some(d)) => vec![Target::Density(d)],
        (Some(n), None) => vec![Target::Needle(n)],
        (None, None) => vec![
            Target::Needle(1000.min(range - 1)),
            Target::Needle((workers as u64 - 1) * range + range / 2),
        ],
    }
}

/// Early exit against no early exit, repeated `reps` times.
#[derive(Debug, Clone, Serialize)]
pub struct CompareSection {
    pub target: Target,
    /// The run shown in the table (the first).
    pub shown: Comparison,
    /// The timeline of `shown.with_early_exit`, when the plan asked for one.
    #[serde(skip)]
    pub timeline: Option<timeline::Timeline>,
    /// Per lane of that timeline, how many events of each kind (only when there is one).
    #[serde(rename = "timeline", skip_serializing_if = "Option::is_none")]
    pub timeline_counts: Option<Vec<crate::lanes::LaneCounts>>,
    pub reps: usize,
    pub total_with: Vec<u64>,
    pub total_without: Vec<u64>,
    pub wasted_with: Vec<u64>,
    pub wasted_without: Vec<u64>,
    pub beyond_winner_with: Vec<u64>,
    pub beyond_winner_without: Vec<u64>,
    /// Every stop latency of every early-exit run (ns).
    pub latencies_ns: Vec<u64>,
    /// The same early-exit search with the other kind of flag, for its stop latencies.
    pub other_flag: FlagKind,
    pub other_flag_latencies_ns: Vec<u64>,
}

impl CompareSection {
    pub fn median_wasted_with(&self) -> u64 {
        median_u64(&self.wasted_with).unwrap_or(0)
    }
    pub fn median_wasted_without(&self) -> u64 {
        median_u64(&self.wasted_without).unwrap_or(0)
    }
    pub fn median_latency_ns(&self) -> Option<u64> {
        median_u64(&self.latencies_ns)
    }
}

/// Lock-check-set and the bare check-then-set, raced the same number of times.
#[derive(Debug, Clone, Serialize)]
pub struct RaceSection {
    pub unsafe_set: RaceTally,
    pub lock_check_set: RaceTally,
}

/// First found against smallest on a search with several matches per range.
#[derive(Debug, Clone, Serialize)]
pub struct SmallestSection {
    pub target: Target,
    /// The first match in each worker's range (sequential scan in the parent).
    pub first_per_range: Vec<Option<u64>>,
    pub first_found: SearchRun,
    pub smallest: Smallest,
    /// The smallest match by a sequential scan from 0: the reference answer.
    pub sequential: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Results {
    pub example: Option<Example271>,
    pub compare: Vec<CompareSection>,
    pub flag_cost: Option<FlagCost>,
    pub race: Option<RaceSection>,
    pub smallest: Option<SmallestSection>,
    pub total_ms: f64,
}

pub fn run_plan(p: &Plan) -> Result<Results> {
    let t0 = Instant::now();
    let example = if p.example {
        Some(example_27_1(4, 100_000)?)
    } else {
        None
    };

    let mut compare = Vec::new();
    for &target in p.targets.iter().filter(|_| p.compare) {
        let (mut runs, mut timeline) = (Vec::new(), None);
        for rep in 0..p.reps {
            let (c, t) = compare_early_exit_traced(&p.search_config(target), p.trace && rep == 0)?;
            runs.push(c);
            timeline = timeline.or(t);
        }
        let other_flag = match p.flag {
            FlagKind::Locked => FlagKind::Atomic,
            FlagKind::Atomic => FlagKind::Locked,
        };
        let mut other_flag_latencies_ns = Vec::new();
        for _ in 0..p.reps {
            let run = search(&SearchConfig {
                flag: other_flag,
                ..p.search_config(target)
            })?;
            other_flag_latencies_ns.extend(run.stop_latencies());
        }
        let pick = |f: &dyn Fn(&Comparison) -> u64| runs.iter().map(f).collect::<Vec<_>>();
        compare.push(CompareSection {
            target,
            other_flag,
            other_flag_latencies_ns,
            total_with: pick(&|c| c.with_early_exit.total_iterations()),
            total_without: pick(&|c| c.without_early_exit.total_iterations()),
            wasted_with: pick(&|c| c.with_early_exit.wasted()),
            wasted_without: pick(&|c| c.without_early_exit.wasted()),
            beyond_winner_with: pick(&|c| c.with_early_exit.beyond_winner()),
            beyond_winner_without: pick(&|c| c.without_early_exit.beyond_winner()),
            latencies_ns: runs
                .iter()
                .flat_map(|c| c.with_early_exit.stop_latencies())
                .collect(),
            reps: p.reps,
            shown: runs.swap_remove(0),
            timeline_counts: timeline.as_ref().map(|t| t.lane_counts()),
            timeline,
        });
    }

    let flag_cost = if p.flag_cost {
        Some(flag_read_cost(p.workers, p.range_len, p.work, p.reps)?)
    } else {
        None
    };

    let race = if p.race {
        Some(RaceSection {
            unsafe_set: race_trials(p.workers, p.runs, SetMode::Unsafe, p.flag)?,
            lock_check_set: race_trials(p.workers, p.runs, SetMode::LockCheckSet, p.flag)?,
        })
    } else {
        None
    };

    let smallest = if p.smallest {
        let target = Target::Density(p.smallest_density);
        let m = Matcher::new(target, p.work);
        let first_per_range = (0..p.workers as u64)
            .map(|i| m.first_in(i * p.range_len..(i + 1) * p.range_len))
            .collect();
        let first_found = search(&SearchConfig {
            target,
            flag: FlagKind::Atomic,
            ..p.search_config(target)
        })?;
        let smallest = crate::smallest(p.workers, p.range_len, target, p.work)?;
        Some(SmallestSection {
            target,
            first_per_range,
            first_found,
            smallest,
            sequential: m.first_in(0..p.workers as u64 * p.range_len),
        })
    } else {
        None
    };

    Ok(Results {
        example,
        compare,
        flag_cost,
        race,
        smallest,
        total_ms: t0.elapsed().as_secs_f64() * 1e3,
    })
}
