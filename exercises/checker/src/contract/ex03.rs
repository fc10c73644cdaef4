//! Contract of exercise 3: cooperative early exit (section 2.1).

use std::ops::Range;

use coord_core::{Error, Queue, Value};
use coord_exercises_kit::ex03::{Find, Probe};
use coord_exercises_kit::set_worker_index;

use crate::harness::{Barrier, Options, Report, Verdict, fail, run_scenario};

/// The function the exercise asks for.
pub type Ex03 = fn(usize, Range<u64>, &Value<bool>, &Probe, &Queue<Find>) -> Result<(), Error>;

pub const WORKERS: usize = 4;
pub const SPAN: u64 = 100_000;
/// The only worker whose range holds the match, and where in it.
pub const WINNER: usize = 2;
pub const TARGET: u64 = WINNER as u64 * SPAN + 1_000;
/// Where the other workers pause until the winner has set the flag.
pub const PAUSE_AT: u64 = 10;

/// Four workers search four ranges of 100,000; only one candidate (1,000 into worker 2's
/// range) matches. The others pause at their tenth test until the flag is set, so what they
/// do after that is the same on every run: a correct search stops at once, one that never
/// checks the flag scans the rest of its range.
pub fn check(search: Ex03, opts: &Options) -> Verdict {
    run_scenario(opts, |scene| {
        let probe = Probe::new(WORKERS, TARGET, WINNER, PAUSE_AT)?;
        let results: Queue<Find> = Queue::new()?;
        let barrier = Barrier::new(WORKERS)?;
        let workers = (0..WORKERS)
            .map(|i| {
                scene.start(|| {
                    set_worker_index(i);
                    probe.register(i);
                    barrier.wait(scene.opts.wait);
                    let start = i as u64 * SPAN;
                    let r = search(i, start..start + SPAN, probe.flag(), &probe, &results);
                    probe.finished(i);
                    scene.note(i, r)
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let statuses = scene.join_all(&workers)?;
        scene.exits_ok("", &statuses)?;
        let mut finds = Vec::new();
        while let Ok(f) = results.try_get() {
            finds.push(f);
        }
        let tests = probe.tests();
        let wasted = probe.wasted();
        if finds.len() != 1 {
            return fail(format!(
                "{} results were put on the queue; first found wins, so exactly one",
                finds.len()
            ));
        }
        let expected = Find {
            worker: WINNER,
            value: TARGET,
        };
        if finds[0] != expected {
            return fail(format!(
                "the result on the queue is {:?}, expected {expected:?}",
                finds[0]
            ));
        }
        if !probe.flag().get() {
            return fail(format!(
                "worker {WINNER} found {TARGET} but the shared flag was never set, so nobody else could know to stop"
            ));
        }
        if probe.pause_timed_out() {
            return fail("a worker waited in vain for the flag to be set");
        }
        if let Some(w) = (0..WORKERS).find(|&w| wasted[w] > 1) {
            return fail(format!(
                "worker {w} began {} tests after the flag was set (allowed: 1, the one it may already have begun); \
                 tests per worker after the stop: {wasted:?}",
                wasted[w]
            ));
        }
        Ok(Report {
            facts: vec![
                format!("worker {WINNER} found {TARGET}; exactly one result on the queue; flag set"),
                format!("tests per worker: {tests:?} (of {SPAN} candidates each)"),
                format!("tests begun after the stop, per worker: {wasted:?} (bound: 1 each)"),
            ],
        })
    })
}
