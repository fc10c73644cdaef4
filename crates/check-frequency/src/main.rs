//! `cargo run -p check-frequency`: Lecture 27, Concept 4.1 and Example 27.2, measured.

use std::io::Write;
use std::time::Instant;

use anyhow::Result;
use check_frequency::report::{self, Outcome, ReadCosts};
use check_frequency::{
    FlagKind, SweepConfig, Work, WorkKind, contended_read_cost, read_cost_ns, run_example, run_sweep,
};
use clap::{Parser, ValueEnum};

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum WorkArg {
    /// about 1 µs per iteration
    Tight,
    /// about 1 ms per iteration
    Heavy,
    /// both, side by side
    Both,
}

/// How often should a worker look at a shared stop flag? Example 27.2 as written and corrected,
/// then a sweep of check intervals with a locked and an atomic flag, and a recommended interval.
#[derive(Parser, Debug)]
#[command(name = "check-frequency", version)]
struct Args {
    /// Worker processes in every run (the lecture uses 4)
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    workers: u32,
    /// Example 27.2: count the primes in 2..LIMIT (the lecture uses 20,000)
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(3..=10_000_000))]
    limit: u64,
    /// Example 27.2: interleaved rounds of the six variants [default: 11; --quick 3, --full 21]
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    example_rounds: Option<u32>,
    /// Iteration cost for the sweep
    #[arg(long, value_enum, default_value_t = WorkArg::Both)]
    work: WorkArg,
    /// Check intervals to sweep, comma-separated ("never" is always added)
    #[arg(long, value_delimiter = ',', default_value = "1,10,100,1000,10000,100000",
          value_parser = clap::value_parser!(u64).range(1..))]
    intervals: Vec<u64>,
    /// Iterations per worker in each tight run [default: 50,000; --quick 10,000; --full 200,000]
    #[arg(long, value_parser = clap::value_parser!(u64).range(2..))]
    tight_iters: Option<u64>,
    /// Iterations per worker in each heavy run [default: 40; --quick 8; --full 100]
    #[arg(long, value_parser = clap::value_parser!(u64).range(2..))]
    heavy_iters: Option<u64>,
    /// Throughput rounds per cell, interleaved, median reported [default: tight 3, heavy 1; --quick 1; --full 5 and 3]
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: Option<u32>,
    /// Stop-latency budget for the recommended interval, in microseconds
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    budget_us: u64,
    /// Small sizes for CI (a few seconds)
    #[arg(long, conflicts_with = "full")]
    quick: bool,
    /// Larger sizes and more rounds (about a minute on 2 idle cores)
    #[arg(long)]
    full: bool,
    /// Print one JSON object (claims and every figure) instead of the tables
    #[arg(long, conflicts_with = "csv")]
    json: bool,
    /// Print the sweep as CSV (one row per work, flag kind and interval) instead of the tables
    #[arg(long)]
    csv: bool,
}

fn main() {
    // First thing, before any thread or child exists: `check-frequency | head -3` then ends
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
    let t0 = Instant::now();
    let human = !a.json && !a.csv;
    let pick = |quick: u64, default: u64, full: u64| {
        if a.quick {
            quick
        } else if a.full {
            full
        } else {
            default
        }
    };
    let workers = a.workers as usize;
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let dev_build = cfg!(debug_assertions);
    let say = |s: String| {
        if human {
            print!("{s}");
            let _ = std::io::stdout().flush();
        }
    };
    say(report::header(workers, cpus, dev_build));

    let ex_rounds = a.example_rounds.map(u64::from).unwrap_or(pick(3, 11, 21)) as usize;
    let example = run_example(workers, a.limit, ex_rounds)?;
    say(report::example_text(&example));

    let reads = pick(200_000, 2_000_000, 5_000_000);
    let mut costs = ReadCosts {
        locked_alone_ns: read_cost_ns(FlagKind::Locked, reads)?,
        atomic_alone_ns: read_cost_ns(FlagKind::Atomic, reads * 10)?,
        locked_in_run_ns: None,
        atomic_in_run_ns: None,
        locked_contended: Some(contended_read_cost(
            workers,
            FlagKind::Locked,
            pick(200_000, 1_000_000, 2_000_000),
        )?),
        atomic_contended: Some(contended_read_cost(
            workers,
            FlagKind::Atomic,
            pick(2_000_000, 10_000_000, 20_000_000),
        )?),
    };

    let kinds: Vec<WorkKind> = match a.work {
        WorkArg::Tight => vec![WorkKind::Tight],
        WorkArg::Heavy => vec![WorkKind::Heavy],
        WorkArg::Both => vec![WorkKind::Tight, WorkKind::Heavy],
    };
    let mut sweeps = vec![];
    for kind in kinds {
        let (iters, rounds) = match kind {
            WorkKind::Tight => (
                a.tight_iters.unwrap_or(pick(10_000, 50_000, 200_000)),
                pick(1, 3, 5),
            ),
            WorkKind::Heavy => (a.heavy_iters.unwrap_or(pick(8, 40, 100)), pick(1, 1, 3)),
        };
        let cfg = SweepConfig {
            workers,
            work_kind: kind,
            iters,
            stop_iters: iters,
            rounds: a.rounds.map(|r| r as usize).unwrap_or(rounds as usize),
            intervals: a.intervals.clone(),
            kinds: FlagKind::BOTH.to_vec(),
        };
        let sweep = run_sweep(&cfg, Work::calibrate(kind.target_ns()))?;
        say(report::sweep_text(&sweep, workers));
        sweeps.push(sweep);
    }
    costs.locked_in_run_ns = report::in_run_read_cost(&sweeps, FlagKind::Locked);
    costs.atomic_in_run_ns = report::in_run_read_cost(&sweeps, FlagKind::Atomic);
    say(report::read_cost_text(&costs));

    let budget_us = a.budget_us as f64;
    let recs = report::recommendations(&sweeps, &costs, budget_us);
    say(report::recommend_text(&recs, budget_us));

    let out = Outcome {
        crate_name: "check-frequency",
        claims: report::claims(Some(&example), &sweeps, &costs),
        cpus,
        dev_build,
        example: Some(example),
        sweeps,
        read_costs: costs,
        budget_us,
        recommendations: recs,
        elapsed_s: t0.elapsed().as_secs_f64(),
    };
    if a.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else if a.csv {
        print!("{}", report::csv(&out.sweeps));
    } else {
        say(report::notice_text(&out));
        say(format!("(finished in {:.1} s)\n", out.elapsed_s));
    }
    Ok(())
}
