//! The instrumented runs: each scenario drives the functions of [`crate::lesson`] with real
//! processes, a real manager and real shared memory, and records what happened. Workers only
//! call coord-core and never print, so the scenarios are safe to run from the multi-threaded
//! test harness too.

pub mod bottleneck;
pub mod counter;
pub mod fixed;
pub mod latency;
pub mod lost_updates;

use std::time::Duration;

use serde::Serialize;

/// Shared-memory loops run this many times as many accesses as the manager loops: one
/// access is about a thousand times cheaper, and a timed loop must last long enough to read.
pub const SHM_FACTOR: u64 = 1000;

/// How big the scenarios are. [`Config::default`] finishes in a few seconds on 2 cores.
#[derive(Debug, Clone, Serialize)]
pub struct Config {
    /// Manager calls per timed repetition, and per worker in the bottleneck scenario.
    pub iterations: u64,
    /// Timed repetitions per latency row (the median and spread are over these).
    pub reps: usize,
    /// Worker processes in the bottleneck and lost-update scenarios.
    pub workers: usize,
    /// Runs of each lost-update scenario.
    pub runs: usize,
    /// Longest a group of workers may take before it is killed and reported as an error.
    #[serde(skip)]
    pub deadline: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            iterations: 1000,
            reps: 5,
            workers: 4,
            runs: 3,
            deadline: Duration::from_secs(600),
        }
    }
}

impl Config {
    /// The CI-sized run.
    pub fn quick() -> Self {
        Config {
            iterations: 200,
            reps: 3,
            runs: 2,
            ..Config::default()
        }
    }

    /// Shared-memory accesses per timed repetition and per worker in the bottleneck.
    pub fn shm_iterations(&self) -> u64 {
        self.iterations * SHM_FACTOR
    }

    /// How long the workers of a lost-update run keep incrementing: 20 µs per manager
    /// iteration, at least 10 ms. A fixed count would not do: a million atomic increments
    /// take a millisecond, and on a busy machine one worker can finish before the next one is
    /// even scheduled, so nothing overlaps and nothing is lost. A window makes them overlap.
    pub fn lost_update_window(&self) -> Duration {
        Duration::from_micros(self.iterations.saturating_mul(20)).max(Duration::from_millis(10))
    }
}

/// Median and range of a few per-repetition figures.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Spread {
    pub fn of(samples: &[f64]) -> Spread {
        let median = lab_support::stats::median(samples).expect("a spread needs at least one sample");
        let (min, max) = samples
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &x| {
                (lo.min(x), hi.max(x))
            });
        Spread { median, min, max }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spread_median_of_odd_and_even_counts() {
        let s = Spread::of(&[5.0, 1.0, 3.0]);
        assert_eq!((s.median, s.min, s.max), (3.0, 1.0, 5.0));
        let s = Spread::of(&[4.0, 1.0, 3.0, 2.0]);
        assert_eq!((s.median, s.min, s.max), (2.5, 1.0, 4.0));
    }
}
