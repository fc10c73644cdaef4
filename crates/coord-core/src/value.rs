//! Shared scalars and fixed-length arrays (Python's `Value`, `RawValue`, `Array`, `RawArray`).
//!
//! All four live in one `MAP_SHARED` region each, created before the processes that use them
//! are forked. The synchronized forms (`Value`, `Array`) put a re-entrant process-shared lock
//! in front of the data and take it on every access, exactly as Python's default
//! `Value(..., lock=True)` does. The raw forms (`RawValue`, `RawArray`) are atomics: no lock,
//! a single instruction per access, right for flags and counters.

use std::fmt;
use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{self, AtomicBool, Ordering};

use crate::Error;
use crate::lock::{Lock, LockGuard, LockResult, LockResultExt, OwnerDied, RawMutex};
use crate::shm::{SharedRegion, align_up};

/// Plain data that can be copied into shared memory and read back by another process.
///
/// # Safety
/// Implement only for `Copy` types without pointers or references (no `String`, `Vec`, `&T`,
/// `Box`): a pointer from one process means nothing in another. Numbers, `bool`, `char`,
/// arrays and tuples of them qualify.
pub unsafe trait Plain: Copy + Send + Sync + 'static {}

macro_rules! plain {
    ($($t:ty),*) => { $(
        // SAFETY: a primitive without pointers.
        unsafe impl Plain for $t {}
    )* };
}
plain!(
    bool,
    char,
    u8,
    u16,
    u32,
    u64,
    u128,
    usize,
    i8,
    i16,
    i32,
    i64,
    i128,
    isize,
    f32,
    f64,
    ()
);
// SAFETY: an array of pointer-free values has no pointers.
unsafe impl<T: Plain, const N: usize> Plain for [T; N] {}
// SAFETY: a tuple of pointer-free values has no pointers.
unsafe impl<A: Plain, B: Plain> Plain for (A, B) {}
// SAFETY: as above.
unsafe impl<A: Plain, B: Plain, C: Plain> Plain for (A, B, C) {}

/// A value that fits one lock-free atomic: the element type of [`RawValue`] and [`RawArray`].
pub trait AtomicPlain: Plain + PartialEq {
    #[doc(hidden)]
    type Atomic: Send + Sync;
    #[doc(hidden)]
    fn load(a: &Self::Atomic, o: Ordering) -> Self;
    #[doc(hidden)]
    fn store(a: &Self::Atomic, v: Self, o: Ordering);
    #[doc(hidden)]
    fn swap(a: &Self::Atomic, v: Self, o: Ordering) -> Self;
    #[doc(hidden)]
    fn compare_exchange(a: &Self::Atomic, current: Self, new: Self) -> Result<Self, Self>;
}

/// Integers, which also have an atomic add.
pub trait AtomicInt: AtomicPlain {
    #[doc(hidden)]
    fn fetch_add(a: &Self::Atomic, v: Self, o: Ordering) -> Self;
}

macro_rules! atomic_plain {
    ($($t:ty => $a:ty),*) => { $(
        impl AtomicPlain for $t {
            type Atomic = $a;
            #[inline]
            fn load(a: &$a, o: Ordering) -> $t { a.load(o) }
            #[inline]
            fn store(a: &$a, v: $t, o: Ordering) { a.store(v, o) }
            #[inline]
            fn swap(a: &$a, v: $t, o: Ordering) -> $t { a.swap(v, o) }
            #[inline]
            fn compare_exchange(a: &$a, c: $t, n: $t) -> Result<$t, $t> {
                a.compare_exchange(c, n, Ordering::AcqRel, Ordering::Acquire)
            }
        }
    )* };
}
macro_rules! atomic_int {
    ($($t:ty => $a:ty),*) => { $(
        atomic_plain!($t => $a);
        impl AtomicInt for $t {
            #[inline]
            fn fetch_add(a: &$a, v: $t, o: Ordering) -> $t { a.fetch_add(v, o) }
        }
    )* };
}
atomic_plain!(bool => atomic::AtomicBool);
atomic_int!(
    u8 => atomic::AtomicU8, u16 => atomic::AtomicU16, u32 => atomic::AtomicU32,
    u64 => atomic::AtomicU64, usize => atomic::AtomicUsize,
    i8 => atomic::AtomicI8, i16 => atomic::AtomicI16, i32 => atomic::AtomicI32,
    i64 => atomic::AtomicI64, isize => atomic::AtomicIsize
);

/// The largest shared array (or value) this crate maps: 1 GiB of elements.
///
/// Shared memory is allocated as it is touched, and a new array is filled, so a size typed
/// by mistake (or computed with an overflow) would otherwise go on eating memory until the
/// machine runs out. Past this limit, [`Array::new`] and [`RawArray::new`] return
/// [`Error::SharedTooLarge`] before mapping anything.
pub const MAX_SHARED_BYTES: usize = 1 << 30;

/// The bytes of `len` elements of `elem_size` bytes, if that is within [`MAX_SHARED_BYTES`].
/// Checked: `len * elem_size` may not fit in a `usize` at all (a wrapped product would map a
/// tiny region that the fill then writes far past).
fn shared_bytes(len: usize, elem_size: usize) -> Result<usize, Error> {
    len.checked_mul(elem_size)
        .filter(|&n| n <= MAX_SHARED_BYTES)
        .ok_or(Error::SharedTooLarge {
            len,
            elem_size,
            max: MAX_SHARED_BYTES,
        })
}

/// Where the "a data guard is live" flag sits in a synchronized object's region: right after
/// the mutex.
const GUARD_FLAG_OFF: usize = size_of::<libc::pthread_mutex_t>();

/// The panic of a `Value` used, other than through its guard, by the thread holding a guard.
const VALUE_REENTERED: &str =
    "Value used while this thread holds a ValueGuard of it: read and write through the guard";
/// The same for an `Array`.
const ARRAY_REENTERED: &str =
    "Array used while this thread holds an ArrayGuard of it: read and write through the guard";
/// A guard copied into a forked child: the child does not hold the lock the guard stands for.
const GUARD_IN_CHILD: &str = "a ValueGuard/ArrayGuard was used in a process forked while it was held: \
     that process does not hold the lock; take the lock in the child itself";

/// Layout of a synchronized object: [mutex][guard flag][padding][data...].
///
/// The guard flag is what makes the re-entrant lock sound with `Deref`/`DerefMut` guards.
/// Re-entrancy lets `v.get()` run inside `v.get_lock().lock()`, as in Python; but it would
/// also let this thread read or write the data while it holds a [`ValueGuard`], whose `&mut T`
/// must be the only way to the data meanwhile. So a guard sets the flag when it is made and
/// clears it when it drops, both while holding the lock; every other access (`get`, `set`,
/// `lock`, `to_vec`) looks at the flag *after* taking the lock, and panics if it is set. At
/// that moment the lock is ours, so a set flag can only be a guard of this very thread (a
/// guard of a dead process is cleared by whoever takes the lock over: see `RawMutex`).
fn locked_region<T>(
    name: &str,
    count: usize,
) -> Result<(Arc<SharedRegion>, RawMutex, *const AtomicBool, usize), Error> {
    // Guards remember their process id (see `GuardOwner`): the cached pid must be reset in
    // forked children, which the atfork handler does.
    crate::queue::install_atfork();
    let data_off = align_up(GUARD_FLAG_OFF + size_of::<AtomicBool>(), align_of::<T>().max(64));
    // `data_off` is under a page, and the data at most MAX_SHARED_BYTES: no overflow.
    let region = Arc::new(SharedRegion::new(
        name,
        data_off + shared_bytes(count, size_of::<T>())?,
    )?);
    // Re-entrant, like Python's RLock behind Value: `v.get()` inside `v.get_lock()` works.
    let raw = RawMutex::init(region.clone(), 0, true)?.with_guard_flag(GUARD_FLAG_OFF);
    // SAFETY: GUARD_FLAG_OFF + 1 <= data_off <= the region's length; zero-filled memory is a
    // valid `false`.
    let flag = unsafe { region.ptr().add(GUARD_FLAG_OFF) } as *const AtomicBool;
    Ok((region, raw, flag, data_off))
}

/// Takes `lock` for one plain access (`get`, `set`, `to_vec`, making a guard), and panics with
/// `msg` if this thread holds a guard of the same object (see `locked_region`).
#[track_caller]
fn lock_for_access<'a>(lock: &'a Lock, flag: &AtomicBool, msg: &str) -> LockResult<LockGuard<'a>> {
    let r = lock.lock();
    // We hold the lock: the flag is only written by its holder, and the holder now is this
    // thread. Set means a guard of this thread is live (the lock is re-entrant, so it did not
    // keep us out).
    if flag.load(Ordering::Relaxed) {
        drop(r); // give back this level of the re-entrant lock before unwinding
        panic!("{msg}");
    }
    r
}

/// What a data guard needs besides its `LockGuard`: the flag it set, and the process it was
/// made in (a forked child gets a copy of a guard, but not the lock).
struct GuardOwner {
    flag: *const AtomicBool,
    pid: i32,
}

impl GuardOwner {
    /// Called while holding the lock, after `lock_for_access` found the flag clear.
    fn set(flag: *const AtomicBool) -> GuardOwner {
        // SAFETY: `flag` points into the region the guarded object keeps mapped (the guard
        // borrows the object); atomics may be shared by reference.
        unsafe { (*flag).store(true, Ordering::Relaxed) };
        GuardOwner {
            flag,
            pid: crate::queue::my_pid(),
        }
    }

    /// Panics unless this process is the one holding the lock.
    #[inline]
    #[track_caller]
    fn check(&self) {
        if self.pid != crate::queue::my_pid() {
            panic!("{GUARD_IN_CHILD}");
        }
    }

    /// Clears the flag if this process made the guard; `false` if another one did.
    fn clear(&self) -> bool {
        if self.pid != crate::queue::my_pid() {
            return false;
        }
        // SAFETY: as in `set`; we still hold the lock (the LockGuard drops after this).
        unsafe { (*self.flag).store(false, Ordering::Relaxed) };
        true
    }
}

/// A shared value behind a process-shared lock: Python's `multiprocessing.Value(typecode, v)`.
///
/// Every [`get`](Value::get) and [`set`](Value::set) takes the lock, as Python's `.value`
/// does. For a compound step (read, decide, write) hold the lock across it, either with
/// [`get_lock`](Value::get_lock)`().lock()`, inside which `get` and `set` still work (the lock
/// is re-entrant, like Python's RLock), or with [`lock`](Value::lock), whose guard is the way
/// to the value while it lives (`*g += 1`): this thread's `get`/`set` of the same value then
/// panic rather than go behind the guard's back.
///
/// ```
/// use coord_core::{Process, Value};
///
/// let found = Value::new(false)?;
/// let p = Process::start(|| {
///     // The lecture's lock-check-set: nobody can slip in between the check and the set.
///     let _g = found.get_lock().lock();
///     if !found.get() {
///         found.set(true);
///     }
/// })?;
/// p.join()?;
/// assert!(found.get()); // the child's write is visible to the parent
/// # Ok::<(), coord_core::Error>(())
/// ```
#[derive(Clone)]
pub struct Value<T: Plain> {
    lock: Lock,
    region: Arc<SharedRegion>,
    /// Set while a [`ValueGuard`] is live (see `locked_region`).
    guard_flag: *const AtomicBool,
    data: *mut T,
}

// SAFETY: the data is only touched under the process-shared lock (and the guard flag rules out
// this thread's own guard, see `locked_region`), and T: Send + Sync.
unsafe impl<T: Plain> Send for Value<T> {}
// SAFETY: as above.
unsafe impl<T: Plain> Sync for Value<T> {}

impl<T: Plain> Value<T> {
    /// A new shared value holding `initial`.
    pub fn new(initial: T) -> Result<Self, Error> {
        let (region, raw, guard_flag, off) = locked_region::<T>("coord-value", 1)?;
        // SAFETY: `off` is aligned for T and in bounds (locked_region sized it); no other
        // process exists yet that could see the region.
        let data = unsafe { region.ptr().add(off) } as *mut T;
        // SAFETY: as above; the memory is writable and not yet shared.
        unsafe { data.write(initial) };
        Ok(Value {
            lock: Lock::from_raw(raw),
            region,
            guard_flag,
            data,
        })
    }

    /// Reads under the lock (Python's `v.value`).
    ///
    /// If a process died holding the lock, the read goes ahead on what it left; use
    /// [`lock`](Value::lock) to be told.
    ///
    /// # Panics
    /// If this thread holds a [`ValueGuard`] of this value (read `*guard` instead).
    #[track_caller]
    pub fn get(&self) -> T {
        let _g = self.access().recover();
        // SAFETY: we hold the lock, so no other thread or process touches the data meanwhile,
        // and `access` found no guard of this thread live, so no `&mut T` to it exists;
        // `data` is aligned and mapped for as long as `self.region` lives.
        unsafe { self.data.read_volatile() }
    }

    /// Writes under the lock (Python's `v.value = x`).
    ///
    /// # Panics
    /// If this thread holds a [`ValueGuard`] of this value (write `*guard = x` instead).
    #[track_caller]
    pub fn set(&self, v: T) {
        let _g = self.access().recover();
        // SAFETY: as in `get`: nobody else holds a reference to the data while we write.
        unsafe { self.data.write_volatile(v) }
    }

    #[track_caller]
    fn access(&self) -> LockResult<LockGuard<'_>> {
        // SAFETY: the flag lives in `self.region`, mapped while `self` lives.
        lock_for_access(&self.lock, unsafe { &*self.guard_flag }, VALUE_REENTERED)
    }

    /// The lock behind this value (Python's `v.get_lock()`), for a compound step.
    pub fn get_lock(&self) -> &Lock {
        &self.lock
    }

    /// Takes the lock and gives access to the value through the guard:
    /// `*g` reads, `*g = x` writes. `Err` says a process died holding the lock.
    ///
    /// While the guard lives, go through it: this thread's `get`, `set` or a second `lock`
    /// of the same value panic (they would reach the data behind the guard's back).
    /// `get_lock().lock()` is fine: it gives no access to the data.
    #[track_caller]
    pub fn lock(&self) -> LockResult<ValueGuard<'_, T>> {
        let guard = |g| ValueGuard {
            owner: GuardOwner::set(self.guard_flag),
            _g: ManuallyDrop::new(g),
            value: self,
        };
        match self.access() {
            Ok(g) => Ok(guard(g)),
            Err(died) => Err(OwnerDied::wrap(guard(died.into_inner()))),
        }
    }

    /// The address of the shared data, for `/proc/<pid>/maps` curiosity.
    pub fn as_ptr(&self) -> *const T {
        let _ = &self.region;
        self.data
    }
}

impl<T: Plain + fmt::Debug> fmt::Debug for Value<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Value").field(&self.get()).finish()
    }
}

/// Access to a [`Value`] while holding its lock.
///
/// While it lives, this thread must reach the value only through it: `get`, `set` and `lock`
/// of the same value panic instead of creating a second reference to the data.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct ValueGuard<'a, T: Plain> {
    owner: GuardOwner,
    _g: ManuallyDrop<LockGuard<'a>>,
    value: &'a Value<T>,
}

// SAFETY: sharing `&ValueGuard` with another thread only lets it read `&T` (T: Sync), which
// `deref` allows. (A guard is not Send: the thread that locked must be the one to unlock.)
unsafe impl<T: Plain> Sync for ValueGuard<'_, T> {}

impl<T: Plain> Drop for ValueGuard<'_, T> {
    fn drop(&mut self) {
        // Clear the flag first, then unlock: the flag is only ever written by the lock holder.
        if self.owner.clear() {
            // SAFETY: dropped exactly once, here; never touched again.
            unsafe { ManuallyDrop::drop(&mut self._g) };
        }
        // Else a copy in a forked child: that process never held the lock, so it must not
        // unlock it (nor clear the flag its parent's guard set).
    }
}

impl<T: Plain> Deref for ValueGuard<'_, T> {
    type Target = T;
    #[track_caller]
    fn deref(&self) -> &T {
        self.owner.check();
        // SAFETY: this process holds the lock (`check`), so no other thread or process
        // touches the data; and while this guard lives its flag is set, so this thread's
        // `get`/`set`/`lock` panic before touching the data. The only references to the data
        // are therefore those borrowed from this guard, which the borrow checker keeps
        // apart (`&self` here, `&mut self` in `deref_mut`).
        unsafe { &*self.value.data }
    }
}

impl<T: Plain> DerefMut for ValueGuard<'_, T> {
    #[track_caller]
    fn deref_mut(&mut self) -> &mut T {
        self.owner.check();
        // SAFETY: as in `deref`; `&mut self` makes this the only reference borrowed from the
        // guard, hence the only reference to the data anywhere.
        unsafe { &mut *self.value.data }
    }
}

/// A lock-free shared value: Python's `RawValue`, but atomic, so it is safe to read while
/// another process writes.
///
/// `get` is an acquire load (on x86, a plain `mov`: no fence, no lock), `set` a release
/// store. Right for a stop flag or a counter.
///
/// ```
/// use coord_core::{Process, RawValue};
///
/// let hits = RawValue::new(0u64)?;
/// let kids: Vec<_> = (0..2)
///     .map(|_| Process::start(|| for _ in 0..1000 { hits.fetch_add(1); }))
///     .collect::<Result<_, _>>()?;
/// for k in kids { k.join()?; }
/// assert_eq!(hits.get(), 2000); // fetch_add never loses an update
/// # Ok::<(), coord_core::Error>(())
/// ```
#[derive(Clone)]
pub struct RawValue<T: AtomicPlain> {
    /// Keeps the mapping alive (and shared by clones) while `atomic` points into it.
    _region: Arc<SharedRegion>,
    /// Where the atomic lives in `region` (kept here so a read is one load, no indirection).
    atomic: *const T::Atomic,
    _t: PhantomData<T>,
}

// SAFETY: the pointer targets a MAP_SHARED region the Arc keeps mapped, and is only used to
// make `&T::Atomic`, which is Send + Sync.
unsafe impl<T: AtomicPlain> Send for RawValue<T> {}
// SAFETY: as above.
unsafe impl<T: AtomicPlain> Sync for RawValue<T> {}

impl<T: AtomicPlain> RawValue<T> {
    pub fn new(initial: T) -> Result<Self, Error> {
        let region = Arc::new(SharedRegion::new("coord-rawvalue", size_of::<T::Atomic>())?);
        let v = RawValue {
            atomic: region.ptr() as *const T::Atomic,
            _region: region,
            _t: PhantomData,
        };
        v.set(initial);
        Ok(v)
    }

    #[inline]
    fn atomic(&self) -> &T::Atomic {
        // SAFETY: the region is page-aligned, large enough for one atomic, and mapped while
        // `self.region` lives. A shared reference to an atomic is fine even while other
        // processes write it: that is what atomics are for.
        unsafe { &*self.atomic }
    }

    /// Acquire load.
    #[inline]
    pub fn get(&self) -> T {
        T::load(self.atomic(), Ordering::Acquire)
    }
    /// Relaxed load: the cheapest read, when no other data hangs off the flag.
    #[inline]
    pub fn get_relaxed(&self) -> T {
        T::load(self.atomic(), Ordering::Relaxed)
    }
    /// Release store.
    #[inline]
    pub fn set(&self, v: T) {
        T::store(self.atomic(), v, Ordering::Release)
    }
    /// Atomically replaces the value and returns the old one.
    #[inline]
    pub fn swap(&self, v: T) -> T {
        T::swap(self.atomic(), v, Ordering::AcqRel)
    }
    /// Writes `new` only if the value is still `current`: a lock-free check-and-set.
    #[inline]
    pub fn compare_exchange(&self, current: T, new: T) -> Result<T, T> {
        T::compare_exchange(self.atomic(), current, new)
    }
}

impl<T: AtomicInt> RawValue<T> {
    /// Atomic add; returns the previous value.
    #[inline]
    pub fn fetch_add(&self, v: T) -> T {
        T::fetch_add(self.atomic(), v, Ordering::AcqRel)
    }
}

impl<T: AtomicPlain + fmt::Debug> fmt::Debug for RawValue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RawValue").field(&self.get()).finish()
    }
}

/// A fixed-length shared array behind one process-shared lock: Python's
/// `multiprocessing.Array(typecode, n)`.
///
/// Its length is fixed at creation; an index past it is [`Error::OutOfBounds`], never a
/// write into someone else's memory.
#[derive(Clone)]
pub struct Array<T: Plain> {
    lock: Lock,
    region: Arc<SharedRegion>,
    /// Set while an [`ArrayGuard`] is live (see `locked_region`).
    guard_flag: *const AtomicBool,
    data: *mut T,
    len: usize,
}

// SAFETY: elements are only touched under the process-shared lock, and T: Send + Sync.
unsafe impl<T: Plain> Send for Array<T> {}
// SAFETY: as above.
unsafe impl<T: Plain> Sync for Array<T> {}

impl<T: Plain> Array<T> {
    /// `len` copies of `fill`.
    ///
    /// An array of more than [`MAX_SHARED_BYTES`] is refused with [`Error::SharedTooLarge`].
    pub fn new(len: usize, fill: T) -> Result<Self, Error> {
        Self::from_iter_exact(std::iter::repeat_n(fill, len), len)
    }

    /// An array holding a copy of `items`.
    pub fn from_slice(items: &[T]) -> Result<Self, Error> {
        Self::from_iter_exact(items.iter().copied(), items.len())
    }

    fn from_iter_exact(items: impl Iterator<Item = T>, len: usize) -> Result<Self, Error> {
        let (region, raw, guard_flag, off) = locked_region::<T>("coord-array", len)?;
        // SAFETY: aligned and in bounds (see locked_region); not yet shared.
        let data = unsafe { region.ptr().add(off) } as *mut T;
        for (i, v) in items.take(len).enumerate() {
            // SAFETY: i < len, inside the region sized for `len` elements.
            unsafe { data.add(i).write(v) };
        }
        Ok(Array {
            lock: Lock::from_raw(raw),
            region,
            guard_flag,
            data,
            len,
        })
    }

    /// The fixed number of elements.
    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn check(&self, index: usize) -> Result<(), Error> {
        if index < self.len {
            Ok(())
        } else {
            Err(Error::OutOfBounds { index, len: self.len })
        }
    }

    #[track_caller]
    fn access(&self) -> LockResult<LockGuard<'_>> {
        // SAFETY: the flag lives in `self.region`, mapped while `self` lives.
        lock_for_access(&self.lock, unsafe { &*self.guard_flag }, ARRAY_REENTERED)
    }

    /// Reads element `index` under the lock (`a[i]`).
    ///
    /// # Panics
    /// If this thread holds an [`ArrayGuard`] of this array (index the guard instead).
    #[track_caller]
    pub fn get(&self, index: usize) -> Result<T, Error> {
        self.check(index)?;
        let _g = self.access().recover();
        // SAFETY: index checked; we hold the lock, so no other thread or process touches the
        // data, and `access` found no guard of this thread live, so no `&mut [T]` exists.
        Ok(unsafe { self.data.add(index).read_volatile() })
    }

    /// Writes element `index` under the lock (`a[i] = v`).
    ///
    /// # Panics
    /// If this thread holds an [`ArrayGuard`] of this array.
    #[track_caller]
    pub fn set(&self, index: usize, v: T) -> Result<(), Error> {
        self.check(index)?;
        let _g = self.access().recover();
        // SAFETY: as in `get`.
        unsafe { self.data.add(index).write_volatile(v) };
        Ok(())
    }

    /// A copy of every element, taken under the lock in one go (`a[:]`).
    ///
    /// # Panics
    /// If this thread holds an [`ArrayGuard`] of this array (`guard.to_vec()` instead).
    #[track_caller]
    pub fn to_vec(&self) -> Vec<T> {
        let g = self.lock().recover();
        g.to_vec()
    }

    /// The lock behind the array (`a.get_lock()`).
    pub fn get_lock(&self) -> &Lock {
        &self.lock
    }

    /// Takes the lock and gives the elements as a slice through the guard.
    ///
    /// While the guard lives, this thread's `get`, `set`, `to_vec` or a second `lock` of the
    /// same array panic: go through the guard.
    #[track_caller]
    pub fn lock(&self) -> LockResult<ArrayGuard<'_, T>> {
        let guard = |g| ArrayGuard {
            owner: GuardOwner::set(self.guard_flag),
            _g: ManuallyDrop::new(g),
            array: self,
        };
        match self.access() {
            Ok(g) => Ok(guard(g)),
            Err(died) => Err(OwnerDied::wrap(guard(died.into_inner()))),
        }
    }

    pub fn as_ptr(&self) -> *const T {
        let _ = &self.region;
        self.data
    }
}

impl<T: Plain + fmt::Debug> fmt::Debug for Array<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Array").field(&self.to_vec()).finish()
    }
}

/// The elements of an [`Array`] while holding its lock.
///
/// While it lives, this thread must reach the array only through it: `get`, `set`, `to_vec`
/// and `lock` of the same array panic instead of creating a second reference to the data.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct ArrayGuard<'a, T: Plain> {
    owner: GuardOwner,
    _g: ManuallyDrop<LockGuard<'a>>,
    array: &'a Array<T>,
}

// SAFETY: as for ValueGuard.
unsafe impl<T: Plain> Sync for ArrayGuard<'_, T> {}

impl<T: Plain> Drop for ArrayGuard<'_, T> {
    fn drop(&mut self) {
        // As for ValueGuard: clear the flag, then unlock, and only in the process that locked.
        if self.owner.clear() {
            // SAFETY: dropped exactly once, here; never touched again.
            unsafe { ManuallyDrop::drop(&mut self._g) };
        }
    }
}

impl<T: Plain> Deref for ArrayGuard<'_, T> {
    type Target = [T];
    #[track_caller]
    fn deref(&self) -> &[T] {
        self.owner.check();
        // SAFETY: as in ValueGuard::deref: this process holds the lock, this thread's other
        // accesses panic while the flag is set, so the only references are borrowed from this
        // guard; `len` elements are mapped.
        unsafe { std::slice::from_raw_parts(self.array.data, self.array.len) }
    }
}

impl<T: Plain> DerefMut for ArrayGuard<'_, T> {
    #[track_caller]
    fn deref_mut(&mut self) -> &mut [T] {
        self.owner.check();
        // SAFETY: as in deref, and `&mut self` makes this the only reference to the data.
        unsafe { std::slice::from_raw_parts_mut(self.array.data, self.array.len) }
    }
}

/// A fixed-length array of atomics: Python's `RawArray`, safe to read while others write.
#[derive(Clone)]
pub struct RawArray<T: AtomicPlain> {
    region: Arc<SharedRegion>,
    len: usize,
    _t: PhantomData<T>,
}

impl<T: AtomicPlain> RawArray<T> {
    /// `len` atomics holding `fill`.
    ///
    /// An array of more than [`MAX_SHARED_BYTES`] is refused with [`Error::SharedTooLarge`].
    pub fn new(len: usize, fill: T) -> Result<Self, Error> {
        let bytes = shared_bytes(len, size_of::<T::Atomic>())?;
        let region = Arc::new(SharedRegion::new("coord-rawarray", bytes)?);
        let a = RawArray {
            region,
            len,
            _t: PhantomData,
        };
        for i in 0..len {
            a.slot(i).map(|s| T::store(s, fill, Ordering::Relaxed))?;
        }
        Ok(a)
    }

    pub fn len(&self) -> usize {
        self.len
    }
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn slot(&self, index: usize) -> Result<&T::Atomic, Error> {
        if index >= self.len {
            return Err(Error::OutOfBounds { index, len: self.len });
        }
        // SAFETY: index < len and the region holds `len` atomics, page-aligned; atomics may
        // be shared by reference while other processes write them.
        Ok(unsafe { &*(self.region.ptr() as *const T::Atomic).add(index) })
    }

    pub fn get(&self, index: usize) -> Result<T, Error> {
        Ok(T::load(self.slot(index)?, Ordering::Acquire))
    }
    pub fn set(&self, index: usize, v: T) -> Result<(), Error> {
        T::store(self.slot(index)?, v, Ordering::Release);
        Ok(())
    }
    pub fn compare_exchange(&self, index: usize, current: T, new: T) -> Result<Result<T, T>, Error> {
        Ok(T::compare_exchange(self.slot(index)?, current, new))
    }
    /// Each element read with its own atomic load (not one consistent snapshot).
    pub fn to_vec(&self) -> Vec<T> {
        (0..self.len).map(|i| self.get(i).expect("in bounds")).collect()
    }
}

impl<T: AtomicInt> RawArray<T> {
    pub fn fetch_add(&self, index: usize, v: T) -> Result<T, Error> {
        Ok(T::fetch_add(self.slot(index)?, v, Ordering::AcqRel))
    }
}

impl<T: AtomicPlain + fmt::Debug> fmt::Debug for RawArray<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RawArray").field(&self.to_vec()).finish()
    }
}
