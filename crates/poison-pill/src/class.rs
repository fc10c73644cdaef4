//! `--class`: one scenario to run live in front of a room. Before each reveal, a one-line
//! question; then Enter shows what happened (no pause when stdin is not a terminal, so the
//! whole thing can be captured or tested).
//!
//! Each step runs its mode a few times: the timeline of the first run, and the spread of the
//! losses over all of them, so the room sees which answers are guaranteed and which depend on
//! how the processes happened to be scheduled.

use std::fmt::Write;

use crate::config::{Config, Shutdown};
use crate::lanes;
use crate::render::emit;
use crate::scenarios::{self, RunReport};

/// Runs of each mode per step: enough to show a spread, few enough to stay in seconds.
pub const RUNS: usize = 5;
/// The class workload: small enough that a timeline fits a projected screen.
pub const TASKS: u32 = 24;
pub const TASK_US: u32 = 1_500;

/// The size of task `id` under `seed`: between half and one and a half times [`TASK_US`],
/// always the same for the same seed and id (splitmix64 of both).
pub fn task_us(seed: u64, id: u32) -> u32 {
    let mut z = seed
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .wrapping_add(id as u64 + 1)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    TASK_US / 2 + (z % (TASK_US as u64 + 1)) as u32
}

/// One step: the question, and the mode that answers it.
struct Step {
    mode: Shutdown,
    title: &'static str,
    question: &'static str,
}

const STEPS: [Step; 3] = [
    Step {
        mode: Shutdown::Pill,
        title: "the poison pill: one Stop per worker, on the task queue, behind the last task",
        question: "How many tasks will be lost, and when will each worker read its Stop?",
    },
    Step {
        mode: Shutdown::SideChannel,
        title: "a side channel: a shared stop flag, set right after the last put, and no Stop",
        question: "How many of the tasks will be lost now?",
    },
    Step {
        mode: Shutdown::Terminate,
        title: "no pill: terminate() every worker as soon as the task queue looks empty",
        question: "The queue is empty when the parent acts. How many tasks will be lost?",
    },
];

/// Runs the class scenario. `say` prints, `pause` waits for Enter (or does nothing). Returns
/// whether the pill runs kept their promise (every task once, every worker exited on its own).
pub fn run(
    workers: u32,
    seed: u64,
    width: usize,
    color: bool,
    say: &mut dyn FnMut(&str),
    pause: &mut dyn FnMut(),
) -> anyhow::Result<bool> {
    let cfg = Config::new(workers, TASKS, TASK_US, 200);
    cfg.validate()?;
    let sizes: Vec<u32> = (0..TASKS).map(|id| task_us(seed, id)).collect();
    let cpu_ms = sizes.iter().map(|&u| u as f64).sum::<f64>() / 1e3;
    say(&format!(
        "Lecture 27, Concept 1.1, class mode (Rust, real processes)\n\
         {workers} worker processes, one task queue. The parent puts {TASKS} tasks of {:.1}-{:.1} ms of CPU\n\
         ({cpu_ms:.1} ms in all; --seed {seed} always gives these sizes). Each step runs {RUNS} times.\n",
        *sizes.iter().min().unwrap_or(&0) as f64 / 1e3,
        *sizes.iter().max().unwrap_or(&0) as f64 / 1e3,
    ));
    let mut promise_kept = true;
    for (n, step) in STEPS.iter().enumerate() {
        say(&format!("\nStep {} of {}: {}\n", n + 1, STEPS.len(), step.title));
        say(&format!("Question for the room: {}\n", step.question));
        pause();
        let mut runs: Vec<RunReport> = Vec::with_capacity(RUNS);
        for _ in 0..RUNS {
            runs.push(scenarios::run_sized(&cfg, step.mode, &|id| sizes[id as usize])?);
        }
        if step.mode == Shutdown::Pill {
            promise_kept &= runs.iter().all(RunReport::pill_ok);
        }
        say(&reveal(&runs, width, color));
    }
    say(
        "\nTake away: only the pill's answer never changes. It travels in the queue's order, so\n\
         it cannot overtake a task; a flag beside the queue can, and terminate() does not wait.\n",
    );
    Ok(promise_kept)
}

/// The answer to one step: the first run's timeline, then the losses over every run.
fn reveal(runs: &[RunReport], width: usize, color: bool) -> String {
    let first = &runs[0];
    let mut s = String::from("\n");
    s.push_str(&timeline::text::chart(&first.timeline, width, color));
    for line in lanes::what_it_shows(first) {
        let _ = writeln!(s, "{line}");
    }
    let lost: Vec<u32> = runs.iter().map(|r| r.accounting.lost()).collect();
    let (min, max) = (lost.iter().min().unwrap_or(&0), lost.iter().max().unwrap_or(&0));
    let list = lost.iter().map(u32::to_string).collect::<Vec<_>>().join(", ");
    let put = first.accounting.tasks_put;
    let _ = if min == max {
        writeln!(
            s,
            "Answer: {min} of {put} lost, in every one of {} runs ({list}).\n{}",
            runs.len(),
            match first.mode {
                Shutdown::Pill => "Not a matter of timing: the queue's order guarantees it.",
                _ => "Timing-dependent all the same: another machine, or another load, can differ.",
            }
        )
    } else {
        writeln!(
            s,
            "Answer: {min} to {max} of {put} lost over {} runs ({list}): timing-dependent,\n\
             it depends on how the scheduler ran the processes when the parent acted.",
            runs.len()
        )
    };
    s
}

/// `--class`: the steps print as they go, with Enter between them only when stdin is a
/// terminal (so a captured or tested run never waits). Returns the exit code.
pub fn in_class(workers: u32, seed: u64) -> anyhow::Result<i32> {
    let (width, color) = (timeline::term_width(), timeline::color_wanted());
    let pause = &mut timeline::class::reveal_pause();
    let kept = run(workers, seed, width, color, &mut |s| emit(s), pause)?;
    let left = scenarios::children_left();
    if !left.is_empty() {
        emit(&format!("processes left behind: {left:?}\n"));
    }
    Ok(if kept && left.is_empty() { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_always_gives_the_same_sizes_and_seeds_differ() {
        let a: Vec<u32> = (0..TASKS).map(|id| task_us(7, id)).collect();
        let b: Vec<u32> = (0..TASKS).map(|id| task_us(7, id)).collect();
        let c: Vec<u32> = (0..TASKS).map(|id| task_us(8, id)).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(
            a.iter()
                .chain(&c)
                .all(|&u| (TASK_US / 2..=TASK_US * 3 / 2).contains(&u))
        );
    }
}
