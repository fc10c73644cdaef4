//! Shared memory and the process-shared lock: children's writes reach the parent, locked
//! increments are exact, a fixed-length array refuses a bad index, and a lock whose owner was
//! killed is handed on with a clear `OwnerDied`.

mod common;

use std::time::Duration;

use common::{DEADLINE, assert_reaped, join, join_ok, sleep_until_killed, wait_until};
use coord_core::{
    Array, Error, ExitStatus, Lock, LockResultExt, Process, RawArray, RawValue, Value, start_all,
};

#[test]
fn a_childs_writes_to_shared_memory_reach_the_parent() {
    let value = Value::new(0u64).unwrap();
    let pair = Value::new((0u32, 0.0f64)).unwrap();
    let flag = RawValue::new(false).unwrap();
    let raw = RawValue::new(0u32).unwrap();
    let array = Array::new(5, 0.0f64).unwrap();
    let raw_array = RawArray::new(4, 0i64).unwrap();
    let p = Process::start(|| {
        value.set(41);
        *value.lock().unwrap() += 1;
        pair.set((7, 2.5));
        raw.set(0xC0DE);
        for i in 0..5 {
            array.set(i, i as f64 * 1.5).unwrap();
        }
        for i in 0..4 {
            raw_array.set(i, -(i as i64)).unwrap();
        }
        raw_array.fetch_add(3, 100).unwrap();
        flag.set(true);
    })
    .unwrap();
    assert!(join(&p).success());
    assert_eq!(value.get(), 42);
    assert_eq!(pair.get(), (7, 2.5));
    assert!(flag.get());
    assert_eq!(raw.get(), 0xC0DE);
    assert_eq!(array.to_vec(), vec![0.0, 1.5, 3.0, 4.5, 6.0]);
    assert_eq!(array.get(4).unwrap(), 6.0);
    assert_eq!(raw_array.to_vec(), vec![0, -1, -2, 97]);

    // And the other way: what the parent writes after the fork, the child reads.
    let p = Process::start(|| {
        wait_until("parent writes", || raw.get() == 1);
        if value.get() == 7 && array.get(0).unwrap() == 9.0 {
            0
        } else {
            3
        }
    })
    .unwrap();
    value.set(7);
    array.set(0, 9.0).unwrap();
    raw.set(1);
    assert_eq!(join(&p), ExitStatus::Exited(0));
}

const N: usize = 4;
const M: u64 = 5_000;

#[test]
fn locked_increments_through_value_lock_are_exact() {
    let counter = Value::new(0u64).unwrap();
    let procs = start_all(N, |_| {
        for _ in 0..M {
            *counter.lock().unwrap() += 1;
        }
    })
    .unwrap();
    join_ok(&procs);
    assert_eq!(counter.get(), N as u64 * M);
}

#[test]
fn locked_increments_through_get_lock_and_get_set_are_exact() {
    // The lecture's compound step: read, compute, write, with the lock held across all three.
    let counter = Value::new(0i64).unwrap();
    let procs = start_all(N, |_| {
        for _ in 0..M {
            let _g = counter.get_lock().lock().unwrap();
            counter.set(counter.get() + 1); // re-entrant: get/set lock again inside
        }
    })
    .unwrap();
    join_ok(&procs);
    assert_eq!(counter.get(), N as i64 * M as i64);
}

#[test]
fn locked_increments_through_lock_and_raw_value_are_exact() {
    let lock = Lock::new().unwrap();
    let counter = RawValue::new(0u64).unwrap();
    let procs = start_all(N, |_| {
        for _ in 0..M {
            let _g = lock.lock().unwrap();
            // A non-atomic read-modify-write: only the lock makes it exact.
            counter.set(counter.get_relaxed() + 1);
        }
    })
    .unwrap();
    join_ok(&procs);
    assert_eq!(counter.get(), N as u64 * M);
}

#[test]
fn locked_increments_of_a_whole_array_are_exact() {
    let arr = Array::new(8, 0u32).unwrap();
    let procs = start_all(N, |_| {
        for _ in 0..1_000 {
            let mut g = arr.lock().unwrap();
            for x in g.iter_mut() {
                *x += 1;
            }
        }
    })
    .unwrap();
    join_ok(&procs);
    assert_eq!(arr.to_vec(), vec![N as u32 * 1_000; 8]);
}

#[test]
fn atomic_fetch_add_is_exact_without_a_lock() {
    let counter = RawValue::new(0u64).unwrap();
    let per_slot = RawArray::new(N, 0u32).unwrap();
    let procs = start_all(N, |i| {
        for _ in 0..M {
            counter.fetch_add(1);
            per_slot.fetch_add(i, 1).unwrap();
        }
    })
    .unwrap();
    join_ok(&procs);
    assert_eq!(counter.get(), N as u64 * M);
    assert_eq!(per_slot.to_vec(), vec![M as u32; N]);
}

#[test]
fn out_of_bounds_indexes_are_clear_errors() {
    let a = Array::new(3, 0u8).unwrap();
    let r = RawArray::new(3, 0u8).unwrap();
    assert!(matches!(a.get(3), Err(Error::OutOfBounds { index: 3, len: 3 })));
    assert!(matches!(
        a.set(10, 1),
        Err(Error::OutOfBounds { index: 10, len: 3 })
    ));
    assert!(matches!(r.get(3), Err(Error::OutOfBounds { index: 3, len: 3 })));
    assert!(matches!(r.set(usize::MAX, 1), Err(Error::OutOfBounds { .. })));
    assert!(matches!(r.fetch_add(3, 1), Err(Error::OutOfBounds { .. })));
    assert!(matches!(
        r.compare_exchange(3, 0, 1),
        Err(Error::OutOfBounds { .. })
    ));
    let msg = a.get(3).unwrap_err().to_string();
    assert!(
        msg.contains("index 3") && msg.contains("fixed length of 3"),
        "{msg}"
    );
    // Nothing was written anywhere.
    assert_eq!(a.to_vec(), vec![0; 3]);
    assert_eq!(r.to_vec(), vec![0; 3]);
    // An empty array is legal and refuses every index.
    let e = Array::new(0, 0u64).unwrap();
    assert!(e.is_empty());
    assert!(matches!(e.get(0), Err(Error::OutOfBounds { index: 0, len: 0 })));
}

/// Starts a child that takes the lock, says so, and waits to be killed while holding it.
fn holder<F: FnOnce() -> G, G>(take: F, holding: &RawValue<bool>) -> Process {
    let p = Process::start(|| {
        let _g = take();
        holding.set(true);
        sleep_until_killed();
    })
    .unwrap();
    wait_until("the child holds the lock", || holding.get());
    p
}

#[test]
fn a_lock_whose_owner_was_killed_goes_to_the_next_locker_with_owner_died() {
    let lock = Lock::new().unwrap();
    let holding = RawValue::new(false).unwrap();
    let counter = RawValue::new(0u64).unwrap();
    // 1 = got OwnerDied, 2 = got it cleanly, 3 = timed out.
    let outcome = RawArray::new(3, 0u8).unwrap();
    let started = RawValue::new(0u32).unwrap();

    let h = holder(|| lock.lock().unwrap(), &holding);
    // Three waiters block on the lock while the holder sits on it.
    let waiters = start_all(3, |i| {
        started.fetch_add(1);
        let got = match lock.lock_timeout(DEADLINE) {
            None => 3,
            Some(Ok(g)) => {
                counter.set(counter.get_relaxed() + 1);
                drop(g);
                2
            }
            Some(Err(died)) => {
                let g = died.into_inner();
                counter.set(counter.get_relaxed() + 1);
                drop(g);
                1
            }
        };
        outcome.set(i, got).unwrap();
    })
    .unwrap();
    wait_until("waiters started", || started.get() == 3);
    std::thread::sleep(Duration::from_millis(50)); // let them block in the lock (not required)
    h.kill().unwrap();
    assert_eq!(join(&h), ExitStatus::Signaled(coord_core::Signal::SIGKILL));
    join_ok(&waiters);

    let mut seen = outcome.to_vec();
    seen.sort();
    assert_eq!(seen, vec![1, 2, 2], "exactly one waiter is told the owner died");
    assert_eq!(counter.get(), 3);
    // After that the lock works normally.
    let g = lock.lock_timeout(DEADLINE).expect("lock is free").expect("clean");
    drop(g);
    assert!(lock.try_lock().expect("free").is_ok());
    assert_reaped(h.pid());
}

#[test]
fn a_value_whose_lock_owner_was_killed_reports_it_and_keeps_working() {
    let v = Value::new(10u64).unwrap();
    let holding = RawValue::new(false).unwrap();
    let h = holder(
        || {
            let mut g = v.lock().unwrap();
            *g = 11; // half-way through an update when killed
            g
        },
        &holding,
    );
    h.kill().unwrap();
    join(&h);
    match v.lock() {
        Err(died) => {
            let mut g = died.into_inner();
            assert_eq!(
                *g, 11,
                "the dead owner's write is visible: the caller must check it"
            );
            *g = 12;
        }
        Ok(_) => panic!("expected OwnerDied"),
    }
    assert_eq!(v.get(), 12);
    *v.lock().unwrap() += 1;
    assert_eq!(v.get(), 13);
    // recover() takes the guard either way.
    let h = holder(|| v.lock().recover(), &RawValue::new(false).unwrap());
    drop(h); // killed and reaped by Drop while holding the lock
    assert!(
        v.get_lock().lock().is_err(),
        "dropped while holding: the next locker is told"
    );
    assert_eq!(v.get(), 13);
}

#[test]
fn try_lock_and_lock_timeout_give_up_while_another_process_holds_it() {
    let lock = Lock::new().unwrap();
    let holding = RawValue::new(false).unwrap();
    let h = holder(|| lock.lock().unwrap(), &holding);
    assert!(lock.try_lock().is_none());
    assert!(lock.lock_timeout(Duration::from_millis(50)).is_none());
    drop(h);
    assert!(matches!(lock.lock_timeout(DEADLINE), Some(Err(_))));
}

#[test]
fn locking_a_lock_twice_in_one_thread_panics_instead_of_deadlocking() {
    let lock = Lock::new().unwrap();
    let p = Process::start(|| {
        let _a = lock.lock().unwrap();
        let _b = lock.lock().unwrap();
    })
    .unwrap();
    assert!(matches!(join(&p), ExitStatus::Panicked(m) if m.contains("not re-entrant")));
    // The panic unwound through the first guard, which unlocked: the lock is clean.
    assert!(matches!(lock.lock_timeout(DEADLINE), Some(Ok(_))));
}

/// A named misuse of a shared object.
type Case<'a, T> = (&'a str, &'a dyn Fn(&T));

/// Runs `f` in a child and returns its panic message (the test fails if it did not panic).
fn panic_of(f: impl FnOnce()) -> String {
    let p = Process::start(f).unwrap();
    match join(&p) {
        ExitStatus::Panicked(m) => m,
        st => panic!("expected a panic, got {st}"),
    }
}

#[test]
fn using_a_value_behind_its_own_guard_panics_instead_of_aliasing() {
    let v = Value::new(1u64).unwrap();
    let msg = "Value used while this thread holds a ValueGuard of it";
    let forbidden: [Case<Value<u64>>; 3] = [
        ("get", &|v| {
            let g = v.lock().unwrap();
            let _ = v.get();
            drop(g);
        }),
        ("set", &|v| {
            let mut g = v.lock().unwrap();
            let r: &mut u64 = &mut g;
            v.set(5);
            *r += 1;
        }),
        ("lock twice", &|v| {
            let _a = v.lock().unwrap();
            let _b = v.lock().unwrap();
        }),
    ];
    for (what, f) in forbidden {
        let m = panic_of(|| f(&v));
        assert!(m.contains(msg), "{what}: unexpected panic message: {m}");
        // The panic unwound through the guard, which cleared its flag and unlocked: the value
        // is usable at once, and the forbidden write never happened.
        assert_eq!(v.get(), 1, "{what}");
        assert!(
            matches!(v.get_lock().lock_timeout(DEADLINE), Some(Ok(_))),
            "{what}"
        );
    }
}

#[test]
fn using_an_array_behind_its_own_guard_panics_instead_of_aliasing() {
    let a = Array::new(3, 7u32).unwrap();
    let msg = "Array used while this thread holds an ArrayGuard of it";
    let forbidden: [Case<Array<u32>>; 4] = [
        ("get", &|a| {
            let _g = a.lock().unwrap();
            let _ = a.get(0);
        }),
        ("set", &|a| {
            let mut g = a.lock().unwrap();
            let s: &mut [u32] = &mut g;
            let _ = a.set(0, 9);
            s[1] = 8;
        }),
        ("to_vec", &|a| {
            let _g = a.lock().unwrap();
            let _ = a.to_vec();
        }),
        ("lock twice", &|a| {
            let _x = a.lock().unwrap();
            let _y = a.lock().unwrap();
        }),
    ];
    for (what, f) in forbidden {
        let m = panic_of(|| f(&a));
        assert!(m.contains(msg), "{what}: unexpected panic message: {m}");
        assert_eq!(a.to_vec(), vec![7, 7, 7], "{what}");
    }
}

#[test]
fn the_allowed_patterns_of_a_re_entrant_value_still_work() {
    let v = Value::new(false).unwrap();
    let n = Value::new(0i64).unwrap();
    let a = Array::new(2, 0u8).unwrap();
    let p = Process::start(|| {
        // Python's lock-check-set: get and set inside get_lock() (re-entrant).
        let _held = v.get_lock().lock().recover();
        if !v.get() {
            v.set(true);
        }
        // A guard inside get_lock(), and get_lock() inside a guard: one data path each time.
        *n.lock().unwrap() += 1;
        {
            let mut g = n.lock().unwrap();
            let _again = n.get_lock().lock().recover();
            *g += 1;
        }
        // One guard after another, and plain access once the guard is gone.
        *n.lock().unwrap() += 1;
        n.set(n.get() + 1);
        a.lock().unwrap()[1] = 5;
        a.set(0, a.get(1).unwrap() + 1).unwrap();
        let copy = a.lock().unwrap().to_vec(); // the slice's to_vec, through the guard
        if copy != [6, 5] {
            return 1;
        }
        0
    })
    .unwrap();
    assert_eq!(join(&p), ExitStatus::Exited(0));
    assert!(v.get());
    assert_eq!(n.get(), 4);
    assert_eq!(a.to_vec(), vec![6, 5]);
}

#[test]
fn a_guard_of_a_killed_process_does_not_block_the_next_owner() {
    let v = Value::new(3u32).unwrap();
    let a = Array::new(2, 1u32).unwrap();
    for via_get_lock in [false, true] {
        let hv = holder(|| v.lock().recover(), &RawValue::new(false).unwrap());
        let ha = holder(|| a.lock().recover(), &RawValue::new(false).unwrap());
        drop(hv); // killed while holding: its guard's flag is still set in shared memory
        drop(ha);
        if via_get_lock {
            // Taking the lock over from the dead owner clears its guard's flag.
            let _held = v.get_lock().lock().recover();
            assert_eq!(v.get(), 3);
            let _held = a.get_lock().lock().recover();
            assert_eq!(a.to_vec(), vec![1, 1]);
        } else {
            assert_eq!(v.get(), 3);
            assert_eq!(a.get(1).unwrap(), 1);
        }
        *v.lock().unwrap() += 0;
        a.lock().unwrap()[0] += 0;
    }
}

#[test]
fn a_guard_copied_into_a_forked_child_is_refused_there() {
    let v = Value::new(1u64).unwrap();
    let mut g = v.lock().unwrap();
    let p = Process::start(|| {
        *g += 1; // the child does not hold the lock: this must not touch the data
    })
    .unwrap();
    let st = join(&p);
    assert!(
        matches!(&st, ExitStatus::Panicked(m) if m.contains("forked while it was held")),
        "{st}"
    );
    *g += 10;
    drop(g);
    assert_eq!(v.get(), 11);
}
