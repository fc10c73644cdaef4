//! The command line of `check-frequency`: every knob with its `--help` line. The binary's
//! `main` runs the full measurement, the timeline runs or class mode from it.

use clap::{Parser, ValueEnum};

use crate::config::Config;

/// Which check the timeline runs use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum TimelineCheck {
    /// the lecture's `count % 10 == 0` only
    Lecture,
    /// the corrected `i % 10 == 0` only
    Corrected,
}

/// How often should a worker look at a shared stop flag? Example 27.2 as written and corrected,
/// then a sweep of check intervals with a locked and an atomic flag, and a recommended interval.
#[derive(Parser, Debug)]
#[command(name = "check-frequency", version)]
#[command(group = clap::ArgGroup::new("timeline_runs").args(["timeline", "timeline_svg"]).multiple(true))]
pub struct Args {
    #[command(flatten)]
    pub config: Config,
    /// Print one JSON object (claims and every figure) instead of the tables
    #[arg(long, conflicts_with_all = ["csv", "timeline"])]
    pub json: bool,
    /// Print the sweep as CSV (one row per work, flag kind and interval) instead of the tables
    #[arg(long)]
    pub csv: bool,
    /// Instead of the full run: Example 27.2 with the flag raised by w0, `count % 10` then
    /// `i % 10`, each drawn one lane per worker (width from $COLUMNS or the terminal)
    #[arg(long, conflicts_with = "csv")]
    pub timeline: bool,
    /// Instead of the full run: the same runs, the first one's timeline written as an SVG file
    /// (every lane named, exact times in tooltips); with --json, the runs as JSON
    #[arg(long, value_name = "FILE", conflicts_with = "csv")]
    pub timeline_svg: Option<std::path::PathBuf>,
    /// Timeline runs: only one of the two checks [default: both]
    #[arg(long, value_enum, requires = "timeline_runs")]
    pub check: Option<TimelineCheck>,
    /// Timeline runs: the number at which w0 raises the flag [default: half of --limit]
    #[arg(long, requires = "timeline_runs", value_parser = clap::value_parser!(u64).range(2..))]
    pub raise_at: Option<u64>,
    /// Class mode: Example 27.2 in three steps, a question for the room before each answer;
    /// Enter reveals it (no pause when stdin is not a terminal)
    #[arg(long, conflicts_with_all = ["json", "csv", "timeline", "timeline_svg", "check", "raise_at"])]
    pub class: bool,
}

impl Args {
    /// The timeline runs were asked for.
    pub fn timeline_runs(&self) -> bool {
        self.timeline || self.timeline_svg.is_some()
    }
}
