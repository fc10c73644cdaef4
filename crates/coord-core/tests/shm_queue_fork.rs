//! `ShmQueue`'s producer table across a fork, with the two races of the fork forced, not
//! hoped for:
//! - a child killed before it ever runs must not keep the queue connected;
//! - the parent naming its child in the entry reserved for it must never overwrite an entry
//!   that names the parent itself as a producer.
//!
//! At a fork, the parent reserves a producer entry for the child (its own pid, marked), the
//! child writes its pid there first thing, and the parent writes the child's pid there too as
//! soon as `fork` returns. The races are forced with this file's own atfork handlers, which
//! stop one side at the right instant: a child handler registered *before* coord-core's (child
//! handlers run in registration order) stops the child before coord-core names it; a parent
//! handler registered *after* coord-core's holds the parent between coord-core's handler and
//! the return of `fork`.
//!
//! A file of its own: its handlers must be registered in that order, first in the process, and
//! they must not touch the children of other tests. Its tests run one at a time.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use common::join;
use coord_core::{Error, Process, RawValue, ShmQueue};

/// The tests of this file fork with global switches set: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Set around the one fork whose child must stop at once (first test).
static STOP_NEXT_CHILD: AtomicBool = AtomicBool::new(false);
/// Set around the one fork after which the parent must wait (second test), and what it
/// waits for: the child says it has left the table, another thread says it has put.
static HOLD_PARENT: AtomicBool = AtomicBool::new(false);
static CHILD_LEFT: AtomicU32 = AtomicU32::new(0);
static CHILD_LEFT_SHARED: std::sync::OnceLock<RawValue<u32>> = std::sync::OnceLock::new();
static OTHER_THREAD_PUT: AtomicBool = AtomicBool::new(false);
static RELEASE_PUTTER: AtomicBool = AtomicBool::new(false);

extern "C" fn stop_child_at_fork() {
    if STOP_NEXT_CHILD.load(Ordering::Relaxed) {
        // SAFETY: raise is async-signal-safe, which is all a child-side atfork handler may
        // call; SIGSTOP stops this (new, single-threaded) process until it is killed.
        unsafe { libc::raise(libc::SIGSTOP) };
    }
}

extern "C" fn hold_parent_after_fork() {
    if !HOLD_PARENT.load(Ordering::SeqCst) {
        return;
    }
    // Between coord-core's parent handler and `adopt_child`: wait until the child has left its
    // entry (a consumer), then until another thread of ours has put (taking a free entry with
    // our pid: possibly that very one). Bounded: a failed test must not hang.
    let left = CHILD_LEFT_SHARED.get().expect("set by the test");
    let end = Instant::now() + Duration::from_secs(30);
    while left.get() == 0 && Instant::now() < end {
        std::thread::yield_now();
    }
    CHILD_LEFT.store(left.get(), Ordering::SeqCst);
    while !OTHER_THREAD_PUT.load(Ordering::SeqCst) && Instant::now() < end {
        std::thread::yield_now();
    }
}

/// Registers this file's handlers around coord-core's, in the order the races need.
fn install_hooks() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: a child-side handler that reads an atomic and calls raise (async-signal-safe).
        assert_eq!(
            unsafe { libc::pthread_atfork(None, None, Some(stop_child_at_fork)) },
            0
        );
        // The first queue registers coord-core's handlers (after ours, for the child side).
        drop(ShmQueue::<u32>::with_capacity(1, 8).unwrap());
        CHILD_LEFT_SHARED.get_or_init(|| RawValue::new(0u32).unwrap());
        // SAFETY: a parent-side handler: it runs in the parent, after coord-core's parent
        // handler, and only reads atomics, a shared word, the clock, and yields.
        assert_eq!(
            unsafe { libc::pthread_atfork(None, Some(hold_parent_after_fork), None) },
            0
        );
    });
}

#[test]
fn a_child_killed_before_it_runs_does_not_keep_the_queue_connected() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    install_hooks();
    let q: ShmQueue<u32> = ShmQueue::with_capacity(4, 16).unwrap();
    let qr = &q;
    // A real producer, so that the queue has had one: it puts, and exits.
    let producer = Process::start(move || qr.put(&7)).unwrap();
    assert!(join(&producer).success());
    // A second child, stopped inside fork, before coord-core's child handler has named it in
    // the producer table; killed there.
    STOP_NEXT_CHILD.store(true, Ordering::Relaxed);
    let never_ran = Process::start(move || qr.put(&8));
    STOP_NEXT_CHILD.store(false, Ordering::Relaxed);
    let never_ran = never_ran.unwrap();
    common::wait_until("the child stopped", || {
        common::proc_state(never_ran.pid()) == Some('T')
    });
    never_ran.kill().unwrap();
    assert!(!join(&never_ran).success());
    // The producer's message, then the end: no producer is alive, whatever the table said.
    assert_eq!(q.get_timeout(Duration::from_secs(5)).unwrap(), 7);
    match q.get_timeout(Duration::from_secs(5)) {
        Err(Error::Disconnected) => {}
        other => panic!("every producer is gone, yet get gave {other:?}"),
    }
}

#[test]
fn naming_the_child_never_takes_over_an_entry_of_a_live_producer() {
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    install_hooks();
    let left = CHILD_LEFT_SHARED.get().unwrap();
    left.set(0);
    CHILD_LEFT.store(0, Ordering::SeqCst);
    OTHER_THREAD_PUT.store(false, Ordering::SeqCst);
    RELEASE_PUTTER.store(false, Ordering::SeqCst);
    let q: ShmQueue<u32> = ShmQueue::with_capacity(4, 16).unwrap();
    std::thread::scope(|s| {
        // Another thread of this process: once the child has left its entry, it puts (this
        // process's first put, so it takes a free entry under our pid), and stays a producer
        // (its handle alive) until the end of the test.
        let q2 = q.clone();
        let putter = s.spawn(move || {
            let end = Instant::now() + Duration::from_secs(30);
            while CHILD_LEFT.load(Ordering::SeqCst) == 0 && Instant::now() < end {
                std::thread::yield_now();
            }
            let r = q2.put(&1);
            OTHER_THREAD_PUT.store(true, Ordering::SeqCst);
            while !RELEASE_PUTTER.load(Ordering::SeqCst) && Instant::now() < end {
                std::thread::yield_now();
            }
            drop(q2);
            r
        });
        let qr = &q;
        HOLD_PARENT.store(true, Ordering::SeqCst);
        let child = Process::start(move || {
            let _ = qr.try_get(); // a consumer: it leaves the entry reserved for it
            left.set(1);
        });
        HOLD_PARENT.store(false, Ordering::SeqCst);
        let child = child.unwrap();
        assert!(join(&child).success());
        // The interleaving really happened: the parent was held until the child had left.
        assert_eq!(CHILD_LEFT.load(Ordering::SeqCst), 1, "the race was not forced");
        // The child is gone; this process still holds a producer that has not closed.
        let got = q.get_timeout(Duration::from_secs(5));
        let after = q.get_timeout(Duration::from_secs(1));
        RELEASE_PUTTER.store(true, Ordering::SeqCst);
        putter.join().unwrap().unwrap();
        assert_eq!(got.unwrap(), 1);
        match after {
            Err(Error::Timeout) => {}
            other => panic!("a producer of this process is alive, yet get gave {other:?}"),
        }
    });
}
