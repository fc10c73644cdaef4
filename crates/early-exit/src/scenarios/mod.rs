//! The measured runs. Each one drives the lesson's own functions (`crate::lesson`), handing
//! them instrumented stand-ins ([`flags::Watched`], a placed-match test from [`work`]), and
//! returns a structured result for `crate::claims` and `crate::render`.
//!
//! | scenario | function | what it shows |
//! |---|---|---|
//! | Example 27.1 as written | [`example_27_1`] | 4 workers, 100,000 numbers each, a locked `Value<bool>` flag |
//! | a search that runs long | [`search()`] with [`Target::Needle`] | per-worker iterations, wasted iterations, stop latency |
//! | no early exit | [`search()`] with `early_exit: false` | what the flag saves |
//! | the price of reading the flag | [`flag_read_cost`] | locked read against atomic load, per iteration |
//! | lock-check-set against a bare check-then-set | [`race_trials`] | how often two workers both "win" |
//! | smallest, not first | [`smallest()`] | branch and bound over a shared best-so-far |
//!
//! Every child only touches coord-core primitives and leaves through `_exit`, so the
//! functions are safe to call from a multi-threaded test harness.

pub mod example;
pub mod flags;
pub mod plan;
pub mod search;
pub mod sections;
pub mod smallest;
pub mod work;

pub use example::{Example271, example_27_1};
pub use flags::{AtomicFlag, FlagKind};
pub use search::{SearchConfig, SearchRun, SetMode, WorkerReport, search, search_traced};
pub use sections::{
    Comparison, FlagCost, RaceTally, compare_early_exit, compare_early_exit_traced, flag_read_cost,
    race_trials,
};
pub use smallest::{Smallest, smallest};
pub use work::{Matcher, Target, score};

use serde::Serialize;

/// How a worker's loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Exit {
    /// Never recorded an exit (it did not run to the end).
    Unknown,
    /// Saw the flag set by someone else and stopped.
    SawFlag,
    /// Found a match and was the one to set the flag: the winner.
    Won,
    /// Found a match, but the flag was already set when it checked under the lock.
    FoundLate,
    /// Searched its whole range.
    Exhausted,
    /// `smallest` only: nothing left in its range could beat the best so far.
    Pruned,
    /// `smallest` only: found its range's smallest match and offered it as the best.
    Found,
}

impl Exit {
    pub(crate) fn code(self) -> u64 {
        self as u64
    }
    pub(crate) fn from_code(c: u64) -> Exit {
        match c {
            1 => Exit::SawFlag,
            2 => Exit::Won,
            3 => Exit::FoundLate,
            4 => Exit::Exhausted,
            5 => Exit::Pruned,
            6 => Exit::Found,
            _ => Exit::Unknown,
        }
    }
    /// Short words for a table.
    pub fn describe(self) -> &'static str {
        match self {
            Exit::Unknown => "did not finish",
            Exit::SawFlag => "saw the flag, stopped",
            Exit::Won => "found it, set the flag",
            Exit::FoundLate => "found one, flag already set",
            Exit::Exhausted => "searched its whole range",
            Exit::Pruned => "could not beat the best, stopped",
            Exit::Found => "found its smallest, shared it",
        }
    }
}

/// The upper median of whole numbers (the middle one, the higher of the two middles for an
/// even count): the tables quote counts and nanoseconds that a worker really produced, not
/// the mean of two of them as `lab_support::stats::median` would.
pub fn median_u64(v: &[u64]) -> Option<u64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_unstable();
    Some(s[s.len() / 2])
}
