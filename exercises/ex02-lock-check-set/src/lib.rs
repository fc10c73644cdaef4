//! # Exercise 2: lock, check, set (lecture sections 2.1 and 6.1)
//!
//! Several worker processes each find a result at the same moment (the checker releases them
//! together). Only the first one may claim it: exactly one result goes onto the queue, and
//! exactly one worker is told it won.
//!
//! `found` is the shared flag with its lock, used like a coord-core `Value<bool>` with its
//! `get_lock()`: `found.get()`, `found.set(true)`, and `found.get_lock().lock()` (or its short
//! form `found.lock()`) for a guard that holds the lock until it is dropped. `get` and `set`
//! work while you hold it.
//!
//! Done when: in every round (1 to 8 workers), exactly one worker returns `Ok(true)`, exactly
//! one `Find` is on the queue and it is that worker's, the flag ends up set, and a worker
//! that finds after the claim returns `Ok(false)`.
//!
//! Check:  cargo run -p coord-exercises -- check 2     (or: cargo test -p ex02-lock-check-set)
//! Hint:   cargo run -p coord-exercises -- hint 2
#![allow(unused_variables)] // only so the unfinished stub compiles without warnings

use coord_core::{Error, Queue};
pub use coord_exercises_kit::ex02::{Find, Flag};

// ANCHOR: stub
/// Worker `me` has just found `value`. If no worker has claimed a result yet, claim it:
/// set `found`, put `Find { worker: me, value }` on `results`, return `Ok(true)`. If another
/// worker was first, put nothing and return `Ok(false)`.
pub fn claim(me: usize, value: u64, found: &Flag, results: &Queue<Find>) -> Result<bool, Error> {
    todo!("claim the single winner slot")
}
// ANCHOR_END: stub
