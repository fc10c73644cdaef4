//! # shared-state: Lecture 27, concepts 3.1 and 5.1, measured
//!
//! "Which shared-state primitive, at what cost?" answered with this machine's numbers:
//!
//! * [`latency_table`]: what one access costs through the manager process (a real round trip
//!   over a socket to another process), through a synchronized [`Value`]/[`Array`] (a
//!   process-shared lock around a load or store) and through a [`RawValue`]/[`RawArray`]
//!   (one atomic instruction), with a plain local variable as the floor.
//! * [`run_counter`]: several worker processes bump one shared counter through each
//!   mechanism. It reports the time, the throughput, how busy the manager process was, and
//!   how many increments were lost (a read-modify-write without a lock loses updates).
//! * [`fixed_capacity`]: a shared array has a length fixed at creation, the manager's list
//!   grows.
//!
//! Every worker is a real forked process and every shared object real `MAP_SHARED` memory or
//! a real manager server (see `coord-core`). Workers only call coord-core and never print,
//! so the scenarios are safe to run from the multi-threaded test harness too.

pub mod render;

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use coord_core::{
    Array, Error, LockResultExt, Manager, Process, RawArray, RawValue, Value, join_all, monotonic_ns,
};
use serde::Serialize;

/// Shared-memory loops run this many times as many accesses as the manager loops: one
/// access is about a thousand times cheaper, and a timed loop must last long enough to read.
pub const SHM_FACTOR: u64 = 1000;

/// How big the scenarios are. [`Config::default`] finishes in a few seconds on 2 cores.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// Manager calls per timed repetition, and per worker in the bottleneck scenario.
    pub iterations: u64,
    /// Timed repetitions per latency row (the median and spread are over these).
    pub reps: usize,
    /// Worker processes in the bottleneck and lost-update scenarios.
    pub workers: usize,
    /// Runs of each lost-update scenario.
    pub runs: usize,
    /// Longest a group of workers may take before it is killed and reported as an error.
    #[serde(skip)]
    pub deadline: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            iterations: 1000,
            reps: 5,
            workers: 4,
            runs: 3,
            deadline: Duration::from_secs(600),
        }
    }
}

impl Config {
    /// The CI-sized run.
    pub fn quick() -> Self {
        Config {
            iterations: 200,
            reps: 3,
            workers: 4,
            runs: 2,
            deadline: Duration::from_secs(600),
        }
    }

    /// Shared-memory accesses per timed repetition and per worker in the bottleneck.
    pub fn shm_iterations(&self) -> u64 {
        self.iterations * SHM_FACTOR
    }

    /// How long the workers of a lost-update run keep incrementing: 20 µs per manager
    /// iteration, at least 10 ms. A fixed count would not do: a million atomic increments
    /// take a millisecond, and on a busy machine one worker can finish before the next one is
    /// even scheduled, so nothing overlaps and nothing is lost. A window makes them overlap.
    pub fn lost_update_window(&self) -> Duration {
        Duration::from_micros(self.iterations.saturating_mul(20)).max(Duration::from_millis(10))
    }
}

// --- statistics ----------------------------------------------------------------------------

/// Median and range of a few per-repetition figures.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(samples: &[f64]) -> Spread {
        assert!(!samples.is_empty(), "a spread needs at least one sample");
        let mut s = samples.to_vec();
        s.sort_by(f64::total_cmp);
        let n = s.len();
        let median = if n % 2 == 1 {
            s[n / 2]
        } else {
            (s[n / 2 - 1] + s[n / 2]) / 2.0
        };
        Spread {
            median,
            min: s[0],
            max: s[n - 1],
        }
    }
}

// --- 1. the per-access latency table ---------------------------------------------------------

/// Where the accessed data lives and how it is reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Mechanism {
    /// In the manager process: every access is a round trip over a socket.
    Manager,
    /// In shared memory behind a process-shared lock (Python's default `Value`, `Array`).
    Synchronized,
    /// In shared memory, one atomic instruction (Python's `RawValue`, `RawArray`).
    Raw,
    /// In this process's own stack: the floor, nobody else can see it.
    Local,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Access {
    Read,
    Write,
}

/// One row of the latency table.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyRow {
    /// Stable identifier, e.g. `manager_value_get`.
    pub id: &'static str,
    /// The lecture section the row answers.
    pub section: &'static str,
    /// What is accessed, in words.
    pub what: &'static str,
    /// The Rust call that is timed.
    pub rust: &'static str,
    /// The Python it stands for.
    pub python: &'static str,
    pub mechanism: Mechanism,
    pub access: Access,
    /// Accesses per timed repetition.
    pub ops_per_rep: u64,
    /// Nanoseconds per access over the repetitions: median, min, max.
    pub ns: Spread,
    /// Median over the median of the raw atomic read (`RawValue::get`).
    pub ratio_to_raw_read: f64,
    /// Manager rows only: median over the synchronized `Value` median of the same access kind.
    pub manager_over_synchronized: Option<f64>,
}

/// The whole table, measured in one run.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyTable {
    pub reps: usize,
    pub manager_ops_per_rep: u64,
    pub shm_ops_per_rep: u64,
    pub rows: Vec<LatencyRow>,
    /// The manager process the manager rows talked to (shut down before returning).
    pub manager_pid: u32,
}

impl LatencyTable {
    /// The row with this id.
    pub fn row(&self, id: &str) -> Option<&LatencyRow> {
        self.rows.iter().find(|r| r.id == id)
    }

    fn median(&self, id: &str) -> f64 {
        self.row(id).map(|r| r.ns.median).unwrap_or(f64::NAN)
    }
}

struct Probe<'a> {
    id: &'static str,
    section: &'static str,
    what: &'static str,
    rust: &'static str,
    python: &'static str,
    mechanism: Mechanism,
    access: Access,
    ops: u64,
    /// Runs `n` accesses.
    run: Box<dyn FnMut(u64) -> Result<(), Error> + 'a>,
}

/// Times every primitive, `cfg.reps` rounds; each round runs every row once, so slow drift
/// on the machine touches all rows alike and the ratios stay fair.
pub fn latency_table(cfg: &Config) -> Result<LatencyTable> {
    let manager = Manager::start().context("starting the manager process")?;
    let m_value = manager.value();
    let m_list = manager.list();
    let m_dict = manager.dict();
    let value = Value::new(0u64)?;
    let raw = RawValue::new(0u64)?;
    // Python's baseline reads element 500 of a 1000-element array; so do we.
    let array = Array::new(1000, 0u64)?;
    let raw_array = RawArray::new(1000, 0u64)?;
    let mut local = 0u64;

    let m = cfg.iterations;
    let s = cfg.shm_iterations();
    let mut probes: Vec<Probe> = vec![
        // ANCHOR: manager_access
        // Each call below is a whole round trip: serialize the request, write it to the
        // manager's socket, wait until the manager process reads it, runs it and writes the
        // answer, wake up, read and decode the answer.
        Probe {
            id: "manager_value_get",
            section: "3.1",
            what: "manager value, read",
            rust: "m_value.get()",
            python: "mv.value",
            mechanism: Mechanism::Manager,
            access: Access::Read,
            ops: m,
            run: Box::new(|n| {
                for _ in 0..n {
                    black_box(m_value.get()?);
                }
                Ok(())
            }),
        },
        Probe {
            id: "manager_value_set",
            section: "3.1",
            what: "manager value, write",
            rust: "m_value.set(i)",
            python: "mv.value = i",
            mechanism: Mechanism::Manager,
            access: Access::Write,
            ops: m,
            run: Box::new(|n| {
                for i in 0..n {
                    m_value.set(i as i64)?;
                }
                Ok(())
            }),
        },
        Probe {
            id: "manager_list_append",
            section: "3.1",
            what: "manager list, append",
            rust: "m_list.append(i)",
            python: "ml.append(i)",
            mechanism: Mechanism::Manager,
            access: Access::Write,
            ops: m,
            run: Box::new(|n| {
                for i in 0..n {
                    m_list.append(i as i64)?;
                }
                Ok(())
            }),
        },
        Probe {
            id: "manager_list_get",
            section: "3.1",
            what: "manager list, index read",
            rust: "m_list.get(0)",
            python: "ml[0]",
            mechanism: Mechanism::Manager,
            access: Access::Read,
            ops: m,
            run: Box::new(|n| {
                for _ in 0..n {
                    black_box(m_list.get(0)?);
                }
                Ok(())
            }),
        },
        Probe {
            id: "manager_dict_set",
            section: "5.1",
            what: "manager dict, set key",
            rust: "m_dict.set(\"k\", i)",
            python: "md['k'] = i",
            mechanism: Mechanism::Manager,
            access: Access::Write,
            ops: m,
            run: Box::new(|n| {
                for i in 0..n {
                    m_dict.set("k", i as i64)?;
                }
                Ok(())
            }),
        },
        Probe {
            id: "manager_dict_get",
            section: "5.1",
            what: "manager dict, get key",
            rust: "m_dict.get(\"k\")",
            python: "md['k']",
            mechanism: Mechanism::Manager,
            access: Access::Read,
            ops: m,
            run: Box::new(|n| {
                for _ in 0..n {
                    black_box(m_dict.get("k")?);
                }
                Ok(())
            }),
        },
        // ANCHOR_END: manager_access
        // ANCHOR: value_access
        // No other process is involved here: the data sits in a page every process has mapped.
        // A synchronized access takes the process-shared lock, loads or stores, unlocks; a raw
        // access is a single atomic load or store; the local variable is the floor.
        Probe {
            id: "value_get",
            section: "3.1",
            what: "synchronized Value, read",
            rust: "value.get()",
            python: "v.value",
            mechanism: Mechanism::Synchronized,
            access: Access::Read,
            ops: s,
            run: Box::new(|n| {
                for _ in 0..n {
                    black_box(value.get());
                }
                Ok(())
            }),
        },
        Probe {
            id: "value_set",
            section: "3.1",
            what: "synchronized Value, write",
            rust: "value.set(i)",
            python: "v.value = i",
            mechanism: Mechanism::Synchronized,
            access: Access::Write,
            ops: s,
            run: Box::new(|n| {
                for i in 0..n {
                    value.set(i);
                }
                Ok(())
            }),
        },
        Probe {
            id: "raw_value_get",
            section: "5.1",
            what: "RawValue (atomic), read",
            rust: "raw.get()",
            python: "rv.value",
            mechanism: Mechanism::Raw,
            access: Access::Read,
            ops: s,
            run: Box::new(|n| {
                for _ in 0..n {
                    black_box(raw.get());
                }
                Ok(())
            }),
        },
        Probe {
            id: "raw_value_set",
            section: "5.1",
            what: "RawValue (atomic), write",
            rust: "raw.set(i)",
            python: "rv.value = i",
            mechanism: Mechanism::Raw,
            access: Access::Write,
            ops: s,
            run: Box::new(|n| {
                for i in 0..n {
                    raw.set(i);
                }
                Ok(())
            }),
        },
        Probe {
            id: "array_get",
            section: "3.1",
            what: "synchronized Array element, read",
            rust: "array.get(500)?",
            python: "a[500]",
            mechanism: Mechanism::Synchronized,
            access: Access::Read,
            ops: s,
            run: Box::new(|n| {
                for _ in 0..n {
                    black_box(array.get(500)?);
                }
                Ok(())
            }),
        },
        Probe {
            id: "array_set",
            section: "3.1",
            what: "synchronized Array element, write",
            rust: "array.set(500, i)?",
            python: "a[500] = i",
            mechanism: Mechanism::Synchronized,
            access: Access::Write,
            ops: s,
            run: Box::new(|n| {
                for i in 0..n {
                    array.set(500, i)?;
                }
                Ok(())
            }),
        },
        Probe {
            id: "raw_array_get",
            section: "5.1",
            what: "RawArray element (atomic), read",
            rust: "raw_array.get(500)?",
            python: "ra[500]",
            mechanism: Mechanism::Raw,
            access: Access::Read,
            ops: s,
            run: Box::new(|n| {
                for _ in 0..n {
                    black_box(raw_array.get(500)?);
                }
                Ok(())
            }),
        },
        Probe {
            id: "raw_array_set",
            section: "5.1",
            what: "RawArray element (atomic), write",
            rust: "raw_array.set(500, i)?",
            python: "ra[500] = i",
            mechanism: Mechanism::Raw,
            access: Access::Write,
            ops: s,
            run: Box::new(|n| {
                for i in 0..n {
                    raw_array.set(500, i)?;
                }
                Ok(())
            }),
        },
        Probe {
            id: "local_get",
            section: "floor",
            what: "local variable, read",
            rust: "black_box(local)",
            python: "x",
            mechanism: Mechanism::Local,
            access: Access::Read,
            ops: s,
            run: Box::new(|n| {
                let x = 7u64;
                for _ in 0..n {
                    // black_box makes the compiler really load the value each time.
                    black_box(*black_box(&x));
                }
                Ok(())
            }),
        },
        Probe {
            id: "local_set",
            section: "floor",
            what: "local variable, write",
            rust: "local = i",
            python: "x = i",
            mechanism: Mechanism::Local,
            access: Access::Write,
            ops: s,
            run: Box::new(|n| {
                for i in 0..n {
                    // black_box makes the compiler really store each time.
                    *black_box(&mut local) = i;
                }
                Ok(())
            }),
        },
        // ANCHOR_END: value_access
    ];

    // Warm up: connect the proxies, put something in the list, fault the pages in.
    for p in probes.iter_mut() {
        (p.run)((p.ops / 10).max(1))?;
    }
    let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(cfg.reps); probes.len()];
    let n = probes.len();
    for round in 0..cfg.reps {
        // Each round starts at a different row: whichever row runs first after a change
        // (the manager idle for a while, a process moved to another CPU) is not always the same.
        for k in 0..n {
            let i = (round + k) % n;
            let p = &mut probes[i];
            let t0 = Instant::now();
            (p.run)(p.ops)?;
            samples[i].push(t0.elapsed().as_nanos() as f64 / p.ops as f64);
        }
    }
    let mut rows: Vec<LatencyRow> = probes
        .iter()
        .zip(&samples)
        .map(|(p, s)| LatencyRow {
            id: p.id,
            section: p.section,
            what: p.what,
            rust: p.rust,
            python: p.python,
            mechanism: p.mechanism,
            access: p.access,
            ops_per_rep: p.ops,
            ns: Spread::of(s),
            ratio_to_raw_read: f64::NAN,
            manager_over_synchronized: None,
        })
        .collect();
    drop(probes);
    let manager_pid = manager.pid();
    manager.shutdown()?;

    let median = |id: &str| {
        rows.iter()
            .find(|r| r.id == id)
            .map(|r| r.ns.median)
            .unwrap_or(f64::NAN)
    };
    let (raw_read, sync_read, sync_write) =
        (median("raw_value_get"), median("value_get"), median("value_set"));
    for r in rows.iter_mut() {
        r.ratio_to_raw_read = r.ns.median / raw_read;
        if r.mechanism == Mechanism::Manager {
            let sync = match r.access {
                Access::Read => sync_read,
                Access::Write => sync_write,
            };
            r.manager_over_synchronized = Some(r.ns.median / sync);
        }
    }
    Ok(LatencyTable {
        reps: cfg.reps,
        manager_ops_per_rep: m,
        shm_ops_per_rep: s,
        rows,
        manager_pid,
    })
}

// --- 2. many workers, one counter ----------------------------------------------------------

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
    /// Wall time of the same window (from just before the workers were released to just
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
    Manager(Manager, coord_core::ValueProxy),
    Locked(Value<u64>),
    Raw(RawValue<u64>),
}

/// One worker's loop: `n` increments of the shared counter through `method`.
fn worker_loop(method: Method, counter: &Counter, n: u64) -> Result<(), Error> {
    match (method, counter) {
        // ANCHOR: bottleneck_worker
        // (a) every increment is a request to the manager process and a wait for its answer.
        (Method::ManagerAdd, Counter::Manager(_, proxy)) => {
            for _ in 0..n {
                proxy.add(1)?;
            }
        }
        // (b) the lock is held across read, add and write: nobody can slip in between.
        (Method::LockedValue, Counter::Locked(value)) => {
            for _ in 0..n {
                let mut guard = value.lock().recover();
                *guard += 1;
            }
        }
        // (c) one atomic read-modify-write instruction per increment: no lock, nothing lost.
        (Method::AtomicFetchAdd, Counter::Raw(raw)) => {
            for _ in 0..n {
                raw.fetch_add(1);
            }
        }
        // (d) no sharing in the loop at all; one shared access per worker at the end.
        (Method::LocalThenMerge, Counter::Raw(raw)) => {
            let mut local = 0u64;
            for _ in 0..n {
                local = black_box(local) + 1;
            }
            raw.fetch_add(local);
        }
        // ANCHOR_END: bottleneck_worker
        // ANCHOR: lost_updates
        // A read, then a write: between the two, another worker may write too, and one of
        // the two increments is overwritten. Each access alone is atomic (or locked); the
        // pair is not.
        (Method::RawGetSet, Counter::Raw(raw)) => {
            for _ in 0..n {
                let v = raw.get();
                raw.set(v + 1);
            }
        }
        (Method::ValueGetSet, Counter::Locked(value)) => {
            for _ in 0..n {
                let v = value.get(); // lock taken and released
                value.set(v + 1); // lock taken again: too late
            }
        }
        (Method::ManagerGetSet, Counter::Manager(_, proxy)) => {
            for _ in 0..n {
                let v = proxy.get()?; // round trip 1
                proxy.set(v + 1)?; // round trip 2: the manager runs each call alone, not the pair
            }
        }
        // ANCHOR_END: lost_updates
        _ => unreachable!("counter form chosen by run_counter for this method"),
    }
    Ok(())
}

/// Starts `workers` processes that each add one to a fresh shared counter (`work` says how
/// often),
/// released together, and reports what arrived. Manager methods get a fresh manager process,
/// shut down before returning.
pub fn run_counter(method: Method, workers: usize, work: Work, deadline: Duration) -> Result<CounterRun> {
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
    // Start line: workers check in, then spin (yielding) until the parent says go.
    let ready = RawValue::new(0u64)?;
    let go = RawValue::new(false)?;
    // Per worker: start stamp, end stamp, round trips its proxy counted, increments made.
    const SLOTS: usize = 4;
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
        ready.fetch_add(1);
        while !go.get() {
            std::thread::yield_now();
        }
        let start = monotonic_ns();
        stamps.set(SLOTS * i, start)?;
        let done = match work {
            Work::Count(n) => {
                worker_loop(method, &counter, n)?;
                n
            }
            Work::For(window) => {
                let end = start + window.as_nanos() as u64;
                let mut done = 0;
                loop {
                    worker_loop(method, &counter, chunk)?;
                    done += chunk;
                    if monotonic_ns() >= end {
                        break done;
                    }
                }
            }
        };
        stamps.set(SLOTS * i + 1, monotonic_ns())?;
        stamps.set(SLOTS * i + 3, done)?;
        if let Counter::Manager(_, p) = &counter {
            stamps.set(SLOTS * i + 2, p.round_trips() - trips_before)?;
        }
        Ok(())
    })?;
    let worker_pids: Vec<u32> = procs.iter().map(Process::pid).collect();

    // Wait (bounded) until every worker is at the start line.
    let t_wait = Instant::now();
    while ready.get() < workers as u64 {
        if t_wait.elapsed() > deadline {
            // Returning drops `procs`, which kills and reaps every worker.
            bail!("{method:?}: the workers did not reach the start line within {deadline:?}");
        }
        if procs.iter().any(|p| !p.is_alive()) {
            break; // a worker failed before the start: reported by the join below
        }
        std::thread::yield_now();
    }
    let before = match &counter {
        Counter::Manager(m, _) => Some(m.stats()?),
        _ => None,
    };
    let wall0 = Instant::now();
    go.set(true);
    let statuses = join_all(&procs, deadline)?;
    let wall_ns = wall0.elapsed().as_nanos() as u64;
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
    let starts = (0..workers).map(|i| stamps.get(SLOTS * i).unwrap_or(0));
    let ends = (0..workers).map(|i| stamps.get(SLOTS * i + 1).unwrap_or(0));
    let total_ns = ends
        .max()
        .unwrap_or(0)
        .saturating_sub(starts.min().unwrap_or(0))
        .max(1);
    let done_per_worker: Vec<u64> = (0..workers)
        .map(|i| stamps.get(SLOTS * i + 3).unwrap_or(0))
        .collect();
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
            .map(|_| run_counter(method, workers, Work::Count(n), cfg.deadline))
            .collect::<Result<Vec<_>>>()?;
        out.push(BottleneckRow::from_runs(runs));
    }
    Ok(out)
}

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

// --- 3. fixed layout against a growing list --------------------------------------------------

#[derive(Debug, Clone, Serialize)]
pub struct FixedLayout {
    pub capacity: usize,
    pub attempted: usize,
    /// Items the array took before it refused.
    pub array_stored: usize,
    /// The error the array gave for the first item past its capacity (`None` if all fitted).
    pub array_error: Option<String>,
    /// Length of the manager list after appending every item.
    pub list_len: usize,
    pub manager_pid: u32,
}

/// Puts `items` numbers into a shared `Array` of `capacity` slots and into a manager list.
pub fn fixed_capacity(capacity: usize, items: usize) -> Result<FixedLayout> {
    // ANCHOR: fixed_capacity
    // The array's size is part of its shared-memory layout, fixed when it is created.
    let array = Array::new(capacity, 0i64)?;
    let mut array_stored = 0;
    let mut array_error = None;
    for i in 0..items {
        match array.set(i, i as i64) {
            Ok(()) => array_stored += 1,
            // Past the end: a clear error, not a write into someone else's memory.
            Err(e) => {
                array_error = Some(e.to_string());
                break;
            }
        }
    }
    // The manager's list lives in the manager process's heap: it just grows.
    let manager = Manager::start()?;
    let list = manager.list();
    for i in 0..items {
        list.append(i as i64)?;
    }
    let list_len = list.len()?;
    // ANCHOR_END: fixed_capacity
    let manager_pid = manager.pid();
    manager.shutdown()?;
    Ok(FixedLayout {
        capacity,
        attempted: items,
        array_stored,
        array_error,
        list_len,
        manager_pid,
    })
}

// --- the lecture's claims --------------------------------------------------------------------

/// One quantitative claim of the lecture next to this run's figure.
#[derive(Debug, Clone, Serialize)]
pub struct Claim {
    pub section: &'static str,
    pub claim: String,
    pub lecture: String,
    pub measured: String,
    pub value: f64,
    pub holds: Option<bool>,
}

/// Formats a ratio for people: `3,100×`, `42×`, `1.8×`.
pub fn fmt_ratio(r: f64) -> String {
    if !r.is_finite() {
        return "-".into();
    }
    if r >= 100.0 {
        format!("{}×", group(r.round() as u64))
    } else if r >= 10.0 {
        format!("{r:.0}×")
    } else {
        format!("{r:.1}×")
    }
}

/// Formats nanoseconds: `0.31`, `17.4`, `52,310`.
pub fn fmt_ns(ns: f64) -> String {
    if !ns.is_finite() {
        "-".into()
    } else if ns < 10.0 {
        format!("{ns:.2}")
    } else if ns < 100.0 {
        format!("{ns:.1}")
    } else {
        group(ns.round() as u64)
    }
}

pub use lab_support::fmt::group_digits as group;

/// The lecture's quantitative claims of 3.1 and 5.1, checked against this run.
pub fn claims(table: &LatencyTable, bottleneck: &[BottleneckRow], lost: &[LostUpdates]) -> Vec<Claim> {
    let mut out = latency_claims(table);
    out.extend(bottleneck_claims(bottleneck));
    out.extend(lost_update_claims(lost));
    out
}

/// IPC figures drift by about ±30 % between runs on these machines (see TRAPS.md): a ratio
/// that close to a threshold may land on the other side next time, and the reader should know.
fn near(ratio: f64, threshold: f64) -> &'static str {
    if (ratio / threshold - 1.0).abs() <= 0.3 {
        " (within the ±30% run-to-run drift of the threshold: the verdict may flip between runs)"
    } else {
        ""
    }
}

/// The per-access claims: "1,000x or more" (3.1), "100 to 1,000 times faster" (5.1).
pub fn latency_claims(table: &LatencyTable) -> Vec<Claim> {
    let mut out = Vec::new();
    let mgr_read = table.median("manager_value_get");
    let sync_read = table.median("value_get");
    let raw_read = table.median("raw_value_get");
    let list_read = table.median("manager_list_get");
    let array_read = table.median("array_get");

    let r = mgr_read / sync_read;
    out.push(Claim {
        section: "3.1",
        claim: "a manager access costs far more than a Value access".into(),
        lecture: "1,000x or more".into(),
        measured: format!(
            "manager value read {} ns vs synchronized Value read {} ns: {}{}",
            fmt_ns(mgr_read),
            fmt_ns(sync_read),
            fmt_ratio(r),
            near(r, 1000.0)
        ),
        value: r,
        holds: Some(r >= 1000.0),
    });
    let r = list_read / array_read;
    out.push(Claim {
        section: "3.1",
        claim: "a manager list access costs far more than an Array element access".into(),
        lecture: "1,000x or more".into(),
        measured: format!(
            "manager list[0] {} ns vs synchronized Array[500] {} ns: {}{}",
            fmt_ns(list_read),
            fmt_ns(array_read),
            fmt_ratio(r),
            near(r, 1000.0)
        ),
        value: r,
        holds: Some(r >= 1000.0),
    });

    let r = mgr_read / sync_read;
    let in_range = (100.0..=1000.0).contains(&r);
    out.push(Claim {
        section: "5.1",
        claim: "shared memory is faster per access than a manager object".into(),
        lecture: "100 to 1,000 times faster".into(),
        measured: format!(
            "{} against the synchronized Value, {} against the raw atomic{}",
            fmt_ratio(r),
            fmt_ratio(mgr_read / raw_read),
            if r > 1000.0 {
                format!(
                    " (above the lecture's range: shared memory is even further ahead here){}",
                    near(r, 1000.0)
                )
            } else if r < 100.0 {
                format!(" (below the lecture's range){}", near(r, 100.0))
            } else {
                format!("{}{}", near(r, 100.0), near(r, 1000.0))
            }
        ),
        value: r,
        holds: Some(in_range),
    });
    out
}

/// "The manager becomes the bottleneck", "single-threaded in effect" (3.1).
pub fn bottleneck_claims(bottleneck: &[BottleneckRow]) -> Vec<Claim> {
    let mut out = Vec::new();
    let four = bottleneck
        .iter()
        .find(|c| c.method == Method::ManagerAdd && c.workers > 1);
    let one = bottleneck
        .iter()
        .find(|c| c.method == Method::ManagerAdd && c.workers == 1);
    if let Some(load) = four.and_then(|c| c.median_run.manager) {
        let per_sec = load.calls as f64 / (load.wall_ns.max(1) as f64 / 1e9);
        out.push(Claim {
            section: "3.1",
            claim:
                "workers updating a manager object on every iteration make it serve round trips all the time"
                    .into(),
            lecture: "thousands of IPC round-trips per second".into(),
            measured: format!(
                "the manager served {} round trips per second to {} workers (its ceiling here: every worker \
                 does nothing else)",
                group(per_sec.round() as u64),
                four.map(|f| f.workers).unwrap_or(0)
            ),
            value: per_sec,
            holds: Some(per_sec >= 1000.0),
        });
        out.push(Claim {
            section: "3.1",
            claim: "with many workers updating through the manager, the manager process is the bottleneck"
                .into(),
            lecture: "80% of wall-clock time in the manager".into(),
            measured: format!(
                "manager process busy {:.0}% of the wall time ({} ms CPU in {} ms, {} µs CPU per call); {}",
                load.busy * 100.0,
                fmt_ms(load.cpu_ns),
                fmt_ms(load.wall_ns),
                fmt_ns(load.cpu_ns as f64 / load.calls.max(1) as f64 / 1000.0),
                if load.busy >= 0.8 {
                    "it is the busiest process"
                } else {
                    "the rest of each round trip is waiting (socket hand-offs and wake-ups), not manager work"
                }
            ),
            value: load.busy * 100.0,
            holds: Some(load.busy >= 0.8),
        });
    }
    if let (Some(four), Some(one)) = (four, one) {
        let speedup = four.increments_per_sec.median / one.increments_per_sec.median;
        out.push(Claim {
            section: "3.1",
            claim: "through the manager, more workers do not add throughput".into(),
            lecture: "single-threaded in effect".into(),
            measured: format!(
                "{} workers: {} increments/s, 1 worker: {} increments/s: {} (holds below 1.5×; \
                 independent work would use both cores)",
                four.workers,
                group(four.increments_per_sec.median.round() as u64),
                group(one.increments_per_sec.median.round() as u64),
                fmt_ratio(speedup)
            ),
            value: speedup,
            // Parallel work would scale with the 2 cores; "single-threaded" means it does not.
            holds: Some(speedup < 1.5),
        });
    }
    out
}

/// "Raw shared memory requires explicit locks", "Manager objects are always safe" (5.1).
pub fn lost_update_claims(lost: &[LostUpdates]) -> Vec<Claim> {
    let mut out = Vec::new();
    if let Some(l) = lost.iter().find(|l| l.method == Method::RawGetSet) {
        let runs = l.lost_per_run.len();
        out.push(Claim {
            section: "5.1",
            claim: "raw shared memory needs explicit locks: unlocked read-modify-writes corrupt data".into(),
            lecture: "needs manual lock discipline".into(),
            measured: format!(
                "RawValue get-then-set lost {} of {} increments ({:.1}%) over {} runs ({})",
                group(l.total_lost),
                group(l.expected_per_run.iter().sum()),
                l.lost_percent(),
                runs,
                match l.runs_without_loss {
                    0 => "every run lost some".to_string(),
                    n if n == runs => "no run lost any this time: luck, not correctness".to_string(),
                    n => format!("{n} of {runs} runs happened to lose none"),
                }
            ),
            // The share of the increments made that vanished, in percent.
            value: l.lost_percent(),
            // No loss in a few runs does not prove the code correct: then we cannot tell.
            holds: if l.total_lost > 0 { Some(true) } else { None },
        });
    }
    let add = lost.iter().find(|l| l.method == Method::ManagerAdd);
    if let Some(l) = lost.iter().find(|l| l.method == Method::ManagerGetSet) {
        let runs = l.lost_per_run.len();
        out.push(Claim {
            section: "5.1",
            claim: "a manager object needs no lock of your own: its server takes one request at a time"
                .into(),
            lecture: "always safe".into(),
            measured: format!(
                "{}get-then-set through the manager lost {} of {} increments ({:.1}%) over {} runs",
                match add {
                    Some(a) => format!(
                        "one call is exact (add lost {} of {}), but ",
                        group(a.total_lost),
                        group(a.expected_per_run.iter().sum())
                    ),
                    None => String::new(),
                },
                group(l.total_lost),
                group(l.expected_per_run.iter().sum()),
                l.lost_percent(),
                runs
            ),
            // The share of the increments made that vanished, in percent.
            value: l.lost_percent(),
            holds: if l.total_lost > 0 { Some(false) } else { None },
        });
    }
    out
}

/// Nanoseconds as milliseconds, for people.
pub fn fmt_ms(ns: u64) -> String {
    let ms = ns as f64 / 1e6;
    if ms < 10.0 {
        format!("{ms:.2}")
    } else if ms < 100.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.0}")
    }
}

/// Everything one run measures (the `--json` object).
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    #[serde(rename = "crate")]
    pub crate_name: &'static str,
    pub claims: Vec<Claim>,
    pub config: Config,
    pub latency: LatencyTable,
    pub bottleneck: Vec<BottleneckRow>,
    pub lost_updates: Vec<LostUpdates>,
    pub fixed_capacity: FixedLayout,
}

/// Runs every scenario.
pub fn run_all(cfg: &Config) -> Result<Report> {
    let latency = latency_table(cfg)?;
    let bottleneck = bottleneck(cfg)?;
    let lost_updates = lost_updates(cfg)?;
    let fixed_capacity = fixed_capacity(8, 10)?;
    Ok(Report {
        crate_name: "shared-state",
        claims: claims(&latency, &bottleneck, &lost_updates),
        config: cfg.clone(),
        latency,
        bottleneck,
        lost_updates,
        fixed_capacity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &'static str, mechanism: Mechanism, access: Access, median: f64) -> LatencyRow {
        LatencyRow {
            id,
            section: "3.1",
            what: id,
            rust: "",
            python: "",
            mechanism,
            access,
            ops_per_rep: 1,
            ns: Spread {
                median,
                min: median,
                max: median,
            },
            ratio_to_raw_read: f64::NAN,
            manager_over_synchronized: None,
        }
    }

    fn table(manager_ns: f64, value_ns: f64) -> LatencyTable {
        LatencyTable {
            reps: 1,
            manager_ops_per_rep: 1,
            shm_ops_per_rep: 1,
            manager_pid: 0,
            rows: vec![
                row("manager_value_get", Mechanism::Manager, Access::Read, manager_ns),
                row("manager_list_get", Mechanism::Manager, Access::Read, manager_ns),
                row("value_get", Mechanism::Synchronized, Access::Read, value_ns),
                row("array_get", Mechanism::Synchronized, Access::Read, value_ns),
                row("raw_value_get", Mechanism::Raw, Access::Read, 1.0),
            ],
        }
    }

    #[test]
    fn spread_median_of_odd_and_even_counts() {
        let s = Spread::of(&[5.0, 1.0, 3.0]);
        assert_eq!((s.median, s.min, s.max), (3.0, 1.0, 5.0));
        let s = Spread::of(&[4.0, 1.0, 3.0, 2.0]);
        assert_eq!((s.median, s.min, s.max), (2.5, 1.0, 4.0));
    }

    #[test]
    fn numbers_are_grouped_for_people() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(1234567), "1,234,567");
        assert_eq!(fmt_ratio(3100.4), "3,100×");
        assert_eq!(fmt_ratio(42.4), "42×");
        assert_eq!(fmt_ratio(1.84), "1.8×");
        assert_eq!(fmt_ns(0.314), "0.31");
        assert_eq!(fmt_ns(52_310.2), "52,310");
    }

    #[test]
    fn per_access_verdicts_follow_the_lecture_thresholds() {
        // 3,000x: "1,000x or more" holds, "100 to 1,000" does not (shared memory is further ahead).
        let c = latency_claims(&table(60_000.0, 20.0));
        assert_eq!(c.len(), 3);
        assert_eq!((c[0].section, c[0].holds), ("3.1", Some(true)));
        assert_eq!((c[2].section, c[2].holds), ("5.1", Some(false)));
        assert!(
            c[2].measured.contains("above the lecture's range"),
            "{}",
            c[2].measured
        );
        assert!(!c[0].measured.contains("drift"), "{}", c[0].measured);
        // 500x: the other way round.
        let c = latency_claims(&table(50_000.0, 100.0));
        assert_eq!(c[0].holds, Some(false));
        assert_eq!(c[2].holds, Some(true));
        // 1,100x: holds, but the reader is told it is within the drift.
        let c = latency_claims(&table(55_000.0, 50.0));
        assert_eq!(c[0].holds, Some(true));
        assert!(c[0].measured.contains("may flip"), "{}", c[0].measured);
    }

    #[test]
    fn no_lost_update_seen_is_not_called_proof() {
        let l = LostUpdates {
            method: Method::RawGetSet,
            exact_by_design: false,
            workers: 4,
            window_ms: 10.0,
            expected_per_run: vec![40, 40],
            lost_per_run: vec![0, 0],
            total_lost: 0,
            runs_without_loss: 2,
            worker_pids: vec![],
            manager_pids: vec![],
        };
        let c = lost_update_claims(std::slice::from_ref(&l));
        assert_eq!(c[0].holds, None);
        assert!(c[0].measured.contains("luck, not correctness"));
        let text = render::lost_updates(&[l]);
        assert!(
            text.contains("no run lost any this time: luck, not correctness"),
            "{text}"
        );
    }
}
