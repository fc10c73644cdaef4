//! `Manager`: a real server process; exact counts under many clients; every call counted;
//! a dead server is reported as `ServerGone`, never waited for.

mod common;

use common::{assert_reaped, join, join_ok, sleep_until_killed, wait_until};
use coord_core::{Error, ExitStatus, Manager, Process, RawArray, RawValue, start_all};

const WORKERS: usize = 4;
const ROUNDS: i64 = 250;

#[test]
fn several_processes_share_one_manager_with_exact_counts_and_counted_calls() {
    let manager = Manager::start().unwrap();
    let value = manager.value();
    let list = manager.list();
    let dict = manager.dict();
    // Each worker reports the round trips its proxies made, through shared memory.
    let trips = RawArray::new(WORKERS, 0u64).unwrap();

    let workers = start_all(WORKERS, |w| -> Result<(), Error> {
        let w = w as i64;
        for j in 0..ROUNDS {
            value.add(1)?;
            dict.add("total", 1)?;
            dict.add(&format!("worker-{w}"), 1)?;
            list.append(w * 1_000_000 + j)?;
        }
        let n = value.round_trips() + list.round_trips() + dict.round_trips();
        trips.set(w as usize, n).map_err(|_| Error::Timeout)?;
        Ok(())
    })
    .unwrap();
    join_ok(&workers);

    let made: u64 = trips.to_vec().iter().sum();
    assert_eq!(made, WORKERS as u64 * ROUNDS as u64 * 4);
    assert_eq!(
        manager.stats().unwrap().calls,
        made,
        "the server executed every call, once"
    );

    assert_eq!(value.get().unwrap(), WORKERS as i64 * ROUNDS);
    assert_eq!(dict.get("total").unwrap(), Some(WORKERS as i64 * ROUNDS));
    for w in 0..WORKERS {
        assert_eq!(dict.get(&format!("worker-{w}")).unwrap(), Some(ROUNDS));
    }
    assert_eq!(dict.get("nobody").unwrap(), None);
    assert_eq!(dict.len().unwrap(), WORKERS + 1);
    assert_eq!(list.len().unwrap(), WORKERS * ROUNDS as usize);
    let items = list.to_vec().unwrap();
    assert_eq!(items.len(), WORKERS * ROUNDS as usize);
    // Every append is there exactly once, and each worker's appends are in its order.
    for w in 0..WORKERS as i64 {
        let mine: Vec<i64> = items.iter().copied().filter(|x| x / 1_000_000 == w).collect();
        assert_eq!(mine, (0..ROUNDS).map(|j| w * 1_000_000 + j).collect::<Vec<_>>());
    }
    // The parent's own calls are counted too (stats itself is not).
    let parent = value.round_trips() + list.round_trips() + dict.round_trips();
    assert_eq!(parent, 1 + (3 + WORKERS as u64) + 2);
    assert_eq!(manager.stats().unwrap().calls, made + parent);

    let pid = manager.pid();
    manager.shutdown().unwrap();
    assert_reaped(pid);
    for w in &workers {
        assert_reaped(w.pid());
    }
}

#[test]
fn proxy_calls_do_what_python_s_do() {
    let manager = Manager::start().unwrap();
    let (v, l, d) = (manager.value(), manager.list(), manager.dict());
    v.set(5).unwrap();
    assert_eq!(v.add(-2).unwrap(), 3);
    assert!(l.is_empty().unwrap());
    l.append(10).unwrap();
    l.append(20).unwrap();
    l.set(1, 21).unwrap();
    assert_eq!(l.get(1).unwrap(), 21);
    assert_eq!(l.to_vec().unwrap(), vec![10, 21]);
    match l.get(7) {
        Err(Error::Remote(msg)) => assert!(msg.contains("out of range"), "{msg}"),
        other => panic!("expected Remote, got {other:?}"),
    }
    assert!(matches!(l.set(2, 0), Err(Error::Remote(_))));
    d.set("b", 2).unwrap();
    d.set("a", 1).unwrap();
    assert_eq!(d.add("a", 10).unwrap(), 11);
    assert_eq!(
        d.to_vec().unwrap(),
        vec![("a".to_string(), 11), ("b".to_string(), 2)]
    );
    // A cloned proxy talks to the same object over its own connection.
    let v2 = v.clone();
    assert_eq!(v2.get().unwrap(), 3);
    assert_eq!(v2.round_trips(), 1);
    assert!(manager.stats().unwrap().calls >= 12);
    // Dropping the manager kills and reaps its server.
    let pid = manager.pid();
    drop(manager);
    assert_reaped(pid);
}

#[test]
fn a_proxy_call_after_kill_server_is_server_gone_not_a_hang() {
    let manager = Manager::start().unwrap();
    let value = manager.value();
    let fresh = manager.dict(); // never used before the server dies
    value.add(1).unwrap(); // the parent is connected
    let ready = RawValue::new(0u32).unwrap();
    let go = RawValue::new(false).unwrap();
    // A worker that connected while the server lived, and one forked later: both must see
    // ServerGone (tested in children, so a hang fails at the join deadline).
    let before = Process::start(|| {
        value.add(1).expect("server alive");
        ready.fetch_add(1);
        wait_until("go", || go.get());
        match value.add(1) {
            Err(Error::ServerGone) => 0,
            _ => 2,
        }
    })
    .unwrap();
    wait_until("worker connected", || ready.get() == 1);
    let server = manager.pid();
    manager.kill_server().unwrap();
    assert_reaped(server);
    go.set(true);
    let after = Process::start(|| match (value.get(), fresh.len()) {
        (Err(Error::ServerGone), Err(Error::ServerGone)) => 0,
        _ => 2,
    })
    .unwrap();
    assert_eq!(join(&before), ExitStatus::Exited(0));
    assert_eq!(join(&after), ExitStatus::Exited(0));
    // In the parent too (the children above show these cannot hang).
    assert!(matches!(value.get(), Err(Error::ServerGone)));
    assert!(matches!(fresh.add("k", 1), Err(Error::ServerGone)));
    assert!(matches!(manager.stats(), Err(Error::ServerGone)));
    let e = value.get().unwrap_err();
    assert_eq!(
        e.to_string(),
        "the manager process is gone (it exited or was killed)"
    );
}

#[test]
fn a_client_killed_mid_session_does_not_disturb_the_others() {
    let manager = Manager::start().unwrap();
    let value = manager.value();
    let up = RawValue::new(false).unwrap();
    let victim = Process::start(|| {
        value.add(100).expect("add");
        up.set(true);
        sleep_until_killed();
    })
    .unwrap();
    wait_until("victim connected", || up.get());
    victim.kill().unwrap();
    join(&victim);
    let others = start_all(2, |_| -> Result<(), Error> {
        for _ in 0..50 {
            value.add(1)?;
        }
        Ok(())
    })
    .unwrap();
    join_ok(&others);
    assert_eq!(value.get().unwrap(), 200);
}

#[test]
fn threads_of_one_process_share_a_proxy() {
    let manager = Manager::start().unwrap();
    let value = manager.value();
    std::thread::scope(|s| {
        for _ in 0..4 {
            s.spawn(|| {
                for _ in 0..200 {
                    value.add(1).unwrap();
                }
            });
        }
    });
    assert_eq!(value.get().unwrap(), 800);
    assert_eq!(value.round_trips(), 801);
    // A child forked afterwards uses the same proxy over its own connection.
    let p = Process::start(|| value.add(1).map(drop)).unwrap();
    assert!(join(&p).success());
    assert_eq!(value.get().unwrap(), 801);
}

#[test]
fn a_manager_started_while_a_queue_exists_does_not_keep_it_connected() {
    // The server is a forked child too, but it closes every descriptor it inherited.
    let q: coord_core::Queue<u8> = coord_core::Queue::new().unwrap();
    let manager = Manager::start().unwrap();
    let p = Process::start(|| q.put(&7)).unwrap();
    assert!(join(&p).success());
    assert_eq!(q.get_timeout(common::DEADLINE).unwrap(), 7);
    assert!(matches!(
        q.get_timeout(common::DEADLINE),
        Err(Error::Disconnected)
    ));
    assert!(coord_core::pid_alive(manager.pid()));
}
