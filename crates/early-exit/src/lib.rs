//! # early-exit: first found wins, and everybody else stops
//!
//! Lecture 27, Concept 2.1 (cooperative early exit through a shared flag) and Example 27.1
//! (four processes searching for a prime), run with real forked processes, a real
//! `MAP_SHARED` flag and a real pipe queue from [`coord_core`].
//!
//! The idea: a search where the first answer ends the job. The workers share one boolean
//! flag; each reads it before every item and returns when it is set. A worker that finds an
//! answer takes the flag's lock, checks the flag again, and only then sets it and reports:
//! lock, check, set, so that two workers finding an answer at once cannot both win.
//!
//! **Start with [`lesson`]**: the lecture's code (`searchForPrimes`, lock-check-set, the
//! unsafe set without the lock, the main block), short and close to the Python. Example 27.1
//! in full, as the lecture runs it:
//!
//! ```
//! use early_exit::lesson::{lock_check_set, main, search_for_primes};
//! let (results, elapsed) = main(4, 100_000, |i, range, flag, queue| {
//!     search_for_primes(i, range, flag, queue, lab_support::is_prime, lock_check_set)
//! })?;
//! if let Some((worker_id, prime)) = results.first() {
//!     println!("Worker {worker_id} found prime {prime} in {:.3}s", elapsed.as_secs_f64());
//! }
//! # assert_eq!(results.len(), 1); // lock-check-set: exactly one winner
//! # Ok::<(), anyhow::Error>(())
//! ```
//!
//! The rest runs and measures that very code:
//!
//! | module | what |
//! |---|---|
//! | [`lesson`] | the lecture's code |
//! | [`scenarios`] | the measured runs: they call the lesson's functions with instrumented stand-ins |
//! | [`claims`] | results → the lecture's claims and the `--json` object |
//! | [`render`] | results → the tables the binary prints |
//! | [`lanes`] | `--timeline`: the flag reads each worker records, drawn one lane per process |
//! | [`class`] | `--class`: one search for a room, a question before each answer |
//! | [`cli`] | the binary's command line |
//! | [`procs`] | shapes that can run, joins with a deadline |

pub mod claims;
pub mod class;
pub mod cli;
pub mod lanes;
pub mod lesson;
pub mod procs;
pub mod render;
pub mod scenarios;

pub use lab_support::is_prime;
pub use procs::{JOIN_TIMEOUT, MAX_WORKERS, check_needle, check_shape};
pub use scenarios::{
    Comparison, Example271, Exit, FlagCost, FlagKind, Matcher, RaceTally, SearchConfig, SearchRun, SetMode,
    Smallest, Target, WorkerReport, compare_early_exit, example_27_1, flag_read_cost, median_u64,
    race_trials, score, search, search_traced, smallest,
};
