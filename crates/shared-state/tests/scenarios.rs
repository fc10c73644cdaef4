//! The scenarios' properties, proved by running them with real processes: exact counts,
//! round trips counted, capacity errors, nobody left behind. No assertion looks at a time.

use std::time::Duration;

use coord_core::{Manager, Process, RawArray, pid_alive};
use shared_state::scenarios::Config;
use shared_state::scenarios::counter::{Method, Work, run_counter};
use shared_state::scenarios::fixed::fixed_capacity;
use shared_state::scenarios::latency::{Mechanism, latency_table};
use shared_state::scenarios::lost_updates::lost_updates;

const DEADLINE: Duration = Duration::from_secs(60);
const WORKERS: usize = 4;

fn assert_all_gone(pids: &[u32]) {
    for &pid in pids {
        assert!(
            !pid_alive(pid),
            "process {pid} is still running after the scenario"
        );
    }
}

fn per_worker(method: Method) -> u64 {
    if method.uses_manager() { 50 } else { 20_000 }
}

#[test]
fn exact_methods_give_exact_final_counts() {
    for method in Method::EXACT {
        let n = per_worker(method);
        let r = run_counter(method, WORKERS, Work::Count(n), DEADLINE).unwrap();
        assert_eq!(r.expected, WORKERS as u64 * n, "{method:?}");
        assert_eq!(r.done_per_worker, vec![n; WORKERS], "{method:?}");
        assert_eq!(r.final_count, r.expected, "{method:?} lost updates");
        assert_eq!(r.lost, 0, "{method:?}");
        assert_eq!(r.worker_pids.len(), WORKERS);
        assert_all_gone(&r.worker_pids);
        assert_all_gone(&r.manager_pid.into_iter().collect::<Vec<_>>());

        // A fixed count can finish before the next worker is even scheduled, and then nothing
        // overlaps: also run for a time window, so that a lost update would really show.
        let r = run_counter(method, WORKERS, Work::For(Duration::from_millis(30)), DEADLINE).unwrap();
        if let Some(load) = &r.manager {
            // One call per increment: the server's count, the workers' proxies and the
            // workers' own tallies agree exactly, however many fitted in the window.
            assert_eq!(load.calls, r.expected, "{method:?}");
            assert_eq!(load.worker_round_trips, load.calls, "{method:?}");
        }
        assert_eq!(
            r.final_count, r.expected,
            "{method:?} lost updates in a 30 ms window"
        );
        assert_all_gone(&r.worker_pids);
    }
}

#[test]
fn manager_add_counts_one_round_trip_per_increment() {
    let n = 40;
    let r = run_counter(Method::ManagerAdd, WORKERS, Work::Count(n), DEADLINE).unwrap();
    let load = r.manager.expect("a manager run reports the manager's load");
    // The server's own count and the workers' proxies agree, and both equal the calls made.
    assert_eq!(load.calls, WORKERS as u64 * n);
    assert_eq!(load.worker_round_trips, WORKERS as u64 * n);
}

#[test]
fn manager_get_then_set_is_two_round_trips_per_increment() {
    let n = 30;
    let r = run_counter(Method::ManagerGetSet, WORKERS, Work::Count(n), DEADLINE).unwrap();
    let load = r.manager.unwrap();
    assert_eq!(load.calls, 2 * WORKERS as u64 * n);
    assert_eq!(load.worker_round_trips, 2 * WORKERS as u64 * n);
    // It may lose updates, but it can never invent one.
    assert!(r.final_count <= r.expected && r.final_count >= n);
    assert_all_gone(&r.worker_pids);
}

#[test]
fn proxy_round_trips_and_manager_calls_equal_the_calls_made() {
    // A proxy call waits for the server's answer. A dead server is reported (ServerGone), but a
    // stuck one would block its caller for ever: so the whole conversation runs in a child
    // process, which this test waits for with a deadline. Past it the child is killed, and the
    // manager it started dies with it. The child's assertions come back as its panic message;
    // the pids it saw come back through shared memory.
    let pids = RawArray::new(2, 0u32).unwrap(); // [manager server, the manager's other client]
    let body = Process::start(|| {
        let manager = Manager::start().unwrap();
        pids.set(0, manager.pid()).unwrap();
        let v = manager.value();
        let l = manager.list();
        let d = manager.dict();
        for i in 0..3 {
            v.set(i).unwrap();
        }
        for _ in 0..2 {
            v.get().unwrap();
        }
        v.add(5).unwrap();
        for i in 0..4 {
            l.append(i).unwrap();
        }
        l.get(3).unwrap();
        d.set("k", 1).unwrap();
        d.get("k").unwrap();
        d.get("missing").unwrap();
        assert_eq!(v.round_trips(), 6);
        assert_eq!(l.round_trips(), 5);
        assert_eq!(d.round_trips(), 3);
        assert_eq!(manager.stats().unwrap().calls, 14);
        // stats() is not a counted call.
        assert_eq!(manager.stats().unwrap().calls, 14);

        // Another process's calls reach the same server and are counted there.
        let child = Process::start(|| -> Result<(), coord_core::Error> {
            for _ in 0..7 {
                v.add(1)?;
            }
            Ok(())
        })
        .unwrap();
        pids.set(1, child.pid()).unwrap();
        let status = child.join_timeout(DEADLINE).unwrap().expect("child finished");
        assert!(status.success(), "{status}");
        assert_eq!(manager.stats().unwrap().calls, 21);
        assert_eq!(v.get().unwrap(), 2 + 5 + 7);
        manager.shutdown().unwrap();
    })
    .unwrap();
    let status = body.join_timeout(DEADLINE).unwrap();
    let status = status.unwrap_or_else(|| panic!("the manager conversation took over {DEADLINE:?}: killed"));
    assert!(status.success(), "{status}");
    let pids = pids.to_vec();
    assert!(pids.iter().all(|&p| p != 0), "{pids:?}");
    assert_all_gone(&[body.pid(), pids[0], pids[1]]);
}

#[test]
fn lock_held_and_atomic_versions_never_lose_an_update() {
    let cfg = Config {
        iterations: 20,
        runs: 2,
        ..Config::quick()
    };
    let rows = lost_updates(&cfg).unwrap();
    assert_eq!(rows.len(), 6);
    for r in &rows {
        assert_eq!(r.lost_per_run.len(), 2);
        for (&lost, &made) in r.lost_per_run.iter().zip(&r.expected_per_run) {
            assert!(
                made >= WORKERS as u64,
                "{:?}: every worker makes at least one increment",
                r.method
            );
            assert!(lost <= made);
        }
        if r.exact_by_design {
            assert_eq!(r.total_lost, 0, "{:?} lost updates", r.method);
            assert_eq!(r.runs_without_loss, 2);
        }
        assert_all_gone(&r.worker_pids);
        assert_all_gone(&r.manager_pids);
    }
    let exact: Vec<Method> = rows
        .iter()
        .filter(|r| r.exact_by_design)
        .map(|r| r.method)
        .collect();
    assert_eq!(
        exact,
        [Method::LockedValue, Method::AtomicFetchAdd, Method::ManagerAdd]
    );
}

#[test]
fn zero_workers_is_an_error_not_a_hang() {
    let e = run_counter(Method::AtomicFetchAdd, 0, Work::Count(10), DEADLINE).unwrap_err();
    assert!(e.to_string().contains("at least one worker"), "{e}");
}

#[test]
fn array_capacity_is_a_reported_error_while_the_list_grows() {
    let f = fixed_capacity(8, 10).unwrap();
    assert_eq!(f.array_stored, 8);
    let err = f.array_error.expect("the 9th item must be refused");
    assert!(err.contains("index 8 is out of bounds"), "{err}");
    assert!(err.contains("fixed length of 8"), "{err}");
    assert_eq!(f.list_len, 10);
    assert_all_gone(&[f.manager_pid]);

    let fits = fixed_capacity(8, 8).unwrap();
    assert_eq!(fits.array_stored, 8);
    assert!(fits.array_error.is_none());
    assert_eq!(fits.list_len, 8);
}

#[test]
fn latency_table_has_every_row_and_sane_ratios() {
    let cfg = Config {
        iterations: 5,
        reps: 1,
        ..Config::quick()
    };
    let t = latency_table(&cfg).unwrap();
    let ids: Vec<&str> = t.rows.iter().map(|r| r.id).collect();
    assert_eq!(
        ids,
        [
            "manager_value_get",
            "manager_value_set",
            "manager_list_append",
            "manager_list_get",
            "manager_dict_set",
            "manager_dict_get",
            "value_get",
            "value_set",
            "raw_value_get",
            "raw_value_set",
            "array_get",
            "array_set",
            "raw_array_get",
            "raw_array_set",
            "local_get",
            "local_set",
        ]
    );
    for r in &t.rows {
        assert!(r.ns.median.is_finite() && r.ns.median > 0.0, "{}", r.id);
        assert!(r.ns.min <= r.ns.median && r.ns.median <= r.ns.max, "{}", r.id);
        assert_eq!(
            r.manager_over_synchronized.is_some(),
            r.mechanism == Mechanism::Manager,
            "{}",
            r.id
        );
        let expected_ops = if r.mechanism == Mechanism::Manager {
            5
        } else {
            5_000
        };
        assert_eq!(r.ops_per_rep, expected_ops, "{}", r.id);
    }
    assert_eq!(t.row("raw_value_get").unwrap().ratio_to_raw_read, 1.0);
    assert_all_gone(&[t.manager_pid]);
}
