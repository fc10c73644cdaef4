//! # Exercise 3: cooperative early exit (lecture section 2.1)
//!
//! Worker processes search their own ranges for a matching candidate; the first worker to
//! find one wins ("first found wins"). Once it has, the others must stop on their own
//! instead of scanning the rest of their range.
//!
//! `found` is the shared flag: the same `Flag` as in exercise 2 (`found.get()`,
//! `found.set(true)`, `found.get_lock().lock()`, which behave as they do on a coord-core
//! `Value<bool>`). `probe.test(n)` tells whether candidate `n` matches. Sometimes two workers
//! find a match at the same moment: claim the win with lock-check-set, as in exercise 2.
//!
//! Done when: exactly one `Find` (a real match, with its finder's number) is on the queue,
//! the flag is set, and once it is set every worker returns on its own without beginning
//! another test. The checker runs several layouts (one worker, several; one match, two at
//! once; a range that runs out first) and holds the other workers mid-test at different
//! places until the flag is set.
//!
//! Check:  cargo run -p coord-exercises -- check 3     (or: cargo test -p ex03-early-exit)
//! Hint:   cargo run -p coord-exercises -- hint 3
#![allow(unused_variables)] // only so the unfinished stub compiles without warnings

use std::ops::Range;

use coord_core::{Error, Queue};
pub use coord_exercises_kit::ex03::{Find, Flag, Probe};

// ANCHOR: stub
/// Worker `me`: test the candidates of `range` in order with `probe.test(n)`. On a match,
/// claim the win (set `found` and put `Find { worker: me, value: n }` on `results`, only if
/// nobody has) and return. Return as soon as another worker has found a match. If the range
/// runs out, return: someone else may still find it.
pub fn search(
    me: usize,
    range: Range<u64>,
    found: &Flag,
    probe: &Probe,
    results: &Queue<Find>,
) -> Result<(), Error> {
    todo!("search, but stop when someone else has found it")
}
// ANCHOR_END: stub
