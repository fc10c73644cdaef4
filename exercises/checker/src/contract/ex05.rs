//! Contract of exercise 5: the check interval (section 4.1).

use std::time::{Duration, Instant};

use coord_core::Queue;
use coord_exercises_kit::ex05::{StopFlag, Tally, Work};
use coord_exercises_kit::set_worker_index;

use crate::harness::{Options, Report, Verdict, fail, run_scenario};

/// The function the exercise asks for.
pub type Ex05 = fn(&StopFlag, u64, &Work) -> Tally;

pub const WORKERS: usize = 3;
pub const LEN: u64 = 100_000;
/// Each worker pauses in this step until the stop is raised.
pub const PAUSE_AT: u64 = 5_003;
/// The check intervals tried (the lecture compares 10 and 1000).
pub const INTERVALS: [u64; 3] = [1, 10, 1000];

/// For each interval k: three workers run until each is paused at step 5,003; then the stop
/// is raised and they resume. Checks the reads per iteration, the iterations after the stop,
/// and that each worker's report matches what the instrumented flag and work counted.
pub fn check(worker: Ex05, opts: &Options) -> Verdict {
    run_scenario(opts, |scene| {
        let mut facts = vec![format!(
            "{WORKERS} workers, {LEN} items each; the stop is raised when each has done {PAUSE_AT} steps (sums over the workers)"
        )];
        facts.push(format!(
            "{:>6}  {:>12}  {:>12}  {:>26}",
            "k", "iterations", "flag reads", "iterations after the stop"
        ));
        for k in INTERVALS {
            let stop = StopFlag::new(WORKERS)?;
            let work = Work::new(WORKERS, LEN, PAUSE_AT)?;
            let tallies: Queue<(usize, Tally)> = Queue::new()?;
            let workers = (0..WORKERS)
                .map(|i| {
                    scene.start(|| {
                        set_worker_index(i);
                        let t = worker(&stop, k, &work);
                        tallies.put(&(i, t))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            // Wait until every worker is paused (or gone), then raise the stop.
            let deadline = Instant::now() + scene.opts.wait;
            while (work.paused() as usize) < WORKERS
                && workers.iter().any(|w| w.is_alive())
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_micros(200));
            }
            stop.raise();
            work.mark_stopped();
            let statuses = scene.join_all(&workers)?;
            scene.exits_ok(&format!("k={k}: "), &statuses)?;
            let mut reported = [Tally::default(); WORKERS];
            while let Ok((i, t)) = tallies.try_get() {
                reported[i] = t;
            }
            let steps = work.steps();
            let after = work.after_stop();
            let reads = stop.reads();
            for i in 0..WORKERS {
                let who = format!("k={k}: worker {i}");
                if steps[i] < PAUSE_AT {
                    return fail(format!(
                        "{who} stopped after {} iterations, before the stop was raised",
                        steps[i]
                    ));
                }
                if after[i] > k {
                    return fail(format!(
                        "{who} did {} iterations after the stop; checking every {k} allows at most {k}",
                        after[i]
                    ));
                }
                let (lo, hi) = (steps[i] / k, steps[i] / k + 1);
                if reads[i] < lo || reads[i] > hi {
                    return fail(format!(
                        "{who} read the flag {} times in {} iterations; once every {k} iterations is {lo} or {hi}",
                        reads[i], steps[i]
                    ));
                }
                if reported[i].iterations != steps[i] || reported[i].flag_reads != reads[i] {
                    return fail(format!(
                        "{who} reported {} iterations and {} flag reads, but did {} iterations and read the flag {} times",
                        reported[i].iterations, reported[i].flag_reads, steps[i], reads[i]
                    ));
                }
            }
            facts.push(format!(
                "{k:>6}  {:>12}  {:>12}  {:>26}",
                steps.iter().sum::<u64>(),
                reads.iter().sum::<u64>(),
                after.iter().sum::<u64>()
            ));
        }
        facts.push("fewer reads cost more work after the stop: the check interval is the trade-off".into());
        Ok(Report { facts })
    })
}
