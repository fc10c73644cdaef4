//! The knobs of a run, and the ways the parent can stop the pool.

use std::time::Duration;

use anyhow::bail;
use serde::Serialize;

/// The lecture section this crate shows.
pub const SECTION: &str = "1.1";

/// Upper bounds for the knobs, so a typo cannot ask for hours of work.
pub const MAX_WORKERS: u32 = 64;
pub const MAX_TASKS: u32 = 100_000;
pub const MAX_TASK_US: u32 = 1_000_000;

/// How the parent tells the workers to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Shutdown {
    /// One Stop message per worker, on the task queue after the last task (the pattern).
    Pill,
    /// No message: terminate() (SIGTERM) every worker once the task queue looks empty.
    Terminate,
    /// No stop at all: the parent's join can only give up after a bounded wait.
    None,
    /// A shared stop flag, set right after the last put, instead of a message.
    SideChannel,
}

impl Shutdown {
    pub const ALL: [Shutdown; 4] = [
        Shutdown::Pill,
        Shutdown::Terminate,
        Shutdown::None,
        Shutdown::SideChannel,
    ];

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Shutdown::Pill => "pill",
            Shutdown::Terminate => "terminate",
            Shutdown::None => "none",
            Shutdown::SideChannel => "side-channel",
        }
    }
}

/// `--shutdown`: one way of stopping, or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Choice {
    /// One Stop message per worker on the task queue, after the last task (the pattern)
    Pill,
    /// No Stop: terminate() every worker once the task queue looks empty
    Terminate,
    /// No Stop at all: join gives up after --join-wait-ms, then cleanup
    None,
    /// A shared stop flag, set right after the last put, instead of a message
    SideChannel,
    /// Every mode in turn, in detail, then the side-by-side table
    All,
}

impl Choice {
    /// The modes to run, and how many of them (from the first) to print in detail. Without
    /// `--shutdown`: the pill in detail, then the others in the side-by-side table only.
    pub fn plan(choice: Option<Choice>) -> (Vec<Shutdown>, usize) {
        match choice {
            Option::None => (Shutdown::ALL.to_vec(), 1),
            Some(Choice::All) => (Shutdown::ALL.to_vec(), 4),
            Some(Choice::Pill) => (vec![Shutdown::Pill], 1),
            Some(Choice::Terminate) => (vec![Shutdown::Terminate], 1),
            Some(Choice::None) => (vec![Shutdown::None], 1),
            Some(Choice::SideChannel) => (vec![Shutdown::SideChannel], 1),
        }
    }

    /// The last mode shown in detail, which the closing hint continues from (`None` when no
    /// `--shutdown` was given).
    pub fn last_shown(choice: Option<Choice>) -> Option<Shutdown> {
        match choice {
            Some(Choice::All) => Some(Shutdown::SideChannel),
            c => c.map(|c| Choice::plan(Some(c)).0[0]),
        }
    }
}

/// The knobs of one run.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Config {
    pub workers: u32,
    pub tasks: u32,
    pub task_us: u32,
    /// `none` mode: how long `join` waits before the parent gives up.
    pub join_wait_ms: u32,
}

impl Config {
    /// The binary's defaults.
    pub const DEFAULT: Config = Config {
        workers: 4,
        tasks: 200,
        task_us: 1_000,
        join_wait_ms: 500,
    };

    pub fn new(workers: u32, tasks: u32, task_us: u32, join_wait_ms: u32) -> Config {
        Config {
            workers,
            tasks,
            task_us,
            join_wait_ms,
        }
    }

    /// `--quick`: a smaller run for CI and the claims checker.
    pub fn quick(workers: u32) -> Config {
        Config {
            workers,
            tasks: 80,
            task_us: 500,
            join_wait_ms: 200,
        }
    }

    /// The same checks the command line makes, for callers of the library.
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(1..=MAX_WORKERS).contains(&self.workers) {
            bail!(
                "workers must be between 1 and {MAX_WORKERS}, got {}",
                self.workers
            );
        }
        if !(1..=MAX_TASKS).contains(&self.tasks) {
            bail!("tasks must be between 1 and {MAX_TASKS}, got {}", self.tasks);
        }
        if self.task_us > MAX_TASK_US {
            bail!("task-us must be at most {MAX_TASK_US}, got {}", self.task_us);
        }
        Ok(())
    }

    /// A bound on how long the workers may need for all the tasks, with a wide margin: past
    /// it, the parent stops waiting and reports what it has.
    pub(crate) fn work_bound(&self) -> Duration {
        let total_us = self.tasks as u64 * (self.task_us as u64 + 200);
        Duration::from_secs(10) + Duration::from_micros(total_us * 3)
    }
}
