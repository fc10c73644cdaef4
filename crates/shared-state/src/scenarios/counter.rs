//! One counter run: several worker processes add one to a shared counter through one of the
//! lesson's methods, released together by a barrier; the run reports what arrived, how long
//! it took and, through the manager, how busy the manager process was.

use std::time::Duration;

use anyhow::{Context, Result, bail};
use coord_core::{
    Barrier, Error, Manager, Process, RawArray, RawValue, Value, ValueProxy, join_all, monotonic_ns,
};
use crossbeam_utils::Backoff;
use serde::Serialize;

use crate::lanes::{Trace, code};
use crate::lesson;

/// How a worker adds one to the shared counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Method {
    /// (a) `ValueProxy::add(1)`: the manager adds, one round trip per increment. Exact.
    ManagerAdd,
    /// (b) synchronized `Value`, lock held across read, add, write. Exact.
    LockedValue,
    /// (c) `RawValue::fetch_add(1)`: one atomic instruction. Exact.
    AtomicFetchAdd,
    /// (d) count in a local variable, add the total to a `RawValue` once at the end. Exact.
    LocalThenMerge,
    /// `RawValue` get, then set: two separate atomic accesses, no lock. Loses updates.
    RawGetSet,
    /// Synchronized `Value` get, then set: each access locked, the lock dropped in between.
    /// Loses updates (Python's `v.value += 1` on a default `Value`).
    ValueGetSet,
    /// Manager value get, then set: two round trips, another worker may come in between.
    /// Loses updates (Python's `mv.value += 1` on a manager value).
    ManagerGetSet,
}

impl Method {
    pub const EXACT: [Method; 4] = [
        Method::ManagerAdd,
        Method::LockedValue,
        Method::AtomicFetchAdd,
        Method::LocalThenMerge,
    ];
    pub const RACY: [Method; 3] = [Method::RawGetSet, Method::ValueGetSet, Method::ManagerGetSet];

    /// Letter used in the issue and the docs; racy methods have none.
    pub fn letter(self) -> &'static str {
        match self {
            Method::ManagerAdd => "(a)",
            Method::LockedValue => "(b)",
            Method::AtomicFetchAdd => "(c)",
            Method::LocalThenMerge => "(d)",
            _ => "",
        }
    }

    /// One line of code that describes the increment.
    pub fn code(self) -> &'static str {
        match self {
            Method::ManagerAdd => "counter.add(1)",
            Method::LockedValue => "*value.lock() += 1",
            Method::AtomicFetchAdd => "raw.fetch_add(1)",
            Method::LocalThenMerge => "local += 1; ... raw.fetch_add(local)",
            Method::RawGetSet => "raw.set(raw.get() + 1)",
            Method::ValueGetSet => "value.set(value.get() + 1)",
            Method::ManagerGetSet => "counter.set(counter.get()? + 1)",
        }
    }

    /// In words.
    pub fn describe(self) -> &'static str {
        match self {
            Method::ManagerAdd => "manager add, one round trip each",
            Method::LockedValue => "synchronized Value, lock held across +1",
            Method::AtomicFetchAdd => "atomic fetch_add on a RawValue",
            Method::LocalThenMerge => "local count, merged once at the end",
            Method::RawGetSet => "RawValue get then set, no lock",
            Method::ValueGetSet => "Value get then set, lock not held across",
            Method::ManagerGetSet => "manager get then set, two round trips",
        }
    }

    pub fn uses_manager(self) -> bool {
        matches!(self, Method::ManagerAdd | Method::ManagerGetSet)
    }

    /// Whether the method can never lose an update.
    pub fn is_exact(self) -> bool {
        Method::EXACT.contains(&self)
    }
}

/// How busy the manager process was during a run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ManagerLoad {
    /// Calls the server executed in the run (its own count).
    pub calls: u64,
    /// Calls the workers' proxies counted, summed over workers.
    pub worker_round_trips: u64,
    /// Server CPU time used in the run.
    pub cpu_ns: u64,
    /// Wall time of the same window (from the moment the workers were released to just
    /// after the last one was joined).
    pub wall_ns: u64,
    /// `cpu_ns / wall_ns`: 1.0 means the manager never rested.
    pub busy: f64,
}

/// How much each worker does in a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Work {
    /// Exactly this many increments per worker.
    Count(u64),
    /// As many increments as fit in this window; each worker counts its own.
    For(Duration),
}

/// The outcome of one counter run.
#[derive(Debug, Clone, Serialize)]
pub struct CounterRun {
    pub method: Method,
    pub workers: usize,
    /// What each worker was asked to do.
    pub work: Work,
    /// Increments each worker made (its own local count).
    pub done_per_worker: Vec<u64>,
    /// Their sum: what the shared counter should read at the end.
    pub expected: u64,
    pub final_count: u64,
    /// `expected - final_count`: increments that vanished.
    pub lost: u64,
    /// From the first worker's start to the last worker's end (stamps taken in the workers).
    pub total_ns: u64,
    pub increments_per_sec: f64,
    /// `total_ns` over the increments one worker made (the mean over workers): how long one
    /// increment took as one worker saw it, waiting for the others included.
    pub ns_per_increment_per_worker: f64,
    pub manager: Option<ManagerLoad>,
    pub worker_pids: Vec<u32>,
    pub manager_pid: Option<u32>,
}

/// The shared counter, in whichever form the method needs.
enum Counter {
    Manager(Manager, ValueProxy),
    Locked(Value<u64>),
    Raw(RawValue<u64>),
}

/// `n` increments of the shared counter: the lesson's function for `method`.
fn increment(method: Method, counter: &Counter, n: u64) -> Result<(), Error> {
    match (method, counter) {
        (Method::ManagerAdd, Counter::Manager(_, c)) => lesson::manager_add(c, n)?,
        (Method::LockedValue, Counter::Locked(c)) => lesson::locked_add(c, n),
        (Method::AtomicFetchAdd, Counter::Raw(c)) => lesson::atomic_add(c, n),
        (Method::LocalThenMerge, Counter::Raw(c)) => lesson::local_then_merge(c, n),
        (Method::RawGetSet, Counter::Raw(c)) => lesson::raw_get_then_set(c, n),
        (Method::ValueGetSet, Counter::Locked(c)) => lesson::value_get_then_set(c, n),
        (Method::ManagerGetSet, Counter::Manager(_, c)) => lesson::manager_get_then_set(c, n)?,
        _ => unreachable!("counter form chosen by run_counter for this method"),
    }
    Ok(())
}

/// Per worker, in shared memory: start stamp, end stamp, round trips its proxy counted,
/// increments made.
const SLOTS: usize = 4;

/// Starts `workers` processes that each add one to a fresh shared counter (`work` says how
/// often), released together, and reports what arrived. Manager methods get a fresh manager
/// process, shut down before returning.
pub fn run_counter(method: Method, workers: usize, work: Work, deadline: Duration) -> Result<CounterRun> {
    run_counter_traced(method, workers, work, deadline, None)
}

/// `n` increments, noting every `every`-th one in the worker's lane (the trace's probe: the
/// lesson's function runs unchanged, in chunks of `every`).
fn increment_traced(method: Method, counter: &Counter, n: u64, lane: usize, tr: &Trace) -> Result<(), Error> {
    let mut done = 0;
    while done < n {
        let k = tr.every.min(n - done);
        increment(method, counter, k)?;
        done += k;
        if k == tr.every {
            tr.rec.record(lane, code::ANSWERED, done as u32)?;
        }
    }
    Ok(())
}

/// As [`run_counter`], recording the run in `trace` if given: lane 0 the manager (derived
/// from its own stats), lane `i + 1` worker `i` (see [`crate::lanes`]).
pub fn run_counter_traced(
    method: Method,
    workers: usize,
    work: Work,
    deadline: Duration,
    trace: Option<&Trace>,
) -> Result<CounterRun> {
    if workers == 0 {
        bail!("at least one worker is needed");
    }
    let counter = match method {
        Method::ManagerAdd | Method::ManagerGetSet => {
            let m = Manager::start().context("starting the manager process")?;
            let proxy = m.value();
            Counter::Manager(m, proxy)
        }
        Method::LockedValue | Method::ValueGetSet => Counter::Locked(Value::new(0u64)?),
        Method::AtomicFetchAdd | Method::LocalThenMerge | Method::RawGetSet => {
            Counter::Raw(RawValue::new(0u64)?)
        }
    };
    // The start line: every worker and this process; it opens when all have arrived.
    let gate = Barrier::new(workers + 1)?;
    let stamps = RawArray::new(workers * SLOTS, 0u64)?;
    // In a time window, check the clock after each chunk, not after each increment.
    let chunk = match method {
        Method::ManagerAdd | Method::ManagerGetSet => 1,
        Method::LockedValue | Method::ValueGetSet => 64,
        _ => 1024,
    };

    let procs: Vec<Process> = coord_core::start_all(workers, |i| -> Result<(), Error> {
        let trips_before = match &counter {
            Counter::Manager(_, p) => p.round_trips(),
            _ => 0,
        };
        gate.wait_timeout(deadline)?;
        let start = monotonic_ns();
        stamps.set(SLOTS * i, start)?;
        if let Some(tr) = trace {
            tr.rec.record(i + 1, code::RUN, 0)?;
        }
        let done = match (work, trace) {
            (Work::Count(n), Some(tr)) => {
                increment_traced(method, &counter, n, i + 1, tr)?;
                n
            }
            (Work::Count(n), None) => {
                increment(method, &counter, n)?;
                n
            }
            (Work::For(window), _) => {
                let end = start + window.as_nanos() as u64;
                let mut done = 0;
                loop {
                    increment(method, &counter, chunk)?;
                    done += chunk;
                    if monotonic_ns() >= end {
                        break done;
                    }
                }
            }
        };
        stamps.set(SLOTS * i + 1, monotonic_ns())?;
        if let Some(tr) = trace {
            tr.rec.record(i + 1, code::RUN_DONE, done as u32)?;
        }
        stamps.set(SLOTS * i + 3, done)?;
        if let Counter::Manager(_, p) = &counter {
            stamps.set(SLOTS * i + 2, p.round_trips() - trips_before)?;
        }
        Ok(())
    })?;
    let worker_pids: Vec<u32> = procs.iter().map(Process::pid).collect();

    // Wait (bounded) until every worker is at the start line; a worker that died before
    // getting there is reported by the join below instead of being waited for.
    let t_wait = std::time::Instant::now();
    let backoff = Backoff::new();
    while gate.n_waiting() < workers && procs.iter().all(Process::is_alive) {
        if t_wait.elapsed() > deadline {
            // Returning drops `procs`, which kills and reaps every worker.
            bail!("{method:?}: the workers did not reach the start line within {deadline:?}");
        }
        backoff.snooze();
    }
    let before = match &counter {
        Counter::Manager(m, _) => Some(m.stats()?),
        _ => None,
    };
    if gate.n_waiting() == workers {
        gate.wait_timeout(deadline)?; // go
    } else {
        gate.abort(); // a worker died: let the others go, with an error
    }
    let statuses = join_all(&procs, deadline)?;
    let wall_ns = monotonic_ns().saturating_sub(gate.opened_at_ns());
    for (i, st) in statuses.iter().enumerate() {
        match st {
            None => bail!("{method:?}: worker {i} did not finish within {deadline:?} and was killed"),
            Some(s) if !s.success() => bail!("{method:?}: worker {i} (pid {}) {s}", worker_pids[i]),
            Some(_) => {}
        }
    }

    let (final_count, manager, manager_pid) = match counter {
        Counter::Manager(m, proxy) => {
            let after = m.stats()?;
            let before = before.expect("taken for manager methods");
            if let Some(tr) = trace {
                // The manager's lane, from its own counters: one span from the moment the
                // workers were released to now, with its CPU time at both ends.
                let (t0, t1) = (gate.opened_at_ns(), monotonic_ns());
                let calls = (after.calls - before.calls) as u32;
                tr.rec
                    .record_at(0, code::SERVING, 0, t0, before.cpu_time.as_nanos() as u64)?;
                tr.rec
                    .record_at(0, code::SERVED, calls, t1, after.cpu_time.as_nanos() as u64)?;
            }
            let final_count = proxy.get()? as u64;
            let cpu = after.cpu_time.saturating_sub(before.cpu_time).as_nanos() as u64;
            let load = ManagerLoad {
                calls: after.calls - before.calls,
                worker_round_trips: (0..workers).map(|i| stamps.get(SLOTS * i + 2).unwrap_or(0)).sum(),
                cpu_ns: cpu,
                wall_ns,
                busy: cpu as f64 / wall_ns.max(1) as f64,
            };
            let pid = m.pid();
            m.shutdown()?;
            (final_count, Some(load), Some(pid))
        }
        Counter::Locked(v) => (v.get(), None, None),
        Counter::Raw(r) => (r.get(), None, None),
    };
    let slot = |i: usize, k: usize| stamps.get(SLOTS * i + k).unwrap_or(0);
    let first_start = (0..workers).map(|i| slot(i, 0)).min().unwrap_or(0);
    let last_end = (0..workers).map(|i| slot(i, 1)).max().unwrap_or(0);
    let total_ns = last_end.saturating_sub(first_start).max(1);
    let done_per_worker: Vec<u64> = (0..workers).map(|i| slot(i, 3)).collect();
    let expected: u64 = done_per_worker.iter().sum();
    let mean_per_worker = expected as f64 / workers as f64;
    Ok(CounterRun {
        method,
        workers,
        work,
        done_per_worker,
        expected,
        final_count,
        lost: expected.saturating_sub(final_count),
        total_ns,
        increments_per_sec: final_count as f64 / (total_ns as f64 / 1e9),
        ns_per_increment_per_worker: total_ns as f64 / mean_per_worker.max(1.0),
        manager,
        worker_pids,
        manager_pid,
    })
}
