//! Unit tests with real forked workers. Children only run coord-core calls (no printing), and
//! every wait has a bound.

use std::time::{Duration, Instant};

use coord_core::{Error as CoreError, ExitStatus, Process, Queue, pid_alive};

use crate::claims::claim;
use crate::config::{Config, MAX_TASK_US, MAX_WORKERS, Shutdown};
use crate::lesson::{Done, Msg, send_pills, worker_loop};
use crate::render;
use crate::scenarios::{Accounting, RunReport, Slots, WorkerError, account, run, still_our_children};
use crate::work::expected_value;

fn small(workers: u32, tasks: u32) -> Config {
    Config {
        workers,
        tasks,
        task_us: 100,
        join_wait_ms: 200,
    }
}

/// No worker of this report still exists, running or zombie.
fn assert_all_gone(r: &RunReport) {
    assert!(r.processes_left.is_empty(), "left behind: {:?}", r.processes_left);
    for w in &r.workers {
        assert!(
            !pid_alive(w.pid),
            "worker w{} (pid {}) still alive",
            w.index,
            w.pid
        );
        assert!(
            still_our_children(&[w.pid]).is_empty(),
            "worker w{} (pid {}) is still our child (zombie?)",
            w.index,
            w.pid
        );
    }
}

/// Lost = put minus what came back, and every lost id is either still queued or was in progress.
fn assert_consistent(r: &RunReport) {
    let a = &r.accounting;
    assert!(
        a.duplicated_ids.is_empty(),
        "a task came back twice: {:?}",
        a.duplicated_ids
    );
    assert_eq!(a.wrong_values, 0);
    assert!(a.results_received <= a.tasks_put);
    assert_eq!(a.lost(), a.tasks_put - a.results_received);
    assert_eq!(
        a.lost() as usize,
        a.in_progress_ids.len() + a.left_in_queue_ids.len()
    );
    let mut both: Vec<u32> = a
        .in_progress_ids
        .iter()
        .chain(&a.left_in_queue_ids)
        .copied()
        .collect();
    both.sort_unstable();
    assert_eq!(both, a.lost_ids);
    let done: u32 = r.workers.iter().map(|w| w.tasks_done).sum();
    assert_eq!(done, a.results_received);
}

#[test]
fn pill_processes_every_task_exactly_once_and_every_worker_exits_on_its_own() {
    let r = run(&small(3, 60), Shutdown::Pill).unwrap();
    assert!(r.accounting.exactly_once(), "{:?}", r.accounting);
    assert_eq!(r.accounting.results_received, 60);
    assert_eq!(r.accounting.stops_put, 3);
    assert_eq!(r.accounting.stops_left, 0);
    for w in &r.workers {
        assert_eq!(w.exit_code, 0, "w{}: {}", w.index, w.exit_status);
        assert_eq!(w.stops_read, 1, "w{} read {} Stops", w.index, w.stops_read);
    }
    assert!(r.pill_ok());
    assert!(r.notes.is_empty(), "{:?}", r.notes);
    assert_eq!(claim(&r).holds, Some(true));
    assert_all_gone(&r);
}

#[test]
fn pill_works_with_more_workers_than_tasks_and_without_work() {
    let cfg = Config {
        task_us: 0,
        ..small(5, 2)
    };
    let r = run(&cfg, Shutdown::Pill).unwrap();
    assert!(r.pill_ok(), "{r:?}");
    assert_all_gone(&r);
}

#[test]
fn worker_loop_stops_at_its_pill_and_leaves_what_follows_it() {
    let tasks: Queue<Msg> = Queue::new().unwrap();
    let results: Queue<Done> = Queue::new().unwrap();
    let slots = Slots::new(1, 8).unwrap();
    for id in 0..5 {
        tasks.put(&Msg::Task { id, work_us: 0 }).unwrap();
    }
    tasks.put(&Msg::Stop).unwrap();
    for id in 5..8 {
        tasks.put(&Msg::Task { id, work_us: 0 }).unwrap();
    }
    let p = Process::start(|| worker_loop(0, &tasks, &results, &slots)).unwrap();
    assert_eq!(
        p.join_timeout(Duration::from_secs(20)).unwrap(),
        Some(ExitStatus::Exited(0))
    );
    let mut ids = Vec::new();
    loop {
        match results.try_get() {
            Ok(d) => {
                assert_eq!(d.value, expected_value(d.id));
                ids.push(d.id);
            }
            Err(CoreError::Empty) | Err(CoreError::Disconnected) => break,
            Err(e) => panic!("{e}"),
        }
    }
    assert_eq!(
        ids,
        vec![0, 1, 2, 3, 4],
        "exactly the tasks in front of the pill, in order"
    );
    assert_eq!(slots.stops_read.get(0).unwrap(), 1);
    assert_eq!(slots.busy.get(0).unwrap(), 0, "it held no task when it left");
    let rest: Vec<Msg> = std::iter::from_fn(|| tasks.try_get().ok()).collect();
    assert_eq!(
        rest,
        (5..8).map(|id| Msg::Task { id, work_us: 0 }).collect::<Vec<_>>()
    );
    assert!(!pid_alive(p.pid()));
}

/// The book's promise: with `&()` as its probe, `worker_loop` is the lecture's loop and needs
/// nothing but the two queues.
#[test]
fn the_lectures_worker_needs_no_probe() {
    let tasks: Queue<Msg> = Queue::new().unwrap();
    let results: Queue<Done> = Queue::new().unwrap();
    for id in 0..4 {
        tasks.put(&Msg::Task { id, work_us: 0 }).unwrap();
    }
    send_pills(&tasks, 1).unwrap();
    let p = Process::start(|| worker_loop(7, &tasks, &results, &())).unwrap();
    assert_eq!(
        p.join_timeout(Duration::from_secs(20)).unwrap(),
        Some(ExitStatus::Exited(0))
    );
    let got: Vec<Done> = std::iter::from_fn(|| results.try_get().ok()).collect();
    let want: Vec<Done> = (0..4)
        .map(|id| Done {
            id,
            worker: 7,
            value: expected_value(id),
        })
        .collect();
    assert_eq!(got, want);
    assert!(tasks.is_empty(), "the pill was taken");
}

#[test]
fn one_pill_stops_exactly_one_worker() {
    let tasks: Queue<Msg> = Queue::new().unwrap();
    let results: Queue<Done> = Queue::new().unwrap();
    let slots = Slots::new(2, 8).unwrap();
    let procs = coord_core::start_all(2, |i| worker_loop(i, &tasks, &results, &slots)).unwrap();
    for id in 0..10 {
        tasks.put(&Msg::Task { id, work_us: 0 }).unwrap();
    }
    send_pills(&tasks, 1).unwrap();
    let mut got = 0;
    while got < 10 {
        results.get_timeout(Duration::from_secs(20)).unwrap();
        got += 1;
    }
    // One worker reads the single Stop and exits...
    let deadline = Instant::now() + Duration::from_secs(20);
    let exited = loop {
        if let Some(i) = procs.iter().position(|p| !p.is_alive()) {
            break i;
        }
        assert!(Instant::now() < deadline, "no worker exited after one Stop");
        std::thread::sleep(Duration::from_millis(2));
    };
    assert_eq!(procs[exited].join().unwrap(), ExitStatus::Exited(0));
    // ...and the other keeps waiting for work: nothing else can make it leave.
    let other = 1 - exited;
    assert_eq!(
        procs[other].join_timeout(Duration::from_millis(200)).unwrap(),
        None
    );
    assert_eq!(slots.stops_read.to_vec().iter().sum::<u32>(), 1);
    // A second Stop stops the second worker.
    send_pills(&tasks, 1).unwrap();
    assert_eq!(
        procs[other].join_timeout(Duration::from_secs(20)).unwrap(),
        Some(ExitStatus::Exited(0))
    );
    assert_eq!(slots.stops_read.to_vec(), vec![1, 1]);
    for p in &procs {
        assert!(!pid_alive(p.pid()));
    }
}

#[test]
fn terminate_losses_match_the_accounting() {
    let cfg = Config {
        task_us: 500,
        ..small(3, 60)
    };
    let r = run(&cfg, Shutdown::Terminate).unwrap();
    assert_consistent(&r);
    for w in &r.workers {
        // No worker returns on its own in this mode: SIGTERM ends it, or (rarely) its own put
        // fails first because another worker was killed in the middle of writing a result.
        let corrupted = w.exit_code == 1 && w.error == Some(WorkerError::QueueCorrupted);
        assert!(w.exit_code == -15 || corrupted, "w{}: {}", w.index, w.exit_status);
        assert_eq!(w.stops_read, 0);
    }
    assert!(r.terminate_after_ms.is_some());
    assert_all_gone(&r);
}

#[test]
fn side_channel_losses_are_tasks_left_in_the_queue_never_half_done_ones() {
    let r = run(&small(3, 80), Shutdown::SideChannel).unwrap();
    assert_consistent(&r);
    // A side-channel worker finishes the task it holds before it looks at the flag again.
    assert!(r.accounting.in_progress_ids.is_empty(), "{:?}", r.accounting);
    for w in &r.workers {
        assert_eq!(w.exit_code, 0, "w{}: {}", w.index, w.exit_status);
    }
    assert_all_gone(&r);
}

/// A side-channel report written by hand: 80 tasks put, ids 77, 78 and 79 never taken off the
/// queue.
fn side_channel_report(lost_ids: Vec<u32>) -> RunReport {
    RunReport {
        mode: Shutdown::SideChannel,
        config: small(2, 80),
        workers: vec![],
        accounting: Accounting {
            tasks_put: 80,
            results_received: 80 - lost_ids.len() as u32,
            left_in_queue_ids: lost_ids.clone(),
            lost_ids,
            ..Accounting::default()
        },
        elapsed_ms: 1.0,
        join_wait: None,
        terminate_after_ms: None,
        processes_left: vec![],
        notes: vec![],
        timeline_counts: vec![],
        timeline: timeline::Timeline::new(vec![], crate::lanes::KINDS),
    }
}

#[test]
fn side_channel_claim_counts_the_tasks_left_behind() {
    let c = claim(&side_channel_report(vec![77, 78, 79]));
    assert_eq!(c.value, Some(3.0));
    assert_eq!(c.holds, Some(true));
    assert_eq!(
        c.measured,
        "stop flag set right after the last put: 3 of 80 tasks never processed (3 left in the queue)"
    );
    // Nothing lost in this run: the claim is not shown false, only not shown.
    let c = claim(&side_channel_report(vec![]));
    assert_eq!(c.value, Some(0.0));
    assert_eq!(c.holds, None);
    assert!(
        c.measured.contains(": 0 of 80 tasks never processed"),
        "{}",
        c.measured
    );
}

#[test]
fn none_leaves_every_worker_waiting_until_cleanup() {
    let r = run(&small(2, 20), Shutdown::None).unwrap();
    assert!(
        r.accounting.exactly_once(),
        "the work itself is fine: {:?}",
        r.accounting
    );
    let j = r.join_wait.as_ref().expect("none reports its join wait");
    assert_eq!(j.still_alive, 2, "no worker can leave without a Stop");
    for w in &r.workers {
        assert_eq!(w.exit_code, -15, "cleanup terminate(): {}", w.exit_status);
    }
    assert_eq!(claim(&r).holds, Some(true));
    assert_all_gone(&r);
}

#[test]
fn account_finds_lost_duplicated_and_wrong_results() {
    let d = |id, worker| Done {
        id,
        worker,
        value: expected_value(id),
    };
    let mut got = vec![d(0, 0), d(1, 0), d(1, 1), d(3, 1), d(4, 1)];
    got[4].value += 1;
    // Task 2 was held by worker 0 (slot = id + 1), 5 is still queued.
    let a = account(6, &got, &[5], &[3, 0], 0, 0);
    assert_eq!(a.lost_ids, vec![2, 5]);
    assert_eq!(a.duplicated_ids, vec![1]);
    assert_eq!(a.wrong_values, 1);
    assert_eq!(a.left_in_queue_ids, vec![5]);
    assert_eq!(a.in_progress_ids, vec![2]);
    assert_eq!(a.in_progress_by_worker, vec![(0, 2)]);
    assert!(!a.exactly_once());
    let ok = account(2, &[d(1, 0), d(0, 1)], &[], &[0, 0], 2, 0);
    assert!(ok.exactly_once());
}

#[test]
fn config_rejects_impossible_values() {
    for bad in [
        small(0, 10),
        small(2, 0),
        small(MAX_WORKERS + 1, 10),
        Config {
            task_us: MAX_TASK_US + 1,
            ..small(2, 2)
        },
    ] {
        let e = bad.validate().unwrap_err().to_string();
        assert!(e.contains("must be"), "{e}");
        assert!(run(&bad, Shutdown::Pill).is_err());
    }
}

#[test]
fn id_ranges_are_compact() {
    assert_eq!(render::id_ranges(&[0, 1, 2, 3, 7, 9, 10], 10), "0..=3, 7, 9, 10");
    assert_eq!(render::id_ranges(&[], 10), "");
    assert_eq!(render::id_ranges(&[1, 3, 5, 7], 2), "1, 3, ... (2 more groups)");
}

/// The timeline of a run against the same run's own accounting: one lane per process, and in
/// each worker's lane as many tasks taken and done as the results queue says it sent back.
fn assert_timeline_matches(r: &RunReport) {
    use crate::lanes::code;
    let t = &r.timeline;
    let names: Vec<&str> = t.lanes.iter().map(|l| l.name.as_str()).collect();
    assert_eq!(names, crate::lanes::names(r.workers.len()));
    for (w, lane) in r.workers.iter().zip(&t.lanes[1..]) {
        assert_eq!(lane.overflow, 0, "{}", lane.name);
        assert_eq!(lane.of(code::DONE).count() as u32, w.tasks_done, "{}", lane.name);
        assert_eq!(
            lane.of(code::STOP_READ).count() as u32,
            w.stops_read,
            "{}",
            lane.name
        );
        assert_eq!(lane.of(code::START).count(), 1, "{}", lane.name);
    }
    let took: usize = t.lanes.iter().map(|l| l.of(code::TOOK).count()).sum();
    let a = &r.accounting;
    assert_eq!(took as u32, a.results_received + a.in_progress_ids.len() as u32);
    assert_eq!(t.lanes[0].of(code::JOINED).count(), 1);
}

#[test]
fn pill_timeline_every_lane_reads_its_stop_after_its_last_task() {
    use crate::lanes::code;
    let r = run(&small(3, 60), Shutdown::Pill).unwrap();
    assert!(r.pill_ok(), "{r:?}");
    assert_timeline_matches(&r);
    for lane in &r.timeline.lanes[1..] {
        let stop = lane.of(code::STOP_READ).next().expect("a Stop").t_ns;
        assert!(
            lane.of(code::DONE).all(|e| e.t_ns <= stop),
            "{}: a task after its Stop",
            lane.name
        );
        assert_eq!(lane.of(code::EXIT).count(), 1);
    }
    let text = crate::lanes::text(&r, 100, false);
    assert!(
        text.contains("in 3 of 3 lanes the Stop (P) was read after"),
        "{text}"
    );
    let svg = timeline::svg::check(&crate::lanes::svg(&r)).unwrap();
    assert_eq!(svg.names(), ["parent", "w0", "w1", "w2"]);
    for w in &r.workers {
        assert_eq!(svg.count(&format!("w{}", w.index), "task") as u32, w.tasks_done);
    }
}

#[test]
fn side_channel_timeline_shows_the_flag_seen_with_tasks_still_queued() {
    use crate::lanes::code;
    // Force the race: 40 tasks of 20 ms for 2 workers are 400 ms of work, and the flag is set
    // right after the last put: the queue cannot be empty when the workers see it.
    let r = run(&Config::new(2, 40, 20_000, 200), Shutdown::SideChannel).unwrap();
    assert_timeline_matches(&r);
    assert!(!r.accounting.left_in_queue_ids.is_empty(), "{r:?}");
    for lane in &r.timeline.lanes[1..] {
        let f = lane.of(code::FLAG_SEEN).next().expect("the flag seen");
        // Every task left in the queue at the end was there when this worker saw the flag.
        assert!(
            f.arg as usize >= r.accounting.left_in_queue_ids.len(),
            "{}: {f:?}",
            lane.name
        );
    }
}

#[test]
fn terminate_timeline_marks_each_kill_in_its_lane() {
    use crate::lanes::code;
    let r = run(&Config::new(2, 20, 2_000, 200), Shutdown::Terminate).unwrap();
    assert_timeline_matches(&r);
    for (w, lane) in r.workers.iter().zip(&r.timeline.lanes[1..]) {
        let killed = w.exit_code < 0;
        assert_eq!(
            lane.of(code::KILLED).count(),
            killed as usize,
            "{}: {w:?}",
            lane.name
        );
    }
}
