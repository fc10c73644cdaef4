//! # poison-pill: Concept 1.1, shutdown through the data channel
//!
//! A pool of worker processes takes tasks from one [`Queue`] and puts results on a second one.
//! How do the workers learn that there is no more work? This crate runs the same pool four
//! ways ([`Shutdown`]) and accounts for every task id:
//!
//! | mode | how the workers are told to stop | what goes wrong |
//! |---|---|---|
//! | [`Shutdown::Pill`] | one [`Msg::Stop`] per worker, on the task queue, after the last task | nothing |
//! | [`Shutdown::Terminate`] | `terminate()` (SIGTERM) once the task queue looks empty | the tasks in the workers' hands are lost |
//! | [`Shutdown::None`] | not at all | the workers wait for ever; `join` has to give up |
//! | [`Shutdown::SideChannel`] | a shared flag, set right after the last put | the flag overtakes the tasks still queued |
//!
//! [`run`] performs one mode with real forked processes and returns a [`RunReport`]; the binary
//! prints it, the tests assert on it. Forked workers only use coord-core calls (no printing), so
//! the scenarios are safe to run inside the multi-threaded test harness.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use coord_core::{Error as CoreError, ExitStatus, Process, Queue, RawArray, RawValue, Signal};
use serde::{Deserialize, Serialize};

pub mod render;

/// The lecture section this crate shows.
pub const SECTION: &str = "1.1";

/// How long a side-channel worker waits in `get_timeout` before it looks at the flag again.
pub const SIDE_CHANNEL_POLL: Duration = Duration::from_millis(5);

/// Upper bounds for the knobs, so a typo cannot ask for hours of work.
pub const MAX_WORKERS: u32 = 64;
pub const MAX_TASKS: u32 = 100_000;
pub const MAX_TASK_US: u32 = 1_000_000;

// ANCHOR: messages
/// What travels on the task queue. `Stop` is the poison pill: the Rust counterpart of the
/// `None` a Python worker pool puts once per worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Msg {
    /// Work for one worker: task `id`, costing `work_us` microseconds of CPU.
    Task { id: u32, work_us: u32 },
    /// "No more work for you": the worker that reads it exits.
    Stop,
}

/// What travels back on the result queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    pub id: u32,
    /// Index of the worker that did it.
    pub worker: u32,
    /// The task's answer, [`expected_value`]`(id)`, so a result can be checked.
    pub value: u64,
}
// ANCHOR_END: messages

/// The answer a task with this id must come back with.
pub fn expected_value(id: u32) -> u64 {
    (id as u64) * (id as u64) + 1
}

/// The work of one task: `work_us` microseconds of this process's CPU time, then the answer.
/// CPU time, not wall time, so that a task is the same amount of work when 4 workers share 2 cores.
pub fn do_work(id: u32, work_us: u32) -> u64 {
    if work_us > 0 {
        let end = cpu_time_ns() + work_us as u64 * 1_000;
        let mut x = id as u64 | 1;
        // Some arithmetic between clock reads: each read of the CPU clock is a system call.
        while cpu_time_ns() < end {
            for _ in 0..2048 {
                x = std::hint::black_box(x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1));
            }
        }
    }
    expected_value(id)
}

fn cpu_time_ns() -> u64 {
    match nix::time::clock_gettime(nix::time::ClockId::CLOCK_PROCESS_CPUTIME_ID) {
        Ok(t) => t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64,
        Err(_) => coord_core::monotonic_ns(),
    }
}

/// Shared memory the parent reads to see what each worker was doing.
pub struct Slots {
    /// Per worker: `id + 1` of the task it is working on, 0 when it holds none.
    pub busy: RawArray<u64>,
    /// Per worker: how many `Stop` messages it read (1 in the pill mode, never more).
    pub stops_read: RawArray<u32>,
    /// Per worker: why its loop failed, if it did ([`WorkerError`] as a number, 0 = no error).
    pub error: RawArray<u8>,
}

/// Why a worker's loop returned an error, as the parent learns it from shared memory (the
/// child's own message only goes to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkerError {
    /// A queue refused to work any more because some process died in the middle of a message.
    QueueCorrupted,
    /// The task queue disconnected: the parent is gone.
    Disconnected,
    Other,
}

impl WorkerError {
    fn code(e: &CoreError) -> u8 {
        match e {
            CoreError::Corrupted(_) => 1,
            CoreError::Disconnected => 2,
            _ => 3,
        }
    }
    fn from_code(c: u8) -> Option<WorkerError> {
        match c {
            0 => None,
            1 => Some(WorkerError::QueueCorrupted),
            2 => Some(WorkerError::Disconnected),
            _ => Some(WorkerError::Other),
        }
    }
}

impl Slots {
    pub fn new(workers: usize) -> coord_core::Result<Slots> {
        Ok(Slots {
            busy: RawArray::new(workers, 0)?,
            stops_read: RawArray::new(workers, 0)?,
            error: RawArray::new(workers, 0)?,
        })
    }
}

/// The body of one pool worker: take a message, do it, repeat, until the pill.
///
/// It blocks in `get()`: no polling, no flag, no lock of its own. Because the parent put the
/// `Stop` messages after the last task on the same queue, every task is taken before any `Stop`.
// ANCHOR: worker_loop
pub fn worker_loop(
    me: usize,
    tasks: &Queue<Msg>,
    results: &Queue<Done>,
    slots: &Slots,
) -> coord_core::Result<()> {
    loop {
        match tasks.get()? {
            Msg::Task { id, work_us } => {
                slots.busy.set(me, id as u64 + 1)?; // "I hold task `id`", for the parent's accounting
                let value = do_work(id, work_us);
                results.put(&Done {
                    id,
                    worker: me as u32,
                    value,
                })?;
                slots.busy.set(me, 0)?;
            }
            Msg::Stop => {
                slots.stops_read.fetch_add(me, 1)?;
                return Ok(()); // the pill: everything queued before it was already taken
            }
        }
    }
}
// ANCHOR_END: worker_loop

/// The poison pills: one `Stop` per worker, on the task queue, after the last task.
// ANCHOR: send_pills
pub fn send_pills(tasks: &Queue<Msg>, workers: usize) -> coord_core::Result<()> {
    for _ in 0..workers {
        tasks.put(&Msg::Stop)?;
    }
    Ok(())
}
// ANCHOR_END: send_pills

/// The side-channel worker: the stop signal is a shared flag, not a message in the queue.
/// It looks at the flag before each `get`, and waits in `get_timeout` so that it notices the
/// flag even when the queue is empty.
// ANCHOR: side_channel_worker
pub fn side_channel_worker(
    me: usize,
    tasks: &Queue<Msg>,
    results: &Queue<Done>,
    slots: &Slots,
    stop: &RawValue<bool>,
) -> coord_core::Result<()> {
    loop {
        if stop.get() {
            return Ok(()); // the flag needs no queue slot: it is seen at once, tasks or no tasks
        }
        match tasks.get_timeout(SIDE_CHANNEL_POLL) {
            Ok(Msg::Task { id, work_us }) => {
                slots.busy.set(me, id as u64 + 1)?;
                let value = do_work(id, work_us);
                results.put(&Done {
                    id,
                    worker: me as u32,
                    value,
                })?;
                slots.busy.set(me, 0)?;
            }
            Ok(Msg::Stop) => return Ok(()),
            Err(CoreError::Timeout) => continue,
            Err(e) => return Err(e),
        }
    }
}
// ANCHOR_END: side_channel_worker

/// How the parent tells the workers to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shutdown {
    /// One Stop message per worker, on the task queue after the last task (the pattern).
    Pill,
    /// No message: terminate() (SIGTERM) every worker once the task queue looks empty.
    Terminate,
    /// No stop at all: the parent's join can only give up after a bounded wait.
    None,
    /// A shared stop flag, set right after the last put, instead of a message.
    SideChannel,
}

impl Shutdown {
    pub const ALL: [Shutdown; 4] = [
        Shutdown::Pill,
        Shutdown::Terminate,
        Shutdown::None,
        Shutdown::SideChannel,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Shutdown::Pill => "pill",
            Shutdown::Terminate => "terminate",
            Shutdown::None => "none",
            Shutdown::SideChannel => "side-channel",
        }
    }
}

/// The knobs of one run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Config {
    pub workers: u32,
    pub tasks: u32,
    pub task_us: u32,
    /// `none` mode: how long `join` waits before the parent gives up.
    pub join_wait_ms: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            workers: 4,
            tasks: 200,
            task_us: 1_000,
            join_wait_ms: 500,
        }
    }
}

impl Config {
    /// The same checks the command line makes, for callers of the library.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(1..=MAX_WORKERS).contains(&self.workers) {
            bail!(
                "workers must be between 1 and {MAX_WORKERS}, got {}",
                self.workers
            );
        }
        if !(1..=MAX_TASKS).contains(&self.tasks) {
            bail!("tasks must be between 1 and {MAX_TASKS}, got {}", self.tasks);
        }
        if self.task_us > MAX_TASK_US {
            bail!("task-us must be at most {MAX_TASK_US}, got {}", self.task_us);
        }
        Ok(())
    }

    /// A bound on how long the workers may need for all the tasks, with a wide margin: past
    /// it, the parent stops waiting and reports what it has.
    fn work_bound(&self) -> Duration {
        let total_us = self.tasks as u64 * (self.task_us as u64 + 200);
        Duration::from_secs(10) + Duration::from_micros(total_us * 3)
    }
}

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

/// Every task id, accounted for.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Accounting {
    pub tasks_put: u32,
    /// Result messages received (duplicates included).
    pub results_received: u32,
    /// Ids that never came back.
    pub lost_ids: Vec<u32>,
    /// Ids that came back more than once.
    pub duplicated_ids: Vec<u32>,
    /// Results whose value is not the task's answer.
    pub wrong_values: u32,
    /// Lost ids still sitting in the task queue once the workers were gone (the parent drained it).
    pub left_in_queue_ids: Vec<u32>,
    /// Lost ids taken off the queue by a worker and never finished.
    pub in_progress_ids: Vec<u32>,
    /// Of those, the ones a worker had noted in its shared slot: (worker, id).
    pub in_progress_by_worker: Vec<(u32, u32)>,
    /// `Stop` messages put, and left unread in the queue at the end.
    pub stops_put: u32,
    pub stops_left: u32,
}

impl Accounting {
    pub fn lost(&self) -> u32 {
        self.lost_ids.len() as u32
    }
    /// Every id came back exactly once with the right answer.
    pub fn exactly_once(&self) -> bool {
        self.lost_ids.is_empty() && self.duplicated_ids.is_empty() && self.wrong_values == 0
    }
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
}

/// What the parent does with one worker's process at the end, and how it ended.
struct Ended {
    status: ExitStatus,
    cleanup: Option<&'static str>,
}

/// Runs one mode with real processes and accounts for every task.
pub fn run(cfg: &Config, mode: Shutdown) -> anyhow::Result<RunReport> {
    cfg.validate()?;
    let n = cfg.workers as usize;
    let tasks: Queue<Msg> = Queue::new().context("creating the task queue")?;
    let results: Queue<Done> = Queue::new().context("creating the result queue")?;
    let slots = Slots::new(n).context("creating the shared slots")?;
    let stop = RawValue::new(false).context("creating the stop flag")?;
    let mut got: Vec<Done> = Vec::with_capacity(cfg.tasks as usize);
    let mut notes = Vec::new();

    // Each worker says "ready" before its first get, and the parent puts the first task only
    // once all are: every mode then starts from the same place, a pool waiting at the queue.
    let ready = RawValue::new(0u32).context("creating the ready counter")?;
    let t0 = Instant::now();
    let procs = coord_core::start_all(n, |i| {
        ready.fetch_add(1);
        let r = match mode {
            Shutdown::SideChannel => side_channel_worker(i, &tasks, &results, &slots, &stop),
            _ => worker_loop(i, &tasks, &results, &slots),
        };
        if let Err(e) = &r {
            let _ = slots.error.set(i, WorkerError::code(e));
        }
        r
    })
    .context("starting the workers")?;
    let pids: Vec<u32> = procs.iter().map(Process::pid).collect();
    let ready_by = Instant::now() + Duration::from_secs(10);
    while ready.get() < cfg.workers {
        if Instant::now() >= ready_by || procs.iter().any(|p| !p.is_alive()) {
            bail!(
                "the workers did not start ({} of {} ready)",
                ready.get(),
                cfg.workers
            );
        }
        std::thread::sleep(Duration::from_micros(100));
    }

    // Put every task. Every 32 puts, take the results that are ready, so that a full result
    // pipe can never stall the workers while the parent is blocked on a full task pipe.
    for id in 0..cfg.tasks {
        tasks
            .put(&Msg::Task {
                id,
                work_us: cfg.task_us,
            })
            .context("putting a task")?;
        if id % 32 == 31 {
            drain_ready(&results, &mut got, &mut notes)?;
        }
    }
    let last_put = Instant::now();

    let mut join_wait = None;
    let mut terminate_after_ms = None;
    let mut stops_put = 0;
    let deadline = Instant::now() + cfg.work_bound();
    let ended: Vec<Ended> = match mode {
        Shutdown::Pill => {
            // ANCHOR: pill_parent
            send_pills(&tasks, n).context("putting the Stop messages")?;
            stops_put = cfg.workers;
            // Read every result first, then join (a worker blocked on a full result pipe would
            // never reach its Stop).
            let want = Some(cfg.tasks as usize);
            collect_results(&procs, &results, &mut got, want, deadline, &mut notes)?;
            join_bounded(&procs, deadline, &mut notes)?
            // ANCHOR_END: pill_parent
        }
        Shutdown::SideChannel => {
            // ANCHOR: side_channel_stop
            // The stop signal goes on a separate channel, right after the last task: it does not
            // queue up behind the tasks still waiting, so workers can see it first.
            stop.set(true);
            // ANCHOR_END: side_channel_stop
            collect_results(&procs, &results, &mut got, None, deadline, &mut notes)?;
            join_bounded(&procs, deadline, &mut notes)?
        }
        Shutdown::Terminate => {
            // ANCHOR: terminate_contrast
            // The tempting shortcut: "the task queue is empty, so the work is done". It is not:
            // each worker may still hold the task it took last. terminate() kills it mid-task.
            while !tasks.is_empty() && Instant::now() < deadline {
                drain_ready(&results, &mut got, &mut notes)?;
                std::thread::sleep(Duration::from_micros(100));
            }
            terminate_after_ms = Some(ms(last_put.elapsed()));
            for p in &procs {
                p.terminate().context("sending SIGTERM")?;
            }
            // ANCHOR_END: terminate_contrast
            let ended = join_bounded(&procs, Instant::now() + Duration::from_secs(5), &mut notes)?;
            drain_ready(&results, &mut got, &mut notes)?;
            ended
        }
        Shutdown::None => {
            // Every result comes back: the work itself is fine.
            let want = Some(cfg.tasks as usize);
            collect_results(&procs, &results, &mut got, want, deadline, &mut notes)?;
            // ANCHOR: none_contrast
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
            // Cleanup, so that no process outlives the run.
            for p in &procs {
                p.terminate().context("sending SIGTERM")?;
            }
            // ANCHOR_END: none_contrast
            join_bounded(&procs, Instant::now() + Duration::from_secs(5), &mut notes)?
        }
    };
    let elapsed_ms = ms(t0.elapsed());

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
    Ok(RunReport {
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

/// Joins every worker by `deadline`; a worker still running then is killed (and said so).
fn join_bounded(procs: &[Process], deadline: Instant, notes: &mut Vec<String>) -> anyhow::Result<Vec<Ended>> {
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

/// Every task id, accounted for: what came back, what was lost, and where the lost ones were.
pub fn account(
    tasks_put: u32,
    got: &[Done],
    left_in_queue: &[u32],
    busy: &[u64],
    stops_put: u32,
    stops_left: u32,
) -> Accounting {
    let mut seen: BTreeMap<u32, u32> = BTreeMap::new();
    let mut wrong_values = 0;
    for d in got {
        *seen.entry(d.id).or_default() += 1;
        if d.value != expected_value(d.id) || d.id >= tasks_put {
            wrong_values += 1;
        }
    }
    let lost_ids: Vec<u32> = (0..tasks_put).filter(|id| !seen.contains_key(id)).collect();
    let duplicated_ids = seen.iter().filter(|(_, c)| **c > 1).map(|(id, _)| *id).collect();
    let mut left_in_queue_ids: Vec<u32> = left_in_queue.to_vec();
    left_in_queue_ids.sort_unstable();
    let in_progress_ids: Vec<u32> = lost_ids
        .iter()
        .copied()
        .filter(|id| left_in_queue_ids.binary_search(id).is_err())
        .collect();
    let in_progress_by_worker = busy
        .iter()
        .enumerate()
        .filter(|(_, b)| **b != 0)
        .map(|(w, b)| (w as u32, (*b - 1) as u32))
        .filter(|(_, id)| in_progress_ids.contains(id))
        .collect();
    Accounting {
        tasks_put,
        results_received: got.len() as u32,
        lost_ids,
        duplicated_ids,
        wrong_values,
        left_in_queue_ids,
        in_progress_ids,
        in_progress_by_worker,
        stops_put,
        stops_left,
    }
}

/// Of these pids, the ones that still exist as children of this process, running or zombie.
/// (Checking the parent pid too means a recycled pid of some other process is not mistaken
/// for ours.)
pub fn still_our_children(pids: &[u32]) -> Vec<u32> {
    let me = std::process::id();
    pids.iter()
        .copied()
        .filter(|&pid| proc_parent(pid) == Some(me))
        .collect()
}

/// Every process whose parent is `parent`, with its state letter (`Z` for a zombie), from /proc.
pub fn children_of(parent: u32) -> Vec<(u32, char)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let (state, ppid) = proc_stat(pid)?;
            (ppid == parent).then_some((pid, state))
        })
        .collect()
}

fn proc_parent(pid: u32) -> Option<u32> {
    proc_stat(pid).map(|(_, ppid)| ppid)
}

/// (state, parent pid) from /proc/<pid>/stat. The command name sits in parentheses and may
/// itself contain spaces or parentheses, so fields are counted after the last ')'.
fn proc_stat(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(") ")?;
    let mut fields = rest.split_whitespace();
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

// --- claims for the docs ------------------------------------------------------------------

/// One quantitative statement of the lecture, checked against a run.
#[derive(Debug, Clone, Serialize)]
pub struct Claim {
    pub section: &'static str,
    pub claim: &'static str,
    pub lecture: &'static str,
    pub measured: String,
    pub value: f64,
    pub holds: Option<bool>,
}

/// The claim a run of this mode checks.
pub fn claim(r: &RunReport) -> Claim {
    let a = &r.accounting;
    let put = a.tasks_put;
    let lost = a.lost();
    let n = r.workers.len();
    match r.mode {
        Shutdown::Pill => {
            let clean = r
                .workers
                .iter()
                .filter(|w| w.exit_code == 0 && w.stops_read == 1)
                .count();
            Claim {
                section: SECTION,
                claim: "one sentinel per worker, behind the tasks on the same queue: no task is lost and every worker exits on its own",
                lecture: "the queue hands out every task ahead of the sentinels, so nothing is lost",
                measured: format!(
                    "{} of {put} task ids came back exactly once ({lost} lost, {} twice); {clean} of {n} workers read one Stop and exited with code 0",
                    put - lost - a.duplicated_ids.len() as u32,
                    a.duplicated_ids.len()
                ),
                value: lost as f64,
                holds: Some(r.pill_ok()),
            }
        }
        Shutdown::Terminate => Claim {
            section: SECTION,
            claim: "terminate() loses the tasks the workers are in the middle of",
            lecture: "a forced terminate() drops whatever task a worker is running",
            measured: format!(
                "SIGTERM once the task queue looked empty: {lost} of {put} tasks lost ({} in progress, {} still queued){}",
                a.in_progress_ids.len(),
                a.left_in_queue_ids.len(),
                match r
                    .workers
                    .iter()
                    .filter(|w| w.error == Some(WorkerError::QueueCorrupted))
                    .count()
                {
                    0 => String::new(),
                    k => format!("; {k} worker(s) then found a queue corrupted by a killed one"),
                }
            ),
            value: lost as f64,
            // A run where no worker happened to hold a task shows nothing either way.
            holds: if lost > 0 { Some(true) } else { None },
        },
        Shutdown::None => {
            let alive = r.join_wait.as_ref().map_or(0, |j| j.still_alive);
            let waited = r.join_wait.as_ref().map_or(0.0, |j| j.waited_ms);
            Claim {
                section: SECTION,
                claim: "without a shutdown message, the workers never finish and join cannot return",
                lecture: "workers keep waiting for more work, so joining them never returns",
                measured: format!(
                    "all {} results back, yet after a {waited:.0} ms join wait {alive} of {n} workers were still running (cleaned up with SIGTERM)",
                    a.results_received
                ),
                value: alive as f64,
                holds: Some(alive as usize == n),
            }
        }
        Shutdown::SideChannel => Claim {
            section: SECTION,
            claim: "a stop signal on a separate channel can overtake the last tasks on the queue",
            lecture: "a stop signal sent outside the queue can get there ahead of the final tasks",
            measured: format!(
                "stop flag set right after the last put: {lost} of {put} tasks never processed ({} left in the queue)",
                a.left_in_queue_ids.len()
            ),
            value: lost as f64,
            holds: if lost > 0 { Some(true) } else { None },
        },
    }
}

/// The `--json` document.
#[derive(Debug, Serialize)]
pub struct JsonOut<'a> {
    #[serde(rename = "crate")]
    pub krate: &'static str,
    pub section: &'static str,
    pub claims: Vec<Claim>,
    pub runs: &'a [RunReport],
    /// Processes whose parent is this binary, after every run (must be empty).
    pub children_left: Vec<u32>,
}

#[cfg(test)]
mod tests;
