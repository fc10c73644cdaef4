//! The recommended check interval for this run's figures: the lesson's
//! [`interval_bounds`](crate::lesson::interval_bounds) fed with the measured iteration cost
//! and the worst measured read cost.

use serde::Serialize;

use super::FlagKind;
use super::read_cost::ReadCosts;
use super::sweep::{SweepReport, WorkKind};
use crate::lesson::interval_bounds;

/// The largest share of the work the flag reads may take: 1 %.
pub const MAX_OVERHEAD: f64 = 0.01;

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

/// The interval that keeps the flag reads under `max_overhead` of the work and the stop delay
/// within `budget_us`, with the figures it came from.
pub fn recommend(
    work: WorkKind,
    kind: FlagKind,
    iter_ns: f64,
    read_ns: f64,
    read_source: &str,
    budget_us: f64,
    max_overhead: f64,
) -> Recommendation {
    let (k_min, k_max) = interval_bounds(read_ns, iter_ns, max_overhead, budget_us * 1e3);
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

/// One recommendation per (work measured, flag kind): the never-check loop's cost per
/// iteration, and the read cost [`ReadCosts::for_formula`] picks.
pub fn recommendations(sweeps: &[SweepReport], costs: &ReadCosts, budget_us: f64) -> Vec<Recommendation> {
    let mut out = vec![];
    for s in sweeps {
        for kind in &s.config.kinds {
            let iter_ns = s
                .row(*kind, None)
                .map(|r| r.ns_per_iter)
                .unwrap_or_else(|| s.baseline_ns());
            let (read_ns, source) = costs.for_formula(*kind);
            out.push(recommend(
                s.config.work_kind,
                *kind,
                iter_ns,
                read_ns,
                &source,
                budget_us,
                MAX_OVERHEAD,
            ));
        }
    }
    out
}
