//! The command line of `shared-state`: every knob with its `--help` line. The binary's `main`
//! turns it into a [`Config`] and runs the scenarios.

use clap::Parser;

use crate::scenarios::Config;

/// Lecture 27, concepts 3.1 and 5.1: what one access to a Manager object, a Value, an Array
/// costs on this machine; the manager as a bottleneck; lost updates; fixed capacity.
#[derive(Parser, Debug)]
#[command(name = "shared-state", version)]
pub struct Args {
    /// Small run for CI: 200 manager calls, 3 repetitions, 2 runs of each counter scenario (about a second)
    #[arg(long)]
    pub quick: bool,
    /// Manager calls per timed repetition and per worker [default: 1000, --quick: 200];
    /// shared-memory loops run 1000 times as many
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub iterations: Option<u64>,
    /// Timed repetitions per latency row (median and min-max are over these) [default: 5, --quick: 3]
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub reps: Option<u32>,
    /// Worker processes in the bottleneck and lost-update scenarios (2 to 64)
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(2..=64))]
    pub workers: u32,
    /// Runs of each bottleneck and lost-update scenario [default: 3, --quick: 2]
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub runs: Option<u32>,
    /// Print one JSON object (table, bottleneck, lost updates, the lecture's claims) instead of text
    #[arg(long)]
    pub json: bool,
    /// After the bottleneck table, draw its first run of (a) with several workers: one lane per
    /// worker and one for the manager (width from $COLUMNS or the terminal, else 100)
    #[arg(long, conflicts_with = "json")]
    pub timeline: bool,
    /// Write the same run's timeline as an SVG file (every lane named, exact times in tooltips)
    #[arg(long, value_name = "FILE")]
    pub timeline_svg: Option<std::path::PathBuf>,
    /// Class mode: 1 worker, then several, adding to one manager counter; a question for the
    /// room before each answer; Enter reveals it (no pause when stdin is not a terminal)
    #[arg(long, conflicts_with_all = ["json", "quick", "iterations", "reps", "runs", "timeline_svg"])]
    pub class: bool,
}

impl Args {
    pub fn config(&self) -> Config {
        let cfg = if self.quick {
            Config::quick()
        } else {
            Config::default()
        };
        Config {
            iterations: self.iterations.unwrap_or(cfg.iterations),
            reps: self.reps.map_or(cfg.reps, |r| r as usize),
            runs: self.runs.map_or(cfg.runs, |r| r as usize),
            workers: self.workers as usize,
            ..cfg
        }
    }
}
