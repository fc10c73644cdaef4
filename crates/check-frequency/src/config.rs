//! What a run measures and how long it takes: every knob `--help` lists (the binary parses
//! them straight into a [`Config`]), and the sizes each knob defaults to.

use clap::ValueEnum;

use crate::scenarios::sweep::WorkKind;

/// The iteration cost(s) the sweep runs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Works {
    /// about 1 µs per iteration
    Tight,
    /// about 1 ms per iteration
    Heavy,
    /// both, side by side
    Both,
}

impl Works {
    pub fn kinds(self) -> Vec<WorkKind> {
        match self {
            Works::Tight => vec![WorkKind::Tight],
            Works::Heavy => vec![WorkKind::Heavy],
            Works::Both => vec![WorkKind::Tight, WorkKind::Heavy],
        }
    }
}

/// How long the default sizes run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Size {
    /// A few seconds, for CI.
    Quick,
    Default,
    /// About a minute on 2 idle cores.
    Full,
}

impl Size {
    pub fn pick<T>(self, quick: T, default: T, full: T) -> T {
        match self {
            Size::Quick => quick,
            Size::Default => default,
            Size::Full => full,
        }
    }
}

/// What to run. Options left out take the [`Size`]'s default.
#[derive(clap::Args, Clone, Debug)]
pub struct Config {
    /// Worker processes in every run (the lecture uses 4)
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub workers: u32,
    /// Example 27.2: count the primes in 2..LIMIT (the lecture uses 20,000)
    #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(3..=10_000_000))]
    pub limit: u64,
    /// Example 27.2: interleaved rounds of the six variants [default: 11; --quick 3, --full 21]
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub example_rounds: Option<u32>,
    /// Iteration cost for the sweep
    #[arg(long, value_enum, default_value_t = Works::Both)]
    pub work: Works,
    /// Check intervals to sweep, comma-separated ("never" is always added)
    #[arg(long, value_delimiter = ',', default_value = "1,10,100,1000,10000,100000",
          value_parser = clap::value_parser!(u64).range(1..))]
    pub intervals: Vec<u64>,
    /// Iterations per worker in each tight run [default: 50,000; --quick 10,000; --full 200,000]
    #[arg(long, value_parser = clap::value_parser!(u64).range(2..))]
    pub tight_iters: Option<u64>,
    /// Iterations per worker in each heavy run [default: 40; --quick 8; --full 100]
    #[arg(long, value_parser = clap::value_parser!(u64).range(2..))]
    pub heavy_iters: Option<u64>,
    /// Throughput rounds per cell, interleaved, median reported [default: tight 3, heavy 1; --quick 1; --full 5 and 3]
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub rounds: Option<u32>,
    /// Stop-latency budget for the recommended interval, in microseconds
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub budget_us: u64,
    /// Small sizes for CI (a few seconds)
    #[arg(long, conflicts_with = "full")]
    pub quick: bool,
    /// Larger sizes and more rounds (about a minute on 2 idle cores)
    #[arg(long)]
    pub full: bool,
}

impl Config {
    pub fn size(&self) -> Size {
        match (self.quick, self.full) {
            (true, _) => Size::Quick,
            (_, true) => Size::Full,
            _ => Size::Default,
        }
    }
}
