//! `cargo run -p early-exit`: Lecture 27, Concept 2.1 and Example 27.1, run for real.
//! Parses arguments, calls the scenarios in the library, prints tables (or one JSON object).

use anyhow::Result;
use clap::{Parser, ValueEnum};
use early_exit::report::{self, Plan};
use early_exit::{FlagKind, Target};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum FlagArg {
    /// Value<bool>: every read takes the lock (Python's default Value)
    Locked,
    /// RawValue<bool>: every read is one atomic load
    Atomic,
}

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
    #[arg(long, value_enum, default_value_t = FlagArg::Locked)]
    flag: FlagArg,
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
    // First thing, before any thread or child exists: `early-exit | head -3` then ends
    // quietly instead of failing on "Broken pipe".
    // Our worker processes die with us (coord-core sets PR_SET_PDEATHSIG on them).
    lab_support::restore_default_sigpipe();
    let args = Args::parse();
    if let Err(e) = run(&args) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(a: &Args) -> Result<()> {
    early_exit::check_shape(a.workers as usize, a.range)?;
    if let Some(n) = a.needle {
        early_exit::check_needle(a.workers as usize, a.range, n)?;
    }
    let focused = a.no_early_exit || a.smallest || a.unsafe_set;
    let targets = match (a.needle, a.density) {
        (_, Some(d)) => vec![Target::Density(d)],
        (Some(n), None) => vec![Target::Needle(n)],
        // The lecture's case (found at position 1,000), then a late needle: the middle of the
        // last range, so that every worker is busy when the flag goes up.
        (None, None) => vec![
            Target::Needle(1000.min(a.range - 1)),
            Target::Needle((a.workers as u64 - 1) * a.range + a.range / 2), // fits: check_shape
        ],
    };
    let plan = Plan {
        example: !focused,
        compare: !focused || a.no_early_exit,
        flag_cost: !focused,
        race: !focused || a.unsafe_set,
        smallest: !focused || a.smallest,
        workers: a.workers as usize,
        range_len: a.range,
        targets,
        smallest_density: a.density.unwrap_or(25_000),
        work: a.work,
        flag: match a.flag {
            FlagArg::Locked => FlagKind::Locked,
            FlagArg::Atomic => FlagKind::Atomic,
        },
        runs: if a.quick { a.runs.min(50) } else { a.runs } as usize,
        reps: if a.quick { a.reps.min(3) } else { a.reps } as usize,
    };
    let results = report::run_plan(&plan)?;
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&report::to_json(&plan, &results))?
        );
    } else {
        print!("{}", report::render(&plan, &results));
    }
    Ok(())
}
