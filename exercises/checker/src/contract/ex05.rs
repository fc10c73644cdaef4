//! Contract of exercise 5: the check interval (section 4.1).

use std::time::{Duration, Instant};

use coord_core::Queue;
use coord_exercises_kit::ex05::{Control, StopFlag, Tally, Work, scenario};

use crate::harness::{Options, Report, Scene, Verdict, fail, run_scenario};

/// The function the exercise asks for.
pub type Ex05 = fn(&StopFlag, u64, &Work) -> Tally;

/// Items per worker when a stop comes: so many that running to the end would take hours.
pub const LONG: u64 = 1 << 40;
/// The check intervals tried (the lecture compares 10 and 1000; 7 divides nothing else here).
pub const INTERVALS: [u64; 4] = [1, 7, 10, 1000];
/// Full intervals each worker completes before the stop.
pub const ROUNDS_BEFORE_STOP: u64 = 5;

/// Where each of the three workers is held until the stop, for interval `k`: right after a
/// read of the flag (the worst case: a whole interval to go), in the middle, and right before
/// the next read.
pub fn pauses(k: u64) -> Vec<u64> {
    let m = ROUNDS_BEFORE_STOP * k;
    vec![m + 1, m + k.div_ceil(2), m + k]
}

/// Items per worker when no stop comes: they must all be done, `0..len()`.
pub fn run_out_len(k: u64) -> u64 {
    3 * k + 2
}

/// For each interval k: (1) three workers run until each is held at its chosen step; then the
/// stop is raised and they resume: checks that each reads the flag once per k iterations,
/// does no more than k - 1 iterations after the stop, steps nothing and reads nothing once a
/// read said stop, and reports its counts exactly. (2) Two workers with a short list and no
/// stop: each must process exactly items `0..len()` and return.
pub fn check(worker: Ex05, opts: &Options) -> Verdict {
    run_scenario(opts, |scene| {
        let mut facts = vec![format!(
            "3 workers with {LONG} items each, held at a chosen step until the stop (sums over the workers)"
        )];
        facts.push(format!(
            "{:>6}  {:>12}  {:>12}  {:>26}",
            "k", "iterations", "flag reads", "iterations after the stop"
        ));
        for k in INTERVALS {
            let (steps, reads, after) = with_stop(scene, worker, k)?;
            facts.push(format!("{k:>6}  {steps:>12}  {reads:>12}  {after:>26}"));
            run_out(scene, worker, k)?;
        }
        facts.push("fewer reads cost more work after the stop: the check interval is the trade-off".into());
        facts.push("with a short list and no stop, every item 0..len() was processed once, in order".into());
        Ok(Report { facts })
    })
}

/// The pieces of one scenario.
struct Run<'a> {
    stop: &'a StopFlag,
    work: &'a Work,
    ctl: &'a Control,
    tallies: &'a Queue<(usize, Tally)>,
}

fn start(
    scene: &Scene,
    worker: Ex05,
    k: u64,
    run: &Run,
    n: usize,
) -> Result<Vec<coord_core::Process>, crate::Failure> {
    (0..n)
        .map(|i| {
            scene.start(|| {
                run.ctl.register(i);
                let t = worker(run.stop, k, run.work);
                run.tallies.put(&(i, t))
            })
        })
        .collect()
}

fn with_stop(scene: &Scene, worker: Ex05, k: u64) -> Result<(u64, u64, u64), crate::Failure> {
    let pause = pauses(k);
    let n = pause.len();
    let (stop, work, ctl) = scenario(LONG, pause.clone())?;
    let tallies: Queue<(usize, Tally)> = Queue::new()?;
    let workers = start(
        scene,
        worker,
        k,
        &Run {
            stop: &stop,
            work: &work,
            ctl: &ctl,
            tallies: &tallies,
        },
        n,
    )?;
    // Wait until every worker is held (or gone), then raise the stop.
    let deadline = Instant::now() + scene.opts.wait;
    while ctl.paused() < n && workers.iter().any(|w| w.is_alive()) && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(200));
    }
    ctl.raise();
    let statuses = scene.join_all(&workers)?;
    let mut reported = vec![None; n];
    while let Ok((i, t)) = tallies.try_get() {
        reported[i] = Some(t);
    }
    scene.own_panics_ok(&format!("k={k}: "), &statuses)?;
    let mut sums = (0, 0, 0);
    for (i, &held_at) in pause.iter().enumerate() {
        let who = format!("k={k}: worker {i}");
        let c = ctl.counts(i);
        if let Some(bad) = c.bad_step {
            return fail(format!(
                "{who} stepped item {bad} where another was due: the items are 0..len(), each once, in order"
            ));
        }
        if c.after_seen > 0 {
            return fail(format!(
                "{who} did {} step(s) after a read of the flag said stop: return as soon as a read says stop",
                c.after_seen
            ));
        }
        if c.reads_after_seen > 0 {
            return fail(format!(
                "{who} read the flag {} more time(s) after a read had said stop: it stopped working but kept \
                 looping; return as soon as a read says stop",
                c.reads_after_seen
            ));
        }
        if !c.paused {
            return fail(format!(
                "{who} stopped after {} iterations, before the stop was raised (it was due to be held at step {})",
                c.steps, held_at
            ));
        }
        if c.after_stop > k - 1 {
            return fail(format!(
                "{who} did {} iterations after the stop; reading the flag every {k} iterations allows at most {}",
                c.after_stop,
                k - 1
            ));
        }
        let (lo, hi) = (c.steps / k, c.steps / k + 1);
        if c.reads < lo || c.reads > hi {
            return fail(format!(
                "{who} read the flag {} times in {} iterations; once every {k} iterations is {lo} or {hi}",
                c.reads, c.steps
            ));
        }
        sums = (sums.0 + c.steps, sums.1 + c.reads, sums.2 + c.after_stop);
    }
    scene.exits_ok(&format!("k={k}: "), &statuses)?;
    tallies_match(k, &reported, &ctl)?;
    if ctl.timed_out() {
        return fail(format!("k={k}: a worker waited in vain for the stop"));
    }
    Ok(sums)
}

fn run_out(scene: &Scene, worker: Ex05, k: u64) -> Result<(), crate::Failure> {
    let n = 2;
    let len = run_out_len(k);
    let (stop, work, ctl) = scenario(len, vec![0; n])?;
    let tallies: Queue<(usize, Tally)> = Queue::new()?;
    let workers = start(
        scene,
        worker,
        k,
        &Run {
            stop: &stop,
            work: &work,
            ctl: &ctl,
            tallies: &tallies,
        },
        n,
    )?;
    let statuses = scene.join_all(&workers)?;
    let mut reported = vec![None; n];
    while let Ok((i, t)) = tallies.try_get() {
        reported[i] = Some(t);
    }
    scene.own_panics_ok(&format!("k={k}, no stop: "), &statuses)?;
    for i in 0..n {
        let who = format!("k={k}, {len} items and no stop: worker {i}");
        let c = ctl.counts(i);
        if let Some(bad) = c.bad_step {
            return fail(format!(
                "{who} stepped item {bad} where another was due: the items are 0..len(), each once, in order"
            ));
        }
        if c.steps != len {
            return fail(format!("{who} processed {} of its {len} items", c.steps));
        }
        let (lo, hi) = (len / k, len / k + 1);
        if c.reads < lo || c.reads > hi {
            return fail(format!(
                "{who} read the flag {} times in {len} iterations; once every {k} iterations is {lo} or {hi}",
                c.reads
            ));
        }
    }
    scene.exits_ok(&format!("k={k}, no stop: "), &statuses)?;
    tallies_match(k, &reported, &ctl)
}

fn tallies_match(k: u64, reported: &[Option<Tally>], ctl: &Control) -> Result<(), crate::Failure> {
    for (i, r) in reported.iter().enumerate() {
        let c = ctl.counts(i);
        let r = r.unwrap_or_default();
        if r.iterations != c.steps || r.flag_reads != c.reads {
            return fail(format!(
                "k={k}: worker {i} reported {} iterations and {} flag reads, but did {} iterations and read the flag {} times",
                r.iterations, r.flag_reads, c.steps, c.reads
            ));
        }
    }
    Ok(())
}
