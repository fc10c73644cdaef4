//! The fork-time registry: which queues a forked child inherits a write end of.
//!
//! A child forked while a queue exists starts as a *potential* producer (see the module
//! documentation of `queue`): a `pthread_atfork` handler hands it a write end of every live
//! queue made by the thread that forks. The handlers find those queues in this registry.
//!
//! The table itself (it grows, and has its own lock) is a [`ForkTable`].

use std::os::fd::AsRawFd;
use std::sync::Once;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};

use super::{Inner, open_write_end};
use crate::fork_table::ForkTable;

/// Every live queue of this process.
static QUEUES: ForkTable<Inner> = ForkTable::new();

/// Adds a queue for the fork handlers.
pub(super) fn register(inner: *const Inner) {
    QUEUES.register(inner);
}

/// Removes a queue; after this returns, no fork handler can see it.
pub(super) fn unregister(inner: *const Inner) {
    QUEUES.unregister(inner);
}

/// This process's pid, cached (0: not known yet; reset in every forked child).
static MY_PID: AtomicI32 = AtomicI32::new(0);
static ATFORK: Once = Once::new();
static NEXT_THREAD_TAG: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// A number for this thread (0 until first needed). A forked child's only thread is a
    /// copy of the thread that forked, with the same number.
    static THREAD_TAG: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// This thread's number, given it on first use; a queue remembers the thread that made it.
pub(crate) fn thread_tag() -> u64 {
    THREAD_TAG.with(|t| {
        if t.get() == 0 {
            t.set(NEXT_THREAD_TAG.fetch_add(1, Ordering::Relaxed));
        }
        t.get()
    })
}

/// This thread's number, or 0 if it never asked for one (then it made no queue). Read
/// without assigning, as the atfork handlers must.
pub(crate) fn current_thread_tag() -> u64 {
    THREAD_TAG.with(|t| t.get())
}

/// Calls `mine` on every live queue created by the calling thread, `other` on the rest. Only
/// a thread's own queues are inherited by its children: in `cargo test` every test has its
/// own thread, and one test's children must not keep another test's queues connected.
///
/// The caller must hold the registry lock (or be a freshly forked child, which has one thread).
fn for_each_queue(mine: impl Fn(&Inner), other: impl Fn(&Inner)) {
    let tag = current_thread_tag();
    // SAFETY: our caller holds the table's lock (or is a freshly forked child's only thread),
    // and `Inner::drop` unregisters a queue before anything of it is closed or freed.
    unsafe {
        QUEUES.for_each(|inner| {
            if tag != 0 && inner.creator_thread == tag {
                mine(inner);
            } else {
                other(inner);
            }
        })
    };
}

/// In the parent, just before `fork`: give each queue of this thread a write end that the
/// child will inherit through the fork itself (so the child is a potential producer from its
/// first instant, not from whenever it gets to run).
extern "C" fn before_fork() {
    // Held across the fork; released by `after_fork_in_parent` and `in_forked_child`.
    QUEUES.lock();
    for_each_queue(
        |inner| {
            let tx = inner.tx.load(Ordering::Acquire);
            if tx == 0 || (tx >> 32) as i32 != my_pid() {
                inner.fork_tx.store(
                    open_write_end(inner.rx.as_raw_fd()).unwrap_or(-1),
                    Ordering::Release,
                );
            }
        },
        |_| {},
    );
}

/// In the parent, just after `fork`: the temporary write ends are the child's, not ours.
extern "C" fn after_fork_in_parent() {
    for_each_queue(
        |inner| {
            let fd = inner.fork_tx.swap(-1, Ordering::AcqRel);
            if fd >= 0 {
                // SAFETY: opened by `before_fork` for the child; the parent never uses it.
                unsafe { libc::close(fd) };
            }
        },
        |_| {},
    );
    QUEUES.unlock();
}

/// In the child, just after `fork` (async-signal-safe calls only): adopt the write ends.
extern "C" fn in_forked_child() {
    // SAFETY: getpid is async-signal-safe, as everything in an atfork child handler must be.
    let me = unsafe { libc::getpid() };
    MY_PID.store(me, Ordering::Relaxed);
    for_each_queue(
        |inner| inner.adopt_in_child(me),
        |inner| {
            // Another thread's queue: the copy of the parent's write end (if it had one) must
            // not keep that queue connected for as long as this child lives.
            let tx = inner.tx.swap(0, Ordering::Relaxed);
            if tx != 0 {
                // SAFETY: the copy of a write end this child never uses; close is
                // async-signal-safe.
                unsafe { libc::close((tx & 0xffff_ffff) as i32 - 1) };
            }
            // Nor may a write end opened for another thread's fork (the registry lock
            // serializes fork handlers, so none should be open now; this is a safety net).
            let tmp = inner.fork_tx.swap(-1, Ordering::Relaxed);
            if tmp >= 0 {
                // SAFETY: as above: a copy this child never uses.
                unsafe { libc::close(tmp) };
            }
            inner.inherited.store(false, Ordering::Relaxed);
        },
    );
    // The copy of the lock `before_fork` took in the parent; this child's only thread is done
    // with the table. (A plain store: async-signal-safe.)
    QUEUES.unlock();
}

pub(crate) fn install_atfork() {
    ATFORK.call_once(|| {
        // SAFETY: registers handlers run around every fork of this process; they open/close
        // descriptors and touch atomics (the child's one calls async-signal-safe functions
        // only). `before_fork` takes the registry spin lock, which `after_fork_in_parent`
        // releases in the parent and `in_forked_child` in the child: glibc runs the parent
        // handler also when fork fails, so the lock is never left held.
        let rc = unsafe {
            libc::pthread_atfork(
                Some(before_fork),
                Some(after_fork_in_parent),
                Some(in_forked_child),
            )
        };
        assert_eq!(rc, 0, "pthread_atfork failed");
    });
}

/// This process's pid without a system call (cached; the cache is reset in a forked child
/// by the atfork handler, which `install_atfork` must have registered).
pub(crate) fn my_pid() -> i32 {
    match MY_PID.load(Ordering::Relaxed) {
        0 => {
            let pid = nix::unistd::getpid().as_raw();
            MY_PID.store(pid, Ordering::Relaxed);
            pid
        }
        pid => pid,
    }
}
