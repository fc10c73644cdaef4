//! Contract of exercise 2: lock, check, set (sections 2.1 and 6.1).

use coord_core::{Error, Queue, RawArray};
use coord_exercises_kit::ex02::{Find, Flag};
use coord_exercises_kit::set_worker_index;

use crate::harness::{Barrier, Options, Report, Verdict, fail, run_scenario};

/// The function the exercise asks for.
pub type Ex02 = fn(usize, u64, &Flag, &Queue<Find>) -> Result<bool, Error>;

pub const WORKERS: usize = 8;
pub const ROUNDS: usize = 5;

const NOT_RETURNED: u8 = 0;
const LOST: u8 = 1;
const WON: u8 = 2;

/// What worker `i` found in round `r`.
pub fn value(round: usize, i: usize) -> u64 {
    1_000_000 * (round as u64 + 1) + i as u64
}

/// Each round: eight workers wait at a start barrier, then all call `claim` at once. The
/// instrumented flag makes the race happen on every run (see `Flag`), so a check outside the
/// lock loses every time, not once in a while.
pub fn check(claim: Ex02, opts: &Options) -> Verdict {
    run_scenario(opts, |scene| {
        for round in 0..ROUNDS {
            let flag = Flag::new(WORKERS)?;
            let results: Queue<Find> = Queue::new()?;
            let outcome = RawArray::new(WORKERS, NOT_RETURNED)?;
            let barrier = Barrier::new(WORKERS)?;
            let workers = (0..WORKERS)
                .map(|i| {
                    scene.start(|| {
                        set_worker_index(i);
                        flag.register(i);
                        barrier.wait(scene.opts.wait);
                        let r = claim(i, value(round, i), &flag, &results);
                        flag.finished();
                        scene.note(i, r).map(|won| {
                            let _ = outcome.set(i, if won { WON } else { LOST });
                        })
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let statuses = scene.join_all(&workers)?;
            scene.exits_ok(&format!("round {}: ", round + 1), &statuses)?;
            let mut finds = Vec::new();
            while let Ok(f) = results.try_get() {
                finds.push(f);
            }
            let outcome = outcome.to_vec();
            let winners: Vec<usize> = (0..WORKERS).filter(|&i| outcome[i] == WON).collect();
            let r = round + 1;
            if winners.len() > 1 || finds.len() > 1 {
                let why = if flag.peek() {
                    "the check and the set were not one step under the lock"
                } else {
                    "the flag was never set, so every finder saw it unset"
                };
                return fail(format!(
                    "round {r}: {} workers returned true and {} results were put, for one winner slot \
                     (workers {winners:?}): {why}",
                    winners.len(),
                    finds.len()
                ));
            }
            if winners.is_empty() {
                return fail(format!(
                    "round {r}: no worker returned true, though all {WORKERS} found a result"
                ));
            }
            let w = winners[0];
            let Some(f) = finds.first() else {
                return fail(format!(
                    "round {r}: worker {w} returned true but no result was put on the queue"
                ));
            };
            if *f
                != (Find {
                    worker: w,
                    value: value(round, w),
                })
            {
                return fail(format!(
                    "round {r}: worker {w} won, but the result on the queue is {f:?} (expected worker {w}, value {})",
                    value(round, w)
                ));
            }
            if !flag.peek() {
                return fail(format!(
                    "round {r}: the flag was never set, so a later finder could claim again"
                ));
            }
        }
        Ok(Report {
            facts: vec![
                format!("{ROUNDS} rounds of {WORKERS} workers released together by a start barrier"),
                "every round: exactly one worker returned true, exactly one result (its own) on the queue, flag set"
                    .to_string(),
            ],
        })
    })
}
