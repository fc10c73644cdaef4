//! The command line of `early-exit`: every knob with its `--help` line. The binary's `main`
//! turns it into a [`Plan`](crate::scenarios::plan::Plan) and runs it.

use clap::Parser;

use crate::FlagKind;

/// Lecture 27, Concept 2.1 / Example 27.1: first found wins, and the other workers stop.
///
/// With no section option, runs every section (a few seconds on 2 cores): Example 27.1 as
/// written, a placed-needle search with and without early exit, the price of a locked flag
/// read, the lock-check-set race, and first-found against smallest.
#[derive(Parser, Debug)]
#[command(name = "early-exit", version)]
pub struct Args {
    /// Worker processes in the search sections (Example 27.1 always uses the lecture's 4)
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=crate::MAX_WORKERS as i64))]
    pub workers: u32,
    /// Numbers in each worker's range (worker i searches i*RANGE .. (i+1)*RANGE)
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub range: u64,
    /// The single number that matches in the search [default: two runs, 1000 (the lecture's "found at position 1,000") and the middle of the last range]
    #[arg(long, conflicts_with = "density")]
    pub needle: Option<u64>,
    /// Instead of one needle, about one number in D matches (also the density of the --smallest section) [default there: 25000]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub density: Option<u64>,
    /// Rounds of hashing per item: the work of one iteration (16: about 40 ns per item on this machine)
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub work: u32,
    /// How workers read the shared flag in the search and the race
    #[arg(long, value_enum, default_value_t = FlagKind::Locked)]
    pub flag: FlagKind,
    /// Section: the search without early exit, side by side with the early-exit run
    #[arg(long)]
    pub no_early_exit: bool,
    /// Section: first found against the true smallest (branch and bound over a shared best)
    #[arg(long)]
    pub smallest: bool,
    /// Section: check-then-set without the lock, against lock-check-set, over --runs races
    #[arg(long)]
    pub unsafe_set: bool,
    /// Races per claim style in the --unsafe-set section (each forks --workers processes)
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub runs: u32,
    /// Repetitions behind each median in the timing sections
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub reps: u32,
    /// Print one JSON object (figures and the lecture's claims) instead of tables
    #[arg(long)]
    pub json: bool,
    /// Fewer repetitions (3 reps, 50 races): a smoke run of every section
    #[arg(long)]
    pub quick: bool,
    /// After the tables, draw each comparison's early-exit run (the one in its table): one lane
    /// per process, time left to right (width from $COLUMNS or the terminal, else 100; colour
    /// only on a terminal). Records a clock read per item in that run, so its items are slower
    #[arg(long, conflicts_with = "json")]
    pub timeline: bool,
    /// Write the first comparison's early-exit run as an SVG timeline (every lane named, exact
    /// times in tooltips); works with --json too
    #[arg(long, value_name = "FILE")]
    pub timeline_svg: Option<std::path::PathBuf>,
    /// Class mode: one search for the room in steps, a question before each answer; Enter
    /// reveals it (no pause when stdin is not a terminal)
    #[arg(long, conflicts_with_all = ["json", "timeline_svg", "needle", "density", "no_early_exit", "smallest", "unsafe_set"])]
    pub class: bool,
    /// Class mode: where the match sits (the same seed, the same search; the schedule is the
    /// machine's)
    #[arg(long, default_value_t = 1, requires = "class")]
    pub seed: u64,
}
