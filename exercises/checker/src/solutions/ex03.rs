//! Reference solution of exercise 3 (spoiler).

use std::ops::Range;

use coord_core::{Error, Queue};
use coord_exercises_kit::ex03::{Find, Flag, Probe};

// ANCHOR: search
pub fn search(
    me: usize,
    range: Range<u64>,
    found: &Flag,
    probe: &Probe,
    results: &Queue<Find>,
) -> Result<(), Error> {
    for n in range {
        // The cooperative part: someone else has it, stop now.
        if found.get() {
            return Ok(());
        }
        if probe.test(n) {
            // Lock, check again, set: two finders at once must not both claim.
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
// ANCHOR_END: search
