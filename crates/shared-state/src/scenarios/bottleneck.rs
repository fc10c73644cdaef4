//! 3.1's bottleneck: (a) through the manager with one worker and with several (the same calls
//! in total), then (b), (c), (d) with several workers, a few runs of each.

use anyhow::Result;
use serde::Serialize;

use super::counter::{CounterRun, Method, Work, run_counter_traced};
use super::{Config, Spread};
use crate::lanes::Trace;

/// One row of the bottleneck table: `runs` runs of one method, summarized by the median run.
#[derive(Debug, Clone, Serialize)]
pub struct BottleneckRow {
    pub method: Method,
    pub workers: usize,
    pub work: Work,
    pub expected: u64,
    /// The final count of every run.
    pub final_counts: Vec<u64>,
    /// Increments per second over the runs.
    pub increments_per_sec: Spread,
    /// The run with the median throughput: its time and the manager's load are the ones shown.
    pub median_run: CounterRun,
    pub runs: Vec<CounterRun>,
}

impl BottleneckRow {
    /// Every run arrived at exactly the increments the workers made.
    pub fn all_exact(&self) -> bool {
        self.final_counts.iter().all(|&c| c == self.expected)
    }

    fn from_runs(runs: Vec<CounterRun>) -> BottleneckRow {
        let rates: Vec<f64> = runs.iter().map(|r| r.increments_per_sec).collect();
        let mut order: Vec<usize> = (0..runs.len()).collect();
        order.sort_by(|&a, &b| rates[a].total_cmp(&rates[b]));
        let median_run = runs[order[runs.len() / 2]].clone();
        BottleneckRow {
            method: median_run.method,
            workers: median_run.workers,
            work: median_run.work,
            expected: median_run.expected,
            final_counts: runs.iter().map(|r| r.final_count).collect(),
            increments_per_sec: Spread::of(&rates),
            median_run,
            runs,
        }
    }
}

/// The bottleneck scenario, `cfg.runs` runs of each: (a) with one worker and with
/// `cfg.workers` (the same number of calls in total), then (b), (c), (d).
pub fn bottleneck(cfg: &Config) -> Result<Vec<BottleneckRow>> {
    bottleneck_traced(cfg, None)
}

/// As [`bottleneck`]; with a `trace`, the first run of (a) with several workers records in it.
pub fn bottleneck_traced(cfg: &Config, trace: Option<&Trace>) -> Result<Vec<BottleneckRow>> {
    let mut plan = vec![(Method::ManagerAdd, 1, cfg.iterations * cfg.workers as u64)];
    for method in Method::EXACT {
        let n = if method.uses_manager() {
            cfg.iterations
        } else {
            cfg.shm_iterations() / 4
        };
        plan.push((method, cfg.workers, n));
    }
    let mut out = Vec::new();
    for (method, workers, n) in plan {
        let runs = (0..cfg.runs.max(1))
            .map(|k| {
                let drawn = method == Method::ManagerAdd && workers > 1 && k == 0;
                let tr = trace.filter(|_| drawn);
                run_counter_traced(method, workers, Work::Count(n), cfg.deadline, tr)
            })
            .collect::<Result<Vec<_>>>()?;
        out.push(BottleneckRow::from_runs(runs));
    }
    Ok(out)
}
