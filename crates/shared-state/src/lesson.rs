//! The lecture's code for 3.1 and 5.1, and nothing else. Read this file first.
//!
//! The same line of Python (`x = v.value`) costs nanoseconds or tens of microseconds depending
//! on where `v` lives: in another process (a `Manager`), or in memory every process has mapped
//! (`Value`, `Array`). Below: one access of each kind (3.1); workers adding to one counter four
//! ways (the manager as the bottleneck, 3.1); read-then-write without a lock around the pair
//! (lost updates, 5.1); a fixed-size array against a list that grows (5.1). The `scenarios`
//! module runs and times these very functions; nothing here measures anything.

use std::hint::black_box;

use coord_core::{Array, DictProxy, Error, ListProxy, LockResultExt, Manager};
use coord_core::{RawArray, RawValue, Value, ValueProxy};

// ANCHOR: manager_access
/// Data that lives in the manager process; this process holds proxies to it.
/// Python: `m = Manager(); mv, ml, md = m.Value('q', 0), m.list(), m.dict()`.
/// Rust: `let m = Manager::start()?;`, then `m.value()`, `m.list()`, `m.dict()`.
pub struct InManager {
    pub mv: ValueProxy,
    pub ml: ListProxy,
    pub md: DictProxy,
}

/// Every call is a whole round trip: serialize the request, write it to the manager's socket,
/// sleep while the manager process wakes up, runs it and writes the answer, wake up, decode
/// the answer. Two process wake-ups per access, whatever the data structure.
impl InManager {
    pub fn value_get(&self) -> Result<i64, Error> {
        self.mv.get() // mv.value
    }
    pub fn value_set(&self, i: i64) -> Result<(), Error> {
        self.mv.set(i) // mv.value = i
    }
    pub fn list_append(&self, i: i64) -> Result<(), Error> {
        self.ml.append(i) // ml.append(i)
    }
    pub fn list_get(&self) -> Result<i64, Error> {
        self.ml.get(0) // ml[0]
    }
    pub fn dict_set(&self, i: i64) -> Result<(), Error> {
        self.md.set("k", i) // md['k'] = i
    }
    pub fn dict_get(&self) -> Result<Option<i64>, Error> {
        self.md.get("k") // md['k']
    }
}
// ANCHOR_END: manager_access

// ANCHOR: value_access
/// Data in pages every process has mapped (`MAP_SHARED`). Python: `v = Value('q', 0)`,
/// `rv = RawValue('q', 0)`, `a = Array('q', 1000)`, `ra = RawArray('q', 1000)`; Rust:
/// `Value::new(0)?`, `RawValue::new(0)?`, `Array::new(1000, 0)?`, `RawArray::new(1000, 0)?`.
pub struct InSharedMemory {
    pub v: Value<u64>,
    pub rv: RawValue<u64>,
    pub a: Array<u64>,
    pub ra: RawArray<u64>,
}

/// No other process takes part. A synchronized access (`Value`, `Array`) takes the
/// process-shared lock, loads or stores, and unlocks; a raw one is one atomic instruction.
impl InSharedMemory {
    pub fn value_get(&self) -> u64 {
        self.v.get() // v.value
    }
    pub fn value_set(&self, i: u64) {
        self.v.set(i) // v.value = i
    }
    pub fn raw_get(&self) -> u64 {
        self.rv.get() // rv.value
    }
    pub fn raw_set(&self, i: u64) {
        self.rv.set(i) // rv.value = i
    }
    pub fn array_get(&self) -> Result<u64, Error> {
        self.a.get(500) // a[500]
    }
    pub fn array_set(&self, i: u64) -> Result<(), Error> {
        self.a.set(500, i) // a[500] = i
    }
    pub fn raw_array_get(&self) -> Result<u64, Error> {
        self.ra.get(500) // ra[500]
    }
    pub fn raw_array_set(&self, i: u64) -> Result<(), Error> {
        self.ra.set(500, i) // ra[500] = i
    }
}
// ANCHOR_END: value_access

// ANCHOR: bottleneck_worker
/// (a) Every increment is a request to the manager process and a wait for its answer.
pub fn manager_add(counter: &ValueProxy, n: u64) -> Result<(), Error> {
    for _ in 0..n {
        counter.add(1)?;
    }
    Ok(())
}

/// (b) The lock is held across read, add and write: nobody can slip in between.
pub fn locked_add(counter: &Value<u64>, n: u64) {
    for _ in 0..n {
        *counter.lock().recover() += 1;
    }
}

/// (c) One atomic read-modify-write instruction per increment: no lock, nothing lost.
pub fn atomic_add(counter: &RawValue<u64>, n: u64) {
    for _ in 0..n {
        counter.fetch_add(1);
    }
}

/// (d) No sharing in the loop at all; one shared access per worker, at the end.
pub fn local_then_merge(counter: &RawValue<u64>, n: u64) {
    let mut local = 0u64;
    for _ in 0..n {
        local = black_box(local) + 1; // black_box: the compiler may not skip the loop
    }
    counter.fetch_add(local);
}
// ANCHOR_END: bottleneck_worker

// ANCHOR: lost_updates
// A read, then a write: between the two, another worker may write too, and one of the two
// increments is overwritten. Each access alone is atomic (or locked); the pair is not.
pub fn raw_get_then_set(counter: &RawValue<u64>, n: u64) {
    for _ in 0..n {
        let v = counter.get();
        counter.set(v + 1);
    }
}

pub fn value_get_then_set(counter: &Value<u64>, n: u64) {
    for _ in 0..n {
        let v = counter.get(); // lock taken and released
        counter.set(v + 1); // lock taken again: too late
    }
}

pub fn manager_get_then_set(counter: &ValueProxy, n: u64) -> Result<(), Error> {
    for _ in 0..n {
        let v = counter.get()?; // round trip 1
        counter.set(v + 1)?; // round trip 2: the manager runs each call alone, not the pair
    }
    Ok(())
}
// ANCHOR_END: lost_updates

// ANCHOR: fixed_capacity
/// What [`fill_array_and_list`] managed to store.
pub struct Filled {
    pub array_stored: usize,
    /// The array's error for the first item past its end (`None` if all fitted).
    pub array_error: Option<Error>,
    pub list_len: usize,
}

/// Puts `0..items` into a shared array of `capacity` slots and into a manager list.
pub fn fill_array_and_list(capacity: usize, items: usize, manager: &Manager) -> Result<Filled, Error> {
    // The array's size is part of its shared-memory layout, fixed when it is created.
    let array = Array::new(capacity, 0i64)?;
    let (mut array_stored, mut array_error) = (0, None);
    for i in 0..items {
        if let Err(e) = array.set(i, i as i64) {
            // Past the end: a clear error, not a write into someone else's memory.
            array_error = Some(e);
            break;
        }
        array_stored += 1;
    }
    // The manager's list lives in the manager process's heap: it just grows.
    let list = manager.list();
    for i in 0..items {
        list.append(i as i64)?; // one round trip per append
    }
    let list_len = list.len()?;
    Ok(Filled {
        array_stored,
        array_error,
        list_len,
    })
}
// ANCHOR_END: fixed_capacity
