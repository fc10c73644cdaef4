//! One search, instrumented: `workers` processes released together by a barrier, each running
//! the lesson's `search_for_primes` over its own range, with a placed-match test and a
//! [`Watched`] flag; the finder notes how far everyone had got when it raised the flag.

use std::cell::Cell;
use std::ops::Range;

use anyhow::{Context, Result, bail};
use coord_core::{Barrier, Process, RawArray, RawValue, Value, monotonic_ns};
use crossbeam_utils::{Backoff, CachePadded};
use lab_support::clock::process_cpu_ns;
use serde::Serialize;

use timeline::{Recorder, Timeline};

use super::Exit;
use super::flags::{AtomicFlag, FlagKind, Watched};
use super::work::{Matcher, Target};
use crate::lanes::{self, Traced};
use crate::lesson::{self, ClaimWin, FoundFlag, ResultQueue};
use crate::procs::{JOIN_TIMEOUT, check_shape, join_checked};

/// How a worker that found a match claims the win.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SetMode {
    /// Take the lock, check the flag again, set it: exactly one winner.
    LockCheckSet,
    /// Check, then set, with no lock: two workers can both see `false` and both "win".
    Unsafe,
}

impl SetMode {
    /// The lesson's claim for this mode.
    fn claim<F: FoundFlag>(self) -> ClaimWin<F> {
        match self {
            SetMode::LockCheckSet => lesson::lock_check_set,
            SetMode::Unsafe => lesson::unsafe_set,
        }
    }
}

/// One search: `workers` processes, worker `i` scanning `i*range_len .. (i+1)*range_len`
/// upward, the first match wins.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SearchConfig {
    pub workers: usize,
    pub range_len: u64,
    pub target: Target,
    /// Rounds of [`score`](super::work::score) per item: the work of one iteration.
    pub work: u32,
    pub flag: FlagKind,
    /// Check the flag on every iteration (`false`: never look at it, run to the end).
    pub early_exit: bool,
    pub set_mode: SetMode,
}

impl SearchConfig {
    pub fn range_of(&self, worker: usize) -> Range<u64> {
        let lo = worker as u64 * self.range_len;
        lo..lo + self.range_len
    }
}

/// What one worker did in a search.
#[derive(Debug, Clone, Serialize)]
pub struct WorkerReport {
    pub id: usize,
    pub pid: u32,
    pub range: (u64, u64),
    /// Items it examined.
    pub iterations: u64,
    /// Of those, how many it examined after the flag went up (wasted work).
    pub after_set: u64,
    /// From the flag going up to this worker seeing it (early exit) or finishing anyway
    /// (no early exit); `None` for the winner or if the flag never went up.
    pub stop_latency_ns: Option<u64>,
    /// Whether it stopped because it saw the flag.
    pub saw_flag: bool,
    pub exit: Exit,
    /// The match it found, if any.
    pub found: Option<u64>,
    /// CPU time spent in its loop.
    pub cpu_ns: u64,
}

/// The result of one [`search`].
#[derive(Debug, Clone, Serialize)]
pub struct SearchRun {
    pub config: SearchConfig,
    /// Every `(worker id, number)` put on the queue; exactly one with lock-check-set.
    pub winners: Vec<(u32, u64)>,
    pub workers: Vec<WorkerReport>,
    /// From the gate opening to the last worker finishing its loop.
    pub elapsed_ns: u64,
}

impl SearchRun {
    pub fn total_iterations(&self) -> u64 {
        self.workers.iter().map(|w| w.iterations).sum()
    }
    /// Items examined after the flag went up, by every worker.
    pub fn wasted(&self) -> u64 {
        self.workers.iter().map(|w| w.after_set).sum()
    }
    pub fn winner(&self) -> Option<(u32, u64)> {
        self.winners.first().copied()
    }
    /// Items examined by anyone but the winner: the lecture's count of unnecessary
    /// iterations (it includes work done in parallel before the find).
    pub fn beyond_winner(&self) -> u64 {
        self.workers
            .iter()
            .filter(|w| w.exit != Exit::Won)
            .map(|w| w.iterations)
            .sum()
    }
    /// CPU nanoseconds per item, over all workers.
    pub fn cpu_ns_per_iteration(&self) -> f64 {
        let cpu: u64 = self.workers.iter().map(|w| w.cpu_ns).sum();
        cpu as f64 / self.total_iterations().max(1) as f64
    }
    /// Stop latencies of the workers that saw the flag.
    pub fn stop_latencies(&self) -> Vec<u64> {
        self.workers
            .iter()
            .filter(|w| w.saw_flag)
            .filter_map(|w| w.stop_latency_ns)
            .collect()
    }
    pub fn pids(&self) -> Vec<u32> {
        self.workers.iter().map(|w| w.pid).collect()
    }
}

/// Slots per worker in the padded progress array: one `CachePadded` line (128 bytes on
/// x86-64, as crossbeam chooses), so a worker storing its own progress never steals a line
/// another worker is writing.
const PAD: usize = size_of::<CachePadded<u64>>() / size_of::<u64>();

/// How long after the barrier opens the workers start (see [`Board::start`]).
const START_LEAD_NS: u64 = 200_000;

/// Everything the workers of one search write for the parent to read.
struct Board {
    /// Worker `i`'s iterations so far, at `i * PAD`, stored on every iteration.
    progress: RawArray<u64>,
    /// Every worker's progress, copied by the finder just before it raised the flag.
    at_set: RawArray<u64>,
    /// When the flag went up (monotonic ns), stamped by the finder; 0 = never.
    t_set: RawValue<u64>,
    /// When each worker saw the flag (0 = never looked, or never saw it).
    t_seen: RawArray<u64>,
    t_end: RawArray<u64>,
    /// CPU time each worker spent in its loop (`CLOCK_PROCESS_CPUTIME_ID`).
    cpu_ns: RawArray<u64>,
    iterations: RawArray<u64>,
    exit: RawArray<u64>,
    found: RawArray<u64>,
    /// Releases every worker at once, so that they really race.
    gate: Barrier,
}

impl Board {
    fn new(n: usize) -> Result<Board> {
        Ok(Board {
            progress: RawArray::new(n * PAD, 0)?,
            at_set: RawArray::new(n, 0)?,
            t_set: RawValue::new(0)?,
            t_seen: RawArray::new(n, 0)?,
            t_end: RawArray::new(n, 0)?,
            cpu_ns: RawArray::new(n, 0)?,
            iterations: RawArray::new(n, 0)?,
            exit: RawArray::new(n, 0)?,
            found: RawArray::new(n, u64::MAX)?,
            gate: Barrier::new(n)?,
        })
    }

    /// Waits until every worker is ready, then until one common instant shortly after. The
    /// barrier wakes its sleepers one by one, each wake-up tens of microseconds here, and
    /// workers that start that far apart hardly ever race: without this wait the unlocked
    /// set had two winners in 1 run of 200 here, with it in 11 to 64 of 200.
    fn start(&self) -> Result<()> {
        self.gate.wait_timeout(JOIN_TIMEOUT)?;
        let go = self.gate.opened_at_ns() + START_LEAD_NS;
        let backoff = Backoff::new();
        while monotonic_ns() < go {
            backoff.snooze(); // spins, then yields: more workers than cores must all get here
        }
        Ok(())
    }

    /// The finder's snapshot, taken just before the flag goes up.
    fn stamp_set(&self, workers: usize) {
        for w in 0..workers {
            let _ = self.at_set.set(w, self.progress.get(w * PAD).unwrap_or(0));
        }
        self.t_set.set(monotonic_ns());
    }
}

/// One worker of the search: the lesson's `search_for_primes`, handed a [`Watched`] flag and
/// a test that counts the items and publishes the count (one store to its own cache line)
/// so that the finder can note how far everyone had got.
fn search_worker<F: FoundFlag>(
    id: usize,
    cfg: &SearchConfig,
    flag: &F,
    board: &Board,
    results: &ResultQueue,
    rec: Option<&Recorder>,
) -> Result<()> {
    let matcher = Matcher::new(cfg.target, cfg.work);
    board.start()?;
    let cpu0 = process_cpu_ns();
    let flag = Watched::new(flag, cfg.early_exit, || board.stamp_set(cfg.workers));
    let traced = Traced::new(&flag, rec, id + 1, cfg.range_of(id).start);
    let done = Cell::new(0u64);
    let is_match = |n| {
        done.set(done.get() + 1);
        let _ = board.progress.set(id * PAD, done.get());
        traced.test(n, flag.test(n, matcher.matches(n)))
    };
    let searched = lesson::search_for_primes(
        id as u32,
        cfg.range_of(id),
        &traced,
        results,
        is_match,
        cfg.set_mode.claim(),
    );
    // Read after the loop: a worker that saw the flag up reads the finder's final snapshot.
    let up = board.t_set.get() != 0 && flag.exit() != Exit::Won;
    traced.flush(if up { Some(board.at_set.get(id)?) } else { None })?;
    board.cpu_ns.set(id, process_cpu_ns().saturating_sub(cpu0))?;
    board.t_end.set(id, monotonic_ns())?;
    board.t_seen.set(id, flag.saw_at().unwrap_or(0))?;
    board.iterations.set(id, done.get())?;
    board.exit.set(id, flag.exit().code())?;
    board.found.set(id, flag.found().unwrap_or(u64::MAX))?;
    searched.context("putting the result on the queue")
}

/// Runs one search and reports what every worker did.
pub fn search(cfg: &SearchConfig) -> Result<SearchRun> {
    Ok(search_traced(cfg, false)?.0)
}

/// As [`search`], and with `trace` the run's timeline too (see [`crate::lanes`]): the same
/// run, its flag reads recorded (a clock read per item: slower items, so only when asked).
pub fn search_traced(cfg: &SearchConfig, trace: bool) -> Result<(SearchRun, Option<Timeline>)> {
    check_shape(cfg.workers, cfg.range_len)?;
    if let Target::Density(0) = cfg.target {
        bail!("density must be at least 1 (one match in every d items)");
    }
    match cfg.flag {
        FlagKind::Locked => run_search(cfg, &Value::new(false)?, trace),
        FlagKind::Atomic => run_search(cfg, &AtomicFlag::new()?, trace),
    }
}

fn run_search<F: FoundFlag>(
    cfg: &SearchConfig,
    flag: &F,
    trace: bool,
) -> Result<(SearchRun, Option<Timeline>)> {
    let n = cfg.workers;
    let board = Board::new(n)?;
    let results = ResultQueue::new()?;
    let rec = if trace {
        Some(Recorder::new(n + 1, lanes::capacity())?)
    } else {
        None
    };
    let mut procs = Vec::with_capacity(n);
    for id in 0..n {
        let (board, results, rec) = (&board, &results, rec.as_ref());
        procs.push(Process::start(move || {
            search_worker(id, cfg, flag, board, results, rec)
        })?);
    }
    join_checked(&procs)?;
    let t0 = board.gate.opened_at_ns();
    let timeline = match &rec {
        Some(r) => {
            r.record_at(0, lanes::code::OPENED, n as u32, t0, 0)?;
            r.record(0, lanes::code::JOINED, n as u32)?;
            Some(lanes::collect(r, n))
        }
        None => None,
    };
    let mut winners = Vec::new();
    while let Ok(w) = results.try_get() {
        winners.push(w);
    }

    let t_set = board.t_set.get();
    let mut workers = Vec::with_capacity(n);
    let mut t_last = t0;
    for (id, p) in procs.iter().enumerate() {
        let iterations = board.iterations.get(id)?;
        let exit = Exit::from_code(board.exit.get(id)?);
        let t_seen = board.t_seen.get(id)?;
        let t_end = board.t_end.get(id)?;
        t_last = t_last.max(t_end);
        let is_winner = exit == Exit::Won;
        let after_set = if t_set == 0 {
            0
        } else {
            iterations.saturating_sub(board.at_set.get(id)?)
        };
        let stop_latency_ns = if t_set == 0 || is_winner {
            None
        } else if t_seen != 0 {
            Some(t_seen.saturating_sub(t_set))
        } else if t_end > t_set {
            Some(t_end - t_set) // never looked (or never saw it): it stopped when its range ran out
        } else {
            None // it had finished its range before the flag went up
        };
        let found = board.found.get(id)?;
        let r = cfg.range_of(id);
        workers.push(WorkerReport {
            id,
            pid: p.pid(),
            range: (r.start, r.end),
            iterations,
            after_set: if is_winner { 0 } else { after_set },
            stop_latency_ns,
            saw_flag: t_seen != 0,
            exit,
            found: (found != u64::MAX).then_some(found),
            cpu_ns: board.cpu_ns.get(id)?,
        });
    }
    let run = SearchRun {
        config: *cfg,
        winners,
        workers,
        elapsed_ns: t_last.saturating_sub(t0),
    };
    Ok((run, timeline))
}
