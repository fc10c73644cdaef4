//! Shared scalars and fixed-length arrays (Python's `Value`, `RawValue`, `Array`, `RawArray`).
//!
//! All four live in one `MAP_SHARED` region each, created before the processes that use them
//! are forked. The synchronized forms (`Value`, `Array`) put a re-entrant process-shared lock
//! in front of the data and take it on every access, exactly as Python's default
//! `Value(..., lock=True)` does. The raw forms (`RawValue`, `RawArray`) are atomics: no lock,
//! a single instruction per access, right for flags and counters.

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{self, Ordering};

use crate::Error;
use crate::lock::{Lock, LockResult, LockResultExt, OwnerDied, RawMutex};
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

/// Layout of a synchronized object: [mutex][padding][data...].
fn locked_region<T>(name: &str, count: usize) -> io::Result<(Arc<SharedRegion>, RawMutex, usize)> {
    let data_off = align_up(size_of::<libc::pthread_mutex_t>(), align_of::<T>().max(64));
    let region = Arc::new(SharedRegion::new(name, data_off + size_of::<T>() * count)?);
    // Re-entrant, like Python's RLock behind Value: `v.get()` inside `v.get_lock()` works.
    let raw = RawMutex::init(region.clone(), 0, true)?;
    Ok((region, raw, data_off))
}

/// A shared value behind a process-shared lock: Python's `multiprocessing.Value(typecode, v)`.
///
/// Every [`get`](Value::get) and [`set`](Value::set) takes the lock, as Python's `.value`
/// does. For a compound step (read, decide, write) hold the lock across it with
/// [`get_lock`](Value::get_lock) or [`lock`](Value::lock): the lock is re-entrant, so `get` and
/// `set` still work inside.
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
    data: *mut T,
}

// SAFETY: the data is only touched under the process-shared lock, and T: Send + Sync.
unsafe impl<T: Plain> Send for Value<T> {}
// SAFETY: as above.
unsafe impl<T: Plain> Sync for Value<T> {}

impl<T: Plain> Value<T> {
    /// A new shared value holding `initial`.
    pub fn new(initial: T) -> Result<Self, Error> {
        let (region, raw, off) = locked_region::<T>("coord-value", 1)?;
        // SAFETY: `off` is aligned for T and in bounds (locked_region sized it); no other
        // process exists yet that could see the region.
        let data = unsafe { region.ptr().add(off) } as *mut T;
        // SAFETY: as above; the memory is writable and not yet shared.
        unsafe { data.write(initial) };
        Ok(Value {
            lock: Lock::from_raw(raw),
            region,
            data,
        })
    }

    /// Reads under the lock (Python's `v.value`).
    ///
    /// If a process died holding the lock, the read goes ahead on what it left; use
    /// [`lock`](Value::lock) to be told.
    pub fn get(&self) -> T {
        let _g = self.lock.lock().recover();
        // SAFETY: we hold the lock, so no other process writes meanwhile; `data` is aligned
        // and mapped for as long as `self.region` lives.
        unsafe { self.data.read_volatile() }
    }

    /// Writes under the lock (Python's `v.value = x`).
    pub fn set(&self, v: T) {
        let _g = self.lock.lock().recover();
        // SAFETY: as in `get`.
        unsafe { self.data.write_volatile(v) }
    }

    /// The lock behind this value (Python's `v.get_lock()`), for a compound step.
    pub fn get_lock(&self) -> &Lock {
        &self.lock
    }

    /// Takes the lock and gives access to the value through the guard:
    /// `*g` reads, `*g = x` writes. `Err` says a process died holding the lock.
    pub fn lock(&self) -> LockResult<ValueGuard<'_, T>> {
        match self.lock.lock() {
            Ok(g) => Ok(ValueGuard { _g: g, value: self }),
            Err(died) => Err(OwnerDied::wrap(ValueGuard {
                _g: died.into_inner(),
                value: self,
            })),
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
pub struct ValueGuard<'a, T: Plain> {
    _g: crate::lock::LockGuard<'a>,
    value: &'a Value<T>,
}

impl<T: Plain> Deref for ValueGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard holds the lock; every writer takes it, so nobody writes while this
        // shared reference lives.
        unsafe { &*self.value.data }
    }
}

impl<T: Plain> DerefMut for ValueGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard holds the lock, and `&mut self` makes this the only reference
        // in this process; other processes touch the data only under the lock.
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
    data: *mut T,
    len: usize,
}

// SAFETY: elements are only touched under the process-shared lock, and T: Send + Sync.
unsafe impl<T: Plain> Send for Array<T> {}
// SAFETY: as above.
unsafe impl<T: Plain> Sync for Array<T> {}

impl<T: Plain> Array<T> {
    /// `len` copies of `fill`.
    pub fn new(len: usize, fill: T) -> Result<Self, Error> {
        Self::from_iter_exact(std::iter::repeat_n(fill, len), len)
    }

    /// An array holding a copy of `items`.
    pub fn from_slice(items: &[T]) -> Result<Self, Error> {
        Self::from_iter_exact(items.iter().copied(), items.len())
    }

    fn from_iter_exact(items: impl Iterator<Item = T>, len: usize) -> Result<Self, Error> {
        let (region, raw, off) = locked_region::<T>("coord-array", len)?;
        // SAFETY: aligned and in bounds (see locked_region); not yet shared.
        let data = unsafe { region.ptr().add(off) } as *mut T;
        for (i, v) in items.take(len).enumerate() {
            // SAFETY: i < len, inside the region sized for `len` elements.
            unsafe { data.add(i).write(v) };
        }
        Ok(Array {
            lock: Lock::from_raw(raw),
            region,
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

    /// Reads element `index` under the lock (`a[i]`).
    pub fn get(&self, index: usize) -> Result<T, Error> {
        self.check(index)?;
        let _g = self.lock.lock().recover();
        // SAFETY: index checked; we hold the lock, so no process writes meanwhile.
        Ok(unsafe { self.data.add(index).read_volatile() })
    }

    /// Writes element `index` under the lock (`a[i] = v`).
    pub fn set(&self, index: usize, v: T) -> Result<(), Error> {
        self.check(index)?;
        let _g = self.lock.lock().recover();
        // SAFETY: as in `get`.
        unsafe { self.data.add(index).write_volatile(v) };
        Ok(())
    }

    /// A copy of every element, taken under the lock in one go (`a[:]`).
    pub fn to_vec(&self) -> Vec<T> {
        let g = self.lock().recover();
        g.to_vec()
    }

    /// The lock behind the array (`a.get_lock()`).
    pub fn get_lock(&self) -> &Lock {
        &self.lock
    }

    /// Takes the lock and gives the elements as a slice through the guard.
    pub fn lock(&self) -> LockResult<ArrayGuard<'_, T>> {
        match self.lock.lock() {
            Ok(g) => Ok(ArrayGuard { _g: g, array: self }),
            Err(died) => Err(OwnerDied::wrap(ArrayGuard {
                _g: died.into_inner(),
                array: self,
            })),
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
pub struct ArrayGuard<'a, T: Plain> {
    _g: crate::lock::LockGuard<'a>,
    array: &'a Array<T>,
}

impl<T: Plain> Deref for ArrayGuard<'_, T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        // SAFETY: the guard holds the lock that every writer takes; `len` elements are mapped.
        unsafe { std::slice::from_raw_parts(self.array.data, self.array.len) }
    }
}

impl<T: Plain> DerefMut for ArrayGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in deref, and `&mut self` makes this the only reference in this process.
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
    pub fn new(len: usize, fill: T) -> Result<Self, Error> {
        let region = Arc::new(SharedRegion::new("coord-rawarray", size_of::<T::Atomic>() * len)?);
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
