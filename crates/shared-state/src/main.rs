//! `cargo run -p shared-state [-- --quick | --iterations N | --json]`

use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use shared_state::scenarios::{self, Config};
use shared_state::{claims, claims::Report, render};

/// Lecture 27, concepts 3.1 and 5.1: what one access to a Manager object, a Value, an Array
/// costs on this machine; the manager as a bottleneck; lost updates; fixed capacity.
#[derive(Parser, Debug)]
#[command(name = "shared-state", version)]
struct Args {
    /// Small run for CI: 200 manager calls, 3 repetitions, 2 runs of each counter scenario (about a second)
    #[arg(long)]
    quick: bool,
    /// Manager calls per timed repetition and per worker [default: 1000, --quick: 200];
    /// shared-memory loops run 1000 times as many
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    iterations: Option<u64>,
    /// Timed repetitions per latency row (median and min-max are over these) [default: 5, --quick: 3]
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    reps: Option<u32>,
    /// Worker processes in the bottleneck and lost-update scenarios (2 to 64)
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(2..=64))]
    workers: u32,
    /// Runs of each bottleneck and lost-update scenario [default: 3, --quick: 2]
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    runs: Option<u32>,
    /// Print one JSON object (table, bottleneck, lost updates, the lecture's claims) instead of text
    #[arg(long)]
    json: bool,
}

fn config(a: &Args) -> Config {
    let cfg = if a.quick {
        Config::quick()
    } else {
        Config::default()
    };
    Config {
        iterations: a.iterations.unwrap_or(cfg.iterations),
        reps: a.reps.map_or(cfg.reps, |r| r as usize),
        runs: a.runs.map_or(cfg.runs, |r| r as usize),
        workers: a.workers as usize,
        ..cfg
    }
}

fn run(a: &Args) -> anyhow::Result<()> {
    let cfg = config(a);
    let mut out = std::io::stdout().lock();
    // In text mode each section is printed as soon as it is measured.
    let mut show = |text: String| -> std::io::Result<()> {
        if !a.json {
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
        Ok(())
    };
    show(render::header(&cfg))?;
    let latency = scenarios::latency::latency_table(&cfg)?;
    show(render::latency(&latency) + &render::claims(&claims::latency_claims(&latency)))?;
    let bottleneck = scenarios::bottleneck::bottleneck(&cfg)?;
    show(render::bottleneck(&bottleneck) + &render::claims(&claims::bottleneck_claims(&bottleneck)))?;
    let lost = scenarios::lost_updates::lost_updates(&cfg)?;
    show(render::lost_updates(&lost) + &render::claims(&claims::lost_update_claims(&lost)))?;
    let fixed = scenarios::fixed::fixed_capacity(8, 10)?;
    show(render::fixed_capacity(&fixed) + &render::notice(&latency, &bottleneck))?;
    if a.json {
        let report = Report {
            crate_name: "shared-state",
            claims: claims::claims(&latency, &bottleneck, &lost),
            config: cfg,
            latency,
            bottleneck,
            lost_updates: lost,
            fixed_capacity: fixed,
        };
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    // First thing, before any thread or child exists: `shared-state | head -3` then ends
    // quietly instead of failing on "Broken pipe".
    // Our worker processes and the manager server die with us (PR_SET_PDEATHSIG).
    lab_support::restore_default_sigpipe();
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
