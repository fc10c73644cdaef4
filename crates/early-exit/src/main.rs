//! `cargo run -p early-exit`: Lecture 27, Concept 2.1 and Example 27.1, run for real.
//! Parses arguments, runs the plan of sections, prints tables (or one JSON object).

use anyhow::Result;
use clap::Parser;
use early_exit::scenarios::plan::{self, Plan};
use early_exit::{FlagKind, claims, render};

/// Lecture 27, Concept 2.1 / Example 27.1: first found wins, and the other workers stop.
///
/// With no section option, runs every section (a few seconds on 2 cores): Example 27.1 as
/// written, a placed-needle search with and without early exit, the price of a locked flag
/// read, the lock-check-set race, and first-found against smallest.
#[derive(Parser, Debug)]
#[command(name = "early-exit", version)]
struct Args {
    /// Worker processes in the search sections (Example 27.1 always uses the lecture's 4)
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    workers: u32,
    /// Numbers in each worker's range (worker i searches i*RANGE .. (i+1)*RANGE)
    #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..))]
    range: u64,
    /// The single number that matches in the search [default: two runs, 1000 (the lecture's "found at position 1,000") and the middle of the last range]
    #[arg(long, conflicts_with = "density")]
    needle: Option<u64>,
    /// Instead of one needle, about one number in D matches (also the density of the --smallest section) [default there: 25000]
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    density: Option<u64>,
    /// Rounds of hashing per item: the work of one iteration (16: about 40 ns per item on this machine)
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    work: u32,
    /// How workers read the shared flag in the search and the race
    #[arg(long, value_enum, default_value_t = FlagKind::Locked)]
    flag: FlagKind,
    /// Section: the search without early exit, side by side with the early-exit run
    #[arg(long)]
    no_early_exit: bool,
    /// Section: first found against the true smallest (branch and bound over a shared best)
    #[arg(long)]
    smallest: bool,
    /// Section: check-then-set without the lock, against lock-check-set, over --runs races
    #[arg(long)]
    unsafe_set: bool,
    /// Races per claim style in the --unsafe-set section (each forks --workers processes)
    #[arg(long, default_value_t = 200, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    runs: u32,
    /// Repetitions behind each median in the timing sections
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..=1000))]
    reps: u32,
    /// Print one JSON object (figures and the lecture's claims) instead of tables
    #[arg(long)]
    json: bool,
    /// Fewer repetitions (3 reps, 50 races): a smoke run of every section
    #[arg(long)]
    quick: bool,
}

fn main() {
    // First, before any thread or child exists: `early-exit | head -3` then ends quietly
    // instead of failing on "Broken pipe". Workers die with us (PR_SET_PDEATHSIG).
    lab_support::restore_default_sigpipe();
    if let Err(e) = run(&Args::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(a: &Args) -> Result<()> {
    let (workers, focused) = (a.workers as usize, a.no_early_exit || a.smallest || a.unsafe_set);
    early_exit::check_shape(workers, a.range)?;
    if let Some(n) = a.needle {
        early_exit::check_needle(workers, a.range, n)?;
    }
    let p = Plan {
        example: !focused,
        compare: !focused || a.no_early_exit,
        flag_cost: !focused,
        race: !focused || a.unsafe_set,
        smallest: !focused || a.smallest,
        workers,
        range_len: a.range,
        targets: plan::targets(a.needle, a.density, workers, a.range),
        smallest_density: a.density.unwrap_or(25_000),
        work: a.work,
        flag: a.flag,
        runs: if a.quick { a.runs.min(50) } else { a.runs } as usize,
        reps: if a.quick { a.reps.min(3) } else { a.reps } as usize,
    };
    let results = plan::run_plan(&p)?;
    match a.json {
        true => println!(
            "{}",
            serde_json::to_string_pretty(&claims::to_json(&p, &results))?
        ),
        false => print!("{}", render::render(&p, &results)),
    }
    Ok(())
}
