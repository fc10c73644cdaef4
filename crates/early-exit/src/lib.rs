//! # early-exit: first found wins, and everybody else stops
//!
//! Lecture 27, Concept 2.1 (cooperative early exit through a shared flag) and Example 27.1
//! (four processes searching for a prime), run with real forked processes, a real
//! `MAP_SHARED` flag and a real pipe queue from [`coord_core`].
//!
//! The scenarios, each a function that returns a structured result:
//!
//! | scenario | function | what it shows |
//! |---|---|---|
//! | Example 27.1 as written | [`example_27_1`] | 4 workers, 100,000 numbers each, a locked `Value<bool>` flag |
//! | a search that runs long | [`search`] with [`Target::Needle`] | per-worker iterations, wasted iterations, stop latency |
//! | no early exit | [`search`] with `early_exit: false` | what the flag saves |
//! | the price of reading the flag | [`flag_read_cost`] | locked read against atomic load, per iteration |
//! | lock-check-set against a bare check-then-set | [`race_trials`] | how often two workers both "win" |
//! | smallest, not first | [`smallest`] | branch and bound over a shared best-so-far |
//!
//! Every child only touches coord-core primitives and leaves through `_exit`, so the
//! functions are safe to call from a multi-threaded test harness.

pub mod report;

use std::ops::Range;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use coord_core::{
    ExitStatus, Lock, LockResultExt, Process, Queue, RawArray, RawValue, Value, join_all, monotonic_ns,
};
use serde::Serialize;

/// The longest any scenario waits for its workers before killing them and reporting an error.
pub const JOIN_TIMEOUT: Duration = Duration::from_secs(60);
/// The most workers a run may use (each is a real process).
pub const MAX_WORKERS: usize = 64;

// --------------------------------------------------------------------------------------------
// What the workers compute
// --------------------------------------------------------------------------------------------

/// Trial division, as the lecture's `isPrime`.
pub fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    let mut i = 2u64;
    while i * i <= n {
        if n % i == 0 {
            return false;
        }
        i += 1;
    }
    true
}

/// One round of the splitmix64 finalizer. Each step (add, xor-shift, multiply by an odd
/// constant) can be undone, so the whole round is a one-to-one map of `u64`.
fn mix(z: u64) -> u64 {
    let mut z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The work done on item `n`: `rounds` rounds of the splitmix64 finalizer, a stand-in for inspecting one
/// record. One-to-one, so two different items never get the same score.
pub fn score(n: u64, rounds: u32) -> u64 {
    let mut x = n;
    for _ in 0..rounds {
        x = mix(x);
    }
    x
}

/// What the search looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Exactly one item matches: this one (found by comparing scores, so every item costs
    /// the same work).
    Needle(u64),
    /// About one item in `d` matches: those whose score is a multiple of `d`.
    Density(u64),
    /// Every item is a prime test, as in Example 27.1.
    Prime,
}

/// A [`Target`] ready to test items, with the needle's score computed once.
#[derive(Debug, Clone, Copy)]
pub struct Matcher {
    target: Target,
    rounds: u32,
    needle_score: u64,
}

impl Matcher {
    pub fn new(target: Target, rounds: u32) -> Matcher {
        let needle_score = match target {
            Target::Needle(n) => score(n, rounds),
            _ => 0,
        };
        Matcher {
            target,
            rounds,
            needle_score,
        }
    }

    /// Whether item `n` is a match; costs one [`score`] (or one prime test).
    #[inline]
    pub fn matches(&self, n: u64) -> bool {
        match self.target {
            Target::Needle(_) => score(n, self.rounds) == self.needle_score,
            Target::Density(d) => score(n, self.rounds) % d == 0,
            Target::Prime => is_prime(n),
        }
    }

    /// The first match in `range`, scanning upward on one core: the reference answer.
    pub fn first_in(&self, range: Range<u64>) -> Option<u64> {
        range.into_iter().find(|&n| self.matches(n))
    }
}

// --------------------------------------------------------------------------------------------
// Example 27.1, as written
// --------------------------------------------------------------------------------------------

/// How a worker's loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exit {
    /// Never recorded an exit (it did not run to the end).
    Unknown,
    /// Saw the flag set by someone else and stopped.
    SawFlag,
    /// Found a match and was the one to set the flag: the winner.
    Won,
    /// Found a match, but the flag was already set when it checked under the lock.
    FoundLate,
    /// Searched its whole range.
    Exhausted,
    /// `smallest` only: nothing left in its range could beat the best so far.
    Pruned,
    /// `smallest` only: found its range's smallest match and offered it as the best.
    Found,
}

impl Exit {
    fn code(self) -> u64 {
        self as u64
    }
    fn from_code(c: u64) -> Exit {
        match c {
            1 => Exit::SawFlag,
            2 => Exit::Won,
            3 => Exit::FoundLate,
            4 => Exit::Exhausted,
            5 => Exit::Pruned,
            6 => Exit::Found,
            _ => Exit::Unknown,
        }
    }
    /// Short words for a table.
    pub fn describe(self) -> &'static str {
        match self {
            Exit::Unknown => "did not finish",
            Exit::SawFlag => "saw the flag, stopped",
            Exit::Won => "found it, set the flag",
            Exit::FoundLate => "found one, flag already set",
            Exit::Exhausted => "searched its whole range",
            Exit::Pruned => "could not beat the best, stopped",
            Exit::Found => "found its smallest, shared it",
        }
    }
}

/// The result of one run of Example 27.1.
#[derive(Debug, Clone, Serialize)]
pub struct Example271 {
    pub workers: usize,
    pub range_len: u64,
    /// `(worker id, prime)` as taken from the queue, in order; Python prints the first.
    pub results: Vec<(u32, u64)>,
    /// From the first `start()` to the last `join()`, as the Python example times it.
    pub elapsed_ns: u64,
    /// Loop iterations each worker ran (numbers it looked at).
    pub iterations: Vec<u64>,
    pub exits: Vec<Exit>,
    /// The first prime in each worker's range (a sequential scan in the parent).
    pub first_prime_in_range: Vec<Option<u64>>,
    pub pids: Vec<u32>,
}

impl Example271 {
    pub fn winner(&self) -> Option<(u32, u64)> {
        self.results.first().copied()
    }
    pub fn max_iterations(&self) -> u64 {
        self.iterations.iter().copied().max().unwrap_or(0)
    }
}

/// What a worker of Example 27.1 did, for the table (not part of the lecture's code).
struct Outcome {
    iterations: u64,
    exit: Exit,
}

// ANCHOR: example_27_1_worker
/// The lecture's `searchForPrimes`, line for line. The only addition is the returned
/// [`Outcome`], which the caller stores so the parent can print what each worker did.
fn search_for_primes(
    worker_id: u32,
    search_range: Range<u64>,
    found_flag: &Value<bool>,
    result_queue: &Queue<(u32, u64)>,
) -> Result<Outcome> {
    let mut iterations = 0;
    for n in search_range {
        iterations += 1;
        // The shared flag, read under its lock on every iteration (Python's `foundFlag.value`).
        if found_flag.get() {
            return Ok(Outcome {
                iterations,
                exit: Exit::SawFlag,
            });
        }
        if is_prime(n) {
            // Lock, check again, set: two workers that both saw `false` cannot both win.
            let _held = found_flag.get_lock().lock().recover();
            if !found_flag.get() {
                found_flag.set(true);
                result_queue.put(&(worker_id, n))?;
                return Ok(Outcome {
                    iterations,
                    exit: Exit::Won,
                });
            }
            return Ok(Outcome {
                iterations,
                exit: Exit::FoundLate,
            });
        }
    }
    Ok(Outcome {
        iterations,
        exit: Exit::Exhausted,
    })
}
// ANCHOR_END: example_27_1_worker

/// Runs Example 27.1 once: `workers` processes, worker `i` searching
/// `i*range_len .. (i+1)*range_len` for a prime (the lecture uses 4 and 100,000).
pub fn example_27_1(workers: usize, range_len: u64) -> Result<Example271> {
    check_shape(workers, range_len)?;
    // Instrumentation, written by each worker as it returns: iterations and exit reason.
    let iterations = RawArray::new(workers, 0u64)?;
    let exits = RawArray::new(workers, 0u64)?;

    // ANCHOR: example_27_1_main
    let found_flag = Value::new(false)?;
    let result_queue: Queue<(u32, u64)> = Queue::new()?;
    let ranges: Vec<Range<u64>> = (0..workers as u64)
        .map(|i| i * range_len..(i + 1) * range_len)
        .collect();
    let start = Instant::now();
    let procs = (0..workers)
        .map(|i| {
            let range = ranges[i].clone();
            let (found_flag, result_queue, iterations, exits) =
                (&found_flag, &result_queue, &iterations, &exits);
            Process::start(move || -> Result<()> {
                let out = search_for_primes(i as u32, range, found_flag, result_queue)?;
                iterations.set(i, out.iterations)?;
                exits.set(i, out.exit.code())?;
                Ok(())
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    join_checked(&procs)?;
    let elapsed = start.elapsed();
    let mut results = Vec::new();
    while let Ok(r) = result_queue.try_get() {
        results.push(r);
    }
    // ANCHOR_END: example_27_1_main

    Ok(Example271 {
        workers,
        range_len,
        results,
        elapsed_ns: elapsed.as_nanos() as u64,
        iterations: iterations.to_vec(),
        exits: exits.to_vec().into_iter().map(Exit::from_code).collect(),
        first_prime_in_range: ranges
            .iter()
            .map(|r| Matcher::new(Target::Prime, 0).first_in(r.clone()))
            .collect(),
        pids: procs.iter().map(Process::pid).collect(),
    })
}

// --------------------------------------------------------------------------------------------
// The flag: locked (Python's Value) or atomic (a plain load)
// --------------------------------------------------------------------------------------------

/// How the workers read the shared flag on every iteration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FlagKind {
    /// `Value<bool>`: every read takes the process-shared lock, as Python's `flag.value` does.
    Locked,
    /// `RawValue<bool>`: every read is one atomic load (a plain `mov` on x86).
    Atomic,
}

impl FlagKind {
    pub fn name(self) -> &'static str {
        match self {
            FlagKind::Locked => "locked Value<bool>",
            FlagKind::Atomic => "atomic RawValue<bool>",
        }
    }
}

/// A shared stop flag, with the lock a finder takes to claim the win.
pub trait StopFlag: Sync {
    /// Reads the flag (the per-iteration check).
    fn is_set(&self) -> bool;
    /// Sets the flag.
    fn raise(&self);
    /// The lock that makes check-then-set one step.
    fn claim_lock(&self) -> &Lock;
}

impl StopFlag for Value<bool> {
    fn is_set(&self) -> bool {
        self.get()
    }
    fn raise(&self) {
        self.set(true)
    }
    fn claim_lock(&self) -> &Lock {
        self.get_lock()
    }
}

/// An atomic flag and a separate lock for claiming: reads cost a load, claims still lock.
pub struct AtomicFlag {
    flag: RawValue<bool>,
    lock: Lock,
}

impl AtomicFlag {
    pub fn new() -> Result<AtomicFlag> {
        Ok(AtomicFlag {
            flag: RawValue::new(false)?,
            lock: Lock::new()?,
        })
    }
}

impl StopFlag for AtomicFlag {
    fn is_set(&self) -> bool {
        self.flag.get()
    }
    fn raise(&self) {
        self.flag.set(true)
    }
    fn claim_lock(&self) -> &Lock {
        &self.lock
    }
}

/// How a worker that found a match claims the win.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SetMode {
    /// Take the lock, check the flag again, set it: exactly one winner.
    LockCheckSet,
    /// Check, then set, with no lock: two workers can both see `false` and both "win".
    Unsafe,
}

/// Claims the win: `stamp` runs just before the flag goes up (it notes the time and every
/// worker's progress), `report` just after (it puts the result on the queue).
/// Returns whether this worker won.
fn claim<F: StopFlag>(flag: &F, mode: SetMode, stamp: impl FnOnce(), report: impl FnOnce()) -> bool {
    match mode {
        SetMode::LockCheckSet => {
            // ANCHOR: lock_check_set
            // Python: `with found_flag.get_lock():`
            let _held = flag.claim_lock().lock().recover();
            // Python: `if not found_flag.value:`. Someone may have won between our
            // unlocked check in the loop and taking the lock: then we lost.
            if flag.is_set() {
                return false;
            }
            stamp(); // note the time and everyone's progress, for the tables
            flag.raise(); // Python: `found_flag.value = True`
            report(); // Python: `result_queue.put((worker_id, n))`
            true
            // ANCHOR_END: lock_check_set
        }
        SetMode::Unsafe => {
            // ANCHOR: unsafe_set
            // No lock: between this check and the `raise` below, another worker that found
            // a match at the same moment also sees `false`, and both report a win.
            if flag.is_set() {
                return false;
            }
            stamp();
            flag.raise();
            report();
            true
            // ANCHOR_END: unsafe_set
        }
    }
}

// --------------------------------------------------------------------------------------------
// Shared bookkeeping for one search
// --------------------------------------------------------------------------------------------

/// Slots per worker in the padded progress array: 8 × 8 bytes = one 64-byte cache line, so
/// a worker storing its own progress never steals a line another worker is writing.
const PAD: usize = 8;

/// Releases every worker at the same moment, so they really race. The last worker to
/// arrive opens it: it is running at that instant, and so, on the other core, is one of the
/// workers spinning on `go`, so the two start within a cache-line transfer of each other.
struct StartGate {
    arrived: RawValue<u32>,
    go: RawValue<bool>,
    /// When the gate opened (monotonic ns).
    t_open: RawValue<u64>,
}

impl StartGate {
    fn new() -> Result<StartGate> {
        Ok(StartGate {
            arrived: RawValue::new(0)?,
            go: RawValue::new(false)?,
            t_open: RawValue::new(0)?,
        })
    }

    /// Worker side: say "ready"; the last of `n` opens the gate, the others spin until it does.
    fn wait(&self, n: u32) {
        if self.arrived.fetch_add(1) + 1 == n {
            self.t_open.set(monotonic_ns());
            self.go.set(true);
            return;
        }
        let mut spins = 0u32;
        while !self.go.get() {
            spins += 1;
            if spins % 64 == 0 {
                // More workers than cores: let the others reach the gate too.
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }

    /// Parent side: wait (bounded, sleeping) until the gate has opened; returns when it did.
    /// A worker that dies before reaching it is reported instead of waited for.
    fn opened(&self, procs: &[Process]) -> Result<u64> {
        let deadline = Instant::now() + JOIN_TIMEOUT;
        while !self.go.get() {
            if Instant::now() > deadline {
                bail!("workers did not reach the start gate within {JOIN_TIMEOUT:?}");
            }
            // A worker may be gone because the run already went through the gate and ended:
            // only an exit with the gate still shut is a failure.
            if let Some(dead) = procs.iter().find(|p| !p.is_alive())
                && !self.go.get()
            {
                bail!(
                    "worker pid {} ended before the start: {}",
                    dead.pid(),
                    dead.exit_status().map(|s| s.to_string()).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        Ok(self.t_open.get())
    }
}

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
    t_start: RawArray<u64>,
    t_end: RawArray<u64>,
    /// CPU time each worker spent in its loop (`CLOCK_PROCESS_CPUTIME_ID`).
    cpu_ns: RawArray<u64>,
    iterations: RawArray<u64>,
    exit: RawArray<u64>,
    found: RawArray<u64>,
    gate: StartGate,
}

impl Board {
    fn new(n: usize) -> Result<Board> {
        Ok(Board {
            progress: RawArray::new(n * PAD, 0)?,
            at_set: RawArray::new(n, 0)?,
            t_set: RawValue::new(0)?,
            t_seen: RawArray::new(n, 0)?,
            t_start: RawArray::new(n, 0)?,
            t_end: RawArray::new(n, 0)?,
            cpu_ns: RawArray::new(n, 0)?,
            iterations: RawArray::new(n, 0)?,
            exit: RawArray::new(n, 0)?,
            found: RawArray::new(n, u64::MAX)?,
            gate: StartGate::new()?,
        })
    }

    /// The finder's snapshot, taken just before the flag goes up.
    fn stamp_set(&self, workers: usize) {
        for w in 0..workers {
            let _ = self.at_set.set(w, self.progress.get(w * PAD).unwrap_or(0));
        }
        self.t_set.set(monotonic_ns());
    }
}

fn cpu_now_ns() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_PROCESS_CPUTIME_ID)
        .map(|t| t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
        .unwrap_or(0)
}

// --------------------------------------------------------------------------------------------
// The search: first found wins
// --------------------------------------------------------------------------------------------

/// One search: `workers` processes, worker `i` scanning `i*range_len .. (i+1)*range_len`
/// upward, the first match wins.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct SearchConfig {
    pub workers: usize,
    pub range_len: u64,
    pub target: Target,
    /// Rounds of [`score`] per item: the work of one iteration.
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

// ANCHOR: search_worker
/// One worker of the search. Reading order is Example 27.1's: check the flag, test the
/// item, claim if it matches. It also publishes its progress on every iteration (one
/// store to its own cache line) so the finder can note how far everyone had got.
fn search_worker<F: StopFlag>(
    id: usize,
    cfg: &SearchConfig,
    flag: &F,
    board: &Board,
    results: &Queue<(u32, u64)>,
) -> Result<()> {
    let matcher = Matcher::new(cfg.target, cfg.work);
    board.gate.wait(cfg.workers as u32);
    board.t_start.set(id, monotonic_ns())?;
    let cpu0 = cpu_now_ns();
    let mut done = 0u64;
    let mut exit = Exit::Exhausted;
    let mut put_failed = None;
    for n in cfg.range_of(id) {
        if cfg.early_exit && flag.is_set() {
            board.t_seen.set(id, monotonic_ns())?;
            exit = Exit::SawFlag;
            break;
        }
        done += 1;
        board.progress.set(id * PAD, done)?;
        if matcher.matches(n) {
            board.found.set(id, n)?;
            let won = claim(
                flag,
                cfg.set_mode,
                || board.stamp_set(cfg.workers),
                || put_failed = results.put(&(id as u32, n)).err(),
            );
            exit = if won { Exit::Won } else { Exit::FoundLate };
            break;
        }
    }
    board.cpu_ns.set(id, cpu_now_ns().saturating_sub(cpu0))?;
    board.t_end.set(id, monotonic_ns())?;
    board.iterations.set(id, done)?;
    board.exit.set(id, exit.code())?;
    match put_failed {
        Some(e) => Err(e).context("putting the result on the queue"),
        None => Ok(()),
    }
}
// ANCHOR_END: search_worker

/// Runs one search and reports what every worker did.
pub fn search(cfg: &SearchConfig) -> Result<SearchRun> {
    check_shape(cfg.workers, cfg.range_len)?;
    if let Target::Density(0) = cfg.target {
        bail!("density must be at least 1 (one match in every d items)");
    }
    match cfg.flag {
        FlagKind::Locked => run_search(cfg, &Value::new(false)?),
        FlagKind::Atomic => run_search(cfg, &AtomicFlag::new()?),
    }
}

fn run_search<F: StopFlag>(cfg: &SearchConfig, flag: &F) -> Result<SearchRun> {
    let n = cfg.workers;
    let board = Board::new(n)?;
    let results: Queue<(u32, u64)> = Queue::new()?;
    let mut procs = Vec::with_capacity(n);
    for id in 0..n {
        let (board, results) = (&board, &results);
        procs.push(Process::start(move || {
            search_worker(id, cfg, flag, board, results)
        })?);
    }
    let t0 = board.gate.opened(&procs)?;
    join_checked(&procs)?;
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
    Ok(SearchRun {
        config: *cfg,
        winners,
        workers,
        elapsed_ns: t_last.saturating_sub(t0),
    })
}

// --------------------------------------------------------------------------------------------
// Early exit against no early exit, and the price of the flag read
// --------------------------------------------------------------------------------------------

/// The same search with and without early exit.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub with_early_exit: SearchRun,
    pub without_early_exit: SearchRun,
}

pub fn compare_early_exit(cfg: &SearchConfig) -> Result<Comparison> {
    Ok(Comparison {
        with_early_exit: search(&SearchConfig {
            early_exit: true,
            ..*cfg
        })?,
        without_early_exit: search(&SearchConfig {
            early_exit: false,
            ..*cfg
        })?,
    })
}

/// CPU ns per iteration of a search that finds nothing (every worker runs its whole range),
/// for one way of checking the flag. Medians over `reps` runs, interleaved.
#[derive(Debug, Clone, Serialize)]
pub struct FlagCost {
    pub workers: usize,
    pub range_len: u64,
    pub work: u32,
    pub reps: usize,
    /// No flag read at all (`--no-early-exit`).
    pub none_ns: f64,
    pub atomic_ns: f64,
    pub locked_ns: f64,
    pub samples_none: Vec<f64>,
    pub samples_atomic: Vec<f64>,
    pub samples_locked: Vec<f64>,
}

impl FlagCost {
    /// What one locked read costs beyond one atomic read, per iteration.
    pub fn locked_extra_ns(&self) -> f64 {
        self.locked_ns - self.atomic_ns
    }
    pub fn atomic_extra_ns(&self) -> f64 {
        self.atomic_ns - self.none_ns
    }
}

/// Median of the values (NaN for none).
pub fn median(v: &[f64]) -> f64 {
    lab_support::stats::median(v).unwrap_or(f64::NAN)
}

pub fn median_u64(v: &[u64]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_unstable();
    Some(s[s.len() / 2])
}

pub fn flag_read_cost(workers: usize, range_len: u64, work: u32, reps: usize) -> Result<FlagCost> {
    ensure!(reps >= 1, "reps must be at least 1");
    // Nothing matches: the needle sits past the last range.
    let base = SearchConfig {
        workers,
        range_len,
        target: Target::Needle(u64::MAX),
        work,
        flag: FlagKind::Atomic,
        early_exit: true,
        set_mode: SetMode::LockCheckSet,
    };
    let (mut none, mut atomic, mut locked) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..reps {
        none.push(search(&SearchConfig {
            early_exit: false,
            ..base
        })?);
        atomic.push(search(&base)?);
        locked.push(search(&SearchConfig {
            flag: FlagKind::Locked,
            ..base
        })?);
    }
    let per = |runs: &[SearchRun]| {
        runs.iter()
            .map(SearchRun::cpu_ns_per_iteration)
            .collect::<Vec<_>>()
    };
    let (samples_none, samples_atomic, samples_locked) = (per(&none), per(&atomic), per(&locked));
    Ok(FlagCost {
        workers,
        range_len,
        work,
        reps,
        none_ns: median(&samples_none),
        atomic_ns: median(&samples_atomic),
        locked_ns: median(&samples_locked),
        samples_none,
        samples_atomic,
        samples_locked,
    })
}

// --------------------------------------------------------------------------------------------
// Lock-check-set against check-then-set
// --------------------------------------------------------------------------------------------

/// Repeated races where every worker finds a match on its very first item.
#[derive(Debug, Clone, Serialize)]
pub struct RaceTally {
    pub workers: usize,
    pub runs: usize,
    pub set_mode: SetMode,
    pub flag: FlagKind,
    /// `winners_histogram[k]` = runs in which `k` workers reported a win.
    pub winners_histogram: Vec<usize>,
    /// Every worker pid used over all runs (for leak checks).
    #[serde(skip)]
    pub pids: Vec<u32>,
    /// Every reported result was a match inside its worker's range.
    pub results_valid: bool,
}

impl RaceTally {
    /// Runs in which two or more workers reported a win.
    pub fn runs_with_several_winners(&self) -> usize {
        self.winners_histogram.iter().skip(2).sum()
    }
    pub fn runs_with_exactly_one(&self) -> usize {
        self.winners_histogram.get(1).copied().unwrap_or(0)
    }
    pub fn max_winners(&self) -> usize {
        self.winners_histogram.iter().rposition(|&c| c > 0).unwrap_or(0)
    }
}

pub fn race_trials(workers: usize, runs: usize, set_mode: SetMode, flag: FlagKind) -> Result<RaceTally> {
    ensure!(runs >= 1, "runs must be at least 1");
    // Every item matches, and each worker has a range of 1: all find a match at once.
    let cfg = SearchConfig {
        workers,
        range_len: 1,
        target: Target::Density(1),
        work: 1,
        flag,
        early_exit: true,
        set_mode,
    };
    let mut hist = vec![0usize; workers + 1];
    let mut pids = Vec::new();
    let mut results_valid = true;
    for _ in 0..runs {
        let run = search(&cfg)?;
        let k = run.winners.len().min(workers);
        hist[k] += 1;
        pids.extend(run.pids());
        for &(w, n) in &run.winners {
            let r = cfg.range_of(w as usize);
            results_valid &= (w as usize) < workers && r.contains(&n);
        }
    }
    Ok(RaceTally {
        workers,
        runs,
        set_mode,
        flag,
        winners_histogram: hist,
        pids,
        results_valid,
    })
}

// --------------------------------------------------------------------------------------------
// Smallest, not first: branch and bound
// --------------------------------------------------------------------------------------------

/// The result of a [`smallest`] search.
#[derive(Debug, Clone, Serialize)]
pub struct Smallest {
    pub workers: usize,
    pub range_len: u64,
    pub target: Target,
    /// The smallest match over all ranges, or `None` if there is none.
    pub smallest: Option<u64>,
    pub iterations: Vec<u64>,
    pub exits: Vec<Exit>,
    pub pids: Vec<u32>,
}

// ANCHOR: smallest
/// Lowers `best` to `n` unless it already holds something smaller (an atomic min).
fn lower_best(best: &RawValue<u64>, n: u64) {
    let mut cur = best.get();
    while n < cur {
        match best.compare_exchange(cur, n) {
            Ok(_) => return,
            Err(now) => cur = now,
        }
    }
}

/// A worker of the branch-and-bound search. Ranges are scanned upward, so the first match
/// in a range is that range's smallest; `best` holds the smallest match anyone has found so
/// far, and a worker whose next item is not below it abandons its range.
fn smallest_worker(range: Range<u64>, matcher: &Matcher, best: &RawValue<u64>) -> (u64, Exit) {
    let mut done = 0;
    for n in range {
        if n >= best.get() {
            return (done, Exit::Pruned); // the bound: nothing left here can beat `best`
        }
        done += 1;
        if matcher.matches(n) {
            lower_best(best, n); // share it: others may now prune
            return (done, Exit::Found);
        }
    }
    (done, Exit::Exhausted)
}
// ANCHOR_END: smallest

/// Finds the smallest match over `workers` ranges of `range_len` items, in parallel.
pub fn smallest(workers: usize, range_len: u64, target: Target, work: u32) -> Result<Smallest> {
    check_shape(workers, range_len)?;
    if let Target::Density(0) = target {
        bail!("density must be at least 1 (one match in every d items)");
    }
    let best = RawValue::new(u64::MAX)?;
    let iterations = RawArray::new(workers, 0u64)?;
    let exits = RawArray::new(workers, 0u64)?;
    let gate = StartGate::new()?;
    let matcher = Matcher::new(target, work);
    let procs = (0..workers)
        .map(|i| {
            let lo = i as u64 * range_len;
            let (best, iterations, exits, matcher, gate) = (&best, &iterations, &exits, &matcher, &gate);
            Process::start(move || -> Result<()> {
                gate.wait(workers as u32);
                let (done, exit) = smallest_worker(lo..lo + range_len, matcher, best);
                iterations.set(i, done)?;
                exits.set(i, exit.code())?;
                Ok(())
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    gate.opened(&procs)?;
    join_checked(&procs)?;
    let b = best.get();
    Ok(Smallest {
        workers,
        range_len,
        target,
        smallest: (b != u64::MAX).then_some(b),
        iterations: iterations.to_vec(),
        exits: exits.to_vec().into_iter().map(Exit::from_code).collect(),
        pids: procs.iter().map(Process::pid).collect(),
    })
}

// --------------------------------------------------------------------------------------------
// Helpers
// --------------------------------------------------------------------------------------------

/// Rejects shapes that cannot run: no workers, empty ranges, too many processes, or ranges
/// that do not fit in `u64`.
pub fn check_shape(workers: usize, range_len: u64) -> Result<()> {
    ensure!(workers >= 1, "workers must be at least 1 (got 0)");
    ensure!(
        workers <= MAX_WORKERS,
        "workers must be at most {MAX_WORKERS} (got {workers})"
    );
    ensure!(
        range_len >= 1,
        "the range of each worker must hold at least 1 number (got 0)"
    );
    ensure!(
        (workers as u64).checked_mul(range_len).is_some(),
        "{workers} ranges of {range_len} numbers do not fit in u64"
    );
    Ok(())
}

/// Refuses a needle no worker would reach: the ranges together cover `0 .. workers * range_len`,
/// and a needle past them would make every search examine everything and find nothing.
pub fn check_needle(workers: usize, range_len: u64, needle: u64) -> Result<()> {
    let end = (workers as u64).saturating_mul(range_len);
    ensure!(
        needle < end,
        "needle {needle} is outside every worker's range: {workers} workers x {range_len} numbers \
         cover 0..{end}, so pick a needle below {end}"
    );
    Ok(())
}

/// Joins every worker within [`JOIN_TIMEOUT`]; a worker still running is killed, and any
/// worker that did not exit cleanly is an error.
fn join_checked(procs: &[Process]) -> Result<()> {
    let statuses = join_all(procs, JOIN_TIMEOUT)?;
    for (p, st) in procs.iter().zip(statuses) {
        match st {
            None => bail!(
                "worker pid {} did not finish within {JOIN_TIMEOUT:?} and was killed",
                p.pid()
            ),
            Some(ExitStatus::Exited(0)) => {}
            Some(other) => bail!("worker pid {} {other}", p.pid()),
        }
    }
    Ok(())
}
