//! Wrong implementations of exercise 3.

use std::ops::Range;

use coord_core::{Error, Queue};
use coord_exercises_kit::ex03::{Find, Flag, Probe};

// Mistake: a check that never happens; each worker scans its whole range after the find.
pub fn never_checks(
    me: usize,
    range: Range<u64>,
    found: &Flag,
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
    found: &Flag,
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

// Mistake: the finder checks and sets the flag without the lock; two finders at once both claim.
pub fn set_without_lock(
    me: usize,
    range: Range<u64>,
    found: &Flag,
    probe: &Probe,
    results: &Queue<Find>,
) -> Result<(), Error> {
    for n in range {
        if found.get() {
            return Ok(());
        }
        if probe.test(n) {
            if !found.get() {
                found.set(true);
                results.put(&Find { worker: me, value: n })?;
            }
            return Ok(());
        }
    }
    Ok(())
}

// Mistake: the finder takes the lock but claims without checking whether someone already has.
pub fn claim_without_check(
    me: usize,
    range: Range<u64>,
    found: &Flag,
    probe: &Probe,
    results: &Queue<Find>,
) -> Result<(), Error> {
    for n in range {
        if found.get() {
            return Ok(());
        }
        if probe.test(n) {
            let _guard = found.get_lock().lock();
            found.set(true);
            results.put(&Find { worker: me, value: n })?;
            return Ok(());
        }
    }
    Ok(())
}

// Mistake: once the flag is set the worker stops testing but keeps walking its range instead of returning.
pub fn walks_on_after_flag(
    me: usize,
    range: Range<u64>,
    found: &Flag,
    probe: &Probe,
    results: &Queue<Find>,
) -> Result<(), Error> {
    for n in range {
        if found.get() {
            continue;
        }
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

// Mistake: looks at the flag only before every second candidate; a test can begin after the stop.
pub fn checks_every_other(
    me: usize,
    range: Range<u64>,
    found: &Flag,
    probe: &Probe,
    results: &Queue<Find>,
) -> Result<(), Error> {
    let start = range.start;
    for n in range {
        if (n - start) % 2 == 0 && found.get() {
            return Ok(());
        }
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

// Mistake: a worker whose range runs out sets the flag too, so the others stop though nobody found it.
pub fn sets_flag_when_range_runs_out(
    me: usize,
    range: Range<u64>,
    found: &Flag,
    probe: &Probe,
    results: &Queue<Find>,
) -> Result<(), Error> {
    for n in range {
        if found.get() {
            return Ok(());
        }
        if probe.test(n) {
            let _guard = found.get_lock().lock();
            if !found.get() {
                found.set(true);
                results.put(&Find { worker: me, value: n })?;
            }
            return Ok(());
        }
    }
    found.set(true);
    Ok(())
}
