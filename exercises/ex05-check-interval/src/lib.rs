//! # Exercise 5: the check interval (lecture section 4.1)
//!
//! A worker processes items with `work.step(i)` for `i` in `0..work.len()`, and every `k`
//! iterations it reads the shared stop flag (`stop.is_set()`); it returns as soon as a read
//! says stop. It reports how many items it processed and how many times it read the flag.
//!
//! The checker runs it with k = 1, 7, 10 and 1000 and prints, for each, the flag reads and
//! the iterations done after the stop: the trade-off of section 4.1 in two numbers.
//!
//! Done when: a worker reads the flag once per `k` iterations (no more, no less), does at
//! most `k - 1` iterations after the stop, neither steps nor reads again once a read said
//! stop (it returns), processes items `0..len()` in order when no stop comes, and reports
//! both numbers exactly. The stop lands at a different place for each worker, including
//! right after a read (the worst case).
//!
//! Check:  cargo run -p coord-exercises -- check 5     (or: cargo test -p ex05-check-interval)
//! Hint:   cargo run -p coord-exercises -- hint 5
#![allow(unused_variables)] // only so the unfinished stub compiles without warnings

pub use coord_exercises_kit::ex05::{StopFlag, Tally, Work};

// ANCHOR: stub
/// Process `work`'s items in order, reading `stop` once every `k` iterations (`k >= 1`);
/// return as soon as a read says stop, or when the items run out.
pub fn worker(stop: &StopFlag, k: u64, work: &Work) -> Tally {
    todo!("a loop that checks the flag every k iterations")
}
// ANCHOR_END: stub
