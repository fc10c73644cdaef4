//! `cargo run -p check-frequency`: Lecture 27, Concept 4.1 and Example 27.2, measured.
//! The options are `check_frequency::config::Config`; the lecture's code is in `src/lesson.rs`.

use std::io::Write;

use anyhow::Result;
use check_frequency::config::Config;
use check_frequency::{render, scenarios};
use clap::Parser;

/// How often should a worker look at a shared stop flag? Example 27.2 as written and corrected,
/// then a sweep of check intervals with a locked and an atomic flag, and a recommended interval.
#[derive(Parser, Debug)]
#[command(name = "check-frequency", version)]
struct Args {
    #[command(flatten)]
    config: Config,
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
    // The tables are printed part by part, as soon as each part is measured.
    let human = !a.json && !a.csv;
    let say = |s: String| {
        if human {
            print!("{s}");
            let _ = std::io::stdout().flush();
        }
    };
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    say(render::header(
        a.config.workers as usize,
        cpus,
        cfg!(debug_assertions),
    ));
    let out = scenarios::run(&a.config, |section| say(render::section(&section)))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else if a.csv {
        print!("{}", render::csv(&out.sweeps));
    } else {
        say(render::notice_text(&out));
        say(format!("(finished in {:.1} s)\n", out.elapsed_s));
    }
    Ok(())
}
