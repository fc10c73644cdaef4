//! Proves every exercise's contract, with real processes:
//! - the reference solution passes;
//! - every named wrong implementation fails, for its own reason;
//! - the shipped stub fails (while the exercise file is the untouched stub).
//!
//! A learner's finished (or half-finished) exercise never makes this suite fail: their own
//! progress is `cargo run -p coord-exercises -- list`. In CI, set COORD_EXERCISES_SHIPPED=1:
//! then an exercise file that differs from its recorded fingerprint fails the suite (someone
//! edited a stub without updating `shipped_hash` in src/info.rs).

use coord_exercises::Options;
use coord_exercises::info::{EXERCISES, Exercise, find, fnv1a};

fn ex(n: u32) -> &'static Exercise {
    find(n).expect("exercise exists")
}

fn solution_passes(n: u32) {
    let e = ex(n);
    if let Err(f) = (e.solution)(&Options::default()) {
        panic!("exercise {n}'s reference solution fails its own contract: {f}");
    }
}

fn wrong_fails(n: u32, name: &str) {
    let e = ex(n);
    let w = e
        .wrongs
        .iter()
        .find(|w| w.name == name)
        .unwrap_or_else(|| panic!("exercise {n} has no wrong implementation {name}"));
    // A mistake that fails only because the checker forces a race must fail every time.
    let runs = if w.racy { RACY_RUNS } else { 1 };
    for run in 1..=runs {
        match (w.run)(&Options::default()) {
            Ok(r) => panic!(
                "exercise {n}: the wrong implementation {name} ({}) PASSES the contract on run {run} of {runs}: {:?}",
                w.mistake, r.facts
            ),
            Err(f) => assert!(
                f.message.contains(w.expect),
                "exercise {n}: {name} fails on run {run} of {runs}, but not for its mistake ({}): expected {:?} in: {f}",
                w.mistake,
                w.expect
            ),
        }
    }
}

/// How many times the proof runs a wrong implementation whose failure depends on a forced race.
const RACY_RUNS: u32 = 20;

fn shipped_stub_fails(n: u32) {
    let e = ex(n);
    if !e.untouched() {
        if std::env::var_os("COORD_EXERCISES_SHIPPED").is_some() {
            panic!(
                "{} is not the shipped stub (fingerprint {:#x}, recorded {:#x}): if the stub was changed on \
                 purpose, record the new fingerprint (cargo run -p coord-exercises -- hashes) in src/info.rs",
                e.file,
                fnv1a(e.source),
                e.shipped_hash
            );
        }
        eprintln!("note: {} has been edited; the stub check is skipped", e.file);
        return;
    }
    match (e.learner)(&Options::default()) {
        Ok(_) => {
            panic!("the shipped stub of exercise {n} PASSES its contract: it would be solved as shipped")
        }
        Err(f) => assert!(
            f.message.contains("not yet implemented"),
            "the shipped stub of exercise {n} fails, but not at a todo!(): {f}"
        ),
    }
}

macro_rules! wrong_tests {
    ($($test:ident: $n:expr, $name:expr;)*) => {
        $( #[test] fn $test() { wrong_fails($n, $name) } )*
        /// The names of the wrong implementations that have a test above.
        const TESTED_WRONGS: &[(u32, &str)] = &[$(($n, $name)),*];
    };
}

wrong_tests! {
    ex01_submit_no_pill_fails: 1, "submit_no_pill";
    ex01_submit_one_pill_fails: 1, "submit_one_pill";
    ex01_submit_pills_first_fails: 1, "submit_pills_first";
    ex01_submit_fixed_pool_fails: 1, "submit_fixed_pool";
    ex01_worker_ignores_pill_fails: 1, "worker_ignores_pill";
    ex01_worker_leaves_on_empty_fails: 1, "worker_leaves_on_empty";
    ex01_worker_leaves_on_timeout_fails: 1, "worker_leaves_on_timeout";
    ex01_done_names_worker_zero_fails: 1, "done_names_worker_zero";
    ex01_worker_batches_answers_fails: 1, "worker_batches_answers";
    ex02_check_without_lock_fails: 2, "check_without_lock";
    ex02_no_check_inside_lock_fails: 2, "no_check_inside_lock";
    ex02_never_sets_flag_fails: 2, "never_sets_flag";
    ex02_check_then_set_two_locks_fails: 2, "check_then_set_two_locks";
    ex02_dropped_guard_fails: 2, "dropped_guard";
    ex03_never_checks_fails: 3, "never_checks";
    ex03_winner_never_sets_flag_fails: 3, "winner_never_sets_flag";
    ex03_set_without_lock_fails: 3, "set_without_lock";
    ex03_claim_without_check_fails: 3, "claim_without_check";
    ex03_walks_on_after_flag_fails: 3, "walks_on_after_flag";
    ex03_checks_every_other_fails: 3, "checks_every_other";
    ex03_sets_flag_when_range_runs_out_fails: 3, "sets_flag_when_range_runs_out";
    ex04_managercounter_fails: 4, "ManagerCounter";
    ex04_fixedarraylist_fails: 4, "FixedArrayList";
    ex04_guessedarray_fails: 4, "GuessedArray";
    ex04_rawgetthenset_fails: 4, "RawGetThenSet";
    ex04_valuegetthenset_fails: 4, "ValueGetThenSet";
    ex05_counts_hits_fails: 5, "counts_hits";
    ex05_every_iteration_fails: 5, "every_iteration";
    ex05_never_checks_fails: 5, "never_checks";
    ex05_step_after_stop_fails: 5, "step_after_stop";
    ex05_stops_but_loops_fails: 5, "stops_but_loops";
    ex05_one_based_items_fails: 5, "one_based_items";
}

#[test]
fn every_wrong_implementation_has_a_test_and_every_exercise_has_one() {
    for e in EXERCISES {
        assert!(
            !e.wrongs.is_empty(),
            "exercise {} has no wrong implementation",
            e.number
        );
        for w in e.wrongs {
            assert!(
                TESTED_WRONGS.contains(&(e.number, w.name)),
                "exercise {}'s wrong implementation {} has no test",
                e.number,
                w.name
            );
        }
    }
    assert_eq!(
        TESTED_WRONGS.len(),
        EXERCISES.iter().map(|e| e.wrongs.len()).sum::<usize>()
    );
}

#[test]
fn ex01_solution_passes() {
    solution_passes(1)
}
#[test]
fn ex02_solution_passes() {
    solution_passes(2)
}
#[test]
fn ex03_solution_passes() {
    solution_passes(3)
}
#[test]
fn ex04_solution_passes() {
    solution_passes(4)
}
#[test]
fn ex05_solution_passes() {
    solution_passes(5)
}

#[test]
fn ex01_shipped_stub_fails() {
    shipped_stub_fails(1)
}
#[test]
fn ex02_shipped_stub_fails() {
    shipped_stub_fails(2)
}
#[test]
fn ex03_shipped_stub_fails() {
    shipped_stub_fails(3)
}
#[test]
fn ex04_shipped_stub_fails() {
    shipped_stub_fails(4)
}
#[test]
fn ex05_shipped_stub_fails() {
    shipped_stub_fails(5)
}

#[test]
fn exercises_are_numbered_in_order_with_a_section_and_a_hint() {
    for (i, e) in EXERCISES.iter().enumerate() {
        assert_eq!(e.number as usize, i + 1);
        assert!(!e.section.is_empty() && !e.hint.trim().is_empty());
        if e.untouched() {
            // The shipped stub has work left to do, names its lecture section and where the
            // hint is, and does not reveal the solution.
            assert!(
                e.source.contains("todo!("),
                "{}: a stub must have todo!()",
                e.file
            );
            assert!(
                e.source.contains("lecture section"),
                "{} does not name its section",
                e.file
            );
            assert!(
                e.source.contains(&format!("-- hint {}", e.number)),
                "{} does not say how to get the hint",
                e.file
            );
            assert!(
                !e.source.contains("solutions"),
                "{} points at the solution",
                e.file
            );
        }
    }
}
