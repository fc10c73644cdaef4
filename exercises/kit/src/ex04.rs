//! Exercise 4 (lecture sections 3.1 and 5.1): match the mechanism to the access pattern.

use coord_core::{Error, Manager};

/// Shared state for a pool of workers: one counter that every worker bumps once per item
/// (very often), and one list of results that grows without a known bound (rarely).
///
/// The checker creates it with [`new`](SharedState::new) in the parent, forks the workers
/// (each calls [`count`](SharedState::count) and [`record`](SharedState::record)), joins
/// them, then reads [`total`](SharedState::total) and [`results`](SharedState::results)
/// once, in the parent. While the workers count, the checker stops and resumes them at
/// arbitrary instructions: an update made of two steps (read, then write) loses counts.
pub trait SharedState: Sized {
    /// Builds the shared state before the workers start. `manager` is a running manager
    /// process you may use (or not).
    fn new(manager: &Manager) -> Result<Self, Error>;
    /// One more item done. Called by every worker, once per item: thousands of times.
    fn count(&self) -> Result<(), Error>;
    /// Adds a result. Called by a worker now and then; nobody knows in advance how many.
    fn record(&self, value: i64) -> Result<(), Error>;
    /// After every worker has exited: how many items were counted.
    fn total(&self) -> Result<u64, Error>;
    /// After every worker has exited: every recorded result, in any order.
    fn results(&self) -> Result<Vec<i64>, Error>;
}
