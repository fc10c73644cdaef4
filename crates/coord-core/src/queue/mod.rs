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

mod framing;
mod registry;
mod wait;

use std::cell::Cell;
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::PollFlags;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::lock::{Acquired, RawMutex};
use crate::shm::SharedRegion;
use framing::{
    DIRECT_WRITE, FRAME_HEADER, FrameWriter, MAGIC, MAX_PREFIX, PipeOut, RawBytes, byte_string_len,
};
use registry::thread_tag;
pub(crate) use registry::{install_atfork, my_pid};
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

    fn put_item<U: Serialize>(&self, item: &U, deadline: Option<Instant>) -> Result<(), Error> {
        // Size first: one exact allocation instead of a growing buffer that is copied at
        // every doubling, and an oversized message is refused before it is built.
        let size = postcard::experimental::serialized_size(item).map_err(Error::Encode)?;
        if size > MAX_MESSAGE {
            return Err(Error::TooLarge {
                len: size,
                max: MAX_MESSAGE,
            });
        }
        // The frame is built in a buffer this thread reuses: a fresh allocation per message
        // costs page faults for large ones (the allocator gives the pages back in between).
        WRITE_BUF.with(|cell| match cell.try_borrow_mut() {
            Ok(mut buf) => {
                let r = self.put_frame(item, size, &mut buf, deadline);
                if buf.capacity() > KEEP_BUF {
                    *buf = Vec::new();
                }
                r
            }
            Err(_) => self.put_frame(item, size, &mut Vec::new(), deadline),
        })
    }

    fn put_frame<U: Serialize>(
        &self,
        item: &U,
        size: usize,
        buf: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<(), Error> {
        buf.clear();
        buf.extend_from_slice(&MAGIC.to_le_bytes());
        buf.extend_from_slice(&(size as u32).to_le_bytes());
        let small = size < DIRECT_WRITE;
        if small {
            // Serialized before taking the lock: other producers do not wait for it.
            buf.resize(FRAME_HEADER + size, 0);
            let len = postcard::to_slice(item, &mut buf[FRAME_HEADER..])
                .map_err(Error::Encode)?
                .len();
            if len != size {
                return Err(Error::Corrupted(format!(
                    "the message serialized to {len} bytes, not the {size} announced"
                )));
            }
        }
        let h = self.header();
        let Some(_unlock) = self.inner.lock_writer(deadline)? else {
            return Err(Error::Timeout);
        };
        if h.corrupted.load(Ordering::Acquire) {
            return Err(Error::Corrupted(
                "a process died in the middle of writing a message".into(),
            ));
        }
        // Under the writer lock, so that `close` cannot close it under our feet.
        let tx = self.write_end()?;
        // A frame of at most PIPE_BUF bytes goes out in one write(2), which the kernel makes
        // atomic: a writer killed around it leaves all of the frame or none of it, never a
        // part. Only a larger frame can be left half-written, so only that one is marked.
        let frame = FRAME_HEADER + size;
        let atomic = small && frame <= libc::PIPE_BUF;
        if !atomic && deadline.is_some() {
            // Start only when the whole frame fits, so the deadline cannot cut it in two.
            self.wait_for_room(frame, deadline)?;
        }
        if !atomic {
            h.write_in_flight.store(1, Ordering::Release);
        }
        let out = PipeOut {
            fd: tx,
            corrupted: &h.corrupted,
            deadline,
            written: Cell::new(0),
        };
        let r = if small {
            out.write_all(buf)
        } else {
            // A large message is serialized straight into the pipe: its big byte strings go
            // to the kernel from where they are (one copy, as with a raw pipe), not first
            // into a frame buffer.
            let mut w = FrameWriter {
                out: &out,
                pending: buf,
                payload: 0,
                err: None,
            };
            let r = postcard::serialize_with_flavor::<U, _, _>(item, &mut w);
            let written = w.payload;
            match (w.err, r) {
                (Some(e), _) => Err(e),
                (None, Err(e)) => Err(Error::Encode(e)),
                // Part of a frame of the wrong length would be in the pipe.
                (None, Ok(())) if written != size => Err(Error::Corrupted(format!(
                    "the message serialized to {written} bytes, not the {size} announced"
                ))),
                (None, Ok(())) => Ok(()),
            }
        };
        if let Err(e) = r {
            if out.written.get() == 0 {
                // Nothing of this frame is in the pipe: the stream is as it was.
                h.write_in_flight.store(0, Ordering::Release);
                return Err(e);
            }
            // Part of a frame is in the pipe and the rest will never follow.
            h.corrupted.store(true, Ordering::Release);
            return Err(match e {
                Error::Timeout => Error::Corrupted(
                    "put_timeout: the deadline passed in the middle of a message larger than the \
                     pipe (no consumer took it in time); the half-written message breaks the queue"
                        .into(),
                ),
                e => e,
            });
        }
        h.write_in_flight.store(0, Ordering::Release);
        h.messages_put.fetch_add(1, Ordering::Relaxed);
        h.bytes_put.fetch_add(size as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Before a timed put of a frame that needs several writes: waits until the pipe has room
    /// for all of it, so that, once started, it goes out without waiting. The room is judged
    /// with a margin (a pipe stores data in pages, and pages may be partly used), so a frame
    /// larger than half the pipe waits for an empty pipe.
    fn wait_for_room(&self, frame: usize, deadline: Option<Instant>) -> Result<(), Error> {
        let cap = self.inner.pipe_cap;
        loop {
            let used = wait::pipe_bytes(self.inner.rx.as_fd())?;
            if used == 0 || 2 * (used + frame) + 2 * PAGE <= cap {
                return Ok(());
            }
            if self.header().corrupted.load(Ordering::Acquire) {
                return Err(Error::Corrupted(
                    "the queue was marked corrupted while this put waited for room in the pipe".into(),
                ));
            }
            let Some(slice) = wait::next_slice(deadline) else {
                return Err(Error::Timeout);
            };
            // The pipe cannot tell us when N bytes are free: look again soon.
            std::thread::sleep(slice.min(Duration::from_millis(1)));
        }
    }

    /// This process's write end, opened on first use (the caller holds the writer lock).
    fn write_end(&self) -> Result<i32, Error> {
        let me = my_pid();
        let tx = self.inner.tx.load(Ordering::Acquire);
        if tx != 0 && (tx >> 32) as i32 == me {
            if self.inner.inherited.swap(false, Ordering::AcqRel) {
                self.count_producer(); // a potential producer's first put
            }
            return Ok((tx & 0xffff_ffff) as i32 - 1);
        }
        // A second write end of the same pipe, opened from the read end every process holds.
        let fd = open_write_end(self.inner.rx.as_raw_fd()).ok_or_else(io::Error::last_os_error)?;
        self.inner.tx.store(tag_fd(me, fd), Ordering::Release);
        self.inner.inherited.store(false, Ordering::Release);
        self.count_producer();
        Ok(fd)
    }

    /// Counts a process that has put (after its write end exists: a consumer that sees the
    /// count and then end-of-file knows this producer has really gone).
    fn count_producer(&self) {
        if self.header().producers_seen.fetch_add(1, Ordering::AcqRel) == 0 {
            wait::futex_wake_all(&self.header().producers_seen);
        }
    }

    /// A consumer's first `get` in a child that inherited a write end and never put: let the
    /// write end go, or this process would keep the queue connected for itself. Needs the
    /// writer lock (no `put` of this process may be using the descriptor); while a writer
    /// holds it, data is usually on its way: `false` means "readable now, try again later",
    /// or "the deadline has passed" (a writer may be stopped while it holds the lock).
    fn drop_inherited_end(&self, deadline: Option<Instant>) -> Result<bool, Error> {
        loop {
            if let Some(_unlock) = self.inner.try_lock_writer()? {
                if self.inner.inherited.swap(false, Ordering::AcqRel) {
                    let tx = self.inner.tx.swap(0, Ordering::AcqRel);
                    if tx != 0 && (tx >> 32) as i32 == my_pid() {
                        // SAFETY: this process's write end, no longer referenced by `tx`, and
                        // no put of ours is using it (we hold the writer lock).
                        unsafe { libc::close((tx & 0xffff_ffff) as i32 - 1) };
                    }
                }
                return Ok(true);
            }
            if self.readable(Duration::from_millis(1))? || wait::next_slice(deadline).is_none() {
                return Ok(false);
            }
        }
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

    fn recv_bytes(&self, deadline: Option<Instant>, out: &mut Vec<u8>) -> Result<usize, Error> {
        self.recv_frame(
            deadline,
            out,
            |out, body| {
                let (n, prefix) = byte_string_len(body, body.len()).map_err(Error::Decode)?;
                out.clear();
                out.extend_from_slice(&body[prefix..prefix + n]);
                Ok(n)
            },
            // SAFETY (of the call): `recv_frame` passes a large frame's first bytes (in the
            // read-ahead buffer or the spill area), with the reader lock held.
            |out, src, have, len| unsafe { self.read_bytes_body(src, have, len, out, deadline) },
        )
    }

    fn recv(&self, deadline: Option<Instant>) -> Result<T, Error> {
        self.recv_frame(
            deadline,
            &mut (),
            |_, body| postcard::from_bytes(body).map_err(Error::Decode),
            // A frame larger than what was read ahead: take what is here, read the rest
            // straight into a buffer this thread reuses (no allocation, no page faults per
            // message).
            |_, src, have, len| {
                READ_BUF.with(|cell| match cell.try_borrow_mut() {
                    Ok(mut buf) => {
                        let r = self.read_body(src, have, len, &mut buf, deadline);
                        if buf.capacity() > KEEP_BUF {
                            *buf = Vec::new();
                        }
                        r
                    }
                    Err(_) => self.read_body(src, have, len, &mut Vec::new(), deadline),
                })
            },
        )
    }

    /// Takes the reader lock, waits for a frame and checks its header. A frame that is all in
    /// the read-ahead buffer is handed to `whole` (its body, in place); a larger one to `large`
    /// (where its first body bytes are, in the read-ahead buffer or the spill area, how many
    /// they are, and the body's length), which must read the rest of it from the pipe. Either
    /// gets `out`, where the caller wants the message.
    fn recv_frame<O: ?Sized, R>(
        &self,
        deadline: Option<Instant>,
        out: &mut O,
        whole: impl FnOnce(&mut O, &[u8]) -> Result<R, Error>,
        large: impl FnOnce(&mut O, *const u8, usize, usize) -> Result<R, Error>,
    ) -> Result<R, Error> {
        let h = self.header();
        let acquired = loop {
            if !self.inner.inherited.load(Ordering::Relaxed) {
                match self.inner.rlock.lock_until(deadline)? {
                    Some(a) => break a,
                    None => return Err(Error::Timeout),
                }
            }
            // A child that inherited a write end and gets before putting is a consumer: it
            // lets the write end go, or it would keep the queue connected for itself (and for
            // the consumer ahead of it, waiting in the pipe for an end-of-file).
            self.drop_inherited_end(deadline)?;
            if !self.inner.inherited.load(Ordering::Relaxed) {
                continue;
            }
            // Not yet (a writer is busy): never wait long for the reader lock meanwhile.
            let slice = Instant::now() + Duration::from_millis(10);
            let until = deadline.map_or(slice, |d| d.min(slice));
            if let Some(a) = self.inner.rlock.lock_until(Some(until))? {
                break a;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::Timeout);
            }
        };
        let _unlock = Unlock(&self.inner.rlock);
        if let Acquired::OwnerDied = acquired
            && h.read_in_flight.load(Ordering::Acquire) != 0
        {
            h.corrupted.store(true, Ordering::Release);
        }
        if h.corrupted.load(Ordering::Acquire) {
            return Err(Error::Corrupted(
                "a process died in the middle of a message".into(),
            ));
        }
        // 0. A frame that a consumer before us began and parked when its deadline passed:
        // carry on with it, from the spill area.
        let parked = h.spill_frame.load(Ordering::Relaxed) as usize;
        if parked != 0 {
            let have = h.spill_len.load(Ordering::Relaxed) as usize;
            // SAFETY: SPILL_OFF + MAX_MESSAGE is inside the region, mapped while `inner` lives.
            let spill = unsafe { self.inner.region.ptr().add(SPILL_OFF) };
            return large(out, spill, have, parked);
        }
        // SAFETY: RA_OFF + RA_CAP is inside the region, mapped while `inner` lives; only the
        // holder of the reader lock (us, now) touches these bytes.
        let ra = unsafe { self.inner.region.ptr().add(RA_OFF) };
        let fd = self.inner.rx.as_raw_fd();
        // 1. A whole frame header in the read-ahead buffer.
        loop {
            let (start, end) = (
                h.ra_start.load(Ordering::Relaxed),
                h.ra_end.load(Ordering::Relaxed),
            );
            let avail = (end - start) as usize;
            if avail >= FRAME_HEADER {
                break;
            }
            if avail > 0 {
                // Part of a header: a frame has begun. Move it to the front, then take more.
                h.read_in_flight.store(1, Ordering::Release);
                // SAFETY: both ranges are inside the buffer; `copy` allows overlap.
                unsafe { std::ptr::copy(ra.add(start as usize), ra, avail) };
                h.ra_start.store(0, Ordering::Relaxed);
                h.ra_end.store(avail as u32, Ordering::Relaxed);
                let mut n = 0;
                // SAFETY: `ra + avail .. ra + RA_CAP` is inside the buffer.
                match unsafe { self.read_some(ra.add(avail), RA_CAP - avail, deadline, &mut n) } {
                    Ok(()) => {}
                    Err(Error::Timeout) => {
                        // What we have of the header stays in the shared buffer: nothing is
                        // lost, the next consumer carries on.
                        h.read_in_flight.store(0, Ordering::Release);
                        return Err(Error::Timeout);
                    }
                    Err(e) => return Err(e),
                }
                h.ra_end.store((avail + n) as u32, Ordering::Relaxed);
                continue;
            }
            // A child that inherited a write end and gets before putting is a consumer: it must
            // not hold a write end while it waits, or it would wait for itself.
            // (`false`: not yet, a writer is busy, but there is data to read; next time.)
            if self.inner.inherited.load(Ordering::Relaxed) {
                self.drop_inherited_end(deadline)?;
            }
            // Between frames, nothing buffered: wait for the pipe. Without a deadline this is
            // one blocking `read`, exactly what a raw pipe reader does; with one, `poll` first.
            if let Some(d) = deadline
                && !self.readable(d.saturating_duration_since(Instant::now()))?
            {
                if Instant::now() >= d {
                    return Err(Error::Timeout);
                }
                continue; // interrupted by a signal: wait for the rest of the time
            }
            // SAFETY: the whole buffer is ours (reader lock) and holds no valid bytes.
            let n = unsafe { libc::read(fd, ra.cast(), RA_CAP) };
            if n > 0 {
                h.ra_start.store(0, Ordering::Relaxed);
                h.ra_end.store(n as u32, Ordering::Relaxed);
                continue;
            }
            if n < 0 {
                match Errno::last() {
                    Errno::EINTR => continue,
                    e => return Err(e.into()),
                }
            }
            // End-of-file: no process holds a write end now, and the pipe is empty.
            if h.producers_seen.load(Ordering::Acquire) > 0 {
                return Err(Error::Disconnected);
            }
            // Nobody has produced yet: wait for the first producer to show up.
            if !wait::wait_first_producer(&h.producers_seen, deadline) {
                return Err(Error::Timeout);
            }
        }
        let start = h.ra_start.load(Ordering::Relaxed) as usize;
        let end = h.ra_end.load(Ordering::Relaxed) as usize;
        let mut head = [0u8; FRAME_HEADER];
        // SAFETY: `start + FRAME_HEADER <= end <= RA_CAP`: inside the buffer.
        unsafe { std::ptr::copy_nonoverlapping(ra.add(start), head.as_mut_ptr(), FRAME_HEADER) };
        let magic = u32::from_le_bytes(head[..4].try_into().expect("4 bytes"));
        let len = u32::from_le_bytes(head[4..].try_into().expect("4 bytes")) as usize;
        if magic != MAGIC || len > MAX_MESSAGE {
            h.corrupted.store(true, Ordering::Release);
            return Err(Error::Corrupted(format!("bad frame header {magic:#x}/{len}")));
        }
        let have = end - start - FRAME_HEADER;
        if have >= len {
            // 2a. The whole frame is here: decode it in place, no copy, no system call.
            // SAFETY: `start + FRAME_HEADER + len <= end`: initialized bytes inside the buffer,
            // which nobody else touches while we hold the reader lock.
            let body = unsafe { std::slice::from_raw_parts(ra.add(start + FRAME_HEADER), len) };
            let r = whole(out, body);
            h.ra_start
                .store((start + FRAME_HEADER + len) as u32, Ordering::Relaxed);
            h.read_in_flight.store(0, Ordering::Release);
            h.messages_got.fetch_add(1, Ordering::Relaxed);
            h.bytes_got.fetch_add(len as u64, Ordering::Relaxed);
            return r;
        }
        // 2b. A frame larger than what was read ahead.
        // SAFETY: `start + FRAME_HEADER <= end <= RA_CAP`: inside the buffer.
        large(out, unsafe { ra.add(start + FRAME_HEADER) }, have, len)
    }

    /// The first `have` body bytes of a large frame (at `src`, in the read-ahead buffer or
    /// the spill area) are being taken by this consumer: from now on, bytes of the frame are
    /// in this process only. The shared buffers are emptied.
    fn take_begun_frame(&self) {
        let h = self.header();
        h.read_in_flight.store(1, Ordering::Release);
        h.ra_start.store(0, Ordering::Relaxed);
        h.ra_end.store(0, Ordering::Relaxed);
        h.spill_frame.store(0, Ordering::Relaxed);
    }

    /// Our deadline passed in the middle of a frame of `len` bytes whose first bytes are the
    /// concatenation of `parts`: they go to the spill area, where the next consumer (of any
    /// process) finds them and carries on. Nothing is lost, nothing is torn. Returns the
    /// error to give our caller.
    ///
    /// # Safety
    /// The caller holds the reader lock; each part is `(pointer, length)` of readable bytes,
    /// and no reference to the spill area is used after this call.
    unsafe fn park(&self, parts: &[(*const u8, usize)], len: usize) -> Error {
        let h = self.header();
        // SAFETY: the spill area is inside the region (MAX_MESSAGE bytes, mapped while `inner`
        // lives) and only the holder of the reader lock touches it.
        let spill = unsafe { self.inner.region.ptr().add(SPILL_OFF) };
        let mut at = 0;
        for &(p, n) in parts {
            // SAFETY: `at + n` is at most the bytes of one frame body (`len <= MAX_MESSAGE`);
            // a part may itself lie in the spill area (a frame parked twice), so `copy`,
            // which allows overlap.
            unsafe { std::ptr::copy(p, spill.add(at), n) };
            at += n;
        }
        debug_assert!(at < len);
        h.spill_len.store(at as u32, Ordering::Relaxed);
        h.spill_frame.store(len as u32, Ordering::Relaxed);
        // Every byte of the frame taken so far is in shared memory again.
        h.read_in_flight.store(0, Ordering::Release);
        Error::Timeout
    }

    /// A frame that was resumed from the spill area is done: give its pages back.
    fn release_spill(&self, src: *const u8, have: usize) {
        // SAFETY: only an address computation; the pointer is not dereferenced.
        let spill = unsafe { self.inner.region.ptr().add(SPILL_OFF) };
        if std::ptr::eq(src, spill) && have > 0 {
            let len = have.div_ceil(PAGE) * PAGE;
            // SAFETY: `spill .. spill + len` is inside the region (len <= MAX_MESSAGE rounded
            // to a page, and the region is page-sized beyond it) and nobody uses those bytes:
            // we hold the reader lock and the spill area is empty. MADV_REMOVE frees a shared
            // mapping's pages; reading them again gives zeros.
            let _ = unsafe {
                nix::sys::mman::madvise(
                    std::ptr::NonNull::new_unchecked(spill.cast()),
                    len.min(MAX_MESSAGE),
                    nix::sys::mman::MmapAdvise::MADV_REMOVE,
                )
            };
        }
    }

    /// `large` for [`get_bytes_into`](Queue::get_bytes_into): the byte string's length prefix
    /// is taken first (from the bytes in hand, or the pipe if they are not all there), then
    /// the payload goes to `out`: what is in hand by one copy, the rest by the kernel, straight
    /// from the pipe.
    ///
    /// # Safety
    /// The caller holds the reader lock; `src[..have]` are the first `have < len` bytes of a
    /// frame body of `len` bytes, in the read-ahead buffer or the spill area.
    unsafe fn read_bytes_body(
        &self,
        src: *const u8,
        have: usize,
        len: usize,
        out: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<usize, Error> {
        let h = self.header();
        self.take_begun_frame();
        // SAFETY: the caller's contract: initialized bytes that only we touch.
        let ahead = unsafe { std::slice::from_raw_parts(src, have) };
        // The length prefix (at most MAX_PREFIX bytes).
        let mut pre = [0u8; MAX_PREFIX];
        let want = len.min(MAX_PREFIX);
        let got = if have >= want {
            pre[..want].copy_from_slice(&ahead[..want]);
            have
        } else {
            pre[..have].copy_from_slice(ahead);
            let mut done = 0;
            // SAFETY: `pre[have..want]` is writable.
            match unsafe { self.read_rest(pre.as_mut_ptr().add(have), want - have, deadline, &mut done) } {
                Ok(()) => want,
                // SAFETY: `pre[..have + done]` is initialized; we hold the reader lock.
                Err(Error::Timeout) => return Err(unsafe { self.park(&[(pre.as_ptr(), have + done)], len) }),
                Err(e) => return Err(e),
            }
        };
        // The body's first `got` bytes are in hand: in `ahead` if all of them were there,
        // else in `pre`.
        let first: *const u8 = if have >= want { src } else { pre.as_ptr() };
        out.clear();
        let parsed = byte_string_len(&pre[..want], len);
        out.reserve(len);
        // How many of the first bytes are not in `out` (the prefix; all of them for a body
        // that is not a byte string: its rest is still consumed, into `out`, and refused).
        let kept_back = match parsed {
            Ok((_, prefix)) => {
                // SAFETY: `first[..got]` is initialized (see above), `prefix <= got`.
                out.extend_from_slice(unsafe { std::slice::from_raw_parts(first.add(prefix), got - prefix) });
                prefix
            }
            Err(_) => got,
        };
        let rest = len - got;
        let at = out.len();
        let mut done = 0;
        // SAFETY: `out` has room for `len >= at + rest` bytes (reserved above).
        match unsafe { self.read_rest(out.as_mut_ptr().add(at), rest, deadline, &mut done) } {
            Ok(()) => {}
            Err(Error::Timeout) => {
                // SAFETY: `read_rest` initialized `done` more bytes.
                unsafe { out.set_len(at + done) };
                // SAFETY: both parts are initialized, readable bytes; `first` may be in the
                // spill area, which `park` allows; nothing refers to it afterwards.
                let e = unsafe { self.park(&[(first, kept_back), (out.as_ptr(), out.len())], len) };
                out.clear();
                return Err(e);
            }
            Err(e) => {
                out.clear();
                return Err(e);
            }
        }
        // SAFETY: `read_rest` initialized `out[at..at + rest]`.
        unsafe { out.set_len(at + rest) };
        h.read_in_flight.store(0, Ordering::Release);
        self.release_spill(src, have);
        h.messages_got.fetch_add(1, Ordering::Relaxed);
        h.bytes_got.fetch_add(len as u64, Ordering::Relaxed);
        match parsed {
            Ok((n, _)) => Ok(n),
            Err(e) => {
                out.clear();
                Err(Error::Decode(e))
            }
        }
    }

    /// Moves the `have` body bytes at `src` into `buf`, reads the other `len - have` from the
    /// pipe, and decodes.
    fn read_body(
        &self,
        src: *const u8,
        have: usize,
        len: usize,
        buf: &mut Vec<u8>,
        deadline: Option<Instant>,
    ) -> Result<T, Error> {
        let h = self.header();
        if buf.len() < len {
            buf.resize(len, 0);
        }
        // SAFETY: `src[..have]` are initialized bytes of the read-ahead buffer or the spill
        // area (recv_frame's contract), `buf` holds at least `len > have` bytes, and the two
        // do not overlap.
        unsafe { std::ptr::copy_nonoverlapping(src, buf.as_mut_ptr(), have) };
        self.take_begun_frame();
        let mut done = 0;
        // SAFETY: `buf[have..len]` is initialized, writable memory.
        match unsafe { self.read_rest(buf.as_mut_ptr().add(have), len - have, deadline, &mut done) } {
            Ok(()) => {}
            // SAFETY: `buf[..have + done]` is initialized; we hold the reader lock.
            Err(Error::Timeout) => return Err(unsafe { self.park(&[(buf.as_ptr(), have + done)], len) }),
            Err(e) => return Err(e),
        }
        h.read_in_flight.store(0, Ordering::Release);
        self.release_spill(src, have);
        h.messages_got.fetch_add(1, Ordering::Relaxed);
        h.bytes_got.fetch_add(len as u64, Ordering::Relaxed);
        postcard::from_bytes(&buf[..len]).map_err(Error::Decode)
    }

    fn readable(&self, timeout: Duration) -> Result<bool, Error> {
        wait::ready(self.inner.rx.as_fd(), PollFlags::POLLIN, timeout)
    }

    /// Reads exactly `len` more bytes of a frame already begun, counting them in `done`;
    /// [`Error::Timeout`] if the deadline passes first (`done` says how far it got).
    ///
    /// # Safety
    /// `ptr` must be valid for writes of `len` bytes.
    unsafe fn read_rest(
        &self,
        ptr: *mut u8,
        len: usize,
        deadline: Option<Instant>,
        done: &mut usize,
    ) -> Result<(), Error> {
        while *done < len {
            let mut n = 0;
            // SAFETY: `ptr + done .. ptr + len` is inside the caller's buffer (contract above).
            let r = unsafe { self.read_some(ptr.add(*done), len - *done, deadline, &mut n) };
            *done += n;
            r?;
        }
        Ok(())
    }

    /// Reads between 1 and `cap` bytes of a frame already begun into `ptr`, and says how many
    /// in `n` (the caller holds the reader lock, so it is the only reader). What is in the pipe
    /// is taken at once (non-blocking read end); only when nothing is there does it wait, in
    /// `poll`, never in `read`, and in slices: the deadline is kept (the writer may be stopped,
    /// not dead), and after each empty slice it checks on the writer, since a writer that died
    /// half-way while other producers stay alive sends neither the rest nor an end-of-file.
    ///
    /// # Safety
    /// `ptr` must be valid for writes of `cap` bytes.
    unsafe fn read_some(
        &self,
        ptr: *mut u8,
        cap: usize,
        deadline: Option<Instant>,
        n: &mut usize,
    ) -> Result<(), Error> {
        loop {
            // SAFETY: the caller's contract.
            let got = unsafe { libc::read(self.inner.rx_nb.as_raw_fd(), ptr.cast(), cap) };
            if got > 0 {
                *n = got as usize;
                return Ok(());
            }
            if got == 0 {
                self.header().corrupted.store(true, Ordering::Release);
                return Err(Error::Corrupted(
                    "every writer is gone, in the middle of a message".into(),
                ));
            }
            match Errno::last() {
                Errno::EAGAIN => {
                    let Some(slice) = wait::next_slice(deadline) else {
                        return Err(Error::Timeout);
                    };
                    if !self.readable(slice)? {
                        self.check_writer_alive()?;
                    }
                }
                Errno::EINTR => {}
                e => return Err(e.into()),
            }
        }
    }

    /// In the middle of a frame, no byte came for a while. If we can take the writer lock,
    /// nobody is writing: the writer of our frame died (the lock says so), or it was let go
    /// by a process that repaired the lock (and marked the queue corrupted). Either way, if
    /// the pipe is still empty while we hold the lock, the rest of the frame can never come.
    fn check_writer_alive(&self) -> Result<(), Error> {
        let h = self.header();
        if let Some(_unlock) = self.inner.try_lock_writer()? {
            // Under the writer lock no byte can enter the pipe: look once more.
            if h.corrupted.load(Ordering::Acquire) || !self.readable(Duration::ZERO)? {
                h.corrupted.store(true, Ordering::Release);
                return Err(Error::Corrupted(
                    "the writer died in the middle of a message".into(),
                ));
            }
        }
        Ok(())
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
