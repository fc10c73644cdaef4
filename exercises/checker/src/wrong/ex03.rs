//! Wrong implementations of exercise 3.

use std::ops::Range;

use coord_core::{Error, Queue, Value};
use coord_exercises_kit::ex03::{Find, Probe};

// Mistake: a check that never happens; each worker scans its whole range after the find.
pub fn never_checks(
    me: usize,
    range: Range<u64>,
    found: &Value<bool>,
    probe: &Probe,
    results: &Queue<Find>,
) -> Result<(), Error> {
    for n in range {
        if probe.test(n) {
            let _guard = found.get_lock().lock();
            if !found.get() {
                found.set(true);
                results.put(&Find { worker: me, value: n })?;
            }
            return Ok(());
        }
    }
    Ok(())
}

// Mistake: the winner stops its own loop and reports, but never sets the shared flag.
pub fn winner_never_sets_flag(
    me: usize,
    range: Range<u64>,
    found: &Value<bool>,
    probe: &Probe,
    results: &Queue<Find>,
) -> Result<(), Error> {
    for n in range {
        if found.get() {
            return Ok(());
        }
        if probe.test(n) {
            results.put(&Find { worker: me, value: n })?;
            return Ok(());
        }
    }
    Ok(())
}
