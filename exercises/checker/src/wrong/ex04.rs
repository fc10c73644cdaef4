//! Wrong implementations of exercise 4.

use coord_core::{Array, Error, ListProxy, Manager, RawValue, Value, ValueProxy};
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

// Mistake: the counter is read, then written, in two steps (RawValue get then set); concurrent counts are lost.
pub struct RawGetThenSet {
    count: RawValue<u64>,
    results: ListProxy,
}

impl SharedState for RawGetThenSet {
    fn new(manager: &Manager) -> Result<Self, Error> {
        Ok(RawGetThenSet {
            count: RawValue::new(0)?,
            results: manager.list(),
        })
    }
    fn count(&self) -> Result<(), Error> {
        let n = self.count.get();
        self.count.set(n + 1);
        Ok(())
    }
    fn record(&self, value: i64) -> Result<(), Error> {
        self.results.append(value)
    }
    fn total(&self) -> Result<u64, Error> {
        Ok(self.count.get())
    }
    fn results(&self) -> Result<Vec<i64>, Error> {
        self.results.to_vec()
    }
}

// Mistake: a locked Value, but get and set each take the lock on their own; a count between them is lost.
pub struct ValueGetThenSet {
    count: Value<u64>,
    results: ListProxy,
}

impl SharedState for ValueGetThenSet {
    fn new(manager: &Manager) -> Result<Self, Error> {
        Ok(ValueGetThenSet {
            count: Value::new(0)?,
            results: manager.list(),
        })
    }
    fn count(&self) -> Result<(), Error> {
        let n = self.count.get();
        self.count.set(n + 1);
        Ok(())
    }
    fn record(&self, value: i64) -> Result<(), Error> {
        self.results.append(value)
    }
    fn total(&self) -> Result<u64, Error> {
        Ok(self.count.get())
    }
    fn results(&self) -> Result<Vec<i64>, Error> {
        self.results.to_vec()
    }
}

/// The size [`GuessedArray`] guessed.
pub const GUESS: usize = 10_000;

// Mistake: the list is an Array of a guessed size that quietly drops what does not fit.
pub struct GuessedArray {
    count: RawValue<u64>,
    len: RawValue<u64>,
    slots: Array<i64>,
}

impl SharedState for GuessedArray {
    fn new(_manager: &Manager) -> Result<Self, Error> {
        Ok(GuessedArray {
            count: RawValue::new(0)?,
            len: RawValue::new(0)?,
            slots: Array::new(GUESS, 0)?,
        })
    }
    fn count(&self) -> Result<(), Error> {
        self.count.fetch_add(1);
        Ok(())
    }
    fn record(&self, value: i64) -> Result<(), Error> {
        let i = self.len.fetch_add(1) as usize;
        if i < GUESS {
            self.slots.set(i, value)?;
        }
        Ok(())
    }
    fn total(&self) -> Result<u64, Error> {
        Ok(self.count.get())
    }
    fn results(&self) -> Result<Vec<i64>, Error> {
        let n = (self.len.get() as usize).min(GUESS);
        Ok(self.slots.to_vec()[..n].to_vec())
    }
}
