//! Who counts as a producer, so that a consumer can tell "nothing yet" from "nothing ever".
//!
//! The queue's header has a table of producer pids. A process enters it on its first `put`
//! and leaves it with `close` (or when its last handle is dropped); a process killed or exited
//! stays in it as a dead pid, which is the same as gone. A consumer that finds the queue empty
//! looks, from time to time, whether any listed pid is still alive: once at least one process
//! has put and none of the listed ones is alive, nothing can arrive any more, and `get` says
//! [`Error::Disconnected`](crate::Error::Disconnected).
//!
//! A child forked while the queue exists must count from its first instant, or a consumer
//! could see the fast producers finish before a slow one has even started, and give up too
//! early. So, as `Queue` does, a `pthread_atfork` handler works around every fork of the
//! thread that made the queue: just before the fork, the parent reserves an entry in the table
//! *with its own pid*, marked [`RESERVED`] (alive while the parent is, so the queue stays
//! connected), and the child's first act (the child-side handler, before `fork` returns in it)
//! writes its own pid there. A child that then `get`s before it ever put is a consumer and
//! leaves the table.
//!
//! (Only the forking thread's own queues are handed to a child: in `cargo test` every test has
//! its own thread, and one test's children must not keep another test's queues connected.)
//! A child may also be killed before its first instruction, with its parent's pid still in
//! the reserved entry: the queue would then stay connected for as long as the parent lives.
//! So the parent, too, writes the child's pid there as soon as `fork` returns with it
//! ([`Process::start`](crate::Process::start) calls [`adopt_child`]); whichever side is first,
//! the entry ends up naming the child. The mark is what makes this safe: the parent replaces
//! only its *reservation*, never an entry that names it as a producer (one that another of
//! its threads took by putting, after the child had already left the freed entry). (A child made by a bare `fork` outside this crate has
//! no such second writer: if it is killed before it runs, its parent's pid stays in the entry
//! until the parent exits or forks again. Timeouts still bound every wait.)

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Once};

use super::ring::{MAX_SHM_PRODUCERS, Ring};
use crate::Error;
use crate::fork_table::ForkTable;

/// A queue's process-local side: the shared ring, and this process's place in its table.
pub(super) struct Inner {
    pub(super) ring: Ring,
    /// This process's entry in the producer table: `pid << 32 | (index + 1)`, 0 if none. A
    /// forked child inherits its parent's value; the pid says whose it is.
    entry: AtomicU64,
    /// The entry was reserved at fork and this process has not put yet: a potential producer,
    /// which leaves the table if it turns out to be a consumer.
    inherited: AtomicBool,
    /// An entry reserved by `before_fork` for the child about to be made (-1 otherwise).
    fork_entry: AtomicI32,
    /// After the fork, in the parent: that entry, until `adopt_child` names the child in it.
    adopt_entry: AtomicI32,
    /// The thread that made the queue: only its forks are handed an entry.
    creator_thread: u64,
}

impl Inner {
    pub(super) fn new(ring: Ring) -> Arc<Inner> {
        crate::queue::install_atfork(); // the pid cache `my_pid` reads is reset in children
        install_atfork();
        let inner = Arc::new(Inner {
            ring,
            entry: AtomicU64::new(0),
            inherited: AtomicBool::new(false),
            fork_entry: AtomicI32::new(-1),
            adopt_entry: AtomicI32::new(-1),
            creator_thread: crate::queue::thread_tag(),
        });
        QUEUES.register(Arc::as_ptr(&inner));
        inner
    }

    fn table(&self) -> &[AtomicU32; MAX_SHM_PRODUCERS] {
        &self.ring.header().producers
    }

    /// Called by `put`: makes sure this process is in the table (a cheap check after the first).
    pub(super) fn ensure_producer(&self) -> Result<(), Error> {
        let me = my_pid();
        let e = self.entry.load(Ordering::Relaxed);
        if e >> 32 == u64::from(me) {
            if self.inherited.load(Ordering::Relaxed) {
                self.inherited.store(false, Ordering::Relaxed);
                self.count_first_put();
            }
            return Ok(());
        }
        let i = take_entry(self.table(), me).ok_or(Error::TooManyProducers {
            max: MAX_SHM_PRODUCERS,
        })?;
        let mine = u64::from(me) << 32 | (i as u64 + 1);
        if self
            .entry
            .compare_exchange(e, mine, Ordering::AcqRel, Ordering::Relaxed)
            .is_err()
        {
            // Another thread of this process registered it first: one entry is enough.
            self.table()[i].store(0, Ordering::Release);
            return Ok(());
        }
        self.inherited.store(false, Ordering::Relaxed);
        self.count_first_put();
        Ok(())
    }

    fn count_first_put(&self) {
        self.ring
            .header()
            .rare
            .producers_seen
            .fetch_add(1, Ordering::AcqRel);
    }

    /// Called by `get`: a child that inherited an entry and reads before it ever put is a
    /// consumer; it leaves the table, or it would keep the queue connected for itself.
    pub(super) fn consumer_leaves(&self) {
        if self.inherited.load(Ordering::Relaxed) {
            self.leave();
        }
    }

    /// Leaves the table (`close`, or the last handle of this process dropped).
    pub(super) fn leave(&self) {
        self.inherited.store(false, Ordering::Relaxed);
        let e = self.entry.swap(0, Ordering::Relaxed);
        let me = my_pid();
        if e >> 32 == u64::from(me) {
            let i = (e & 0xffff_ffff) as usize - 1;
            let _ = self.table()[i].compare_exchange(me, 0, Ordering::AcqRel, Ordering::Relaxed);
        }
    }

    /// Whether at least one process has put and no listed producer is alive.
    pub(super) fn all_producers_gone(&self) -> bool {
        if self.ring.header().rare.producers_seen.load(Ordering::Acquire) == 0 {
            return false;
        }
        !self.table().iter().any(|p| {
            let pid = entry_pid(p.load(Ordering::Acquire));
            pid != 0 && crate::pid_alive(pid)
        })
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        QUEUES.unregister(self as *const Inner);
        self.leave();
    }
}

/// Marks an entry the parent reserved at a fork for the child about to be made: it holds the
/// parent's pid with this bit set (Linux pids stay below 2^22), so that the parent can tell its
/// reservation from an entry that names it as a producer.
pub(super) const RESERVED: u32 = 1 << 31;

/// The process an entry stands for (its pid, without the reservation mark; 0: free).
pub(super) fn entry_pid(entry: u32) -> u32 {
    entry & !RESERVED
}

/// Takes a free entry of the table for `pid`: an empty one, else one whose process no longer
/// exists. Async-signal-safe (atomics and `kill`): `before_fork` uses it.
fn take_entry(table: &[AtomicU32; MAX_SHM_PRODUCERS], pid: u32) -> Option<usize> {
    for (i, e) in table.iter().enumerate() {
        if e.compare_exchange(0, pid, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
        {
            return Some(i);
        }
    }
    for (i, e) in table.iter().enumerate() {
        let old = e.load(Ordering::Acquire);
        // SAFETY: kill with signal 0 sends nothing; it only asks whether that process exists.
        let gone = old != 0
            && unsafe { libc::kill(entry_pid(old) as i32, 0) } == -1
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone
            && e.compare_exchange(old, pid, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            return Some(i);
        }
    }
    None
}

// --- the fork-time registry ---------------------------------------------------------------

/// Every live queue of this process, for the atfork handlers (a table of its own, with its
/// own lock: `Queue`'s handlers hold theirs across the same fork).
static QUEUES: ForkTable<Inner> = ForkTable::new();
static ATFORK: Once = Once::new();

/// This process's pid, without a system call: `Queue`'s cache, which its own atfork handler
/// resets in every child (`Inner::new` makes sure that handler is registered).
pub(super) fn my_pid() -> u32 {
    crate::queue::my_pid() as u32
}

/// Calls `f` on every live queue made by the calling thread. The caller holds the table's
/// lock (or is a freshly forked child, which has one thread).
fn for_each_mine(f: impl Fn(&Inner)) {
    let tag = crate::queue::current_thread_tag();
    if tag == 0 {
        return; // this thread never made a queue
    }
    // SAFETY: our caller holds the lock (or is a forked child's only thread), and
    // `Inner::drop` unregisters a queue before anything of it is freed.
    unsafe {
        QUEUES.for_each(|inner| {
            if inner.creator_thread == tag {
                f(inner);
            }
        })
    };
}

extern "C" fn before_fork() {
    QUEUES.lock(); // released by `after_fork_in_parent` and `in_child`
    let me = my_pid();
    for_each_mine(|inner| {
        let i = take_entry(inner.table(), me | RESERVED).map_or(-1, |i| i as i32);
        inner.fork_entry.store(i, Ordering::Relaxed);
    });
}

extern "C" fn after_fork_in_parent() {
    // The reserved entries are the children's now (they write their pids into them); the
    // parent names the child there too once it knows the pid (`adopt_child`).
    for_each_mine(|inner| {
        let i = inner.fork_entry.swap(-1, Ordering::Relaxed);
        inner.adopt_entry.store(i, Ordering::Relaxed);
    });
    QUEUES.unlock();
}

/// In the parent, just after `fork` returned `child`: writes the child's pid into the entries
/// reserved for it, in case the child is killed before it can do so itself (it would leave
/// the parent's reservation there, and the queue connected while the parent lives). Whichever
/// of the two writes comes first, the entry names the child; if the child has already
/// replaced the reservation (and perhaps left the table, a consumer), the compare-and-swap
/// finds something else and changes nothing. `None`: the fork failed; the reservations are
/// freed.
pub(crate) fn adopt_child(child: Option<u32>) {
    let _g = QUEUES.guard();
    let reserved = my_pid() | RESERVED;
    for_each_mine(|inner| {
        let i = inner.adopt_entry.swap(-1, Ordering::Relaxed);
        if i >= 0 {
            let _ = inner.table()[i as usize].compare_exchange(
                reserved,
                child.unwrap_or(0),
                Ordering::AcqRel,
                Ordering::Relaxed,
            );
        }
    });
}

extern "C" fn in_child() {
    // SAFETY: getpid is async-signal-safe, as everything in a child-side atfork handler must be.
    let me = unsafe { libc::getpid() } as u32;
    for_each_mine(|inner| {
        // A reservation the parent made for an earlier child is not ours to adopt.
        inner.adopt_entry.store(-1, Ordering::Relaxed);
        let i = inner.fork_entry.swap(-1, Ordering::Relaxed);
        if i >= 0 {
            inner.table()[i as usize].store(me, Ordering::Release);
            inner
                .entry
                .store(u64::from(me) << 32 | (i as u64 + 1), Ordering::Relaxed);
            inner.inherited.store(true, Ordering::Relaxed);
        }
    });
    QUEUES.unlock();
}

fn install_atfork() {
    ATFORK.call_once(|| {
        // SAFETY: registers handlers that run around every fork of this process. They touch
        // atomics and call `kill`/`getpid` only (the child's one is async-signal-safe). The
        // registry lock taken by `before_fork` is released on both sides (glibc runs the
        // parent handler also when fork fails).
        let rc =
            unsafe { libc::pthread_atfork(Some(before_fork), Some(after_fork_in_parent), Some(in_child)) };
        assert_eq!(rc, 0, "pthread_atfork failed");
    });
}
