//! Wrong implementations of exercise 4.

use coord_core::{Array, Error, ListProxy, Manager, RawValue, ValueProxy};
use coord_exercises_kit::ex04::SharedState;

// Mistake: a manager in a tight loop; the hot counter costs one round trip per count.
pub struct ManagerCounter {
    count: ValueProxy,
    results: ListProxy,
}

impl SharedState for ManagerCounter {
    fn new(manager: &Manager) -> Result<Self, Error> {
        Ok(ManagerCounter {
            count: manager.value(),
            results: manager.list(),
        })
    }
    fn count(&self) -> Result<(), Error> {
        self.count.add(1).map(|_| ())
    }
    fn record(&self, value: i64) -> Result<(), Error> {
        self.results.append(value)
    }
    fn total(&self) -> Result<u64, Error> {
        Ok(self.count.get()? as u64)
    }
    fn results(&self) -> Result<Vec<i64>, Error> {
        self.results.to_vec()
    }
}

/// Fixed room in [`FixedArrayList`].
pub const SLOTS: usize = 64;

// Mistake: the growing list in a fixed-size Array; it breaks when the results outgrow it.
pub struct FixedArrayList {
    count: RawValue<u64>,
    len: RawValue<u64>,
    slots: Array<i64>,
}

impl SharedState for FixedArrayList {
    fn new(_manager: &Manager) -> Result<Self, Error> {
        Ok(FixedArrayList {
            count: RawValue::new(0)?,
            len: RawValue::new(0)?,
            slots: Array::new(SLOTS, 0)?,
        })
    }
    fn count(&self) -> Result<(), Error> {
        self.count.fetch_add(1);
        Ok(())
    }
    fn record(&self, value: i64) -> Result<(), Error> {
        let i = self.len.fetch_add(1) as usize;
        self.slots.set(i, value)
    }
    fn total(&self) -> Result<u64, Error> {
        Ok(self.count.get())
    }
    fn results(&self) -> Result<Vec<i64>, Error> {
        let n = (self.len.get() as usize).min(SLOTS);
        Ok(self.slots.to_vec()[..n].to_vec())
    }
}
