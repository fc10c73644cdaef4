//! The instrumented runs: the lesson's workers in real forked processes, started together
//! behind a [`Barrier`], each handed a [`Slots`] probe; the parent stops them one of the four
//! ways and accounts for every task.
//!
//! Forked workers only use coord-core calls (no printing), so the runs are safe inside the
//! multi-threaded test harness.

mod accounting;
mod probe;

use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};
use coord_core::{Barrier, Error as CoreError, ExitStatus, Process, Queue, RawValue, Signal, monotonic_ns};
use serde::Serialize;

pub use accounting::{Accounting, account, children_left, children_of, still_our_children};
pub use probe::{Slots, WorkerError};

use crate::config::{Config, Shutdown};
use crate::lanes::{self, code};
use crate::lesson::{
    Done, Msg, send_pills, side_channel_worker, terminate_when_queue_looks_empty, worker_loop,
};

/// How long the workers and the parent wait for each other at the start gate.
const START_WAIT: Duration = Duration::from_secs(10);

/// How one worker ended.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerReport {
    pub index: u32,
    pub pid: u32,
    /// Results this worker sent back.
    pub tasks_done: u32,
    /// `Stop` messages it read (pill mode: exactly 1).
    pub stops_read: u32,
    /// Set when its loop failed (it then exits with code 1).
    pub error: Option<WorkerError>,
    /// How it ended, in words (`exited with code 0`, `killed by signal SIGTERM`...).
    pub exit_status: String,
    /// Python's `exitcode`: 0, 1, or minus the signal number.
    pub exit_code: i32,
    /// Why it ended, in this mode's terms.
    pub ended_by: String,
}
/// `none` mode: what the bounded join saw.
#[derive(Debug, Clone, Serialize)]
pub struct JoinWait {
    pub waited_ms: f64,
    /// Workers still running when the parent gave up.
    pub still_alive: u32,
}

/// The outcome of one run of one mode.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub mode: Shutdown,
    pub config: Config,
    pub workers: Vec<WorkerReport>,
    pub accounting: Accounting,
    /// First fork to last join.
    pub elapsed_ms: f64,
    /// `none` mode only.
    pub join_wait: Option<JoinWait>,
    /// `terminate` mode: ms from the last put until the queue looked empty and SIGTERM went out.
    pub terminate_after_ms: Option<f64>,
    /// Worker pids that still exist as our children (running or zombie) after the run: must be empty.
    pub processes_left: Vec<u32>,
    /// Something the run had to do that it should not have (a bound hit, a worker killed by cleanup).
    pub notes: Vec<String>,
    /// Per timeline lane (`parent`, `w0`...): how many events of each kind it recorded.
    #[serde(rename = "timeline")]
    pub timeline_counts: Vec<lanes::LaneCounts>,
    /// The run's events, one lane per process (drawn by `--timeline`).
    #[serde(skip)]
    pub timeline: timeline::Timeline,
}

impl RunReport {
    /// The run did what its mode promises: for `pill`, every task exactly once and every
    /// worker exited with code 0 after one Stop; for all modes, no process left.
    pub fn pill_ok(&self) -> bool {
        self.accounting.exactly_once()
            && self.accounting.stops_left == 0
            && self.workers.iter().all(|w| w.exit_code == 0 && w.stops_read == 1)
            && self.processes_left.is_empty()
    }

    /// No process left behind, and a pill run did what the pill promises (the binary's exit
    /// status).
    pub fn ok(&self) -> bool {
        self.processes_left.is_empty() && (self.mode != Shutdown::Pill || self.pill_ok())
    }
}

/// What the parent does with one worker's process at the end, and how it ended.
struct Ended {
    status: ExitStatus,
    cleanup: Option<&'static str>,
}

/// Runs one mode with real processes and accounts for every task.
pub fn run(cfg: &Config, mode: Shutdown) -> anyhow::Result<RunReport> {
    run_sized(cfg, mode, &|_| cfg.task_us)
}

/// As [`run`], with task `id` costing `work_us(id)` µs instead of `cfg.task_us` (the class
/// mode's seeded workload; keep each at most about `cfg.task_us * 2`, the run's time bounds
/// assume so).
pub fn run_sized(cfg: &Config, mode: Shutdown, work_us: &dyn Fn(u32) -> u32) -> anyhow::Result<RunReport> {
    cfg.validate()?;
    let n = cfg.workers as usize;
    let tasks: Queue<Msg> = Queue::new().context("creating the task queue")?;
    let results: Queue<Done> = Queue::new().context("creating the result queue")?;
    let slots = Slots::new(n, cfg.tasks).context("creating the shared slots")?;
    let stop = RawValue::new(false).context("creating the stop flag")?;
    let mut got: Vec<Done> = Vec::with_capacity(cfg.tasks as usize);
    let mut notes = Vec::new();

    // The parent puts the first task only once every worker is at the gate: every mode then
    // starts from the same place, a pool waiting at the queue.
    let gate = Barrier::new(n + 1).context("creating the start gate")?;
    let t0 = Instant::now();
    let procs = coord_core::start_all(n, |i| {
        gate.wait_timeout(START_WAIT)?;
        slots.note(i, code::START, 0)?;
        let r = match mode {
            Shutdown::SideChannel => side_channel_worker(i, &tasks, &results, &stop, &slots),
            _ => worker_loop(i, &tasks, &results, &slots),
        };
        match &r {
            Err(e) => {
                let _ = slots.error.set(i, WorkerError::code(e));
            }
            Ok(()) => {
                // In this mode no Stop is ever put, so the loop returned because it saw the
                // flag: note it, with the tasks still queued as it left.
                if mode == Shutdown::SideChannel && stop.get() {
                    slots.note(i, code::FLAG_SEEN, tasks.len() as u32)?;
                }
                slots.note(i, code::EXIT, 0)?;
            }
        }
        r
    })
    .context("starting the workers")?;
    let pids: Vec<u32> = procs.iter().map(Process::pid).collect();
    gate.wait_timeout(START_WAIT)
        .map_err(|e| anyhow!("the workers did not start within {START_WAIT:?}: {e}"))?;
    slots.note_parent(code::START, 0)?;
    slots.note_parent(code::PUTTING, 0)?;

    // Put every task. Every 32 puts, take the results that are ready, so that a full result
    // pipe can never stall the workers while the parent is blocked on a full task pipe.
    for id in 0..cfg.tasks {
        tasks
            .put(&Msg::Task {
                id,
                work_us: work_us(id),
            })
            .context("putting a task")?;
        if id % 32 == 31 {
            drain_ready(&results, &mut got, &mut notes)?;
        }
    }
    let last_put = Instant::now();
    slots.note_parent(code::PUT_ALL, cfg.tasks)?;

    let mut join_wait = None;
    let mut terminate_after_ms = None;
    let mut stops_put = 0;
    let deadline = Instant::now() + cfg.work_bound();
    let ended: Vec<Ended> = match mode {
        Shutdown::Pill => {
            send_pills(&tasks, n).context("putting the Stop messages")?;
            slots.note_parent(code::STOPS_PUT, cfg.workers)?;
            stops_put = cfg.workers;
            // Read every result first, then join (a worker blocked on a full result pipe would
            // never reach its Stop).
            let want = Some(cfg.tasks as usize);
            collect_results(&procs, &results, &mut got, want, deadline, &mut notes)?;
            join_bounded(&procs, deadline, &mut notes, &slots)?
        }
        Shutdown::SideChannel => {
            // The stop signal goes on a separate channel, right after the last task: it does not
            // queue up behind the tasks still waiting, so workers can see it first.
            stop.set(true);
            slots.note_parent(code::FLAG_SET, 0)?;
            collect_results(&procs, &results, &mut got, None, deadline, &mut notes)?;
            join_bounded(&procs, deadline, &mut notes, &slots)?
        }
        Shutdown::Terminate => {
            // While it watches the queue, the parent takes the results that are ready, so that
            // no worker blocks on a full result pipe; past the bound it stops watching.
            let mut failed = None;
            terminate_when_queue_looks_empty(&tasks, &procs, || {
                if let Err(e) = drain_ready(&results, &mut got, &mut notes) {
                    failed = Some(e);
                    return false;
                }
                Instant::now() < deadline
            })
            .context("sending SIGTERM")?;
            let signalled_at = monotonic_ns();
            slots.note_parent(code::TERMINATE, 0)?;
            terminate_after_ms = Some(ms(last_put.elapsed()));
            if let Some(e) = failed {
                return Err(e);
            }
            let ended = join_bounded(
                &procs,
                Instant::now() + Duration::from_secs(5),
                &mut notes,
                &slots,
            )?;
            note_kills(&slots, &ended, signalled_at)?;
            drain_ready(&results, &mut got, &mut notes)?;
            ended
        }
        Shutdown::None => {
            // Every result comes back: the work itself is fine.
            let want = Some(cfg.tasks as usize);
            collect_results(&procs, &results, &mut got, want, deadline, &mut notes)?;
            // No Stop was sent: each worker sits in `get()` waiting for a task that never comes,
            // so `join` can only give up. Without the bound it would wait for ever.
            let wait = Duration::from_millis(cfg.join_wait_ms as u64);
            let t = Instant::now();
            for p in &procs {
                p.join_timeout(wait.saturating_sub(t.elapsed()))
                    .context("joining")?;
            }
            let still_alive = procs.iter().filter(|p| p.is_alive()).count() as u32;
            join_wait = Some(JoinWait {
                waited_ms: ms(t.elapsed()),
                still_alive,
            });
            slots.note_parent(code::GAVE_UP, still_alive)?;
            // Cleanup, so that no process outlives the run.
            let signalled_at = monotonic_ns();
            for p in &procs {
                p.terminate().context("sending SIGTERM")?;
            }
            let ended = join_bounded(
                &procs,
                Instant::now() + Duration::from_secs(5),
                &mut notes,
                &slots,
            )?;
            note_kills(&slots, &ended, signalled_at)?;
            ended
        }
    };
    let elapsed_ms = ms(t0.elapsed());
    slots.note_parent(code::JOINED, 0)?;

    // Every worker is gone now, so nothing can arrive or leave any more: drain what is left.
    drain_ready(&results, &mut got, &mut notes)?;
    let mut left_tasks = Vec::new();
    let mut stops_left = 0;
    loop {
        match tasks.try_get() {
            Ok(Msg::Task { id, .. }) => left_tasks.push(id),
            Ok(Msg::Stop) => stops_left += 1,
            Err(CoreError::Empty) | Err(CoreError::Timeout) | Err(CoreError::Disconnected) => break,
            Err(e) => {
                notes.push(format!("could not drain the task queue: {e}"));
                break;
            }
        }
    }

    let busy: Vec<u64> = slots.busy.to_vec();
    let stops: Vec<u32> = slots.stops_read.to_vec();
    let errors: Vec<Option<WorkerError>> = slots
        .error
        .to_vec()
        .into_iter()
        .map(WorkerError::from_code)
        .collect();
    let accounting = account(cfg.tasks, &got, &left_tasks, &busy, stops_put, stops_left);
    let mut done_by = vec![0u32; n];
    for d in &got {
        if let Some(c) = done_by.get_mut(d.worker as usize) {
            *c += 1;
        }
    }
    let workers = ended
        .into_iter()
        .enumerate()
        .map(|(i, e)| WorkerReport {
            index: i as u32,
            pid: pids[i],
            tasks_done: done_by[i],
            stops_read: stops[i],
            error: errors[i],
            exit_code: e.status.code(),
            ended_by: ended_by(mode, &e, errors[i]),
            exit_status: e.status.to_string(),
        })
        .collect();
    drop(procs);
    // Every process is gone: nothing writes the event log any more.
    let names = lanes::names(n);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let timeline = slots
        .events
        .collect(&names, lanes::KINDS)
        .with_idle_label("alive, not working on a task (waiting in get(), or for results)");
    Ok(RunReport {
        timeline_counts: timeline.lane_counts(),
        timeline,
        mode,
        config: *cfg,
        workers,
        accounting,
        elapsed_ms,
        join_wait,
        terminate_after_ms,
        processes_left: still_our_children(&pids),
        notes,
    })
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

fn ended_by(mode: Shutdown, e: &Ended, error: Option<WorkerError>) -> String {
    if let Some(why) = e.cleanup {
        return why.to_string();
    }
    match error {
        Some(WorkerError::QueueCorrupted) => {
            return "its queue call failed: a killed process left a queue marked corrupted".into();
        }
        Some(WorkerError::Disconnected) => return "its get failed: the parent was gone".into(),
        Some(WorkerError::Other) => return format!("its loop failed ({})", e.status),
        None => {}
    }
    match (mode, &e.status) {
        (Shutdown::Pill, ExitStatus::Exited(0)) => "read its Stop and returned".into(),
        (Shutdown::SideChannel, ExitStatus::Exited(0)) => "saw the stop flag and returned".into(),
        (Shutdown::Terminate, ExitStatus::Signaled(Signal::SIGTERM)) => {
            "terminate(): killed where it stood".into()
        }
        (Shutdown::Terminate, ExitStatus::Exited(0)) => "had already returned".into(),
        (Shutdown::None, ExitStatus::Signaled(Signal::SIGTERM)) => {
            "never returned (waiting in get); cleanup terminate()".into()
        }
        (_, s) => format!("unexpected: {s}"),
    }
}

/// Takes every result that is ready now.
fn drain_ready(results: &Queue<Done>, got: &mut Vec<Done>, notes: &mut Vec<String>) -> anyhow::Result<()> {
    loop {
        match results.try_get() {
            Ok(d) => got.push(d),
            Err(CoreError::Empty) | Err(CoreError::Timeout) | Err(CoreError::Disconnected) => return Ok(()),
            Err(e @ CoreError::Corrupted(_)) => {
                corrupted(notes, e);
                return Ok(());
            }
            Err(e) => return Err(e).context("reading results"),
        }
    }
}

/// A queue that refuses to work after a process died mid-message is part of what a contrast
/// mode can show ("terminate() may corrupt shared state"): say so once, keep the run going.
fn corrupted(notes: &mut Vec<String>, e: CoreError) {
    let msg = format!("the result queue is unusable: {e}; results still in it count as lost");
    if !notes.contains(&msg) {
        notes.push(msg);
    }
}

/// Reads results until `want` of them came (when given), or every worker has exited and the
/// result queue is empty, or the deadline passed.
fn collect_results(
    procs: &[Process],
    results: &Queue<Done>,
    got: &mut Vec<Done>,
    want: Option<usize>,
    deadline: Instant,
    notes: &mut Vec<String>,
) -> anyhow::Result<()> {
    loop {
        if want.is_some_and(|w| got.len() >= w) {
            return Ok(());
        }
        match results.get_timeout(Duration::from_millis(5)) {
            Ok(d) => got.push(d),
            Err(e @ CoreError::Corrupted(_)) => {
                corrupted(notes, e);
                return Ok(());
            }
            // "Disconnected" only means every worker that has put so far is gone; one that
            // has not put yet may still be working. Ask the processes themselves.
            Err(CoreError::Timeout) | Err(CoreError::Disconnected) => {
                // A worker's last put finished before it exited: once all are gone, what they
                // sent is already in the pipe.
                if procs.iter().all(|p| !p.is_alive()) {
                    return drain_ready(results, got, notes);
                }
                if Instant::now() >= deadline {
                    notes.push(
                        "the results did not all come within the bound; the parent stopped waiting".into(),
                    );
                    return drain_ready(results, got, notes);
                }
                // Disconnected returns at once: do not spin on it.
                std::thread::sleep(Duration::from_micros(200));
            }
            Err(e) => return Err(e).context("reading results"),
        }
    }
}

/// In the lane of each worker a signal ended (and that the bound did not already kill), the
/// moment the parent sent it.
fn note_kills(slots: &Slots, ended: &[Ended], signalled_at: u64) -> anyhow::Result<()> {
    for (i, e) in ended.iter().enumerate() {
        if let (ExitStatus::Signaled(sig), None) = (&e.status, e.cleanup) {
            // The worker's CPU clock is not readable from here: 0, and the renderers leave the
            // span it was killed in out of the CPU figures.
            slots
                .events
                .record_at(i + 1, code::KILLED, *sig as u32, signalled_at, 0)?;
        }
    }
    Ok(())
}

/// Joins every worker by `deadline`; a worker still running then is killed (and said so).
fn join_bounded(
    procs: &[Process],
    deadline: Instant,
    notes: &mut Vec<String>,
    slots: &Slots,
) -> anyhow::Result<Vec<Ended>> {
    let mut out = Vec::with_capacity(procs.len());
    for (i, p) in procs.iter().enumerate() {
        let left = deadline.saturating_duration_since(Instant::now());
        match p.join_timeout(left).context("joining a worker")? {
            Some(status) => out.push(Ended {
                status,
                cleanup: None,
            }),
            None => {
                p.kill().context("killing a worker")?;
                let signal = Signal::SIGKILL as u32;
                slots
                    .events
                    .record_at(i + 1, code::KILLED, signal, monotonic_ns(), 0)?;
                let status = p.join().context("joining a killed worker")?;
                notes.push(format!(
                    "worker w{i} (pid {}) was still running at the bound: killed",
                    p.pid()
                ));
                out.push(Ended {
                    status,
                    cleanup: Some("still running at the bound: killed (SIGKILL)"),
                });
            }
        }
    }
    Ok(out)
}
