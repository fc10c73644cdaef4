//! 5.1's correctness table: workers increment for a time window, with and without a lock
//! around read-then-write, a few runs each; every lost increment is counted.

use anyhow::Result;
use serde::Serialize;

use super::Config;
use super::counter::{Method, Work, run_counter};

/// Several runs of one method, for the correctness table.
#[derive(Debug, Clone, Serialize)]
pub struct LostUpdates {
    pub method: Method,
    pub exact_by_design: bool,
    pub workers: usize,
    /// How long the workers kept incrementing in each run.
    pub window_ms: f64,
    /// Increments the workers made in each run (the sum of their own counts).
    pub expected_per_run: Vec<u64>,
    /// Lost increments in each run.
    pub lost_per_run: Vec<u64>,
    pub total_lost: u64,
    /// Runs that happened to lose nothing.
    pub runs_without_loss: usize,
    pub worker_pids: Vec<u32>,
    pub manager_pids: Vec<u32>,
}

impl LostUpdates {
    /// Lost increments over all runs, as a percentage of the increments the workers made.
    pub fn lost_percent(&self) -> f64 {
        let made: u64 = self.expected_per_run.iter().sum();
        100.0 * self.total_lost as f64 / made.max(1) as f64
    }
}

/// `cfg.runs` runs of every racy method and of the lock-held and atomic ones.
pub fn lost_updates(cfg: &Config) -> Result<Vec<LostUpdates>> {
    let methods = [
        Method::RawGetSet,
        Method::ValueGetSet,
        Method::ManagerGetSet,
        Method::LockedValue,
        Method::AtomicFetchAdd,
        Method::ManagerAdd,
    ];
    let mut out = Vec::new();
    for method in methods {
        let window = cfg.lost_update_window();
        let mut lost = Vec::new();
        let mut expected = Vec::new();
        let mut pids = Vec::new();
        let mut mpids = Vec::new();
        for _ in 0..cfg.runs {
            let r = run_counter(method, cfg.workers, Work::For(window), cfg.deadline)?;
            lost.push(r.lost);
            expected.push(r.expected);
            pids.extend(r.worker_pids);
            mpids.extend(r.manager_pid);
        }
        out.push(LostUpdates {
            method,
            exact_by_design: method.is_exact(),
            workers: cfg.workers,
            window_ms: window.as_secs_f64() * 1e3,
            expected_per_run: expected,
            total_lost: lost.iter().sum(),
            runs_without_loss: lost.iter().filter(|&&l| l == 0).count(),
            lost_per_run: lost,
            worker_pids: pids,
            manager_pids: mpids,
        });
    }
    Ok(out)
}
