//! A process-shared lock that survives the death of its owner (Python's `multiprocessing.Lock`).
//!
//! The lock is a POSIX mutex placed in shared memory with two attributes:
//! `PTHREAD_PROCESS_SHARED`, so that several processes may use it, and `PTHREAD_MUTEX_ROBUST`,
//! so that when a process dies while holding it, the kernel hands it to the next locker with
//! `EOWNERDEAD` instead of leaving every other process blocked for ever. Python's lock has no
//! such feature: a worker killed inside `with lock:` deadlocks the rest of the pool.

use std::fmt;
use std::io;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::shm::SharedRegion;

/// The longest a waiter sleeps in the kernel before it looks at the lock again (see
/// `RawMutex::lock_until`). Only a lost wake-up ever waits this long.
const WAKE_SLICE: Duration = Duration::from_millis(50);

/// A POSIX mutex living at a fixed address inside a [`SharedRegion`].
///
/// The region is kept alive by the `Arc`, so the pointer stays valid for as long as this
/// value exists; after `fork` the child has the same mapping at the same address.
#[derive(Clone)]
pub(crate) struct RawMutex {
    _region: Arc<SharedRegion>,
    m: *mut libc::pthread_mutex_t,
    /// A "a data guard is live" flag in the same region (null when there is none): whoever
    /// inherits the lock from a dead owner clears it, since that guard died with its owner.
    guard_flag: *const AtomicBool,
}

// SAFETY: the mutex is designed to be used from many threads and processes at once; the
// pointer targets a MAP_SHARED region that the Arc keeps mapped.
unsafe impl Send for RawMutex {}
// SAFETY: as above; every operation goes through pthread calls, which synchronize.
unsafe impl Sync for RawMutex {}

/// What `lock` found.
pub(crate) enum Acquired {
    Clean,
    /// The previous owner died holding the lock; we now hold it and it was made consistent.
    OwnerDied,
}

impl RawMutex {
    /// Initializes a mutex at `offset` in `region`. Must run once, before any fork shares it.
    pub(crate) fn init(region: Arc<SharedRegion>, offset: usize, recursive: bool) -> io::Result<Self> {
        assert!(offset % align_of::<libc::pthread_mutex_t>() == 0);
        assert!(offset + size_of::<libc::pthread_mutex_t>() <= region.len());
        // SAFETY: the offset is in bounds and aligned (checked above), and nobody else can
        // see this memory yet: the region is brand new and no process was forked since.
        let m = unsafe { region.ptr().add(offset) } as *mut libc::pthread_mutex_t;
        // SAFETY: `attr` is initialized by pthread_mutexattr_init before any other use and
        // destroyed at the end; `m` points to writable, aligned, unshared memory (see above).
        unsafe {
            let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
            check(libc::pthread_mutexattr_init(&mut attr))?;
            let kind = if recursive {
                libc::PTHREAD_MUTEX_RECURSIVE
            } else {
                // ERRORCHECK turns "this thread locks twice" into EDEADLK instead of a hang.
                libc::PTHREAD_MUTEX_ERRORCHECK
            };
            let r = check(libc::pthread_mutexattr_settype(&mut attr, kind))
                .and_then(|_| {
                    check(libc::pthread_mutexattr_setpshared(
                        &mut attr,
                        libc::PTHREAD_PROCESS_SHARED,
                    ))
                })
                .and_then(|_| {
                    check(libc::pthread_mutexattr_setrobust(
                        &mut attr,
                        libc::PTHREAD_MUTEX_ROBUST,
                    ))
                })
                .and_then(|_| check(libc::pthread_mutex_init(m, &attr)));
            libc::pthread_mutexattr_destroy(&mut attr);
            r?;
        }
        Ok(RawMutex {
            _region: region,
            m,
            guard_flag: std::ptr::null(),
        })
    }

    /// Pairs the mutex with a "data guard live" flag at `offset` in the same region (see
    /// `value.rs`): when the lock is taken over from a dead owner, the flag is cleared.
    pub(crate) fn with_guard_flag(mut self, offset: usize) -> Self {
        assert!(offset % align_of::<AtomicBool>() == 0);
        assert!(offset + size_of::<AtomicBool>() <= self._region.len());
        // SAFETY: in bounds (checked above) of the region this value keeps mapped.
        self.guard_flag = unsafe { self._region.ptr().add(offset) } as *const AtomicBool;
        self
    }

    /// The "data guard live" flag, if this mutex has one.
    pub(crate) fn guard_flag(&self) -> Option<&AtomicBool> {
        // SAFETY: null or a pointer into the region `self` keeps mapped, set by
        // `with_guard_flag`; an atomic may be shared by reference across processes.
        unsafe { self.guard_flag.as_ref() }
    }

    #[inline]
    fn after_lock(&self, rc: i32) -> io::Result<Acquired> {
        match rc {
            0 => Ok(Acquired::Clean),
            libc::EOWNERDEAD => {
                // The kernel gave us the lock of a dead owner. Unless we mark it consistent
                // before unlocking, it turns ENOTRECOVERABLE and nobody can ever lock it again.
                // SAFETY: we hold the mutex (EOWNERDEAD means acquired), as consistent requires.
                check(unsafe { libc::pthread_mutex_consistent(self.m) })?;
                // A data guard the dead owner held died with it: the flag it left set says
                // nothing about us. (We hold the lock, so nobody else reads the flag now.)
                if let Some(flag) = self.guard_flag() {
                    flag.store(false, Ordering::Relaxed);
                }
                Ok(Acquired::OwnerDied)
            }
            libc::EDEADLK => panic!(
                "coord_core::Lock is not re-entrant: this thread already holds it \
                 (drop the first guard before locking again)"
            ),
            e => Err(io::Error::from_raw_os_error(e)),
        }
    }

    /// Waits until this thread holds the lock. Never one endless sleep in the kernel: see
    /// `lock_until`.
    #[inline]
    pub(crate) fn lock(&self) -> io::Result<Acquired> {
        self.lock_until(None)
            .map(|acquired| acquired.expect("a wait without a deadline ends only with the lock"))
    }

    /// `Ok(None)` when another thread or process holds it.
    pub(crate) fn try_lock(&self) -> io::Result<Option<Acquired>> {
        // SAFETY: `m` was initialized by `init` and stays mapped while `self` lives.
        let rc = unsafe { libc::pthread_mutex_trylock(self.m) };
        if rc == libc::EBUSY {
            return Ok(None);
        }
        self.after_lock(rc).map(Some)
    }

    /// `Ok(None)` when the timeout passed first. A timeout too large to be a point in time
    /// (e.g. `Duration::MAX`) waits as `lock` does.
    pub(crate) fn lock_timeout(&self, timeout: Duration) -> io::Result<Option<Acquired>> {
        self.lock_until(Instant::now().checked_add(timeout))
    }

    /// Waits until `deadline`, or for ever when it is `None`; `Ok(None)` if the deadline
    /// passed first.
    ///
    /// The wait is cut in slices of at most `WAKE_SLICE`, and each slice looks at the lock
    /// afresh. A robust process-shared mutex can lose a wake-up when processes are killed
    /// around a hand-off: the owner unlocks and wakes one waiter; that waiter is `SIGKILL`ed
    /// before it takes the lock; meanwhile another process took the free lock without the
    /// "waiters" bit (its fast path), so the kernel, cleaning up after the dead waiter, sees
    /// a live owner and wakes nobody, and that owner's unlock wakes nobody either. The other
    /// waiters then sleep on a free lock (seen: a queue producer asleep for good on a writer
    /// lock whose futex word was 0, so it kept its write end open and the consumer never got
    /// end-of-file). A sleeper that wakes every slice takes the free lock on its next look.
    pub(crate) fn lock_until(&self, deadline: Option<Instant>) -> io::Result<Option<Acquired>> {
        // The common case, and the whole cost of an uncontended lock: one compare-and-swap.
        if let Some(acquired) = self.try_lock()? {
            return Ok(Some(acquired));
        }
        loop {
            let slice = match deadline {
                None => WAKE_SLICE,
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Ok(None);
                    }
                    left.min(WAKE_SLICE)
                }
            };
            if let Some(acquired) = self.timed_lock(slice)? {
                return Ok(Some(acquired));
            }
        }
    }

    /// One `pthread_mutex_timedlock` of at most `slice`; `Ok(None)` if it timed out.
    fn timed_lock(&self, slice: Duration) -> io::Result<Option<Acquired>> {
        // pthread_mutex_timedlock takes an absolute CLOCK_REALTIME deadline, so a step of the
        // wall clock (NTP, an administrator) while we wait makes this slice longer or shorter.
        // glibc >= 2.30 has pthread_mutex_clocklock, which takes CLOCK_MONOTONIC, but the libc
        // crate this workspace uses (0.2.191) does not declare it for Linux/glibc; declaring
        // it ourselves would fail to link on an older glibc. A slice is short and the caller
        // keeps its own deadline on the monotonic clock, so a step only shifts one slice.
        let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_REALTIME)?;
        let end = Duration::new(now.tv_sec() as u64, now.tv_nsec() as u32) + slice;
        let ts = libc::timespec {
            tv_sec: end.as_secs() as libc::time_t,
            tv_nsec: end.subsec_nanos() as libc::c_long,
        };
        // SAFETY: `m` was initialized by `init` and stays mapped while `self` lives; `ts` is a
        // valid timespec that outlives the call.
        let rc = unsafe { libc::pthread_mutex_timedlock(self.m, &ts) };
        if rc == libc::ETIMEDOUT {
            return Ok(None);
        }
        self.after_lock(rc).map(Some)
    }

    #[inline]
    pub(crate) fn unlock(&self) {
        // SAFETY: only called by guards, which exist only while this thread holds the lock.
        let rc = unsafe { libc::pthread_mutex_unlock(self.m) };
        debug_assert_eq!(rc, 0, "pthread_mutex_unlock failed");
    }
}

fn check(rc: i32) -> io::Result<()> {
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::from_raw_os_error(rc))
    }
}

/// A lock shared by processes, like Python's `multiprocessing.Lock`.
///
/// Create it before starting the processes that use it; every process forked afterwards
/// shares it. If a process dies while holding it, the next `lock` still succeeds but returns
/// [`OwnerDied`], so the caller knows the data it guards may be half-updated.
///
/// ```
/// use coord_core::{Lock, Process};
///
/// let lock = Lock::new()?;
/// let p = Process::start(|| {
///     let _guard = lock.lock().expect("owner died");
///     // ... critical section in the child ...
/// })?;
/// assert!(p.join()?.success());
/// # Ok::<(), coord_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Lock {
    raw: RawMutex,
}

impl fmt::Debug for Lock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock").finish_non_exhaustive()
    }
}

/// The result of locking: `Err` means the previous owner died while holding the lock.
pub type LockResult<G> = Result<G, OwnerDied<G>>;

impl Lock {
    /// A new, unlocked, non-re-entrant lock in its own shared page.
    pub fn new() -> io::Result<Lock> {
        let region = Arc::new(SharedRegion::new(
            "coord-lock",
            size_of::<libc::pthread_mutex_t>(),
        )?);
        Ok(Lock {
            raw: RawMutex::init(region, 0, false)?,
        })
    }

    pub(crate) fn from_raw(raw: RawMutex) -> Lock {
        Lock { raw }
    }

    /// Blocks until this process holds the lock (Python's `lock.acquire()`).
    ///
    /// # Panics
    /// If this thread already holds a non-re-entrant lock (that would deadlock), or if the
    /// OS refuses the call (it does not for a correctly initialized lock).
    #[inline]
    pub fn lock(&self) -> LockResult<LockGuard<'_>> {
        let acquired = self.raw.lock().expect("pthread_mutex_lock failed");
        self.guard(acquired)
    }

    /// Takes the lock only if it is free now (`lock.acquire(block=False)`).
    pub fn try_lock(&self) -> Option<LockResult<LockGuard<'_>>> {
        let acquired = self.raw.try_lock().expect("pthread_mutex_trylock failed")?;
        Some(self.guard(acquired))
    }

    /// Waits at most `timeout` (`lock.acquire(timeout=...)`); `None` if it timed out.
    /// A timeout too large to be a point in time (e.g. `Duration::MAX`) waits as `lock` does.
    pub fn lock_timeout(&self, timeout: Duration) -> Option<LockResult<LockGuard<'_>>> {
        let acquired = self
            .raw
            .lock_timeout(timeout)
            .expect("pthread_mutex_timedlock failed")?;
        Some(self.guard(acquired))
    }

    fn guard(&self, acquired: Acquired) -> LockResult<LockGuard<'_>> {
        let guard = LockGuard {
            lock: self,
            _not_send: std::marker::PhantomData,
        };
        match acquired {
            Acquired::Clean => Ok(guard),
            Acquired::OwnerDied => Err(OwnerDied { guard }),
        }
    }
}

/// Holds a [`Lock`]; unlocks when dropped (Python's `with lock:` block).
///
/// A guard stays on the thread that locked (a POSIX mutex is unlocked by its owner thread):
///
/// ```compile_fail
/// fn must_be_send<T: Send>() {}
/// must_be_send::<coord_core::LockGuard<'static>>();
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct LockGuard<'a> {
    lock: &'a Lock,
    /// Not `Send`: a POSIX mutex must be unlocked by the thread that locked it, so the guard
    /// may not move to another thread (as `std::sync::MutexGuard`).
    _not_send: std::marker::PhantomData<*const ()>,
}

// SAFETY: sharing `&LockGuard` between threads gives access to nothing but `&Lock`, which is
// Sync; only moving the guard (and so unlocking elsewhere) is ruled out.
unsafe impl Sync for LockGuard<'_> {}

impl Drop for LockGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        self.lock.raw.unlock();
    }
}

impl fmt::Debug for LockGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LockGuard")
    }
}

/// The lock was acquired, but its previous owner died while holding it.
///
/// The lock itself has already been repaired (made consistent) and is held by the caller;
/// what it protected may be half-written. Inspect or reset that data, then take the guard with
/// [`OwnerDied::into_inner`] and carry on.
pub struct OwnerDied<G> {
    guard: G,
}

impl<G> OwnerDied<G> {
    pub(crate) fn wrap(guard: G) -> Self {
        OwnerDied { guard }
    }
    /// The guard: the caller holds the lock.
    pub fn into_inner(self) -> G {
        self.guard
    }
    pub fn get_ref(&self) -> &G {
        &self.guard
    }
    pub fn get_mut(&mut self) -> &mut G {
        &mut self.guard
    }
}

impl<G> fmt::Debug for OwnerDied<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OwnerDied { .. }")
    }
}

impl<G> fmt::Display for OwnerDied<G> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "the previous owner of this lock died while holding it; the data it guards may be half-updated",
        )
    }
}

impl<G> std::error::Error for OwnerDied<G> {}

impl<G> Deref for OwnerDied<G> {
    type Target = G;
    fn deref(&self) -> &G {
        &self.guard
    }
}

impl<G> DerefMut for OwnerDied<G> {
    fn deref_mut(&mut self) -> &mut G {
        &mut self.guard
    }
}

/// Extension for results of `lock()`: keep going whether or not the owner died.
pub trait LockResultExt<G> {
    /// The guard, also when the previous owner died (the caller accepts possibly half-written data).
    fn recover(self) -> G;
}

impl<G> LockResultExt<G> for LockResult<G> {
    fn recover(self) -> G {
        self.unwrap_or_else(OwnerDied::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ExitStatus, Process};
    use std::sync::atomic::AtomicU32;

    const DEADLINE: Duration = Duration::from_secs(30);

    fn proc_state(pid: u32) -> Option<char> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        stat.rsplit_once(") ")?.1.chars().next()
    }

    fn wait_until(what: &str, cond: impl Fn() -> bool) {
        let end = Instant::now() + DEADLINE;
        while !cond() {
            assert!(Instant::now() < end, "timed out waiting for: {what}");
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The state a `SIGKILL`ed hand-off can leave (see `RawMutex::lock_until`), forced
    /// exactly: a waiter asleep in the kernel on a lock that is free, with nobody left to
    /// wake it. The owner lets the lock go by clearing the futex word without the wake-up
    /// (what glibc's unlock does, minus the wake that a killed process swallowed), then is
    /// killed: the kernel finds the word no longer names it and wakes nobody. Before the fix
    /// the waiter slept there for good.
    #[test]
    #[cfg(target_env = "gnu")]
    fn a_waiter_whose_wake_up_was_lost_takes_the_lock_once_it_is_free() {
        let region = Arc::new(SharedRegion::new("coord-lock-test", 4096).unwrap());
        let m = RawMutex::init(region.clone(), 0, false).unwrap();
        // glibc's pthread_mutex_t starts with its futex word (`__data.__lock`): 0 when free,
        // else the owner's tid, with bit 31 set once a waiter sleeps on it.
        // SAFETY: the mutex lives at offset 0 of the region, which `region` keeps mapped; the
        // word is 4-byte aligned and only touched atomically.
        let word = unsafe { &*(region.ptr() as *const AtomicU32) };
        // SAFETY: offset 128 is inside the page, aligned, and used by nothing else.
        let flags = unsafe { &*(region.ptr().add(128) as *const [AtomicU32; 2]) };
        let (held, got) = (&flags[0], &flags[1]);
        let owner = Process::start(|| {
            let _ = m.lock().unwrap();
            held.store(1, Ordering::Release);
            let end = Instant::now() + DEADLINE;
            while Instant::now() < end {
                std::thread::sleep(Duration::from_millis(10));
            }
        })
        .unwrap();
        wait_until("the owner holds the lock", || held.load(Ordering::Acquire) == 1);
        let waiter = Process::start(|| {
            let _ = m.lock().unwrap();
            got.store(1, Ordering::Release);
            m.unlock();
        })
        .unwrap();
        wait_until("the waiter sleeps on the lock", || {
            word.load(Ordering::Acquire) & 0x8000_0000 != 0 && proc_state(waiter.pid()) == Some('S')
        });
        word.store(0, Ordering::Release);
        owner.kill().unwrap();
        assert_eq!(
            owner.join_timeout(DEADLINE).unwrap(),
            Some(ExitStatus::Signaled(nix::sys::signal::Signal::SIGKILL))
        );
        let st = waiter.join_timeout(DEADLINE).unwrap();
        assert!(
            st.as_ref().is_some_and(ExitStatus::success),
            "the waiter slept on a free lock: {st:?}"
        );
        assert_eq!(got.load(Ordering::Acquire), 1);
    }
}
