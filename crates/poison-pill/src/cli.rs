//! The command line of `poison-pill`: every knob with its `--help` line. The binary's `main`
//! turns it into a [`Config`] and runs the scenarios.

use clap::Parser;

use crate::config::{Choice, Config, MAX_TASK_US, MAX_TASKS, MAX_WORKERS};

/// Lecture 27, Concept 1.1: a pool of worker processes stopped through its own task queue
/// (one Stop message per worker), and what goes wrong with the alternatives.
///
/// Without --shutdown: the pill run in detail, then one line for each other way of stopping.
#[derive(Debug, Parser)]
#[command(name = "poison-pill", version)]
pub struct Args {
    /// Worker processes in the pool
    #[arg(long, default_value_t = Config::DEFAULT.workers, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=MAX_WORKERS as i64))]
    pub workers: u32,
    /// Tasks the parent puts on the queue
    #[arg(long, default_value_t = Config::DEFAULT.tasks, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=MAX_TASKS as i64))]
    pub tasks: u32,
    /// Work per task, in microseconds of CPU time (0: no work, only the coordination)
    #[arg(long, default_value_t = Config::DEFAULT.task_us, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(0..=MAX_TASK_US as i64))]
    pub task_us: u32,
    /// How the parent stops the workers [default: pill, followed by a one-line contrast of the others]
    #[arg(long, value_enum)]
    pub shutdown: Option<Choice>,
    /// For --shutdown none: how long join waits for the workers before the parent gives up
    #[arg(long, default_value_t = Config::DEFAULT.join_wait_ms, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=60_000))]
    pub join_wait_ms: u32,
    /// Print one JSON object (claims, per-run figures) instead of the tables
    #[arg(long)]
    pub json: bool,
    /// A smaller run for CI and the claims checker: 80 tasks of 500 µs, a 200 ms join wait
    #[arg(long, conflicts_with_all = ["tasks", "task_us", "join_wait_ms"])]
    pub quick: bool,
    /// After each run shown in detail, draw it: one lane per process, time left to right
    /// (width from $COLUMNS or the terminal, else 100; colour only on a terminal)
    #[arg(long, conflicts_with = "json")]
    pub timeline: bool,
    /// Write the first run's timeline as an SVG file (every lane named, exact times in tooltips)
    #[arg(long, value_name = "FILE")]
    pub timeline_svg: Option<std::path::PathBuf>,
    /// Class mode: one small scenario in three steps, a question for the room before each
    /// answer; Enter reveals it (no pause when stdin is not a terminal)
    #[arg(long, conflicts_with_all = ["tasks", "task_us", "shutdown", "json", "quick", "timeline_svg", "join_wait_ms"])]
    pub class: bool,
    /// Class mode: the seed of the task sizes (the same seed, the same workload; the schedule
    /// is the machine's)
    #[arg(long, default_value_t = 1, requires = "class")]
    pub seed: u64,
}
