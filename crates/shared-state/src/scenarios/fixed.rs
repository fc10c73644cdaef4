//! 5.1's fixed layout: the lesson's array-and-list fill, with a manager started for it.

use anyhow::Result;
use coord_core::Manager;
use serde::Serialize;

use crate::lesson;

#[derive(Debug, Clone, Serialize)]
pub struct FixedLayout {
    pub capacity: usize,
    pub attempted: usize,
    /// Items the array took before it refused.
    pub array_stored: usize,
    /// The error the array gave for the first item past its capacity (`None` if all fitted).
    pub array_error: Option<String>,
    /// Length of the manager list after appending every item.
    pub list_len: usize,
    pub manager_pid: u32,
}

/// Puts `items` numbers into a shared `Array` of `capacity` slots and into a manager list.
pub fn fixed_capacity(capacity: usize, items: usize) -> Result<FixedLayout> {
    let manager = Manager::start()?;
    let filled = lesson::fill_array_and_list(capacity, items, &manager)?;
    let manager_pid = manager.pid();
    manager.shutdown()?;
    Ok(FixedLayout {
        capacity,
        attempted: items,
        array_stored: filled.array_stored,
        array_error: filled.array_error.map(|e| e.to_string()),
        list_len: filled.list_len,
        manager_pid,
    })
}
