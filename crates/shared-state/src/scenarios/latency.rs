//! 3.1's table: what one access costs, timed in one process for every kind of shared object.
//! The rows are data; each runs one of the lesson's accesses `n` times.

use std::hint::black_box;
use std::time::Instant;

use anyhow::{Context, Result};
use coord_core::{Array, Error, Manager, RawArray, RawValue, Value};
use serde::Serialize;

use super::{Config, Spread};
use crate::lesson::{InManager, InSharedMemory};

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

    /// The median of the row with this id, NaN if there is none.
    pub fn median(&self, id: &str) -> f64 {
        self.row(id).map(|r| r.ns.median).unwrap_or(f64::NAN)
    }
}

/// Everything the probes touch.
struct Objects {
    m: InManager,
    s: InSharedMemory,
}

/// What a row is: its id, the lecture section, where the data lives, read or write, in words.
#[derive(Clone, Copy)]
struct Row(&'static str, &'static str, Mechanism, Access, &'static str);

/// A row with its code: the Rust call, the Python it stands for, and `run(objects, n)`,
/// which makes `n` accesses.
struct Probe {
    row: Row,
    rust: &'static str,
    python: &'static str,
    run: fn(&Objects, u64) -> Result<(), Error>,
}

impl Row {
    fn code(
        self,
        rust: &'static str,
        python: &'static str,
        run: fn(&Objects, u64) -> Result<(), Error>,
    ) -> Probe {
        Probe {
            row: self,
            rust,
            python,
            run,
        }
    }
}

/// Calls `access(i)` for `i` in `0..n`. Generic, so each probe's loop is compiled with its own
/// access inlined: the loop costs the same for every row, and only the access differs.
#[inline(always)]
fn times<R: Outcome>(n: u64, mut access: impl FnMut(u64) -> R) -> Result<(), Error> {
    for i in 0..n {
        access(i).keep()?;
    }
    Ok(())
}

/// What an access returns (a number, nothing, or a `Result` of either), kept with
/// `black_box`: the compiler must make each access, even a read whose value is unused.
trait Outcome {
    fn keep(self) -> Result<(), Error>;
}

impl Outcome for () {
    fn keep(self) -> Result<(), Error> {
        Ok(())
    }
}

impl Outcome for u64 {
    fn keep(self) -> Result<(), Error> {
        black_box(self);
        Ok(())
    }
}

impl<T> Outcome for Result<T, Error> {
    fn keep(self) -> Result<(), Error> {
        black_box(self?);
        Ok(())
    }
}

/// The floor: a local variable, read and written (black_box makes the compiler really load
/// and store it each time).
fn local_get(_: &Objects, n: u64) -> Result<(), Error> {
    let x = 7u64;
    times(n, |_| *black_box(&x))
}

fn local_set(_: &Objects, n: u64) -> Result<(), Error> {
    let mut x = 0u64;
    times(n, |i| *black_box(&mut x) = i)
}

/// The table's rows, in the order they are printed: what each is (id, lecture section, where
/// the data lives, read or write, in words), then the Rust call, the Python it stands for,
/// and the loop that times it. Python's baseline reads element 500 of a 1000-element array;
/// so do we. (Not formatted by rustfmt: one row, two lines, so the table reads as a table.)
#[rustfmt::skip]
fn probes() -> Vec<Probe> {
    use Access::{Read, Write};
    use Mechanism::{Local, Manager, Raw, Synchronized};
    vec![
        Row("manager_value_get", "3.1", Manager, Read, "manager value, read")
            .code("m_value.get()", "mv.value", |o, n| times(n, |_| o.m.value_get())),
        Row("manager_value_set", "3.1", Manager, Write, "manager value, write")
            .code("m_value.set(i)", "mv.value = i", |o, n| times(n, |i| o.m.value_set(i as i64))),
        Row("manager_list_append", "3.1", Manager, Write, "manager list, append")
            .code("m_list.append(i)", "ml.append(i)", |o, n| times(n, |i| o.m.list_append(i as i64))),
        Row("manager_list_get", "3.1", Manager, Read, "manager list, index read")
            .code("m_list.get(0)", "ml[0]", |o, n| times(n, |_| o.m.list_get())),
        Row("manager_dict_set", "5.1", Manager, Write, "manager dict, set key")
            .code("m_dict.set(\"k\", i)", "md['k'] = i", |o, n| times(n, |i| o.m.dict_set(i as i64))),
        Row("manager_dict_get", "5.1", Manager, Read, "manager dict, get key")
            .code("m_dict.get(\"k\")", "md['k']", |o, n| times(n, |_| o.m.dict_get())),
        Row("value_get", "3.1", Synchronized, Read, "synchronized Value, read")
            .code("value.get()", "v.value", |o, n| times(n, |_| o.s.value_get())),
        Row("value_set", "3.1", Synchronized, Write, "synchronized Value, write")
            .code("value.set(i)", "v.value = i", |o, n| times(n, |i| o.s.value_set(i))),
        Row("raw_value_get", "5.1", Raw, Read, "RawValue (atomic), read")
            .code("raw.get()", "rv.value", |o, n| times(n, |_| o.s.raw_get())),
        Row("raw_value_set", "5.1", Raw, Write, "RawValue (atomic), write")
            .code("raw.set(i)", "rv.value = i", |o, n| times(n, |i| o.s.raw_set(i))),
        Row("array_get", "3.1", Synchronized, Read, "synchronized Array element, read")
            .code("array.get(500)?", "a[500]", |o, n| times(n, |_| o.s.array_get())),
        Row("array_set", "3.1", Synchronized, Write, "synchronized Array element, write")
            .code("array.set(500, i)?", "a[500] = i", |o, n| times(n, |i| o.s.array_set(i))),
        Row("raw_array_get", "5.1", Raw, Read, "RawArray element (atomic), read")
            .code("raw_array.get(500)?", "ra[500]", |o, n| times(n, |_| o.s.raw_array_get())),
        Row("raw_array_set", "5.1", Raw, Write, "RawArray element (atomic), write")
            .code("raw_array.set(500, i)?", "ra[500] = i", |o, n| times(n, |i| o.s.raw_array_set(i))),
        Row("local_get", "floor", Local, Read, "local variable, read")
            .code("black_box(local)", "x", local_get),
        Row("local_set", "floor", Local, Write, "local variable, write")
            .code("local = i", "x = i", local_set),
    ]
}

/// Times every row, `cfg.reps` rounds; each round runs every row once, so slow drift on the
/// machine touches all rows alike and the ratios stay fair.
pub fn latency_table(cfg: &Config) -> Result<LatencyTable> {
    let manager = Manager::start().context("starting the manager process")?;
    let (mv, ml, md) = (manager.value(), manager.list(), manager.dict());
    let (v, rv) = (Value::new(0)?, RawValue::new(0)?);
    let (a, ra) = (Array::new(1000, 0)?, RawArray::new(1000, 0)?);
    let o = Objects {
        m: InManager { mv, ml, md },
        s: InSharedMemory { v, rv, a, ra },
    };
    let probes = probes();
    let ops = |p: &Probe| match p.row.2 {
        Mechanism::Manager => cfg.iterations,
        _ => cfg.shm_iterations(),
    };

    // Warm up: connect the proxies, put something in the list, fault the pages in.
    for p in &probes {
        (p.run)(&o, (ops(p) / 10).max(1))?;
    }
    let mut samples: Vec<Vec<f64>> = vec![Vec::with_capacity(cfg.reps); probes.len()];
    for round in 0..cfg.reps {
        // Each round starts at a different row: whichever row runs first after a change
        // (the manager idle for a while, a process moved to another CPU) is not always the same.
        for k in 0..probes.len() {
            let i = (round + k) % probes.len();
            let (p, n) = (&probes[i], ops(&probes[i]));
            let t0 = Instant::now();
            (p.run)(&o, n)?;
            samples[i].push(t0.elapsed().as_nanos() as f64 / n as f64);
        }
    }
    drop(o);
    let manager_pid = manager.pid();
    manager.shutdown()?;

    let mut table = LatencyTable {
        reps: cfg.reps,
        manager_ops_per_rep: cfg.iterations,
        shm_ops_per_rep: cfg.shm_iterations(),
        rows: (probes.iter().zip(&samples))
            .map(|(p, s)| {
                let Row(id, section, mechanism, access, what) = p.row;
                LatencyRow {
                    id,
                    section,
                    what,
                    rust: p.rust,
                    python: p.python,
                    mechanism,
                    access,
                    ops_per_rep: ops(p),
                    ns: Spread::of(s),
                    ratio_to_raw_read: f64::NAN,
                    manager_over_synchronized: None,
                }
            })
            .collect(),
        manager_pid,
    };
    let (raw_read, sync_read, sync_write) = (
        table.median("raw_value_get"),
        table.median("value_get"),
        table.median("value_set"),
    );
    for r in table.rows.iter_mut() {
        r.ratio_to_raw_read = r.ns.median / raw_read;
        if r.mechanism == Mechanism::Manager {
            let sync = match r.access {
                Access::Read => sync_read,
                Access::Write => sync_write,
            };
            r.manager_over_synchronized = Some(r.ns.median / sync);
        }
    }
    Ok(table)
}
