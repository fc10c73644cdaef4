//! `Process`: exit codes, signals, panics, timeouts, and no process left behind.

mod common;

use std::time::{Duration, Instant};

use common::{DEADLINE, assert_reaped, join, sleep_until_killed, wait_not_alive, wait_until};
use coord_core::{ExitStatus, PANIC_EXIT_CODE, Process, RawValue, Signal, join_all, start_all};

#[test]
fn exit_codes_are_reported() {
    let zero = Process::start(|| ()).unwrap();
    let seven = Process::start(|| 7).unwrap();
    let ok = Process::start(|| -> Result<(), String> { Ok(()) }).unwrap();
    let err = Process::start(|| -> Result<(), String> { Err("no input".into()) }).unwrap();
    let code = Process::start(|| -> Result<i32, String> { Ok(3) }).unwrap();

    let st = join(&zero);
    assert_eq!(st, ExitStatus::Exited(0));
    assert!(st.success());
    assert_eq!(st.code(), 0);
    assert_eq!(join(&seven), ExitStatus::Exited(7));
    assert!(!join(&seven).success(), "a second join gives the same status");
    assert_eq!(join(&ok), ExitStatus::Exited(0));
    assert_eq!(join(&err), ExitStatus::Exited(1));
    assert_eq!(join(&code), ExitStatus::Exited(3));
    for p in [&zero, &seven, &ok, &err, &code] {
        assert!(!p.is_alive());
        assert_reaped(p.pid());
    }
}

#[test]
fn a_childs_panic_message_reaches_join() {
    let p = Process::start(|| -> () {
        let answer = 6 * 7;
        panic!("worker failed: answer was {answer}");
    })
    .unwrap();
    let st = join(&p);
    match &st {
        ExitStatus::Panicked(msg) => {
            assert!(msg.contains("worker failed: answer was 42"), "message was: {msg}");
        }
        other => panic!("expected Panicked, got {other:?}"),
    }
    assert_eq!(st.code(), PANIC_EXIT_CODE);
    assert!(!st.success());

    // A static &str payload, and a panic from deep inside a library call.
    let p = Process::start(|| -> () { panic!("plain") }).unwrap();
    assert!(matches!(join(&p), ExitStatus::Panicked(m) if m.contains("plain")));
    let p = Process::start(|| {
        let v: Vec<u8> = std::hint::black_box(Vec::new());
        v[3] as i32
    })
    .unwrap();
    assert!(matches!(join(&p), ExitStatus::Panicked(m) if m.contains("index out of bounds")));
    assert_reaped(p.pid());
}

#[test]
fn a_child_that_exits_101_without_panicking_is_not_reported_as_a_panic() {
    let p = Process::start(|| PANIC_EXIT_CODE).unwrap();
    assert_eq!(join(&p), ExitStatus::Exited(PANIC_EXIT_CODE));
}

#[test]
fn terminate_and_kill_are_reported_as_signals() {
    let t = Process::start(sleep_until_killed).unwrap();
    let k = Process::start(sleep_until_killed).unwrap();
    assert!(t.is_alive() && k.is_alive());
    t.terminate().unwrap();
    k.kill().unwrap();
    let st = join(&t);
    assert_eq!(st, ExitStatus::Signaled(Signal::SIGTERM));
    assert_eq!(st.code(), -15);
    assert_eq!(join(&k), ExitStatus::Signaled(Signal::SIGKILL));
    assert!(!t.is_alive());
    // Signalling a reaped child is a no-op, never a signal to a recycled pid.
    t.kill().unwrap();
    assert_eq!(join(&t), ExitStatus::Signaled(Signal::SIGTERM));
    assert_reaped(t.pid());
    assert_reaped(k.pid());
}

#[test]
fn join_timeout_gives_none_while_the_child_runs() {
    let p = Process::start(sleep_until_killed).unwrap();
    let wait = Duration::from_millis(150);
    let t0 = Instant::now();
    assert_eq!(p.join_timeout(wait).unwrap(), None);
    // A lower bound only: it must not give up early (an upper bound would be a timing test).
    assert!(t0.elapsed() >= wait);
    assert!(p.is_alive());
    assert_eq!(p.exit_status(), None);
    p.kill().unwrap();
    assert_eq!(join(&p), ExitStatus::Signaled(Signal::SIGKILL));
    assert_eq!(p.exit_status(), Some(ExitStatus::Signaled(Signal::SIGKILL)));

    // A child that has already ended is reported at once, also with a zero timeout.
    let q = Process::start(|| 4).unwrap();
    wait_until("child exits", || !coord_core::pid_alive(q.pid()));
    assert_eq!(
        q.join_timeout(Duration::ZERO).unwrap(),
        Some(ExitStatus::Exited(4))
    );
}

#[test]
fn dropping_an_unjoined_process_leaves_no_zombie_and_no_orphan() {
    // Still running when dropped: killed and reaped.
    let p = Process::start(sleep_until_killed).unwrap();
    let running = p.pid();
    assert!(coord_core::pid_alive(running));
    drop(p);
    assert_reaped(running);

    // Already exited when dropped (a zombie until reaped): reaped.
    let p = Process::start(|| 0).unwrap();
    let exited = p.pid();
    wait_until("child becomes a zombie", || {
        common::proc_state(exited) == Some('Z')
    });
    drop(p);
    assert_reaped(exited);
}

#[test]
fn a_panicking_parent_kills_and_reaps_its_children() {
    let pid = std::cell::Cell::new(0);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let p = Process::start(sleep_until_killed).unwrap();
        pid.set(p.pid());
        panic!("the parent fails while its child runs");
    }));
    assert!(r.is_err());
    assert_ne!(pid.get(), 0);
    assert_reaped(pid.get());
}

#[test]
fn a_grandchild_dies_with_its_parent_process() {
    // The middle process starts a grandchild, publishes its pid, then ends in three ways.
    for how in ["panic", "sigkill", "sigint"] {
        let grandchild = RawValue::new(0u32).unwrap();
        let middle = Process::start(|| -> () {
            let g = Process::start(sleep_until_killed).expect("start grandchild");
            grandchild.set(g.pid());
            if how == "panic" {
                // Unwinding drops `g`, which kills and reaps it.
                panic!("middle process fails");
            }
            sleep_until_killed();
        })
        .unwrap();
        wait_until("grandchild started", || grandchild.get() != 0);
        let g = grandchild.get();
        match how {
            "panic" => assert!(matches!(join(&middle), ExitStatus::Panicked(_))),
            // No unwinding at all: PR_SET_PDEATHSIG kills the grandchild. SIGINT is what
            // Ctrl-C sends; here it reaches the middle process only, as when the terminal's
            // signal is sent to one process rather than the whole foreground group.
            "sigkill" => {
                middle.kill().unwrap();
                assert_eq!(join(&middle), ExitStatus::Signaled(Signal::SIGKILL));
            }
            _ => {
                nix::sys::signal::kill(nix::unistd::Pid::from_raw(middle.pid() as i32), Signal::SIGINT)
                    .unwrap();
                assert_eq!(join(&middle), ExitStatus::Signaled(Signal::SIGINT));
            }
        }
        assert_reaped(middle.pid());
        wait_not_alive(g);
    }
}

#[test]
fn start_all_and_join_all() {
    let procs = start_all(4, |i| i as i32 + 10).unwrap();
    let st = join_all(&procs, DEADLINE).unwrap();
    assert_eq!(
        st,
        (10..14).map(|c| Some(ExitStatus::Exited(c))).collect::<Vec<_>>()
    );

    // join_all kills what is still running at its deadline and reports it as None.
    let procs = start_all(2, |i| {
        if i == 0 {
            sleep_until_killed();
        }
        0
    })
    .unwrap();
    let st = join_all(&procs, Duration::from_millis(200)).unwrap();
    assert_eq!(st[0], None);
    assert_eq!(st[1], Some(ExitStatus::Exited(0)));
    assert_eq!(
        procs[0].exit_status(),
        Some(ExitStatus::Signaled(Signal::SIGKILL))
    );
    for p in &procs {
        assert_reaped(p.pid());
    }
}

#[test]
fn many_children_at_once_are_all_reaped() {
    let procs = start_all(32, |i| (i % 7) as i32).unwrap();
    let pids: Vec<u32> = procs.iter().map(Process::pid).collect();
    for (i, p) in procs.iter().enumerate() {
        assert_eq!(join(p), ExitStatus::Exited((i % 7) as i32));
    }
    drop(procs);
    for pid in pids {
        assert_reaped(pid);
    }
}

#[test]
fn a_timeout_too_large_for_a_deadline_means_no_deadline_not_a_panic() {
    // Each call below would panic in `Instant + Duration` (or its CLOCK_REALTIME twin); each
    // returns at once because what it waits for has already happened.
    let p = Process::start(|| 3).unwrap();
    assert_eq!(
        p.join_timeout(Duration::MAX).unwrap(),
        Some(ExitStatus::Exited(3))
    );
    let ps = start_all(2, |i| i as i32).unwrap();
    let st = join_all(&ps, Duration::MAX).unwrap();
    assert_eq!(st, vec![Some(ExitStatus::Exited(0)), Some(ExitStatus::Exited(1))]);

    let q: coord_core::Queue<u8> = coord_core::Queue::new().unwrap();
    let p = Process::start(|| q.put(&9)).unwrap();
    assert!(join(&p).success());
    assert_eq!(q.get_timeout(Duration::MAX).unwrap(), 9);
    assert!(matches!(
        q.get_timeout(Duration::MAX),
        Err(coord_core::Error::Disconnected)
    ));

    let lock = coord_core::Lock::new().unwrap();
    assert!(matches!(lock.lock_timeout(Duration::MAX), Some(Ok(_))));
    // Large but representable: a real timed wait, on a free lock.
    assert!(matches!(
        lock.lock_timeout(Duration::from_secs(1 << 40)),
        Some(Ok(_))
    ));
}
