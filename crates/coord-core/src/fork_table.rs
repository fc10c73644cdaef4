//! The live queues of one kind, for the `pthread_atfork` handlers that hand a forked child its
//! place among a queue's producers (`queue::registry` for the pipe `Queue`, `shm_queue`'s
//! producer table for `ShmQueue`).
//!
//! A table grows as queues are made, so no queue is ever left out (fixed tables of 1,024 and
//! 256 slots once skipped the queues past them silently, and their late producers were
//! missed). It changes only under its lock, outside the fork handlers; the handlers only read
//! it, so the child's handler allocates nothing.
//!
//! The lock is a spin lock, not a `Mutex`: the parent's before-fork handler takes it and holds
//! it across the fork, then the parent's after-fork handler releases it in the parent and the
//! child's handler releases the copy the child inherits. It is held only for a few operations
//! (a `Vec` push may allocate), or across one `fork`; a thread holding it never blocks on
//! anything else. Each kind of queue has a table of its own, with its own lock: glibc runs
//! both kinds' before-fork handlers in turn, and one lock taken twice would never open.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};

pub(crate) struct ForkTable<T> {
    locked: AtomicBool,
    queues: UnsafeCell<Vec<*const T>>,
}

// SAFETY: the Vec is only read or written while holding `locked` (a spin lock with
// acquire/release ordering), or by the single thread of a freshly forked child; the pointers
// are only dereferenced under the same rule (see `for_each`).
unsafe impl<T> Sync for ForkTable<T> {}

impl<T> ForkTable<T> {
    pub(crate) const fn new() -> Self {
        ForkTable {
            locked: AtomicBool::new(false),
            queues: UnsafeCell::new(Vec::new()),
        }
    }

    pub(crate) fn lock(&self) {
        let mut spins = 0u32;
        while self
            .locked
            .compare_exchange_weak(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            if spins < 64 {
                spins += 1;
                std::hint::spin_loop();
            } else {
                // Another thread is in the middle of a fork: let it run.
                std::thread::yield_now();
            }
        }
    }

    /// A plain store: async-signal-safe, as the child's fork handler needs.
    pub(crate) fn unlock(&self) {
        self.locked.store(false, Ordering::Release);
    }

    /// Holds the lock for a scope.
    pub(crate) fn guard(&self) -> ForkTableGuard<'_, T> {
        self.lock();
        ForkTableGuard(self)
    }

    /// Adds a queue for the fork handlers. Never fails for lack of room: the table grows.
    pub(crate) fn register(&self, queue: *const T) {
        let _g = self.guard();
        // SAFETY: we hold the lock, so nobody else touches the table.
        unsafe { (*self.queues.get()).push(queue) };
    }

    /// Removes a queue; after this returns, no fork handler can see it.
    pub(crate) fn unregister(&self, queue: *const T) {
        let _g = self.guard();
        // SAFETY: we hold the lock, so nobody else touches the table.
        let queues = unsafe { &mut *self.queues.get() };
        if let Some(i) = queues.iter().position(|&p| std::ptr::eq(p, queue)) {
            queues.swap_remove(i);
        }
    }

    /// Calls `f` on every registered queue (in no particular order). Allocates nothing.
    ///
    /// # Safety
    /// The caller holds the lock, or is the only thread of a freshly forked child; and every
    /// queue is unregistered (which takes the lock) before anything of it is freed.
    pub(crate) unsafe fn for_each(&self, mut f: impl FnMut(&T)) {
        // SAFETY: the caller's contract: the table does not change while we read it.
        let queues = unsafe { &*self.queues.get() };
        for &p in queues {
            // SAFETY: a registered queue is alive: it is unregistered under the lock (which
            // our caller holds, so it cannot happen meanwhile) before it is freed. In a
            // forked child the only thread is this one and nothing is freed; a drop that
            // another parent thread had begun is blocked before unregistering, so the queue
            // is intact in the child's copy.
            f(unsafe { &*p });
        }
    }
}

pub(crate) struct ForkTableGuard<'a, T>(&'a ForkTable<T>);

impl<T> Drop for ForkTableGuard<'_, T> {
    fn drop(&mut self) {
        self.0.unlock();
    }
}
