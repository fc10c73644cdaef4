//! `ShmQueue` and a child killed before it ever runs: the queue must still say `Disconnected`
//! once every producer is gone.
//!
//! At a fork, the parent reserves a producer entry for the child with its *own* pid (alive),
//! and the child writes its pid there first thing. A child killed before that first thing
//! would leave the parent's pid behind, and consumers would wait for a producer that does not
//! exist. The race is forced, not hoped for: this file's own atfork child handler, registered
//! before coord-core's (handlers run in the order they were registered), stops the child
//! with SIGSTOP before coord-core's handler can run; the parent then kills it.
//!
//! A file of its own: its handler must be the first one registered in the process, and it
//! must not stop the children of other tests.

mod common;

use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::join;
use coord_core::{Error, Process, ShmQueue};

/// Set by the test around the one fork whose child must stop at once.
static STOP_NEXT_CHILD: AtomicBool = AtomicBool::new(false);

extern "C" fn stop_child_at_fork() {
    if STOP_NEXT_CHILD.load(Ordering::Relaxed) {
        // SAFETY: raise is async-signal-safe, which is all a child-side atfork handler may
        // call; SIGSTOP stops this (new, single-threaded) process until it is killed.
        unsafe { libc::raise(libc::SIGSTOP) };
    }
}

fn install_first() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // SAFETY: registers a child-side handler that only reads an atomic and calls raise.
        let rc = unsafe { libc::pthread_atfork(None, None, Some(stop_child_at_fork)) };
        assert_eq!(rc, 0);
    });
}

#[test]
fn a_child_killed_before_it_runs_does_not_keep_the_queue_connected() {
    install_first(); // before the first queue registers coord-core's handlers
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
