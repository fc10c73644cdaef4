//! # Exercise 4: choose the primitive (lecture sections 3.1 and 5.1)
//!
//! Four worker processes share two things with very different access patterns:
//! - a **counter**, bumped by every worker once per item: thousands of times;
//! - a **list of results**, appended to now and then, with no size known in advance.
//!
//! Pick the right mechanism for each (coord-core has `RawValue`, `Value`, `Array`, `Queue`,
//! and the `Manager` with its `value()`, `list()` and `dict()` proxies), fill in `Shared`
//! with it, and implement the five methods.
//!
//! Done when: the total is exact, every result is there exactly once, and the manager (if
//! you use it) serves no more round trips than there are results, plus a few. The checker
//! stops and resumes the workers at arbitrary points while they count (so an update that is
//! not one step loses counts every time), and one round records 12,500 results.
//!
//! Check:  cargo run -p coord-exercises -- check 4     (or: cargo test -p ex04-choose-primitive)
//! Hint:   cargo run -p coord-exercises -- hint 4
#![allow(unused_variables)] // only so the unfinished stub compiles without warnings

use coord_core::{Error, Manager};
pub use coord_exercises_kit::ex04::SharedState;

// ANCHOR: stub
/// The state the workers share. Add the fields you need.
pub struct Shared {}

impl SharedState for Shared {
    fn new(manager: &Manager) -> Result<Self, Error> {
        todo!("create the counter and the result list")
    }

    fn count(&self) -> Result<(), Error> {
        todo!("one more item: called thousands of times by every worker")
    }

    fn record(&self, value: i64) -> Result<(), Error> {
        todo!("add a result: called now and then")
    }

    fn total(&self) -> Result<u64, Error> {
        todo!("the exact count, read once after the workers have exited")
    }

    fn results(&self) -> Result<Vec<i64>, Error> {
        todo!("every result, read once after the workers have exited")
    }
}
// ANCHOR_END: stub
