//! A typed many-producer, many-consumer queue between processes (Python's
//! `multiprocessing.Queue`).
//!
//! The wire is one pipe. A message is one frame, `[magic u32][len u32][postcard bytes]`.
//! A pipe write is atomic only up to `PIPE_BUF` (4 KiB), so, as CPython does, a frame is
//! written while holding a process-shared *writer* lock and read while holding a *reader*
//! lock: frames from different producers never interleave and no two consumers split one.
//! There is no feeder thread: `put` writes into the pipe itself, so a round trip costs one
//! wake-up each way, as a bare pipe does.
//!
//! Byte payloads have a raw path, [`Queue::put_bytes`] / [`Queue::get_bytes_into`]: the same
//! frames as a `serde_bytes::ByteBuf`, but a large payload goes from the pipe straight into the
//! caller's reused `Vec<u8>`, with no decoding copy into a new value.
//!
//! ## How a consumer learns that every producer is gone
//! Only producers hold the pipe's write end; the kernel closes a process's descriptors when
//! it dies (also by `SIGKILL`). So when the last producer has exited or called
//! [`Queue::close`], the pipe has no writer left and a consumer's `read` returns end-of-file:
//! [`Error::Disconnected`]. No polling, no timer, no pid bookkeeping: a blocked `get` waits
//! in a plain blocking `read`, as a raw pipe does.
//!
//! Who holds a write end:
//! - a process that has called `put` (it opens its own through `/proc/self/fd`, from the
//!   read end every process shares), until it exits or calls `close`;
//! - a child forked (by the thread that created the queue) while the queue exists: it starts
//!   as a *potential* producer, so a producer that is slow to start cannot be missed by a
//!   consumer that sees the fast ones finish. It stops being one when it exits, calls
//!   `close`, or calls `get`/`get_timeout`/`try_get` before ever putting (it is a consumer).
//!   A `pthread_atfork` handler gives each child its write end.
//! - The process that created the queue holds none until it puts.
//!
//! So an idle child (one that never touches the queue) keeps the queue connected until it
//! exits.
//!
//! ## A process killed while it uses the queue
//! The writer and reader locks are robust: a process killed while holding one hands it on.
//! While a frame is half-written (a frame larger than `PIPE_BUF`) or half-read, an in-flight
//! mark is set; a lock handed on with the mark set makes the queue [`Error::Corrupted`] for
//! everyone, instead of delivering a torn message.
//!
//! A consumer reads ahead: one `read` takes up to 4 KiB from the pipe into a buffer in the
//! shared region, and what it does not return stays there for the next `get` of any process.
//! A consumer killed while it *waits* in that `read` loses nothing (the kernel ends the wait
//! before taking a byte), and the next consumer carries on. One window is left: between the
//! instant `read` has moved the bytes into the buffer and the next instruction, which records
//! how many there are (`ra_end`). A consumer killed exactly there (the signal arriving as the
//! system call returns) takes those bytes with it: up to 4 KiB, which may be several whole
//! messages that other `get`s would have returned. If they end on a frame boundary, the next
//! consumer finds a clean stream, so the messages are gone *without* `Corrupted`; only
//! [`Queue::stats`] shows it (`messages_put` stays above `messages_got` with the queue
//! drained). Marking the read as in flight before calling `read` would close the window but
//! would also condemn the queue whenever a consumer is killed while merely waiting, the
//! common case; waiting in `poll` first and marking only a non-blocking `read` would cost a
//! system call on every `get`. Neither is worth it for a window of a few instructions.
//!
//! ## A deadline in the middle of a frame
//! A `*_timeout` call returns by its deadline even when the peer stops half-way through a
//! frame (it may be `SIGSTOP`ped, or just slow). A consumer gives up by *parking* the part of
//! the frame it has taken in a spill area of the shared region; the next `get`, in any
//! process, starts from there. A timed `put` starts a frame only when the pipe has room for
//! all of it, so it gives up before writing anything; only a frame larger than the whole pipe
//! can be cut by its deadline, and that makes the queue [`Error::Corrupted`] (the call says so).
//! The spill area has room for one whole message ([`MAX_MESSAGE`]): each queue reserves that
//! much address space, but memory only for what a parked frame actually holds, given back
//! once the frame is finished.
//!
//! ## Where things are
//! `framing` (the wire format and the writes), `write` (`put`), `read` (`get`, read-ahead,
//! the spill area), `wait` (every wait, in slices), `registry` (the fork-time table of queues).

mod framing;
mod owned_bytes;
mod read;
mod registry;
mod wait;
mod write;

use std::fmt;
use std::marker::PhantomData;
use std::os::fd::{AsRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::fcntl::{FcntlArg, OFlag, fcntl};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::lock::{Acquired, RawMutex};
use crate::shm::SharedRegion;
use framing::RawBytes;
pub(crate) use registry::{current_thread_tag, install_atfork, my_pid, thread_tag};
/// A thread keeps its frame buffers between messages unless they grew past this.
const KEEP_BUF: usize = 4 << 20;

thread_local! {
    static WRITE_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    static READ_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}
/// The largest message a queue accepts (64 MiB).
pub const MAX_MESSAGE: usize = 64 << 20;
/// Once a limit on how many queues one process could have open for writing; it was never
/// enforced, and there is no such limit: a process may hold as many queues as it has file
/// descriptors for.
#[deprecated(note = "never enforced: a process may use any number of queues")]
pub const MAX_PRODUCERS: usize = 1024;

/// Shared bookkeeping, after the two locks in the region.
#[repr(C)]
struct Header {
    corrupted: AtomicBool,
    /// Non-zero while a frame is being written / read: if a process dies holding a lock
    /// while this is set, a partial frame sits in (or was taken from) the pipe.
    write_in_flight: AtomicU32,
    read_in_flight: AtomicU32,
    /// Processes that ever opened a write end (a futex word: consumers that find no writer
    /// before the first producer wait on it).
    producers_seen: AtomicU32,
    messages_put: AtomicU64,
    bytes_put: AtomicU64,
    messages_got: AtomicU64,
    bytes_got: AtomicU64,
    /// The read-ahead buffer's valid bytes are `[ra_start, ra_end)` (only touched under the
    /// reader lock).
    ra_start: AtomicU32,
    ra_end: AtomicU32,
    /// A frame parked by a consumer whose deadline passed in the middle of it: its length
    /// (0: none), and how many of its body bytes are in the spill area. The next consumer
    /// carries on from there (only touched under the reader lock).
    spill_frame: AtomicU32,
    spill_len: AtomicU32,
}

const WLOCK_OFF: usize = 0;
const RLOCK_OFF: usize = 128; // separate cache lines: a writer and a reader never share one
const HEADER_OFF: usize = 256;
/// The read-ahead buffer, in the shared region. A consumer reads as much as the pipe holds
/// (up to `RA_CAP`) in one `read`: header and body of a small message together, and often the
/// next messages too. What it does not use stays here for the next consumer, whatever its
/// process: the buffer is shared memory, guarded by the reader lock.
const RA_OFF: usize = 4096;
const RA_CAP: usize = 4 << 10;
/// The spill area: room for the body of one whole message. It costs nothing until used (the
/// pages of a `memfd` are allocated on first touch) and is given back after use.
const SPILL_OFF: usize = RA_OFF + RA_CAP;
const REGION_LEN: usize = SPILL_OFF + MAX_MESSAGE;
const PAGE: usize = 4096;

/// Totals over every process that used the queue: what crossing the boundary cost.
///
/// Each count is bumped right after the step it counts, so a process killed between the two
/// leaves it one short: after kills, `messages_put` may be lower than what was delivered (by
/// at most one per producer killed inside a `put`), and `messages_got` lower than what was
/// taken from the pipe (by at most one per consumer killed inside a `get`). Without kills
/// they are exact. A queue drained with `messages_got < messages_put` lost messages (see the
/// module documentation for the one window where that can happen).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    pub messages_put: u64,
    /// Serialized payload bytes written (frame headers not included).
    pub bytes_put: u64,
    pub messages_got: u64,
    pub bytes_got: u64,
}

/// Opens a new write end of the pipe whose read end is `rx`, through `/proc/self/fd/<rx>`.
/// Async-signal-safe (no allocation): the atfork handler uses it. Non-blocking: a writer that
/// finds the pipe full waits in `poll`, in slices (see `framing::PipeOut`).
fn open_write_end(rx: i32) -> Option<i32> {
    let mut path = [0u8; 32];
    let prefix = b"/proc/self/fd/";
    path[..prefix.len()].copy_from_slice(prefix);
    let mut digits = [0u8; 10];
    let (mut n, mut k) = (rx as u32, 0);
    loop {
        digits[k] = b'0' + (n % 10) as u8;
        k += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for i in 0..k {
        path[prefix.len() + i] = digits[k - 1 - i];
    }
    // SAFETY: `path` is NUL-terminated (zero-filled past the digits); open is
    // async-signal-safe and returns a new descriptor or -1.
    let fd = unsafe {
        libc::open(
            path.as_ptr().cast(),
            libc::O_WRONLY | libc::O_CLOEXEC | libc::O_NONBLOCK,
        )
    };
    (fd >= 0).then_some(fd)
}

fn tag_fd(pid: i32, fd: i32) -> u64 {
    u64::from(pid as u32) << 32 | (fd as u64 + 1)
}

struct Inner {
    region: Arc<SharedRegion>,
    wlock: RawMutex,
    rlock: RawMutex,
    /// The read end, blocking: a consumer waits for the next frame in `read`.
    rx: OwnedFd,
    /// The same read end opened a second time, non-blocking, for the rest of a frame already
    /// begun: take what is there, and wait in `poll` (with a writer check) only if nothing is.
    rx_nb: OwnedFd,
    /// This process's write end: `pid << 32 | (fd + 1)`, 0 when not open.
    tx: AtomicU64,
    /// The write end was given at fork and this process has not put yet: a potential
    /// producer, which becomes a consumer (and lets the write end go) on its first `get`.
    inherited: AtomicBool,
    /// The thread that created the queue (`thread_tag`): only its children inherit.
    creator_thread: u64,
    /// A write end opened just before a fork, for the child (-1 otherwise).
    fork_tx: AtomicI32,
    /// The pipe's capacity in bytes.
    pipe_cap: usize,
}

impl Inner {
    fn header(&self) -> &Header {
        // SAFETY: the region was sized for a Header at HEADER_OFF (aligned: 256 on a page) and
        // stays mapped while `self` lives; Header is all atomics.
        unsafe { &*(self.region.ptr().add(HEADER_OFF) as *const Header) }
    }

    /// Takes the writer lock (waiting until `deadline`; `None` if it passed first). Every path
    /// that takes the writer lock goes through here or `try_lock_writer`, so a writer that died
    /// in the middle of a frame is noticed by whoever comes next, whatever it came for.
    fn lock_writer(&self, deadline: Option<Instant>) -> Result<Option<Unlock<'_>>, Error> {
        Ok(self
            .wlock
            .lock_until(deadline)?
            .map(|acquired| self.locked_writer(acquired)))
    }

    /// `try_lock` of the writer lock, with the same check as `lock_writer`.
    fn try_lock_writer(&self) -> Result<Option<Unlock<'_>>, Error> {
        Ok(self
            .wlock
            .try_lock()?
            .map(|acquired| self.locked_writer(acquired)))
    }

    /// We now hold the writer lock. If its owner died with a frame half-written, part of that
    /// frame is in the pipe and nothing can complete it: the queue is marked corrupted before
    /// the lock is released again, so no writer can append its frame to the broken one.
    fn locked_writer(&self, acquired: Acquired) -> Unlock<'_> {
        let h = self.header();
        if let Acquired::OwnerDied = acquired
            && h.write_in_flight.load(Ordering::Acquire) != 0
        {
            h.corrupted.store(true, Ordering::Release);
        }
        Unlock(&self.wlock)
    }

    /// In a freshly forked child (from the atfork handler: no allocation, no locks): take
    /// the write end inherited through the fork as this process's own.
    fn adopt_in_child(&self, me: i32) {
        let tmp = self.fork_tx.swap(-1, Ordering::Relaxed);
        let tx = self.tx.load(Ordering::Relaxed);
        let fd = if tmp >= 0 {
            if tx != 0 {
                // The parent's own write end was copied too (a parent that had put earlier and
                // closed it meanwhile would have tx = 0); one is enough.
                // SAFETY: the copy of the parent's write end, unused in this child.
                unsafe { libc::close((tx & 0xffff_ffff) as i32 - 1) };
            }
            tmp
        } else if tx != 0 {
            // The parent is a producer: fork copied its write end, now this process's own.
            (tx & 0xffff_ffff) as i32 - 1
        } else {
            return; // no write end could be opened before the fork
        };
        self.tx.store(tag_fd(me, fd), Ordering::Relaxed);
        self.inherited.store(true, Ordering::Relaxed);
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Unregister first, under the registry lock: a fork handler reading the table either
        // finishes before this or never sees this queue.
        registry::unregister(self as *const Inner);
        let tx = self.tx.swap(0, Ordering::AcqRel);
        if tx != 0 && (tx >> 32) as i32 == my_pid() {
            // SAFETY: this process's write end; nothing else owns it.
            unsafe { libc::close((tx & 0xffff_ffff) as i32 - 1) };
        }
    }
}

/// A FIFO of `T` shared by processes (Python's `multiprocessing.Queue`).
///
/// Create it before forking; every process then uses the same handle (or a clone).
/// Messages from one producer arrive in the order it put them; messages of any size up to
/// [`MAX_MESSAGE`] arrive whole, exactly once.
///
/// A process is a *producer* once it calls [`put`](Queue::put); a child forked after the
/// queue was made (by the thread that made it) counts as one from its start, until it calls
/// `get` without having put (then it is a consumer). When every producer has exited or called
/// [`close`](Queue::close) and the queue is empty, a waiting [`get`](Queue::get) returns
/// [`Error::Disconnected`] instead of waiting for ever; a child that never touches the queue
/// keeps it connected until it exits. Before any process has put, `get` waits. (The module
/// documentation explains the mechanism.)
///
/// ```
/// use coord_core::{Process, Queue};
///
/// let q: Queue<(u32, String)> = Queue::new()?;
/// let child = Process::start(|| q.put(&(7, "hello".to_string())))?;
/// assert_eq!(q.get()?, (7, "hello".to_string()));
/// child.join()?;
/// // The only producer has exited and nothing is left: a clear error, not a hang.
/// assert!(matches!(q.get(), Err(coord_core::Error::Disconnected)));
/// # Ok::<(), coord_core::Error>(())
/// ```
pub struct Queue<T> {
    inner: Arc<Inner>,
    _t: PhantomData<fn(T) -> T>,
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue {
            inner: self.inner.clone(),
            _t: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Queue<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue").finish_non_exhaustive()
    }
}

impl<T> Queue<T> {
    /// The same queue (same pipe, same counters), typed as carrying `U`.
    ///
    /// This exists to *show* what a process boundary does to types: the pipe carries bytes,
    /// and the type is only a promise both ends keep. A message put as one type and read as
    /// another is either misread or refused with [`Error::Decode`]; nothing checks the type
    /// on the way (Python's queue pickles, so it carries the type along, at a cost).
    pub fn retype<U>(&self) -> Queue<U> {
        Queue {
            inner: self.inner.clone(),
            _t: PhantomData,
        }
    }
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    /// A new, empty queue.
    pub fn new() -> Result<Self, Error> {
        install_atfork();
        const { assert!(HEADER_OFF + size_of::<Header>() <= RA_OFF) };
        const { assert!(SPILL_OFF % PAGE == 0) };
        let region = Arc::new(SharedRegion::new("coord-queue", REGION_LEN)?);
        let wlock = RawMutex::init(region.clone(), WLOCK_OFF, false)?;
        let rlock = RawMutex::init(region.clone(), RLOCK_OFF, false)?;
        let (rx, tx) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        // A bigger pipe lets a large message go in fewer wake-ups; the default (64 KiB) is
        // still correct, so a refusal is fine.
        let _ = fcntl(&rx, FcntlArg::F_SETPIPE_SZ(1 << 20));
        let pipe_cap = fcntl(&rx, FcntlArg::F_GETPIPE_SZ)? as usize;
        // Nobody is a producer yet: the creator's write end goes. Each producer opens its own.
        drop(tx);
        let rx_nb = nix::fcntl::open(
            format!("/proc/self/fd/{}", rx.as_raw_fd()).as_str(),
            OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )?;
        let inner = Arc::new(Inner {
            region,
            wlock,
            rlock,
            rx,
            rx_nb,
            tx: AtomicU64::new(0),
            inherited: AtomicBool::new(false),
            creator_thread: thread_tag(),
            fork_tx: AtomicI32::new(-1),
            pipe_cap,
        });
        // Registered for the atfork handlers (the table grows: every queue is in it).
        registry::register(Arc::as_ptr(&inner));
        Ok(Queue {
            inner,
            _t: PhantomData,
        })
    }

    fn header(&self) -> &Header {
        self.inner.header()
    }

    /// Puts one message (`q.put(item)`). Blocks only while the pipe is full; returns
    /// [`Error::Corrupted`] if the queue is found, or becomes, corrupted meanwhile.
    pub fn put(&self, item: &T) -> Result<(), Error> {
        self.put_item(item, None)
    }

    /// [`put`](Queue::put) waiting at most `timeout` (`q.put(item, timeout=t)`):
    /// [`Error::Timeout`] if the message could not be put in time, and then nothing of it was
    /// written.
    ///
    /// A message that fits the pipe is started only once the pipe has room for all of it, so
    /// the deadline cannot pass half-way through it. A message larger than the pipe (1 MiB
    /// here) must be written while a consumer reads it: if no consumer takes it before the
    /// deadline, the half-written message makes the queue [`Error::Corrupted`] for everyone,
    /// and this call says so.
    ///
    /// A timeout too large to be a point in time (e.g. `Duration::MAX`) waits as `put` does.
    pub fn put_timeout(&self, item: &T, timeout: Duration) -> Result<(), Error> {
        self.put_item(item, Instant::now().checked_add(timeout))
    }

    /// Puts one message made of raw bytes: the fast path for byte payloads, with
    /// [`get_bytes_into`](Queue::get_bytes_into) on the other side.
    ///
    /// On the wire it is exactly what `put` writes for a `serde_bytes::ByteBuf` (or a `Vec<u8>`)
    /// holding the same bytes, so a typed `get` of such a type reads it too. A large payload goes
    /// from `bytes` to the pipe in one `writev` with the frame header, without a copy in between.
    pub fn put_bytes(&self, bytes: &[u8]) -> Result<(), Error> {
        self.put_item(&RawBytes(bytes), None)
    }

    /// [`put_bytes`](Queue::put_bytes) waiting at most `timeout`, as
    /// [`put_timeout`](Queue::put_timeout) does.
    pub fn put_bytes_timeout(&self, bytes: &[u8], timeout: Duration) -> Result<(), Error> {
        self.put_item(&RawBytes(bytes), Instant::now().checked_add(timeout))
    }

    /// Waits for the next message (`q.get()`). Returns [`Error::Disconnected`] once the queue
    /// is empty and no producer is left.
    pub fn get(&self) -> Result<T, Error> {
        self.recv(None)
    }

    /// Waits at most `timeout` (`q.get(timeout=...)`); [`Error::Timeout`] if nothing came,
    /// or [`Error::Disconnected`] as soon as it is clear that nothing can come.
    ///
    /// A timeout too large to be a point in time (e.g. `Duration::MAX`) waits as `get` does.
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, Error> {
        self.recv(Instant::now().checked_add(timeout))
    }

    /// Takes a message only if one is ready now (`q.get_nowait()`); else [`Error::Empty`]
    /// (or [`Error::Disconnected`] if no producer is left).
    pub fn try_get(&self) -> Result<T, Error> {
        match self.recv(Some(Instant::now())) {
            Err(Error::Timeout) => Err(Error::Empty),
            r => r,
        }
    }

    /// Says that this process will put nothing more (`q.close()`): its write end is closed,
    /// so consumers see the queue disconnect once the other producers are gone too. It
    /// applies to every handle of this queue in this process; a later `put` opens a new
    /// write end and makes this process a producer again.
    pub fn close(&self) {
        // Under the writer lock: no `put` of this process is using the write end meanwhile.
        // Taken like every writer does: if its last owner died half-way through a frame, the
        // queue is marked corrupted here, before anyone can write after the broken frame.
        let _g = self.inner.lock_writer(None).ok().flatten();
        self.inner.inherited.store(false, Ordering::Release);
        let tx = self.inner.tx.load(Ordering::Acquire);
        if tx != 0 && (tx >> 32) as i32 == my_pid() {
            self.inner.tx.store(0, Ordering::Release);
            let fd = (tx & 0xffff_ffff) as i32 - 1;
            // SAFETY: this process opened `fd`; `tx` no longer refers to it, so nobody uses it.
            unsafe { libc::close(fd) };
        }
    }

    /// Messages and bytes that crossed the queue so far, counted by every process.
    pub fn stats(&self) -> QueueStats {
        let h = self.header();
        QueueStats {
            messages_put: h.messages_put.load(Ordering::Relaxed),
            bytes_put: h.bytes_put.load(Ordering::Relaxed),
            messages_got: h.messages_got.load(Ordering::Relaxed),
            bytes_got: h.bytes_got.load(Ordering::Relaxed),
        }
    }

    /// Messages put and not yet taken (Python's approximate `q.qsize()`).
    pub fn len(&self) -> usize {
        let s = self.stats();
        s.messages_put.saturating_sub(s.messages_got) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Waits for the next message, which must be a byte string (put by
    /// [`put_bytes`](Queue::put_bytes), or by `put` of a `serde_bytes::ByteBuf`, a `Vec<u8>`...),
    /// and leaves its bytes in `out` (replacing what was there); returns their number. The fast
    /// path for byte payloads: a large payload is read from the pipe straight into `out`, with
    /// no decoding step and no copy into a new value, and `out`'s allocation is reused from one
    /// message to the next. Errors as [`get`](Queue::get); a message that is not a byte string
    /// is consumed and refused with [`Error::Decode`].
    pub fn get_bytes_into(&self, out: &mut Vec<u8>) -> Result<usize, Error> {
        self.recv_bytes(None, out)
    }

    /// [`get_bytes_into`](Queue::get_bytes_into) waiting at most `timeout`, as
    /// [`get_timeout`](Queue::get_timeout) does.
    pub fn get_bytes_into_timeout(&self, out: &mut Vec<u8>, timeout: Duration) -> Result<usize, Error> {
        self.recv_bytes(Instant::now().checked_add(timeout), out)
    }
}

/// Unlocks a raw mutex when dropped.
struct Unlock<'a>(&'a RawMutex);
impl Drop for Unlock<'_> {
    fn drop(&mut self) {
        self.0.unlock();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Process;

    const DEADLINE: Duration = Duration::from_secs(30);

    fn pattern(tag: u32, n: usize) -> Vec<u8> {
        (0..n)
            .map(|i| (i as u32).wrapping_mul(31).wrapping_add(tag) as u8)
            .collect()
    }

    #[test]
    fn put_bytes_and_get_bytes_into_carry_any_size_whole_and_speak_bytebuf_wire() {
        let q: Queue<Vec<u8>> = Queue::new().unwrap();
        let sizes = [
            0usize,
            1,
            127,
            128,
            4083,
            4095,
            4096,
            4097,
            65_536,
            1 << 20,
            3 << 20,
        ];
        let p = Process::start(|| -> Result<(), Error> {
            for (i, &n) in sizes.iter().enumerate() {
                // Alternately the raw path and a typed put of the same bytes.
                if i % 2 == 0 {
                    q.put_bytes(&pattern(i as u32, n))?;
                } else {
                    q.put(&pattern(i as u32, n))?;
                }
            }
            // Not byte strings (u16 elements of 2 bytes each): small, then large.
            q.retype::<Vec<u16>>().put(&vec![300u16; 10])?;
            q.retype::<Vec<u16>>().put(&vec![300u16; 100_000])?;
            q.put_bytes(b"after")?;
            Ok(())
        })
        .unwrap();
        let mut out = vec![1, 2, 3];
        for (i, &n) in sizes.iter().enumerate() {
            if i % 3 == 2 {
                // Read back typed: the raw path's frames are a Vec<u8>'s encoding.
                assert_eq!(q.get_timeout(DEADLINE).unwrap(), pattern(i as u32, n), "size {n}");
            } else {
                assert_eq!(q.get_bytes_into_timeout(&mut out, DEADLINE).unwrap(), n);
                assert!(out == pattern(i as u32, n), "size {n} differs");
            }
        }
        for _ in 0..2 {
            let r = q.get_bytes_into_timeout(&mut out, DEADLINE);
            assert!(matches!(r, Err(Error::Decode(_))), "{r:?}");
        }
        // The refused messages were consumed whole: the stream goes on.
        assert_eq!(q.get_bytes_into_timeout(&mut out, DEADLINE).unwrap(), 5);
        assert_eq!(out, b"after");
        assert!(matches!(p.join_timeout(DEADLINE), Ok(Some(s)) if s.success()));
        assert!(matches!(
            q.get_bytes_into_timeout(&mut out, DEADLINE),
            Err(Error::Disconnected)
        ));
        let s = q.stats();
        assert_eq!((s.messages_put, s.messages_got), (14, 14));
        assert_eq!(s.bytes_put, s.bytes_got);
    }

    #[test]
    fn large_byte_strings_decode_by_ownership_and_everything_else_as_postcard_would() {
        #[derive(serde::Serialize, serde::Deserialize, PartialEq, Debug)]
        struct Wrapped(serde_bytes::ByteBuf);
        let q: Queue<serde_bytes::ByteBuf> = Queue::new().unwrap();
        let big = pattern(1, 100_000);
        let text: String = (0..100_000).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
        // A tuple whose body also reads as one byte string: its first varint (70,003) is the
        // length of what follows. It must still decode as the tuple it is.
        let tricky = (70_003u32, serde_bytes::ByteBuf::from(pattern(2, 70_000)));
        let p = Process::start(|| -> Result<(), Error> {
            q.put(&serde_bytes::ByteBuf::from(big.clone()))?;
            q.retype::<String>().put(&text)?;
            q.retype::<Wrapped>()
                .put(&Wrapped(serde_bytes::ByteBuf::from(big.clone())))?;
            q.retype::<(u32, serde_bytes::ByteBuf)>().put(&tricky)?;
            let mut bad = vec![0xffu8; 50_000];
            bad[0] = 0xc3; // not UTF-8
            q.put_bytes(&bad)?;
            q.put_bytes(b"after")?;
            Ok(())
        })
        .unwrap();
        assert_eq!(q.get_timeout(DEADLINE).unwrap().into_vec(), big);
        assert_eq!(q.retype::<String>().get_timeout(DEADLINE).unwrap(), text);
        assert_eq!(
            q.retype::<Wrapped>().get_timeout(DEADLINE).unwrap().0.into_vec(),
            big
        );
        assert_eq!(
            q.retype::<(u32, serde_bytes::ByteBuf)>()
                .get_timeout(DEADLINE)
                .unwrap(),
            tricky
        );
        let r = q.retype::<String>().get_timeout(DEADLINE);
        assert!(matches!(r, Err(Error::Decode(_))), "{r:?}");
        assert_eq!(q.get_timeout(DEADLINE).unwrap().into_vec(), b"after");
        assert!(matches!(p.join_timeout(DEADLINE), Ok(Some(s)) if s.success()));
    }

    #[test]
    fn concurrent_put_bytes_of_large_frames_arrive_exactly_once_intact_in_order() {
        const PRODUCERS: u32 = 3;
        const EACH: u32 = 40;
        let size = |p: u32, seq: u32| [10usize, 5000, 70_000, 300_000][((p + seq) % 4) as usize];
        let q: Queue<Vec<u8>> = Queue::new().unwrap();
        let qr = &q;
        let procs: Vec<Process> = (0..PRODUCERS)
            .map(|p| {
                Process::start(move || -> Result<(), Error> {
                    for seq in 0..EACH {
                        let mut m = pattern(p * 1000 + seq, size(p, seq));
                        m[..8].copy_from_slice(&[p.to_le_bytes(), seq.to_le_bytes()].concat());
                        qr.put_bytes(&m)?;
                    }
                    Ok(())
                })
                .unwrap()
            })
            .collect();
        let mut next = [0u32; PRODUCERS as usize];
        let mut out = Vec::new();
        for _ in 0..PRODUCERS * EACH {
            q.get_bytes_into_timeout(&mut out, DEADLINE).unwrap();
            let p = u32::from_le_bytes(out[..4].try_into().unwrap());
            let seq = u32::from_le_bytes(out[4..8].try_into().unwrap());
            assert_eq!(
                seq, next[p as usize],
                "producer {p}: out of order, lost or duplicated"
            );
            next[p as usize] += 1;
            let mut want = pattern(p * 1000 + seq, size(p, seq));
            want[..8].copy_from_slice(&out[..8]);
            assert!(out == want, "message {p}/{seq} torn");
        }
        for p in &procs {
            assert!(matches!(p.join_timeout(DEADLINE), Ok(Some(s)) if s.success()));
        }
        assert!(matches!(
            q.get_bytes_into_timeout(&mut out, DEADLINE),
            Err(Error::Disconnected)
        ));
    }
}
