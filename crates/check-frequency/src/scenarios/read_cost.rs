//! What one flag read costs: one process alone, every worker reading at once, and inside the
//! tight sweep at K = 1. The recommendation uses the largest of them.

use std::hint::black_box;

use anyhow::{Result, bail};
use coord_core::{Barrier, Process, RawArray, RawValue, Value, monotonic_ns};
use lab_support::clock::thread_cpu_ns;
use serde::Serialize;

use super::sweep::{SweepReport, WorkKind};
use super::{FlagKind, START_TIMEOUT, check_joined};
use crate::lesson::StopFlag;

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
        let gate = Barrier::new(workers + 1)?;
        let procs = (0..workers)
            .map(|w| {
                let (out, gate) = (&out, &gate);
                Process::start(move || {
                    if gate.wait_timeout(START_TIMEOUT).is_err() {
                        return; // the parent gave up on the start and reports it
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
        if gate.wait_timeout(START_TIMEOUT).is_err() {
            bail!("the readers did not start within {START_TIMEOUT:?}");
        }
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

/// One read in one process alone: (locked ns, atomic ns), from `locked_reads` and
/// `atomic_reads` reads.
pub fn alone(locked_reads: u64, atomic_reads: u64) -> Result<(f64, f64)> {
    Ok((
        read_cost_ns(FlagKind::Locked, locked_reads)?,
        read_cost_ns(FlagKind::Atomic, atomic_reads)?,
    ))
}

/// Every worker reading at once: (locked, atomic).
pub fn contended(workers: usize, locked_reads: u64, atomic_reads: u64) -> Result<(Contended, Contended)> {
    Ok((
        contended_read_cost(workers, FlagKind::Locked, locked_reads)?,
        contended_read_cost(workers, FlagKind::Atomic, atomic_reads)?,
    ))
}

/// The per-read cost seen inside the tight sweep at K=1 (one read per iteration): ns/iter at
/// K=1 minus ns/iter never checking. `None` without a tight sweep or either row.
pub fn in_run_read_cost(sweeps: &[SweepReport], kind: FlagKind) -> Option<f64> {
    let s = sweeps.iter().find(|s| s.config.work_kind == WorkKind::Tight)?;
    let k1 = s.row(kind, Some(1))?;
    let never = s.row(kind, None)?;
    Some(k1.ns_per_iter - never.ns_per_iter)
}

/// The measured cost of one flag read.
#[derive(Clone, Debug, Serialize)]
pub struct ReadCosts {
    /// One process reading an untouched flag, ns per read.
    pub locked_alone_ns: f64,
    pub atomic_alone_ns: f64,
    /// Per read in the tight sweep with K=1: (ns/iter at K=1) - (ns/iter never checking).
    pub locked_in_run_ns: Option<f64>,
    pub atomic_in_run_ns: Option<f64>,
    /// All workers reading one flag back to back, at once.
    pub locked_contended: Option<Contended>,
    pub atomic_contended: Option<Contended>,
}

impl ReadCosts {
    /// All three measurements together: alone `(locked, atomic)`, contended `(locked,
    /// atomic)`, and the in-run figures taken from `sweeps`.
    pub fn new(alone: (f64, f64), contended: (Contended, Contended), sweeps: &[SweepReport]) -> ReadCosts {
        ReadCosts {
            locked_alone_ns: alone.0,
            atomic_alone_ns: alone.1,
            locked_in_run_ns: in_run_read_cost(sweeps, FlagKind::Locked),
            atomic_in_run_ns: in_run_read_cost(sweeps, FlagKind::Atomic),
            locked_contended: Some(contended.0),
            atomic_contended: Some(contended.1),
        }
    }

    /// The cost the recommendation uses: the largest of the measurements (one process alone;
    /// inside the tight K=1 run; every worker reading at once), so that the interval still
    /// keeps its promise when the workers collide on the flag. Returns it and where it came from.
    pub fn for_formula(&self, kind: FlagKind) -> (f64, String) {
        let (alone, run, cont) = match kind {
            FlagKind::Locked => (
                self.locked_alone_ns,
                self.locked_in_run_ns,
                &self.locked_contended,
            ),
            FlagKind::Atomic => (
                self.atomic_alone_ns,
                self.atomic_in_run_ns,
                &self.atomic_contended,
            ),
        };
        let mut all = vec![(alone, "alone")];
        if let Some(r) = run {
            all.push((r, "in the K=1 run"));
        }
        if let Some(c) = cont {
            all.push((c.cpu_ns_per_read, "all reading at once"));
        }
        let (best, name) = all
            .iter()
            .copied()
            .fold((f64::NEG_INFINITY, ""), |m, x| if x.0 > m.0 { x } else { m });
        let list: Vec<String> = all.iter().map(|(v, n)| format!("{n} {v:.2}")).collect();
        (
            best,
            format!("the largest, {name}; measured {} ns", list.join(", ")),
        )
    }
}
