//! Wrong implementations of exercise 2.

use coord_core::{Error, Queue};
use coord_exercises_kit::ex02::{Find, Flag};

// Mistake: checks and sets without the lock; every finder can read "unset" before anyone writes.
pub fn check_without_lock(me: usize, value: u64, found: &Flag, results: &Queue<Find>) -> Result<bool, Error> {
    if found.get() {
        return Ok(false);
    }
    found.set(true);
    results.put(&Find { worker: me, value })?;
    Ok(true)
}

// Mistake: checks outside the lock and does not check again inside it.
pub fn no_check_inside_lock(
    me: usize,
    value: u64,
    found: &Flag,
    results: &Queue<Find>,
) -> Result<bool, Error> {
    if found.get() {
        return Ok(false);
    }
    let _guard = found.lock();
    found.set(true);
    results.put(&Find { worker: me, value })?;
    Ok(true)
}

// Mistake: the result goes on the queue but the flag is never set; every finder claims.
pub fn never_sets_flag(me: usize, value: u64, found: &Flag, results: &Queue<Find>) -> Result<bool, Error> {
    let _guard = found.lock();
    if found.get() {
        return Ok(false);
    }
    results.put(&Find { worker: me, value })?;
    Ok(true)
}

// Mistake: checks under one hold of the lock and sets under a second one; in between, others check too.
pub fn check_then_set_two_locks(
    me: usize,
    value: u64,
    found: &Flag,
    results: &Queue<Find>,
) -> Result<bool, Error> {
    let taken = {
        let _guard = found.lock();
        found.get()
    };
    if taken {
        return Ok(false);
    }
    let _guard = found.lock();
    found.set(true);
    results.put(&Find { worker: me, value })?;
    Ok(true)
}

// Mistake: `let _ = found.lock();` drops the guard at once; the check and the set run without the lock.
pub fn dropped_guard(me: usize, value: u64, found: &Flag, results: &Queue<Find>) -> Result<bool, Error> {
    let _ = found.lock();
    if found.get() {
        return Ok(false);
    }
    found.set(true);
    results.put(&Find { worker: me, value })?;
    Ok(true)
}
