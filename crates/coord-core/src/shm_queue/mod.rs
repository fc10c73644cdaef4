//! A many-producer, many-consumer queue in shared memory: the same job as [`Queue`](crate::Queue),
//! without the kernel on the fast path.
//!
//! [`Queue`](crate::Queue) is a pipe: every message is a `write` and a `read` system call, and a
//! consumer that waits sleeps in the kernel, so every hand-off pays a wake-up (microseconds).
//! [`ShmQueue`] is a ring of fixed-size cells in a `MAP_SHARED` mapping (see `ring.rs`: Vyukov's
//! bounded MPMC queue, made to survive a killed process). A message is copied into a cell
//! and published with one atomic store; a consumer that is *looking* sees it a few hundred
//! nanoseconds later, with no system call on either side.
//!
//! The price is in how a consumer waits ([`Waiting`]): looking costs a whole CPU for as long
//! as it looks, sleeping costs a wake-up when the message comes. The default,
//! [`Waiting::Adaptive`], spins briefly (crossbeam's `Backoff`: a few microseconds of spinning,
//! then a few `sched_yield`s) and then sleeps on a futex in the shared mapping, so an idle
//! consumer costs nothing. Producers wait the same way when the ring is full. Spinning only
//! helps while the other process runs on another CPU: each side notes the CPU it rang the
//! queue's bell from, and a waiter whose partner was last seen on its own CPU skips the
//! spinning (adaptive) or yields at every turn (spin), instead of keeping the partner off
//! the CPU it needs.
//!
//! ## What it promises (as `Queue` does)
//! - Every message put is got exactly once, whole; messages from one producer come in order.
//! - A process SIGKILLed in the middle of copying a message in or out never makes anyone else
//!   hang or read half a message: the cell it held names it, and the next process that needs
//!   the cell finds it dead. A half-written message is dropped and the consumer that found it
//!   gets [`Error::Corrupted`] once; a message whose consumer died while copying it out is
//!   lost, and once a producer needs that cell again (at the latest one lap of the ring
//!   later) the next `get` reports the loss as [`Error::Corrupted`], once. The queue goes on.
//! - When every producer has exited (or closed) and the queue is empty, `get` says
//!   [`Error::Disconnected`] (see `producers.rs` for who counts as a producer).
//! - Every `*_timeout` call returns within its timeout (plus scheduling delay).
//! - Sizes are checked: a message larger than the cell is [`Error::TooLarge`]; a capacity or
//!   cell size that is zero, or whose mapping would pass [`MAX_SHM_BYTES`], is
//!   [`Error::InvalidArgument`].
//!
//! ## What it does not do
//! Messages are limited to the cell size chosen at creation (the mapping is `capacity ×
//! cell size`, all of it reserved up front). A dead consumer or producer is found by polling
//! (`kill(pid, 0)` and `/proc`), at most every [`LIVENESS_EVERY`] while someone waits on it,
//! so `Disconnected` comes up to that much after the last producer went. A pid reused by a new
//! process before the check looks alive.

mod producers;
mod ring;

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::{Ordering, fence};
use std::time::{Duration, Instant};

use crossbeam_utils::Backoff;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Error, futex};
pub(crate) use producers::adopt_child;
use producers::{Inner, my_pid};
use ring::{ABANDONED, Bell, Busy, CellClaim};
pub use ring::{MAX_SHM_BYTES, MAX_SHM_PRODUCERS};

/// Default number of cells of [`ShmQueue::new`].
pub const SHM_DEFAULT_CAPACITY: usize = 64;
/// Default cell size of [`ShmQueue::new`]: the largest serialized message it takes (64 KiB).
pub const SHM_DEFAULT_MAX_MESSAGE: usize = 64 << 10;
/// How often a waiting process checks whether the process it waits on is still alive.
pub const LIVENESS_EVERY: Duration = Duration::from_millis(20);

/// How a process waits for a message (or, producing, for a free cell).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Waiting {
    /// Spin a few microseconds, yield a few times, then sleep on the futex: fast when the
    /// other side answers at once, free when it does not.
    #[default]
    Adaptive,
    /// Never sleep: poll the cell in a loop. The lowest latency, and a whole CPU burnt for as
    /// long as it waits (on a 2-CPU machine, possibly the CPU the producer needs: when the
    /// other process was last seen on this CPU, every turn of the loop yields to it).
    Spin,
    /// Sleep on the futex at once: one kernel wake-up per hand-off, like a pipe, and no CPU
    /// spent waiting.
    Block,
}

/// What crossed the queue, counted by every process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ShmQueueStats {
    /// Positions taken by producers (messages put, plus any torn or abandoned).
    pub put: u64,
    /// Positions taken by consumers.
    pub got: u64,
    /// Messages dropped because their producer was killed while writing them.
    pub torn: u64,
    /// Messages lost because their consumer was killed while copying them out.
    pub lost: u64,
}

/// A bounded FIFO of `T` in shared memory, for processes: the same job as
/// [`Queue`](crate::Queue), without the kernel on the fast path.
///
/// A ring of fixed-size cells in a `MAP_SHARED` mapping (Dmitry Vyukov's bounded MPMC queue,
/// with a per-cell state word that also names the process working on the cell). A message is
/// copied into a cell and published with one atomic store; a consumer that is looking sees it
/// with no system call on either side. How a process waits is its handle's [`Waiting`]:
/// spin (a CPU burnt while waiting), block on a futex (a wake-up per hand-off, like a pipe), or
/// the default, spin briefly and then block.
///
/// What it promises, as `Queue` does:
/// - every message put is got exactly once, whole; one producer's messages come in order;
/// - a process SIGKILLed in the middle of copying a message in or out never makes anyone hang
///   or read half a message: a half-written message is dropped and reported once as
///   [`Error::Corrupted`]; a message whose consumer died while copying it out is lost, and
///   reported once as `Corrupted` when a producer next needs its cell;
/// - once every producer has exited or closed and the queue is empty, `get` returns
///   [`Error::Disconnected`] (a child forked while the queue exists counts as a producer from
///   its start until it exits, closes, or `get`s before ever putting); a dead process is
///   noticed by polling, every [`LIVENESS_EVERY`] while someone waits;
/// - every `*_timeout` call returns within its timeout;
/// - a message larger than the cell is [`Error::TooLarge`]; a zero capacity or cell size, or a
///   mapping past [`MAX_SHM_BYTES`], is [`Error::InvalidArgument`].
///
/// Create it before forking; every process uses the same handle (or a clone). Typed like
/// [`Queue`](crate::Queue) (serde + postcard), with the same raw-bytes path
/// ([`put_bytes`](ShmQueue::put_bytes) / [`get_bytes_into`](ShmQueue::get_bytes_into)).
///
/// ```
/// use coord_core::{Process, ShmQueue};
///
/// let q: ShmQueue<(u32, String)> = ShmQueue::new()?;
/// let child = Process::start(|| q.put(&(7, "hello".to_string())))?;
/// assert_eq!(q.get()?, (7, "hello".to_string()));
/// child.join()?;
/// // The only producer has exited and nothing is left: a clear error, not a hang.
/// assert!(matches!(q.get(), Err(coord_core::Error::Disconnected)));
/// # Ok::<(), coord_core::Error>(())
/// ```
pub struct ShmQueue<T> {
    inner: Arc<Inner>,
    waiting: Waiting,
    _t: PhantomData<fn(T) -> T>,
}

impl<T> Clone for ShmQueue<T> {
    fn clone(&self) -> Self {
        ShmQueue {
            inner: self.inner.clone(),
            waiting: self.waiting,
            _t: PhantomData,
        }
    }
}

impl<T> fmt::Debug for ShmQueue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShmQueue")
            .field("capacity", &self.capacity())
            .field("max_message", &self.max_message())
            .field("waiting", &self.waiting)
            .finish_non_exhaustive()
    }
}

impl<T> ShmQueue<T> {
    /// A queue of [`SHM_DEFAULT_CAPACITY`] cells of [`SHM_DEFAULT_MAX_MESSAGE`] bytes.
    pub fn new() -> Result<Self, Error> {
        Self::with_capacity(SHM_DEFAULT_CAPACITY, SHM_DEFAULT_MAX_MESSAGE)
    }

    /// A queue of `capacity` cells (rounded up to a power of two) that each hold a message of
    /// up to `max_message` serialized bytes. The mapping, `capacity × (max_message + 64)`
    /// bytes, must stay within [`MAX_SHM_BYTES`].
    pub fn with_capacity(capacity: usize, max_message: usize) -> Result<Self, Error> {
        let ring = ring::Ring::new(capacity, max_message)?;
        Ok(ShmQueue {
            inner: Inner::new(ring),
            waiting: Waiting::default(),
            _t: PhantomData,
        })
    }

    /// This handle, waiting the given way from now on (other handles keep theirs).
    pub fn with_waiting(mut self, waiting: Waiting) -> Self {
        self.waiting = waiting;
        self
    }

    /// The same queue, typed as carrying `U` (see [`Queue::retype`](crate::Queue::retype)).
    pub fn retype<U>(&self) -> ShmQueue<U> {
        ShmQueue {
            inner: self.inner.clone(),
            waiting: self.waiting,
            _t: PhantomData,
        }
    }

    /// How many messages fit before `put` waits.
    pub fn capacity(&self) -> usize {
        self.inner.ring.capacity()
    }

    /// The largest serialized message a cell holds, in bytes.
    pub fn max_message(&self) -> usize {
        self.inner.ring.slot_size()
    }

    /// The largest byte string [`put_bytes`](ShmQueue::put_bytes) takes (the cell holds its
    /// length prefix too).
    pub fn max_bytes(&self) -> usize {
        let max = self.max_message();
        (0..=MAX_PREFIX)
            .map(|p| max.saturating_sub(p))
            .find(|&n| n + varint_len(n) <= max)
            .unwrap_or(0)
    }

    /// Counts over every process that used the queue.
    pub fn stats(&self) -> ShmQueueStats {
        let h = self.inner.ring.header();
        ShmQueueStats {
            put: h.tail.load(Ordering::Relaxed),
            got: h.head.load(Ordering::Relaxed),
            torn: h.rare.torn.load(Ordering::Relaxed),
            lost: h.rare.lost.load(Ordering::Relaxed),
        }
    }

    /// Messages put and not yet taken (approximate while others work on the queue).
    pub fn len(&self) -> usize {
        let s = self.stats();
        s.put.saturating_sub(s.got) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Says that this process will put nothing more: once every producer has closed or
    /// exited, consumers see [`Error::Disconnected`]. A later `put` makes it a producer again.
    pub fn close(&self) {
        self.inner.leave();
    }

    /// Puts a byte string (`bytes` as `serde_bytes` would: a varint length, then the bytes),
    /// waiting while the ring is full. A typed `get` of a `Vec<u8>` or `ByteBuf` reads it too.
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<(), Error> {
        self.put_raw_bytes(bytes, None)
    }

    /// [`put_bytes`](ShmQueue::put_bytes), waiting at most `timeout` for a free cell.
    pub fn put_bytes_timeout(&self, bytes: &[u8], timeout: Duration) -> Result<(), Error> {
        self.put_raw_bytes(bytes, Some(deadline(timeout)))
    }

    fn put_raw_bytes(&self, bytes: &[u8], deadline: Option<Instant>) -> Result<(), Error> {
        let prefix = varint_len(bytes.len());
        let len = bytes
            .len()
            .checked_add(prefix)
            .filter(|&l| l <= self.max_message())
            .ok_or(Error::TooLarge {
                len: bytes.len(),
                max: self.max_bytes(),
            })?;
        let c = self.claim_write(deadline)?;
        let mut pre = [0u8; MAX_PREFIX];
        write_varint(bytes.len(), &mut pre);
        // SAFETY: the cell is ours (WRITING with our pid) until `publish`; its data area holds
        // `max_message >= len` bytes, and `pre`/`bytes` are our own memory, not in the cell.
        unsafe {
            std::ptr::copy_nonoverlapping(pre.as_ptr(), c.data, prefix);
            std::ptr::copy_nonoverlapping(bytes.as_ptr(), c.data.add(prefix), bytes.len());
        }
        self.inner.ring.publish(c, len as u64);
        Ok(())
    }

    /// Waits for the next message, which must be a byte string (put by
    /// [`put_bytes`](ShmQueue::put_bytes), or by `put` of a `Vec<u8>`/`ByteBuf`), and leaves
    /// its bytes in `out`; returns their number. A message that is not a byte string is taken
    /// and refused with [`Error::Decode`].
    pub fn get_bytes_into(&self, out: &mut Vec<u8>) -> Result<usize, Error> {
        self.recv(None, |m| bytes_into(m, out))
    }

    /// [`get_bytes_into`](ShmQueue::get_bytes_into), waiting at most `timeout`.
    pub fn get_bytes_into_timeout(&self, out: &mut Vec<u8>, timeout: Duration) -> Result<usize, Error> {
        self.recv(Some(deadline(timeout)), |m| bytes_into(m, out))
    }

    /// Takes one producer cell, waiting the handle's way while the ring is full.
    fn claim_write(&self, deadline: Option<Instant>) -> Result<CellClaim, Error> {
        self.inner.ensure_producer()?;
        let ring = &self.inner.ring;
        let me = my_pid();
        let mut w = Waiter::new(self.waiting, deadline);
        loop {
            match ring.try_claim_write(me) {
                Ok(c) => return Ok(c),
                Err(Busy::Full { reader, pos }) => {
                    if w.due_for_liveness() || w.expired() {
                        if let Some(pid) = reader.filter(|&p| !crate::pid_alive(p)) {
                            ring.reap_reader(pid, pos);
                            continue;
                        }
                    }
                }
                Err(_) => {}
            }
            w.pause(&ring.header().space, || !ring.writable())?;
        }
    }

    /// Takes one message and hands its bytes to `take` (in place, in the cell), then frees the
    /// cell. Reports dead processes' leftovers as `Corrupted`, an empty queue with no producer
    /// left as `Disconnected`.
    fn recv<R>(
        &self,
        deadline: Option<Instant>,
        take: impl FnOnce(&[u8]) -> Result<R, Error>,
    ) -> Result<R, Error> {
        self.inner.consumer_leaves();
        let ring = &self.inner.ring;
        let h = ring.header();
        if h.rare.lost.load(Ordering::Relaxed) > h.rare.lost_reported.load(Ordering::Relaxed) {
            let n = h.rare.lost_reported.fetch_add(1, Ordering::AcqRel);
            if n < h.rare.lost.load(Ordering::Acquire) {
                return Err(Error::Corrupted(
                    "a consumer was killed while copying a message out: that message is lost".into(),
                ));
            }
            h.rare.lost_reported.fetch_sub(1, Ordering::AcqRel);
        }
        let me = my_pid();
        let mut w = Waiter::new(self.waiting, deadline);
        loop {
            match ring.try_claim_read(me) {
                Ok(c) => {
                    // SAFETY: `c` is a cell we hold in READING until `release` below.
                    let Some(msg) = (unsafe { ring.message(&c) }) else {
                        ring.release(c); // an abandoned cell: nothing to deliver
                        continue;
                    };
                    let r = take(msg);
                    ring.release(c);
                    return r;
                }
                Err(busy) => {
                    // Also once more at the deadline: `try_get` must see a dead queue too.
                    if w.due_for_liveness() || w.expired() {
                        match busy {
                            Busy::Writing { pid, pos } if !crate::pid_alive(pid) => {
                                if ring.reap_writer(pid, pos) {
                                    return Err(Error::Corrupted(format!(
                                        "producer {pid} was killed while writing a message: \
                                         its half-written bytes were dropped"
                                    )));
                                }
                                continue;
                            }
                            Busy::Empty if self.inner.all_producers_gone() => {
                                // A last message may have been published just before its
                                // producer exited: look once more.
                                fence(Ordering::SeqCst);
                                if !ring.readable() {
                                    return Err(Error::Disconnected);
                                }
                                continue;
                            }
                            _ => {}
                        }
                    }
                }
            }
            w.pause(&h.items, || !ring.readable())?;
        }
    }
}

impl<T: Serialize + DeserializeOwned> ShmQueue<T> {
    /// Puts one message, waiting while the ring is full.
    pub fn put(&self, item: &T) -> Result<(), Error> {
        self.put_item(item, None)
    }

    /// Puts one message, waiting at most `timeout` for a free cell ([`Error::Timeout`]).
    pub fn put_timeout(&self, item: &T, timeout: Duration) -> Result<(), Error> {
        self.put_item(item, Some(deadline(timeout)))
    }

    fn put_item(&self, item: &T, deadline: Option<Instant>) -> Result<(), Error> {
        // Size first: an oversized message is refused before a cell is taken.
        let size = postcard::experimental::serialized_size(item).map_err(Error::Encode)?;
        if size > self.max_message() {
            return Err(Error::TooLarge {
                len: size,
                max: self.max_message(),
            });
        }
        let c = self.claim_write(deadline)?;
        // SAFETY: the cell is ours (WRITING) until `publish`: no other process reads or writes
        // its data area meanwhile, so a `&mut` to `size <= max_message` of its bytes is sound.
        let buf = unsafe { std::slice::from_raw_parts_mut(c.data, size) };
        match postcard::to_slice(item, buf) {
            Ok(out) if out.len() == size => {
                self.inner.ring.publish(c, size as u64);
                Ok(())
            }
            r => {
                // The cell is taken: hand it on empty, or it would block the ring.
                self.inner
                    .ring
                    .header()
                    .rare
                    .abandoned
                    .fetch_add(1, Ordering::Relaxed);
                self.inner.ring.publish(c, ABANDONED);
                Err(match r {
                    Err(e) => Error::Encode(e),
                    Ok(_) => Error::Corrupted(format!(
                        "the message serialized to a different size than the {size} bytes measured"
                    )),
                })
            }
        }
    }

    /// Waits for the next message (`q.get()`).
    pub fn get(&self) -> Result<T, Error> {
        self.recv(None, decode)
    }

    /// Waits at most `timeout` ([`Error::Timeout`]).
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, Error> {
        self.recv(Some(deadline(timeout)), decode)
    }

    /// Takes a message if one is ready now; else [`Error::Empty`] (or [`Error::Disconnected`]
    /// if no producer is left).
    pub fn try_get(&self) -> Result<T, Error> {
        match self.recv(Some(Instant::now()), decode) {
            Err(Error::Timeout) => Err(Error::Empty),
            r => r,
        }
    }
}

fn decode<T: DeserializeOwned>(m: &[u8]) -> Result<T, Error> {
    postcard::from_bytes(m).map_err(Error::Decode)
}

fn bytes_into(m: &[u8], out: &mut Vec<u8>) -> Result<usize, Error> {
    let (n, prefix) = read_varint(m).ok_or(Error::Decode(postcard::Error::DeserializeBadVarint))?;
    if prefix.checked_add(n) != Some(m.len()) {
        return Err(Error::Decode(postcard::Error::DeserializeBadEncoding));
    }
    out.clear();
    out.extend_from_slice(&m[prefix..]);
    Ok(n)
}

fn deadline(timeout: Duration) -> Instant {
    // A timeout too far away to represent is, in practice, no timeout: a century.
    let now = Instant::now();
    now.checked_add(timeout)
        .unwrap_or_else(|| now + Duration::from_secs(100 * 365 * 86_400))
}

const MAX_PREFIX: usize = 10;

fn varint_len(n: usize) -> usize {
    (usize::BITS - (n | 1).leading_zeros()).div_ceil(7) as usize
}

fn write_varint(mut n: usize, out: &mut [u8; MAX_PREFIX]) {
    let mut i = 0;
    while n >= 0x80 {
        out[i] = (n as u8) | 0x80;
        n >>= 7;
        i += 1;
    }
    out[i] = n as u8;
}

fn read_varint(m: &[u8]) -> Option<(usize, usize)> {
    let mut n = 0usize;
    for (i, &b) in m.iter().take(MAX_PREFIX).enumerate() {
        n |= usize::from(b & 0x7f).checked_shl(7 * i as u32)?;
        if b & 0x80 == 0 {
            return Some((n, i + 1));
        }
    }
    None
}

/// One wait: spins, yields or sleeps on a [`Bell`] as the [`Waiting`] policy says, keeps the
/// deadline, and says when it is time to check on other processes' liveness.
struct Waiter {
    policy: Waiting,
    backoff: Backoff,
    deadline: Option<Instant>,
    spins: u32,
    last_check: Option<Instant>,
}

impl Waiter {
    fn new(policy: Waiting, deadline: Option<Instant>) -> Waiter {
        Waiter {
            policy,
            backoff: Backoff::new(),
            deadline,
            spins: 0,
            last_check: None,
        }
    }

    /// Whether the caller should look now whether the process it waits on is alive: every
    /// `LIVENESS_EVERY` of waiting (not at once: the check costs system calls, and most waits
    /// are over in microseconds).
    fn due_for_liveness(&mut self) -> bool {
        let now = Instant::now();
        match self.last_check {
            Some(t) if now.duration_since(t) < LIVENESS_EVERY => false,
            Some(_) => {
                self.last_check = Some(now);
                true
            }
            None => {
                self.last_check = Some(now);
                false
            }
        }
    }

    fn expired(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// Waits a little. `still_waiting` re-checks the condition after this process is
    /// counted as a sleeper, so that a wake-up sent in between is not missed.
    fn pause(&mut self, bell: &Bell, still_waiting: impl Fn() -> bool) -> Result<(), Error> {
        let left = match self.deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(Error::Timeout);
                }
                Some(left)
            }
            None => None,
        };
        match self.policy {
            Waiting::Spin => {
                self.spins = self.spins.wrapping_add(1);
                std::hint::spin_loop();
                // The other process on our CPU can only run when we let it: at once if it was
                // last seen here, now and then otherwise (it may have moved here since).
                if self.spins % 4096 == 0 || !bell.ringer_elsewhere() {
                    std::thread::yield_now();
                }
                Ok(())
            }
            // Spinning only pays while the other process runs on another CPU.
            Waiting::Adaptive if !self.backoff.is_completed() && bell.ringer_elsewhere() => {
                self.backoff.snooze();
                Ok(())
            }
            Waiting::Adaptive | Waiting::Block => {
                bell.sleepers.fetch_add(1, Ordering::SeqCst);
                fence(Ordering::SeqCst);
                let epoch = bell.epoch.load(Ordering::SeqCst);
                if still_waiting() {
                    let nap = left.map_or(LIVENESS_EVERY, |l| l.min(LIVENESS_EVERY));
                    futex::wait(&bell.epoch, epoch, Some(nap));
                }
                bell.sleepers.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            }
        }
    }
}
