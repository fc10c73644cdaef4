//! Contract of exercise 2: lock, check, set (sections 2.1 and 6.1).

use coord_core::{Error, Queue, RawArray};
use coord_exercises_kit::ex02::{Find, Flag, FlagControl};

use crate::harness::{Barrier, Options, Report, Scene, Verdict, fail, run_scenario};

/// The function the exercise asks for.
pub type Ex02 = fn(usize, u64, &Flag, &Queue<Find>) -> Result<bool, Error>;

/// One round: how many workers find at once, and whether one more finds late, after the
/// others have all returned (it must see the claim and lose).
pub struct Round {
    pub workers: usize,
    pub late: bool,
}

/// The rounds, in order: several sizes (one worker, an odd number, many), two with a late
/// finder.
pub const ROUNDS: &[Round] = &[
    Round {
        workers: 8,
        late: false,
    },
    Round {
        workers: 3,
        late: true,
    },
    Round {
        workers: 1,
        late: false,
    },
    Round {
        workers: 5,
        late: false,
    },
    Round {
        workers: 2,
        late: true,
    },
];

const NOT_RETURNED: u8 = 0;
const LOST: u8 = 1;
const WON: u8 = 2;

/// What worker `i` found in round `r`.
pub fn value(round: usize, i: usize) -> u64 {
    1_000_000 * (round as u64 + 1) + i as u64
}

/// Each round: the workers wait at a start barrier, then all call `claim` at once. The
/// instrumented flag makes the race happen on every run, whatever path the code takes to
/// the flag (see `Flag`): a check that is not one step with the set under the lock loses
/// every time, not once in a while.
pub fn check(claim: Ex02, opts: &Options) -> Verdict {
    run_scenario(opts, |scene| {
        for (round, spec) in ROUNDS.iter().enumerate() {
            let r = round + 1;
            let n = spec.workers;
            let total = n + spec.late as usize;
            let (flag, ctl) = Flag::new(total, true)?;
            let results: Queue<Find> = Queue::new()?;
            let outcome = RawArray::new(total, NOT_RETURNED)?;
            let barrier = Barrier::new(n)?;
            let run = |i: usize, wait: bool| {
                scene.start(|| {
                    ctl.register(i);
                    if wait {
                        barrier.wait(scene.opts.wait);
                    }
                    let res = claim(i, value(round, i), &flag, &results);
                    ctl.finished(i);
                    scene.note(i, res).map(|won| {
                        let _ = outcome.set(i, if won { WON } else { LOST });
                    })
                })
            };
            let workers = (0..n).map(|i| run(i, true)).collect::<Result<Vec<_>, _>>()?;
            let statuses = scene.join_all(&workers)?;
            scene.exits_ok(&format!("round {r}: "), &statuses)?;
            let finds = drain(&results);
            let outcome_now = outcome.to_vec();
            let winners: Vec<usize> = (0..n).filter(|&i| outcome_now[i] == WON).collect();
            let head = format!(
                "round {r} ({n} worker{} finding at once)",
                if n == 1 { "" } else { "s" }
            );
            if winners.len() > 1 || finds.len() > 1 {
                return fail(format!(
                    "{head}: {} workers returned true and {} results were put, for one winner slot \
                     (workers {winners:?}): {}",
                    winners.len(),
                    finds.len(),
                    why_two_winners(&ctl)
                ));
            }
            let Some(&w) = winners.first() else {
                return fail(if finds.is_empty() {
                    format!("{head}: no worker returned true, though every one found a result")
                } else {
                    format!(
                        "{head}: a result was put ({:?}) but no worker returned true",
                        finds[0]
                    )
                });
            };
            let Some(f) = finds.first() else {
                return fail(format!(
                    "{head}: worker {w} returned true but no result was put on the queue"
                ));
            };
            let mine = Find {
                worker: w,
                value: value(round, w),
            };
            if *f != mine {
                return fail(format!(
                    "{head}: worker {w} won, but the result on the queue is {f:?} (expected {mine:?}: \
                     the winner's own number and value)"
                ));
            }
            if !ctl.is_set() {
                return fail(format!(
                    "{head}: worker {w} won but the flag was never set, so a later finder could claim again"
                ));
            }
            if spec.late {
                late_finder_loses(scene, &run, n, &outcome, &results, &head)?;
            }
            if ctl.stats().pause_timed_out {
                return fail(format!(
                    "{head}: a worker waited in vain for the others to read the flag"
                ));
            }
        }
        Ok(Report {
            facts: vec![
                format!(
                    "{} rounds of {:?} workers released together by a start barrier, two with a late finder",
                    ROUNDS.len(),
                    ROUNDS.iter().map(|r| r.workers).collect::<Vec<_>>()
                ),
                "every round: exactly one worker returned true, exactly one result (its own) on the queue, flag set"
                    .to_string(),
                "a finder that came after the claim returned false and put nothing".to_string(),
            ],
        })
    })
}

fn drain(results: &Queue<Find>) -> Vec<Find> {
    let mut v = Vec::new();
    while let Ok(f) = results.try_get() {
        v.push(f);
    }
    v
}

/// Worker `n` finds after everybody else has returned: it must lose and put nothing.
fn late_finder_loses<F>(
    scene: &Scene,
    run: &F,
    n: usize,
    outcome: &RawArray<u8>,
    results: &Queue<Find>,
    head: &str,
) -> Result<(), crate::Failure>
where
    F: Fn(usize, bool) -> Result<coord_core::Process, crate::Failure>,
{
    let late = run(n, false)?;
    let statuses = scene.join_all(std::slice::from_ref(&late))?;
    scene.exits_ok(&format!("{head}, late finder: "), &statuses)?;
    let extra = drain(results);
    if outcome.get(n)? == WON || !extra.is_empty() {
        return fail(format!(
            "{head}: worker {n} found after the winner had claimed and returned, yet it returned {} and put {} result(s): \
             a finder must see the flag already set and lose",
            outcome.get(n)? == WON,
            extra.len()
        ));
    }
    Ok(())
}

/// Why more than one worker could claim, from what the flag saw.
fn why_two_winners(ctl: &FlagControl) -> String {
    let s = ctl.stats();
    let who = |v: &[u64]| v.iter().position(|&c| c > 0);
    if let Some(w) = who(&s.empty_then_unlocked) {
        return format!(
            "worker {w} took the lock and released it on the same line (`let _ = found.lock();` or a bare \
             `found.lock();` drops the guard at once), so its check and set ran without the lock; \
             keep the guard in a named variable: `let _guard = found.lock();`"
        );
    }
    if s.first_setter.is_none() {
        return "the flag was never set, so every finder saw it unset".to_string();
    }
    if let Some(w) = who(&s.unclaimed) {
        return format!(
            "worker {w} checked the flag under the lock, let the lock go, and set it under a second \
             acquisition: in between, the others checked too; the check and the set were not one step under the lock"
        );
    }
    if let Some(w) = who(&s.reads_unlocked) {
        return format!(
            "worker {w} checked the flag outside the lock and did not check it again inside: every finder \
             saw it unset before anyone set it; the check and the set were not one step under the lock"
        );
    }
    if let Some(w) = who(&s.sets_unlocked) {
        return format!(
            "worker {w} set the flag without holding the lock; the check and the set were not one step under the lock"
        );
    }
    "a finder claimed without checking the flag under the lock: the check and the set were not one step under the lock"
        .to_string()
}
