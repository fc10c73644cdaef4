//! Contract of exercise 4: choose the primitive (sections 3.1 and 5.1).

use coord_core::Manager;
use coord_exercises_kit::ex04::SharedState;
use coord_exercises_kit::set_worker_index;

use crate::harness::{Options, Report, Verdict, fail, run_scenario};

pub const WORKERS: usize = 4;
pub const ITEMS: u64 = 2_500;
/// Round trips allowed on top of one per result (a `len`, a `to_vec`...).
pub const SPARE_ROUND_TRIPS: u64 = 16;

/// Whether item `n` is a result (about one item in 97).
pub fn is_result(n: u64) -> bool {
    n % 97 == 0
}

/// Every result the workers record, sorted.
pub fn expected_results() -> Vec<i64> {
    (0..WORKERS as u64 * ITEMS)
        .filter(|&n| is_result(n))
        .map(|n| n as i64)
        .collect()
}

/// Four workers count 2,500 items each and record about one in 97 as a result; then the
/// parent reads the total and the results once. Checks exact values, and counts the
/// manager's round trips: more than one per result means the manager sits in the hot loop.
pub fn check<S: SharedState>(opts: &Options) -> Verdict {
    run_scenario(opts, |scene| {
        let manager = Manager::start()?;
        scene.track(manager.pid());
        let state = match S::new(&manager) {
            Ok(s) => s,
            Err(e) => return fail(format!("new() returned an error: {e}")),
        };
        let workers = (0..WORKERS)
            .map(|w| {
                scene.start(|| {
                    set_worker_index(w);
                    let run = || -> Result<(), coord_core::Error> {
                        for n in w as u64 * ITEMS..(w as u64 + 1) * ITEMS {
                            state.count()?;
                            if is_result(n) {
                                state.record(n as i64)?;
                            }
                        }
                        Ok(())
                    };
                    scene.note(w, run())
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let statuses = scene.join_all(&workers)?;
        scene.exits_ok("", &statuses)?;
        let expected = expected_results();
        let counts = WORKERS as u64 * ITEMS;
        let total = match state.total() {
            Ok(t) => t,
            Err(e) => return fail(format!("total() returned an error: {e}")),
        };
        let mut results = match state.results() {
            Ok(r) => r,
            Err(e) => return fail(format!("results() returned an error: {e}")),
        };
        results.sort_unstable();
        let calls = manager.stats()?.calls;
        let _ = manager.shutdown();
        if total != counts {
            return fail(format!(
                "total() is {total}, but {counts} items were counted: {} updates were lost or invented",
                counts.abs_diff(total)
            ));
        }
        if results != expected {
            let missing = expected
                .iter()
                .filter(|v| results.binary_search(v).is_err())
                .count();
            return fail(format!(
                "results() gave {} values, expected {} ({missing} of the expected ones missing): \
                 the list must grow as long as it needs to",
                results.len(),
                expected.len()
            ));
        }
        let budget = expected.len() as u64 + SPARE_ROUND_TRIPS;
        if calls > budget {
            return fail(format!(
                "the manager served {calls} round trips for {counts} counts and {} results (budget: {budget}): \
                 a manager in a tight loop",
                expected.len()
            ));
        }
        Ok(Report {
            facts: vec![
                format!("total = {total}, exact ({WORKERS} workers x {ITEMS} items)"),
                format!("all {} results there, each once", expected.len()),
                format!(
                    "manager round trips: {calls} (budget {budget}: one per result plus {SPARE_ROUND_TRIPS})"
                ),
            ],
        })
    })
}
