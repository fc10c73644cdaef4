//! Contract of exercise 4: choose the primitive (sections 3.1 and 5.1).

use std::time::{Duration, Instant};

use coord_core::{Manager, RawArray, RawValue};
use coord_exercises_kit::ex04::SharedState;
use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;

use crate::harness::{Options, Report, Verdict, fail, proc_state, run_scenario};

/// Round trips allowed on top of one per result (a `len`, a `to_vec`...).
pub const SPARE_ROUND_TRIPS: u64 = 16;
/// In a round with interruptions, each worker is stopped and resumed this many times.
pub const STOPS: u32 = 24;
/// A stopped worker is resumed once another worker has done this many more items.
pub const OTHERS_PROGRESS: u64 = 256;

/// One round: `workers` workers; each records every `every`-th of its first `result_items`
/// items as a result, and counts items until the checker says stop.
pub struct Round {
    pub workers: usize,
    pub result_items: u64,
    pub every: u64,
    /// Whether the checker stops and resumes the workers at arbitrary points while they count.
    pub interrupted: bool,
}

/// The rounds: a small one in which every worker is stopped and resumed at arbitrary points
/// (a read-then-write counter loses updates there every time), and one with 12,500 results:
/// more than any size a fixed array could have been given by a guess.
pub const ROUNDS: &[Round] = &[
    Round {
        workers: 3,
        result_items: 3_000,
        every: 97,
        interrupted: true,
    },
    Round {
        workers: 5,
        result_items: 5_000,
        every: 2,
        interrupted: false,
    },
];

/// The value worker `w` records for its item `n`.
pub fn result_value(w: usize, n: u64) -> i64 {
    (w as u64 * 1_000_000_000 + n) as i64
}

/// Every result of round `r`, sorted.
pub fn expected_results(r: &Round) -> Vec<i64> {
    (0..r.workers)
        .flat_map(|w| {
            (0..r.result_items)
                .filter(|n| n % r.every == 0)
                .map(move |n| result_value(w, n))
        })
        .collect()
}

/// Each round: the workers count items and record a result now and then; then the parent reads
/// the total and the results once. In the first round the parent stops and resumes each worker
/// again and again at arbitrary points of its loop, so a counter whose update is not one step
/// loses updates on every run. Checks exact values, and counts the manager's round trips: more
/// than one per result means the manager sits in the hot loop.
pub fn check<S: SharedState>(opts: &Options) -> Verdict {
    run_scenario(opts, |scene| {
        let mut facts = Vec::new();
        for (ri, round) in ROUNDS.iter().enumerate() {
            let n = round.workers;
            let head = format!("round {} ({n} workers): ", ri + 1);
            let manager = Manager::start()?;
            scene.track(manager.pid());
            let state = match S::new(&manager) {
                Ok(s) => s,
                Err(e) => return fail(format!("{head}new() returned an error: {e}")),
            };
            let go_home = RawValue::new(!round.interrupted)?;
            let interrupted = round.interrupted;
            let all_cpus = sched_getaffinity(Pid::from_raw(0)).map_err(coord_core::Error::from)?;
            // Everybody on one CPU: a worker runs only when another one (or this process)
            // has taken the CPU from it, wherever it was; a stop lands as soon as it is sent.
            let cpu = (0..CpuSet::count())
                .find(|&c| all_cpus.is_set(c).unwrap_or(false))
                .unwrap_or(0);
            if interrupted {
                pin(cpu);
            }
            let running = RawArray::new(n, 0u8)?;
            let counted = RawArray::new(n, u64::MAX)?;
            let progress = RawArray::new(n, 0u64)?;
            let workers = (0..n)
                .map(|w| {
                    scene.start(|| {
                        if interrupted {
                            pin(cpu);
                        }
                        let _ = running.set(w, 1);
                        let mut i = 0u64;
                        let r = (|| -> Result<(), coord_core::Error> {
                            while i < round.result_items || !go_home.get() {
                                state.count()?;
                                if i < round.result_items && i % round.every == 0 {
                                    state.record(result_value(w, i))?;
                                }
                                i += 1;
                                if i % 64 == 0 {
                                    let _ = progress.set(w, i);
                                }
                            }
                            Ok(())
                        })();
                        let _ = counted.set(w, i);
                        scene.note(w, r)
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let mut stops = vec![0u32; n];
            if round.interrupted {
                let deadline = Instant::now() + scene.opts.wait;
                let mut rng = 0x9e37_79b9_7f4a_7c15u64 ^ ri as u64;
                let counting = |w: usize| counted.get(w).ok() == Some(u64::MAX) && workers[w].is_alive();
                while (0..n).any(|w| stops[w] < STOPS && counting(w)) && Instant::now() < deadline {
                    for (w, p) in workers.iter().enumerate() {
                        if running.get(w)? != 1 || counted.get(w)? != u64::MAX || !p.is_alive() {
                            continue;
                        }
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        let pid = Pid::from_raw(p.pid() as i32);
                        // Stopped at whatever instruction it was on, until the others have
                        // counted a while: if it was between a read and a write of the
                        // counter, their counts are overwritten when it resumes.
                        let _ = kill(pid, Signal::SIGSTOP);
                        let until = Instant::now() + Duration::from_millis(20);
                        let mut held = false;
                        while !held && Instant::now() < until {
                            std::thread::sleep(Duration::from_micros(20));
                            held = proc_state(p.pid()) == Some('T');
                        }
                        let before: Vec<u64> = progress.to_vec();
                        let until = Instant::now() + Duration::from_millis(5);
                        let mut overtaken = false;
                        while held && !overtaken && Instant::now() < until {
                            std::thread::sleep(Duration::from_micros(20 + rng % 50));
                            overtaken = (0..n).any(|o| {
                                o != w && progress.get(o).unwrap_or(0) >= before[o] + OTHERS_PROGRESS
                            });
                        }
                        let _ = kill(pid, Signal::SIGCONT);
                        if overtaken && counted.get(w)? == u64::MAX {
                            stops[w] += 1;
                        }
                        std::thread::sleep(Duration::from_micros(20 + rng % 100));
                    }
                }
                go_home.set(true);
                for p in &workers {
                    if p.is_alive() {
                        let _ = kill(Pid::from_raw(p.pid() as i32), Signal::SIGCONT);
                    }
                }
            }
            let statuses = scene.join_all(&workers)?;
            let _ = sched_setaffinity(Pid::from_raw(0), &all_cpus);
            scene.exits_ok(&head, &statuses)?;
            let expected = expected_results(round);
            let counts: u64 = counted.to_vec().iter().sum();
            let total = match state.total() {
                Ok(t) => t,
                Err(e) => return fail(format!("{head}total() returned an error: {e}")),
            };
            let mut results = match state.results() {
                Ok(r) => r,
                Err(e) => return fail(format!("{head}results() returned an error: {e}")),
            };
            results.sort_unstable();
            let calls = manager.stats()?.calls;
            let _ = manager.shutdown();
            if total < counts {
                return fail(format!(
                    "{head}total() is {total}, but {counts} counts were made: {} updates were lost. A read followed \
                     by a write is two steps: another worker's count lands in between and is overwritten. Make \
                     the update one step (fetch_add), or hold the lock across both",
                    counts - total
                ));
            }
            if total > counts {
                return fail(format!(
                    "{head}total() is {total}, but only {counts} counts were made: {} counts were invented",
                    total - counts
                ));
            }
            if results != expected {
                let missing = expected
                    .iter()
                    .filter(|v| results.binary_search(v).is_err())
                    .count();
                return fail(format!(
                    "{head}results() gave {} values, expected {} ({missing} of the expected ones missing): \
                     the list must grow as long as it needs to",
                    results.len(),
                    expected.len()
                ));
            }
            let budget = expected.len() as u64 + SPARE_ROUND_TRIPS;
            if calls > budget {
                return fail(format!(
                    "{head}the manager served {calls} round trips for {counts} counts and {} results (budget: {budget}): \
                     a manager in a tight loop",
                    expected.len()
                ));
            }
            facts.push(format!(
                "{head}total = {total}, exact{}",
                if round.interrupted {
                    format!(
                        " (each worker stopped and resumed while counting, at least {} times, up to {STOPS} \
                         asked: {stops:?})",
                        stops.iter().min().unwrap_or(&0)
                    )
                } else {
                    String::new()
                }
            ));
            facts.push(format!(
                "{head}all {} results there, each once; manager round trips: {calls} (budget {budget})",
                expected.len()
            ));
        }
        Ok(Report { facts })
    })
}

/// Runs this process on CPU `cpu` only (best effort).
fn pin(cpu: usize) {
    let mut set = CpuSet::new();
    if set.set(cpu).is_ok() {
        let _ = sched_setaffinity(Pid::from_raw(0), &set);
    }
}
