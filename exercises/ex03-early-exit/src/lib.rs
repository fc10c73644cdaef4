//! # Exercise 3: cooperative early exit (lecture section 2.1)
//!
//! Four worker processes search four ranges; exactly one candidate in all of them matches,
//! and the first worker to find a match wins ("first found wins"). Once it has, the others
//! must stop on their own instead of scanning the rest of their range.
//!
//! `found` is the shared flag (a coord-core `Value<bool>`), `probe.test(n)` tells whether
//! candidate `n` matches. The winner claims its win with lock-check-set (exercise 2).
//!
//! Done when: exactly one `Find` (the real match) is on the queue, the flag is set, every
//! worker exits, and no worker starts more than one test after the flag was set (the one it
//! may already have begun when the winner set it).
//!
//! Check:  cargo run -p coord-exercises -- check 3
//! Hint:   cargo run -p coord-exercises -- hint 3
#![allow(unused_variables)] // only so the unfinished stub compiles without warnings

use std::ops::Range;

use coord_core::{Error, Queue, Value};
pub use coord_exercises_kit::ex03::{Find, Probe};

// ANCHOR: stub
/// Worker `me`: test the candidates of `range` in order with `probe.test(n)`. On a match,
/// claim the win (set `found` and put `Find { worker: me, value: n }` on `results`, only if
/// nobody has) and return. Return as soon as another worker has found the match.
pub fn search(
    me: usize,
    range: Range<u64>,
    found: &Value<bool>,
    probe: &Probe,
    results: &Queue<Find>,
) -> Result<(), Error> {
    todo!("search, but stop when someone else has found it")
}
// ANCHOR_END: stub
