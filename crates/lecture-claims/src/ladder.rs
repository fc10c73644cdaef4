//! The cost ladder (`lecture-claims --ladder`): what one coordination step costs, rung by rung,
//! measured in one run — an atomic read, a locked read, a shared-memory queue round trip
//! (spinning, then blocking), a pipe queue round trip, a manager round trip — each with its
//! ratio to the rung below and the CPU it burns, next to the same rungs in Python.
//!
//! Placement is fixed, because a wake-up's cost depends on it: this process runs on CPU 0 and
//! the other process of a pair (the echo, the manager's server) on CPU 1, when there are two.
//! Rungs are measured in interleaved repetitions (each repetition runs every rung once) and
//! the median of the per-repetition means is reported.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use coord_core::{Error, Manager, Process, Queue, RawValue, ShmQueue, Value, Waiting};
use nix::sched::{CpuSet, sched_setaffinity};
use nix::time::{ClockId, clock_getcpuclockid, clock_gettime};
use nix::unistd::Pid;

use crate::python::{PythonFigures, PythonLookup};
use crate::runner::run_with_deadline;
use crate::table;

/// The Python side of the ladder, built into the binary so it runs from anywhere.
pub const LADDER_PY: &str = include_str!("../python/ladder.py");

/// One rung, measured.
#[derive(Debug, Clone)]
pub struct Rung {
    pub name: &'static str,
    /// The id of the same rung in python/ladder.py's figures, if Python has it.
    pub python_id: Option<&'static str>,
    /// Median wall time per operation, seconds.
    pub wall: f64,
    /// Median CPU time per operation, both processes together, seconds.
    pub cpu: f64,
}

/// A rung being measured: runs `n` operations and returns (wall, cpu) seconds for all of them.
struct Contestant {
    name: &'static str,
    python_id: Option<&'static str>,
    run: Box<dyn FnMut(usize) -> (f64, f64)>,
    _keep: Vec<Process>,
    _manager: Option<Manager>,
}

fn pin(pid: i32, cpu: usize) {
    let mut set = CpuSet::new();
    if set.set(cpu).is_ok() {
        // A refusal (a CPU set without this CPU) leaves the placement to the scheduler.
        let _ = sched_setaffinity(Pid::from_raw(pid), &set);
    }
}

fn cpu_clock(pid: Option<u32>) -> ClockId {
    match pid {
        None => ClockId::CLOCK_PROCESS_CPUTIME_ID,
        // The CPU clock of another process (our child): readable by its parent.
        Some(p) => clock_getcpuclockid(Pid::from_raw(p as i32)).unwrap_or(ClockId::CLOCK_PROCESS_CPUTIME_ID),
    }
}

fn secs(clock: ClockId) -> f64 {
    clock_gettime(clock).map_or(0.0, |t| t.tv_sec() as f64 + t.tv_nsec() as f64 * 1e-9)
}

/// Times `n` calls of `op`: wall seconds, and CPU seconds of this process plus `other`'s.
fn timed(n: usize, other: Option<ClockId>, mut op: impl FnMut()) -> (f64, f64) {
    let me = ClockId::CLOCK_PROCESS_CPUTIME_ID;
    let (c0, o0) = (secs(me), other.map_or(0.0, secs));
    let t0 = Instant::now();
    for _ in 0..n {
        op();
    }
    let wall = t0.elapsed().as_secs_f64();
    let cpu = secs(me) - c0 + other.map_or(0.0, |c| secs(c) - o0);
    (wall, cpu)
}

/// Starts `f` in a child on the other CPU (a child inherits its parent's CPU set at fork).
fn start_on_other<R: coord_core::ChildResult>(two_cpus: bool, f: impl FnOnce() -> R) -> Result<Process> {
    if two_cpus {
        pin(0, 1);
    }
    let p = Process::start(f);
    if two_cpus {
        pin(0, 0);
    }
    Ok(p?)
}

/// In an echo child: the parent dropping its end (`Disconnected`) is the normal end, not an
/// error to report; the child leaves quietly with exit code 0.
fn gone_is_done<T>(r: Result<T, Error>) -> Result<T, Error> {
    if let Err(Error::Disconnected) = r {
        // SAFETY: _exit ends this forked child at once, running none of the parent's
        // destructors and flushing none of its buffers; it is always safe to call.
        unsafe { libc::_exit(0) }
    }
    r
}

/// Marks the end of a burst of round trips: the echo of a spinning pair sleeps in between, so
/// it does not burn the CPU the other rungs' processes need.
const PARK: u64 = u64::MAX;

fn shm_round_trip(two: bool, waiting: Waiting, name: &'static str) -> Result<Contestant> {
    let mk = || ShmQueue::<u64>::with_capacity(2, 16).map(|q| q.with_waiting(waiting));
    let (ping, pong) = (mk()?, mk()?);
    let child = {
        let (ping, pong) = (ping.clone(), pong.clone());
        let idle = ping.clone().with_waiting(Waiting::Block);
        start_on_other(two, move || -> Result<(), Error> {
            let mut active = false;
            loop {
                let x = gone_is_done(if active { ping.get() } else { idle.get() })?;
                active = x != PARK;
                if active {
                    pong.put(&x)?;
                }
            }
        })?
    };
    let clock = cpu_clock(Some(child.pid()));
    Ok(Contestant {
        name,
        python_id: None,
        run: Box::new(move |n| {
            let mut i = 0u64;
            let r = timed(n, Some(clock), || {
                ping.put(&i).expect("put");
                black_box(pong.get().expect("get"));
                i += 1;
            });
            ping.put(&PARK).expect("put");
            r
        }),
        _keep: vec![child],
        _manager: None,
    })
}

fn queue_round_trip(two: bool) -> Result<Contestant> {
    let (ping, pong) = (Queue::<u64>::new()?, Queue::<u64>::new()?);
    let child = {
        let (ping, pong) = (ping.clone(), pong.clone());
        start_on_other(two, move || -> Result<(), Error> {
            loop {
                let x = gone_is_done(ping.get())?;
                pong.put(&x)?;
            }
        })?
    };
    let clock = cpu_clock(Some(child.pid()));
    Ok(Contestant {
        name: "Queue round trip (a pipe; blocking)",
        python_id: Some("queue_rt_ns"),
        run: Box::new(move |n| {
            let mut i = 0u64;
            timed(n, Some(clock), || {
                ping.put(&i).expect("put");
                black_box(pong.get().expect("get"));
                i += 1;
            })
        }),
        _keep: vec![child],
        _manager: None,
    })
}

fn manager_round_trip(two: bool) -> Result<Contestant> {
    let manager = Manager::start()?;
    if two {
        pin(manager.pid() as i32, 1);
    }
    let clock = cpu_clock(Some(manager.pid()));
    let value = manager.value();
    Ok(Contestant {
        name: "Manager round trip (value.get)",
        python_id: Some("manager_rt_ns"),
        run: Box::new(move |n| {
            timed(n, Some(clock), || {
                black_box(value.get().expect("manager get"));
            })
        }),
        _keep: vec![],
        _manager: Some(manager),
    })
}

fn contestants(two: bool) -> Result<Vec<Contestant>> {
    let raw = RawValue::new(7u64)?;
    let locked = Value::new(7u64)?;
    Ok(vec![
        Contestant {
            name: "atomic read (RawValue::get)",
            python_id: Some("atomic_read_ns"),
            run: Box::new(move |n| {
                timed(n, None, || {
                    black_box(raw.get());
                })
            }),
            _keep: vec![],
            _manager: None,
        },
        Contestant {
            name: "locked read (Value::get)",
            python_id: Some("locked_read_ns"),
            run: Box::new(move |n| {
                timed(n, None, || {
                    black_box(locked.get());
                })
            }),
            _keep: vec![],
            _manager: None,
        },
        shm_round_trip(two, Waiting::Spin, "ShmQueue round trip, both sides spinning")?,
        shm_round_trip(two, Waiting::Block, "ShmQueue round trip, blocking (futex)")?,
        queue_round_trip(two)?,
        manager_round_trip(two)?,
    ])
}

/// The median of the repetitions (their count is odd: the middle one).
fn median(v: Vec<f64>) -> f64 {
    lab_support::stats::median(&v).unwrap_or(f64::NAN)
}

/// Measures every rung in this process (pinned to CPU 0 for the duration).
pub fn measure(quick: bool) -> Result<Vec<Rung>> {
    let two = std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2;
    if two {
        pin(0, 0);
    }
    let (reps, slice) = if quick { (3, 0.01) } else { (7, 0.03) };
    let mut cs = contestants(two)?;
    // Calibrate (and warm up): how many operations fill one slice.
    let ns: Vec<usize> = cs
        .iter_mut()
        .map(|c| {
            let mut n = 1usize;
            loop {
                let (wall, _) = (c.run)(n);
                if wall >= slice / 4.0 || n >= 1 << 26 {
                    break ((slice * n as f64 / wall.max(1e-9)) as usize).max(1);
                }
                n *= 4;
            }
        })
        .collect();
    let mut samples = vec![(Vec::new(), Vec::new()); cs.len()];
    for r in 0..reps {
        for j in 0..cs.len() {
            let i = (j + r) % cs.len();
            let (wall, cpu) = (cs[i].run)(ns[i]);
            samples[i].0.push(wall / ns[i] as f64);
            samples[i].1.push(cpu / ns[i] as f64);
        }
    }
    Ok(cs
        .iter()
        .zip(samples)
        .map(|(c, (w, u))| Rung {
            name: c.name,
            python_id: c.python_id,
            wall: median(w),
            cpu: median(u),
        })
        .collect())
}

/// Runs python/ladder.py in `python` (killed after `deadline`) and parses its JSON line.
pub fn run_python(python: &Path, quick: bool, deadline: Duration) -> Result<PythonFigures> {
    let mut cmd = Command::new(python);
    cmd.arg("-c").arg(LADDER_PY);
    if quick {
        cmd.arg("--quick");
    }
    let out = run_with_deadline(cmd, deadline).with_context(|| format!("running {}", python.display()))?;
    if out.timed_out() {
        bail!("the Python ladder did not finish within {deadline:?} (killed)");
    }
    if !out.success() {
        bail!("the Python ladder failed: {}", out.last_error_line());
    }
    serde_json::from_str(out.stdout.trim()).context("reading the Python ladder's JSON")
}

fn time(s: f64) -> String {
    if s < 1e-6 {
        format!("{:.1} ns", s * 1e9)
    } else if s < 1e-3 {
        format!("{:.2} µs", s * 1e6)
    } else {
        format!("{:.2} ms", s * 1e3)
    }
}

/// The ladder as a table: Rust's rungs with their ratio to the rung below and their CPU cost,
/// Python's beside them.
pub fn render(rungs: &[Rung], python: Option<&BTreeMap<String, f64>>) -> String {
    let py = |r: &Rung| {
        r.python_id
            .and_then(|id| python.and_then(|p| p.get(id)))
            .map(|ns| ns * 1e-9)
    };
    let mut rows = Vec::new();
    for (i, r) in rungs.iter().enumerate() {
        let below = i.checked_sub(1).map(|j| &rungs[j]);
        let ratio = below.map_or("—".into(), |b| format!("{:.1}×", r.wall / b.wall));
        // Python has no shared-memory queue: its ratio is to the nearest rung below it has.
        let py_prev = rungs[..i].iter().rev().find_map(|b| py(b).map(|t| (t, b)));
        rows.push(vec![
            r.name.to_string(),
            time(r.wall),
            ratio,
            time(r.cpu),
            format!("{:.2}", r.cpu / r.wall),
            match (python, py(r)) {
                (None, _) => "—".into(),
                (Some(_), None) => "— (no such rung)".into(),
                (Some(_), Some(t)) => time(t),
            },
            match (py(r), py_prev) {
                (Some(t), Some((p, _))) => format!("{:.1}×", t / p),
                _ => "—".into(),
            },
        ]);
    }
    table::render(
        &[
            "rung",
            "Rust: time per op",
            "Rust: × rung below",
            "Rust: CPU per op (both processes)",
            "Rust: CPUs busy",
            "Python: time per op",
            "Python × its rung below",
        ],
        &rows,
        &[44, 0, 0, 14, 0, 12, 14],
    )
}

/// `lecture-claims --ladder`: measures and prints the ladder.
pub fn run(quick: bool, python: &PythonLookup, deadline: Duration) -> Result<()> {
    println!("The cost ladder: one coordination step, rung by rung, measured in this run");
    println!("machine: {}", crate::machine::describe());
    println!(
        "placement: this process on CPU 0, the other process of a pair on CPU 1 (when there are two); \
         medians of {} interleaved repetitions",
        if quick { 3 } else { 7 }
    );
    let rungs = measure(quick).context("the Rust ladder")?;
    let py = match python {
        PythonLookup::Found { path, version } => match run_python(path, quick, deadline) {
            Ok(f) => {
                println!("Python {version}: python/ladder.py, same placement, this run");
                Some(f.figures)
            }
            Err(e) => {
                println!("Python failed: {e:#}; the Python column is empty");
                None
            }
        },
        PythonLookup::Absent { reason } => {
            println!("python3 not available ({reason}): the Python column is empty");
            None
        }
    };
    println!();
    print!("{}", render(&rungs, py.as_ref()));
    println!(
        "\nwhat to notice: each rung up to the first blocking one costs more than the one below (the three \
         blocking rungs cost about the same: each pays a wake-up per hop); the big step is the first one that \
         needs the other process to be *woken* (the blocking rungs), not the one that crosses a process \
         boundary (the spinning ShmQueue crosses it too). Spinning buys that step back by keeping both \
         CPUs busy (CPUs busy ≈ 2) for as long as anyone waits; blocking spends almost no CPU and pays \
         a wake-up per hop. \"CPUs busy\" is CPU time over wall time, both processes together."
    );
    Ok(())
}
