//! The scenarios, run with real processes: exactly one winner, valid results, the true
//! minimum, early exit saving work (counted, never timed), and no process left behind.
//! Every wait inside the scenarios is bounded (the start barrier and the joins time out).

use coord_core::pid_alive;
use early_exit::{
    Exit, FlagKind, Matcher, SearchConfig, SetMode, Target, example_27_1, is_prime, race_trials, search,
    smallest,
};

fn assert_all_gone(pids: &[u32]) {
    assert!(!pids.is_empty());
    for &pid in pids {
        assert!(!pid_alive(pid), "worker pid {pid} is still alive after the run");
    }
}

#[test]
fn lock_check_set_gives_exactly_one_winner_when_everyone_finds_at_once() {
    for flag in [FlagKind::Locked, FlagKind::Atomic] {
        let tally = race_trials(8, 40, SetMode::LockCheckSet, flag).unwrap();
        assert_eq!(
            tally.runs_with_exactly_one(),
            tally.runs,
            "{flag:?}: winners per run {:?}",
            tally.winners_histogram
        );
        assert!(tally.results_valid);
        assert_eq!(tally.pids.len(), 8 * 40);
        assert_all_gone(&tally.pids);
    }
}

#[test]
fn in_a_race_every_worker_finds_a_match_and_exactly_one_sets_the_flag() {
    // The race's setup really is a race: all 8 workers find a match on their first item.
    let cfg = SearchConfig {
        workers: 8,
        range_len: 1,
        target: Target::Density(1),
        work: 1,
        flag: FlagKind::Locked,
        early_exit: true,
        set_mode: SetMode::LockCheckSet,
    };
    for _ in 0..10 {
        let run = search(&cfg).unwrap();
        assert_eq!(run.winners.len(), 1);
        let winners = run.workers.iter().filter(|w| w.exit == Exit::Won).count();
        assert_eq!(winners, 1);
        for w in &run.workers {
            // Each either found its match (won or came second) or saw the flag first.
            assert!(
                matches!(w.exit, Exit::Won | Exit::FoundLate | Exit::SawFlag),
                "{:?}",
                w.exit
            );
            assert!(w.iterations <= 1);
        }
        assert_all_gone(&run.pids());
    }
}

#[test]
fn unsafe_set_results_are_still_real_matches() {
    let tally = race_trials(4, 20, SetMode::Unsafe, FlagKind::Atomic).unwrap();
    assert_eq!(tally.winners_histogram.iter().sum::<usize>(), 20);
    assert_eq!(tally.winners_histogram[0], 0, "someone always wins");
    assert!(tally.results_valid);
    assert_all_gone(&tally.pids);
}

#[test]
fn reported_number_matches_and_lies_in_the_winners_range() {
    for (target, work) in [
        (Target::Density(500), 4),
        (Target::Density(7), 1),
        (Target::Prime, 0),
    ] {
        for flag in [FlagKind::Locked, FlagKind::Atomic] {
            let cfg = SearchConfig {
                workers: 4,
                range_len: 20_000,
                target,
                work,
                flag,
                early_exit: true,
                set_mode: SetMode::LockCheckSet,
            };
            let run = search(&cfg).unwrap();
            assert_eq!(run.winners.len(), 1, "{target:?} {flag:?}");
            let (w, n) = run.winners[0];
            let m = Matcher::new(target, work);
            assert!(m.matches(n), "{n} does not match {target:?}");
            assert!(cfg.range_of(w as usize).contains(&n));
            // Workers scan upward, so the winner reports the first match of its own range.
            assert_eq!(Some(n), m.first_in(cfg.range_of(w as usize)));
            assert_eq!(run.workers[w as usize].exit, Exit::Won);
            assert_eq!(run.workers[w as usize].found, Some(n));
            assert_all_gone(&run.pids());
        }
    }
}

#[test]
fn example_27_1_reports_one_prime_from_the_winners_range() {
    let e = example_27_1(4, 100_000).unwrap();
    assert_eq!(e.results.len(), 1, "{:?}", e.results);
    let (w, p) = e.results[0];
    assert!(is_prime(p));
    let lo = w as u64 * 100_000;
    assert!((lo..lo + 100_000).contains(&p));
    assert_eq!(e.exits[w as usize], Exit::Won);
    // The point of the section: nobody searches much, every range has a prime near its start.
    assert_eq!(
        e.first_prime_in_range,
        vec![Some(2), Some(100_003), Some(200_003), Some(300_007)]
    );
    for (i, &it) in e.iterations.iter().enumerate() {
        let first = e.first_prime_in_range[i].unwrap() - i as u64 * 100_000;
        assert!(it >= 1 && it <= first + 1, "worker {i} ran {it} iterations");
    }
    assert_all_gone(&e.pids);
}

#[test]
fn smallest_returns_the_true_minimum() {
    let cases = [
        (4, 50_000, Target::Density(25_000), 16),
        (4, 10_000, Target::Density(300), 2),
        (3, 10_000, Target::Needle(23_456), 2),
        (5, 1_000, Target::Density(1), 1),
        (2, 5_000, Target::Needle(10_000_000), 1), // no match anywhere
        (4, 30_000, Target::Prime, 0),
    ];
    for (workers, range_len, target, work) in cases {
        let reference = Matcher::new(target, work).first_in(0..workers as u64 * range_len);
        for _ in 0..3 {
            let s = smallest(workers, range_len, target, work).unwrap();
            assert_eq!(s.smallest, reference, "{workers} x {range_len}, {target:?}");
            assert_all_gone(&s.pids);
        }
    }
}

#[test]
fn first_found_can_differ_from_smallest_but_smallest_never_does() {
    // Worker 1's first match (offset 15,387) comes long before worker 0's (49,714).
    let target = Target::Density(25_000);
    let m = Matcher::new(target, 16);
    assert_eq!(m.first_in(0..100_000), Some(49_714));
    assert_eq!(m.first_in(100_000..200_000), Some(115_387));
    let s = smallest(4, 100_000, target, 16).unwrap();
    assert_eq!(s.smallest, Some(49_714));
}

#[test]
fn early_exit_examines_far_fewer_items_than_no_early_exit() {
    // Needle on worker 0's first item; long ranges so that even a late start of worker 0
    // (4 workers share 2 cores) leaves most of the others' work undone.
    let cfg = SearchConfig {
        workers: 4,
        range_len: 2_000_000,
        target: Target::Needle(0),
        work: 8,
        flag: FlagKind::Atomic,
        early_exit: true,
        set_mode: SetMode::LockCheckSet,
    };
    let without = search(&SearchConfig {
        early_exit: false,
        ..cfg
    })
    .unwrap();
    assert_eq!(without.winner(), Some((0, 0)));
    // Without early exit every other worker runs its whole range: an exact count.
    assert_eq!(without.total_iterations(), 3 * 2_000_000 + 1);
    for w in &without.workers[1..] {
        assert_eq!(w.exit, Exit::Exhausted);
        assert!(!w.saw_flag);
    }
    assert_all_gone(&without.pids());
    // With it, every other worker leaves through the flag. How much they examined before
    // the flag went up depends on when the scheduler gave worker 0 a core (4 workers share
    // 2 cores, and other tests run at the same time), and so does the number of items
    // examined between the store and each worker's next check: neither is a fixed count.
    // So the saving is checked over up to 3 runs; with early exit broken, every run examines
    // exactly the no-early-exit total and all 3 fail.
    let mut totals = Vec::new();
    for _ in 0..3 {
        let with = search(&cfg).unwrap();
        assert_eq!(with.winner(), Some((0, 0)));
        for w in &with.workers[1..] {
            assert_eq!(w.exit, Exit::SawFlag, "worker {} ended {:?}", w.id, w.exit);
            assert!(w.stop_latency_ns.is_some());
        }
        assert_all_gone(&with.pids());
        totals.push(with.total_iterations());
        if with.total_iterations() * 4 < without.total_iterations() {
            return;
        }
    }
    panic!(
        "with early exit {totals:?} items in 3 runs, without {}: never under a quarter",
        without.total_iterations()
    );
}

#[test]
fn bad_shapes_are_clear_errors() {
    let cfg = SearchConfig {
        workers: 0,
        range_len: 10,
        target: Target::Density(2),
        work: 1,
        flag: FlagKind::Atomic,
        early_exit: true,
        set_mode: SetMode::LockCheckSet,
    };
    let e = search(&cfg).unwrap_err().to_string();
    assert!(e.contains("workers must be at least 1"), "{e}");
    let e = search(&SearchConfig {
        workers: 2,
        range_len: 0,
        ..cfg
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("at least 1 number"), "{e}");
    let e = search(&SearchConfig {
        workers: 2,
        target: Target::Density(0),
        ..cfg
    })
    .unwrap_err()
    .to_string();
    assert!(e.contains("density"), "{e}");
    let e = smallest(3, u64::MAX, Target::Density(2), 1)
        .unwrap_err()
        .to_string();
    assert!(e.contains("do not fit"), "{e}");
    let e = example_27_1(0, 100).unwrap_err().to_string();
    assert!(e.contains("workers"), "{e}");
}
