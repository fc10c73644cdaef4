//! The scenarios' properties, proved by running them with real forked workers and a real
//! shared flag. Nothing here looks at a time.

use check_frequency::chart::{self, Series, YAxis};
use check_frequency::lesson::{self, StopFlag};
use check_frequency::render::derivation;
use check_frequency::scenarios::FlagKind;
use check_frequency::scenarios::example::{
    Check, Probe, corrected_reads, run_example, sequential_prime_count, sieve, simulate_lecture_reads,
};
use check_frequency::scenarios::read_cost::contended_read_cost;
use check_frequency::scenarios::recommend::recommend;
use check_frequency::scenarios::sweep::{
    RunReport, SweepConfig, SweepRun, Work, WorkKind, run_sweep, sweep_run,
};
use coord_core::pid_alive;
use lab_support::is_prime;

const TINY: Work = Work { steps: 1 };

fn assert_all_gone(pids: &[u32]) {
    assert!(!pids.is_empty(), "the scenario reported no worker pids");
    for &p in pids {
        assert!(
            !pid_alive(p),
            "worker {p} is still running after the scenario returned"
        );
    }
}

fn run(
    workers: usize,
    iters: u64,
    interval: Option<u64>,
    kind: FlagKind,
    raise_at: Option<u64>,
) -> RunReport {
    let r = sweep_run(&SweepRun {
        workers,
        work: TINY,
        iters,
        interval,
        kind,
        raise_at,
    })
    .expect("sweep run");
    assert_all_gone(&r.pids);
    r
}

#[test]
fn corrected_check_reads_ceil_iterations_over_k_when_the_flag_stays_down() {
    let iters = 2_503;
    for kind in FlagKind::BOTH {
        for k in [1, 7, 10, 100, 1_000, 2_503, 40_000] {
            let r = run(3, iters, Some(k), kind, None);
            for w in &r.workers {
                assert_eq!(
                    w.done, iters,
                    "{kind:?} K={k}: a worker stopped early with the flag down"
                );
                assert_eq!(w.reads, corrected_reads(iters, k), "{kind:?} K={k}");
                assert_eq!(w.reads, iters.div_ceil(k));
            }
        }
        let never = run(2, iters, None, kind, None);
        assert!(never.workers.iter().all(|w| w.reads == 0 && w.done == iters));
    }
}

#[test]
fn corrected_check_stops_within_k_iterations_of_the_raise() {
    let (iters, raise_at) = (6_000, 2_501);
    for k in [1u64, 10, 100, 1_000] {
        // Locked flag: the mutex orders every worker's read against the raise, so the bound is
        // exact for every worker.
        let r = run(3, iters, Some(k), FlagKind::Locked, Some(raise_at));
        for (i, w) in r.workers.iter().enumerate() {
            assert!(
                w.after_raise() <= k,
                "K={k}: worker {i} did {} iterations after the raise (done {}, at raise {})",
                w.after_raise(),
                w.done,
                w.done_at_raise
            );
        }
        // Worker 0 raised the flag itself at the top of iteration `raise_at`, so it stops at
        // exactly the next multiple of K.
        let w0 = r.workers[0];
        assert_eq!(w0.done_at_raise, raise_at);
        assert_eq!(w0.done, raise_at.div_ceil(k) * k, "K={k}");
        assert_eq!(w0.after_raise(), raise_at.div_ceil(k) * k - raise_at);
        assert!(r.t_raise.is_some() && r.stop_latency_ns().is_some());

        // Atomic flag: the raising worker's own figure is exact too.
        let a = run(3, iters, Some(k), FlagKind::Atomic, Some(raise_at));
        assert_eq!(a.workers[0].done, raise_at.div_ceil(k) * k, "atomic K={k}");
    }
    // Never checking: nobody stops early, whatever the flag says.
    let n = run(2, iters, None, FlagKind::Locked, Some(raise_at));
    assert!(n.workers.iter().all(|w| w.done == iters));
    assert_eq!(n.workers[0].after_raise(), iters - raise_at);
}

#[test]
fn every_worker_counts_the_same_primes_as_a_sequential_sieve() {
    let ex = run_example(4, 20_000, 1).expect("example 27.2");
    assert_eq!(ex.sequential_primes, 2_262);
    assert_eq!(sequential_prime_count(20_000), 2_262);
    for v in &ex.variants {
        assert_eq!(v.primes_per_worker, vec![2_262; 4], "{}", v.test);
    }
    assert_all_gone(&ex.last_pids);
    // The lecture's trial division agrees with the sieve number by number.
    let s = sieve(5_000);
    for n in 2..5_000u64 {
        assert_eq!(is_prime(n), s[n as usize], "n = {n}");
    }
}

#[test]
fn lecture_variant_reads_what_a_sequential_simulation_of_count_mod_k_predicts() {
    for limit in [20_000u64, 7_777] {
        let ex = run_example(3, limit, 1).expect("example 27.2");
        for k in [10u64, 1_000] {
            let sim = simulate_lecture_reads(limit, k);
            let v = ex.variant(Check::Lecture(k)).expect("lecture variant");
            assert_eq!(v.reads_per_worker, vec![sim.reads; 3], "limit {limit}, K={k}");
            assert_eq!(
                v.longest_without_read, sim.longest_without_read,
                "limit {limit}, K={k}"
            );
            let c = ex.variant(Check::Corrected(k)).expect("corrected variant");
            assert_eq!(c.reads_per_worker, vec![corrected_reads(limit - 2, k); 3]);
            assert_eq!(c.longest_without_read, k.min(limit - 2));
        }
        assert_all_gone(&ex.last_pids);
    }
    // Worked by hand for the lecture's K=1000 below 20,000: the count is 0 at n=2 (1 read),
    // 1,000 from n=7,920 to 7,927 (the 1,000th prime is 7,919, the next 7,927: 8 reads), and
    // 2,000 from n=17,390 to 17,393 (17,389, then 17,393: 4 reads). 13 reads, not 20.
    assert_eq!(simulate_lecture_reads(20_000, 1_000).reads, 13);
    assert_eq!(corrected_reads(19_998, 1_000), 20);
}

#[test]
fn sweep_reports_a_row_per_interval_and_kind_and_leaves_no_process() {
    let cfg = SweepConfig {
        workers: 2,
        work_kind: WorkKind::Tight,
        iters: 3_000,
        stop_iters: 3_000,
        rounds: 1,
        intervals: vec![1, 10, 100_000],
        kinds: FlagKind::BOTH.to_vec(),
    };
    let s = run_sweep(&cfg, TINY).expect("sweep");
    assert_eq!(s.rows.len(), 2 * 4);
    assert_eq!(s.raise_at, 1_501);
    for kind in FlagKind::BOTH {
        for i in [Some(1), Some(10), Some(100_000), None] {
            let row = s.row(kind, i).expect("row");
            assert_eq!(
                row.reads_per_worker,
                i.map(|k| corrected_reads(3_000, k)).unwrap_or(0)
            );
            assert_eq!(row.after_raise.len(), 2);
        }
        assert_eq!(s.row(kind, None).unwrap().overhead_pct, 0.0);
    }
    assert_all_gone(&s.pids);
}

#[test]
fn bad_sizes_are_errors_not_panics() {
    let e = sweep_run(&SweepRun {
        workers: 2,
        work: TINY,
        iters: 10,
        interval: Some(0),
        kind: FlagKind::Atomic,
        raise_at: None,
    })
    .unwrap_err();
    assert!(e.to_string().contains("at least 1"), "{e}");
    let e = sweep_run(&SweepRun {
        workers: 0,
        work: TINY,
        iters: 10,
        interval: Some(1),
        kind: FlagKind::Atomic,
        raise_at: None,
    })
    .unwrap_err();
    assert!(e.to_string().contains("worker"), "{e}");
    assert!(run_example(0, 20_000, 1).is_err());
    assert!(run_example(4, 2, 1).is_err());
    let cfg = SweepConfig {
        workers: 1,
        work_kind: WorkKind::Tight,
        iters: 10,
        stop_iters: 10,
        rounds: 1,
        intervals: vec![10, 0],
        kinds: vec![FlagKind::Atomic],
    };
    assert!(run_sweep(&cfg, TINY).is_err());
}

#[test]
fn recommendation_follows_the_formula() {
    // 20 ns reads, 1 µs iterations, 1% cap: K >= 20 / (0.01 * 1000) = 2; budget 1 ms: K <= 1000.
    let r = recommend(
        WorkKind::Tight,
        FlagKind::Locked,
        1_000.0,
        20.0,
        "test",
        1_000.0,
        0.01,
    );
    assert_eq!((r.k_min, r.k_max, r.recommended), (2, 1_000, Some(2)));
    assert!(derivation(&r).iter().any(|l| l.contains("K_min = 2")));
    // A budget of 1.5 µs leaves only K = 1, which the 1% cap forbids.
    let r = recommend(
        WorkKind::Tight,
        FlagKind::Locked,
        1_000.0,
        20.0,
        "test",
        1.5,
        0.01,
    );
    assert_eq!((r.k_min, r.k_max, r.recommended), (2, 1, None));
    // Heavy iterations: checking every time is within the cap.
    let r = recommend(
        WorkKind::Heavy,
        FlagKind::Locked,
        1e6,
        20.0,
        "test",
        10_000.0,
        0.01,
    );
    assert_eq!(r.recommended, Some(1));
    // A budget shorter than one iteration: nothing meets it.
    let r = recommend(WorkKind::Heavy, FlagKind::Locked, 1e6, 20.0, "test", 500.0, 0.01);
    assert_eq!((r.k_max, r.recommended), (0, None));
    assert!(
        derivation(&r)
            .iter()
            .any(|l| l.contains("shorter than one iteration"))
    );
}

#[test]
fn chart_labels_both_axes() {
    let xs = [
        Some(1),
        Some(10),
        Some(100),
        Some(1_000),
        Some(10_000),
        Some(100_000),
        None,
    ];
    let s = chart::render(
        "t",
        &xs,
        &[Series {
            name: "locked flag".into(),
            mark: 'L',
            points: vec![
                Some(5.0),
                Some(0.5),
                Some(0.1),
                Some(0.0),
                Some(0.0),
                Some(-0.1),
                Some(0.0),
            ],
        }],
        &YAxis {
            title: "overhead (%)".into(),
            log: false,
            fmt: |v| format!("{v:.1}%"),
        },
        9,
    );
    for label in [
        "1",
        "10",
        "100",
        "1k",
        "10k",
        "100k",
        "never",
        "overhead (%)",
        "log scale",
        "L = locked flag",
    ] {
        assert!(s.contains(label), "missing {label:?} in\n{s}");
    }
    assert_eq!(
        s.matches('L').count() - "L = locked flag".matches('L').count(),
        7,
        "{s}"
    );
}

#[test]
fn contended_readers_all_finish_and_leave_no_process() {
    for kind in FlagKind::BOTH {
        let c = contended_read_cost(3, kind, 2_000).expect("contended read");
        assert_eq!((c.workers, c.reads_per_worker, c.pids.len()), (3, 2_000, 3));
        let mut distinct = c.pids.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(distinct.len(), 3, "three separate reader processes: {:?}", c.pids);
        assert_all_gone(&c.pids);
    }
    assert!(contended_read_cost(0, FlagKind::Locked, 10).is_err());
}

/// A flag that goes up at its `n`-th read: the stop lands at a known iteration, no race.
struct UpAtRead {
    reads: std::cell::Cell<u64>,
    n: u64,
}

impl StopFlag for UpAtRead {
    fn is_set(&self) -> bool {
        self.reads.set(self.reads.get() + 1);
        self.reads.get() >= self.n
    }
    fn raise(&self) {}
}

#[test]
fn probe_counts_each_read_at_the_iteration_it_happens_in() {
    // Corrected worker, K = 10, over 2..102 (100 iterations), the flag never up: reads at
    // i = 0, 10, ..., 90, never more than 10 iterations apart.
    let down = UpAtRead {
        reads: Default::default(),
        n: u64::MAX,
    };
    let probe = Probe::new(&down);
    assert_eq!(
        lesson::worker_checking_every(10, probe.numbers(2..102), &probe),
        26
    );
    let t = probe.finish();
    assert_eq!((t.reads, t.longest_without_read), (10, 10));

    // The flag goes up at the third read (i = 20): the worker returns the primes among the
    // 20 numbers 2..22 it finished, and the probe sees the stop where it happened.
    let up = UpAtRead {
        reads: Default::default(),
        n: 3,
    };
    let probe = Probe::new(&up);
    assert_eq!(
        lesson::worker_checking_every(10, probe.numbers(2..102), &probe),
        8
    );
    let t = probe.finish();
    assert_eq!((t.reads, t.longest_without_read), (3, 10));

    // The lecture's worker reads while the count of primes is a multiple of K: with K = 10 it
    // reads at n = 2 (count 0) and next at n = 30, once 2..29 has given 10 primes.
    let up = UpAtRead {
        reads: Default::default(),
        n: 2,
    };
    let probe = Probe::new(&up);
    assert_eq!(
        lesson::worker_with_frequent_check(probe.numbers(2..102), &probe),
        10
    );
    let t = probe.finish();
    assert_eq!((t.reads, t.longest_without_read), (2, 28));
}
