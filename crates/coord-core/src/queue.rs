//! A typed many-producer, many-consumer queue between processes (Python's
//! `multiprocessing.Queue`).
//!
//! The wire is one pipe. A message is one frame, `[magic u32][len u32][postcard bytes]`.
//! A pipe write is atomic only up to `PIPE_BUF` (4 KiB), so, as CPython does, a frame is
//! written while holding a process-shared *writer* lock and read while holding a *reader*
//! lock: frames from different producers never interleave and no two consumers split one.
//! There is no feeder thread: `put` writes into the pipe itself, so a round trip costs one
//! wake-up each way, as a bare pipe does.

use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::Error;
use crate::lock::{Acquired, RawMutex};
use crate::shm::SharedRegion;

const MAGIC: u32 = 0xC0_0D_27_27;
const FRAME_HEADER: usize = 8;
/// The largest message a queue accepts (64 MiB).
pub const MAX_MESSAGE: usize = 64 << 20;
/// How many distinct processes may put on one queue over its lifetime.
pub const MAX_PRODUCERS: usize = 1024;
/// While waiting, how often a consumer checks whether any producer is still alive.
const LIVENESS_SLICE: Duration = Duration::from_millis(50);

const SLOT_ACTIVE: u8 = 1;
const SLOT_CLOSED: u8 = 2;

#[repr(C)]
struct ProducerSlot {
    pid: AtomicI32,
    state: AtomicU8,
}

/// Shared bookkeeping, after the two locks in the region.
#[repr(C)]
struct Header {
    corrupted: AtomicBool,
    /// Bytes of a frame being written / read right now (0 between frames): if a process dies
    /// holding a lock while this is non-zero, a partial frame sits in the pipe.
    write_in_flight: AtomicU32,
    read_in_flight: AtomicU32,
    messages_put: AtomicU64,
    bytes_put: AtomicU64,
    messages_got: AtomicU64,
    bytes_got: AtomicU64,
    producers_seen: AtomicU32,
    producers: [ProducerSlot; MAX_PRODUCERS],
}

const WLOCK_OFF: usize = 0;
const RLOCK_OFF: usize = 128; // separate cache lines: a writer and a reader never share one
const HEADER_OFF: usize = 256;

/// Totals over every process that used the queue: what crossing the boundary cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QueueStats {
    pub messages_put: u64,
    /// Serialized payload bytes written (frame headers not included).
    pub bytes_put: u64,
    pub messages_got: u64,
    pub bytes_got: u64,
}

struct Inner {
    region: Arc<SharedRegion>,
    wlock: RawMutex,
    rlock: RawMutex,
    rx: OwnedFd,
    tx: OwnedFd,
}

/// A FIFO of `T` shared by processes (Python's `multiprocessing.Queue`).
///
/// Create it before forking; every process then uses the same handle (or a clone).
/// Messages from one producer arrive in the order it put them; messages of any size up to
/// [`MAX_MESSAGE`] arrive whole, exactly once.
///
/// A process becomes a *producer* the first time it calls [`put`](Queue::put). When every
/// producer has exited or called [`close`](Queue::close) and the queue is empty, a waiting
/// [`get`](Queue::get) returns [`Error::Disconnected`] instead of waiting for ever.
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
    /// `pid << 32 | (slot + 1)` of this handle's producer registration (0: none yet). A
    /// forked child starts with the parent's pid here, which is how it knows it has not
    /// registered yet.
    registered: AtomicU64,
    _t: PhantomData<fn(T) -> T>,
}

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue {
            inner: self.inner.clone(),
            registered: AtomicU64::new(self.registered.load(Ordering::Relaxed)),
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
            registered: AtomicU64::new(self.registered.load(Ordering::Relaxed)),
            _t: PhantomData,
        }
    }
}

impl<T: Serialize + DeserializeOwned> Queue<T> {
    /// A new, empty queue.
    pub fn new() -> Result<Self, Error> {
        let region = Arc::new(SharedRegion::new(
            "coord-queue",
            HEADER_OFF + size_of::<Header>(),
        )?);
        let wlock = RawMutex::init(region.clone(), WLOCK_OFF, false)?;
        let rlock = RawMutex::init(region.clone(), RLOCK_OFF, false)?;
        let (rx, tx) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
        // The read end never blocks in `read`: a reader waits in `poll`, with a timeout, so
        // it can notice that every producer is gone (or that a writer died mid-frame)
        // instead of sleeping for ever. The write end stays blocking (a full pipe waits).
        fcntl(&rx, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))?;
        // A bigger pipe lets a large message go in fewer wake-ups; the default (64 KiB) is
        // still correct, so a refusal is fine.
        let _ = fcntl(&tx, FcntlArg::F_SETPIPE_SZ(1 << 20));
        Ok(Queue {
            inner: Arc::new(Inner {
                region,
                wlock,
                rlock,
                rx,
                tx,
            }),
            registered: AtomicU64::new(0),
            _t: PhantomData,
        })
    }

    fn header(&self) -> &Header {
        // SAFETY: the region was sized for a Header at HEADER_OFF (aligned: 256 on a page) and
        // stays mapped while `inner` lives; Header is all atomics, so a shared reference is fine
        // while other processes change it.
        unsafe { &*(self.inner.region.ptr().add(HEADER_OFF) as *const Header) }
    }

    /// Puts one message (`q.put(item)`). Blocks only while the pipe is full.
    pub fn put(&self, item: &T) -> Result<(), Error> {
        // Size first: one exact allocation instead of a growing buffer that is copied at
        // every doubling, and an oversized message is refused before it is built.
        let size = postcard::experimental::serialized_size(item).map_err(Error::Encode)?;
        if size > MAX_MESSAGE {
            return Err(Error::TooLarge {
                len: size,
                max: MAX_MESSAGE,
            });
        }
        let mut frame = Vec::with_capacity(FRAME_HEADER + size);
        frame.extend_from_slice(&[0u8; FRAME_HEADER]);
        let mut frame = postcard::to_extend(item, frame).map_err(Error::Encode)?;
        let len = frame.len() - FRAME_HEADER;
        frame[..4].copy_from_slice(&MAGIC.to_le_bytes());
        frame[4..8].copy_from_slice(&(len as u32).to_le_bytes());
        self.register_producer()?;
        let h = self.header();
        let acquired = self.inner.wlock.lock()?;
        let _unlock = Unlock(&self.inner.wlock);
        if let Acquired::OwnerDied = acquired
            && h.write_in_flight.load(Ordering::Acquire) != 0
        {
            h.corrupted.store(true, Ordering::Release);
        }
        if h.corrupted.load(Ordering::Acquire) {
            return Err(Error::Corrupted(
                "a process died in the middle of writing a message".into(),
            ));
        }
        h.write_in_flight.store(frame.len() as u32, Ordering::Release);
        write_all(&self.inner.tx, &frame)?;
        h.write_in_flight.store(0, Ordering::Release);
        h.messages_put.fetch_add(1, Ordering::Relaxed);
        h.bytes_put.fetch_add(len as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Waits for the next message (`q.get()`). Returns [`Error::Disconnected`] once the queue
    /// is empty and no producer is left.
    pub fn get(&self) -> Result<T, Error> {
        self.recv(None, true)
    }

    /// Waits at most `timeout` (`q.get(timeout=...)`); [`Error::Timeout`] if nothing came,
    /// or [`Error::Disconnected`] as soon as it is clear that nothing can come.
    pub fn get_timeout(&self, timeout: Duration) -> Result<T, Error> {
        self.recv(Some(Instant::now() + timeout), true)
    }

    /// Takes a message only if one is ready now (`q.get_nowait()`); else [`Error::Empty`]
    /// (it does not spend time checking whether producers are still alive).
    pub fn try_get(&self) -> Result<T, Error> {
        match self.recv(Some(Instant::now()), false) {
            Err(Error::Timeout) => Err(Error::Empty),
            r => r,
        }
    }

    /// Says that this process will put nothing more (`q.close()`): consumers can then see
    /// the queue disconnect once the other producers are gone too. (A later `put` from this
    /// process makes it a producer again.)
    pub fn close(&self) {
        let me = nix::unistd::getpid().as_raw();
        for slot in &self.header().producers {
            if slot.pid.load(Ordering::Acquire) == me {
                slot.state.store(SLOT_CLOSED, Ordering::Release);
            }
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

    fn register_producer(&self) -> Result<(), Error> {
        let me = nix::unistd::getpid().as_raw();
        let h = self.header();
        let reg = self.registered.load(Ordering::Relaxed);
        if reg >> 32 == u64::from(me as u32) && reg & 0xffff_ffff != 0 {
            // Registered already: one load on the hot path. A `close()` since then made the
            // slot CLOSED; putting again makes this process a producer again.
            let slot = &h.producers[(reg & 0xffff_ffff) as usize - 1];
            if slot.state.load(Ordering::Acquire) != SLOT_ACTIVE {
                slot.state.store(SLOT_ACTIVE, Ordering::Release);
            }
            return Ok(());
        }
        // Another handle in this process may have registered already.
        let idx = match h
            .producers
            .iter()
            .position(|s| s.pid.load(Ordering::Acquire) == me)
        {
            Some(i) => {
                h.producers[i].state.store(SLOT_ACTIVE, Ordering::Release);
                i
            }
            None => {
                let i = h
                    .producers
                    .iter()
                    .position(|slot| {
                        slot.pid
                            .compare_exchange(0, me, Ordering::AcqRel, Ordering::Acquire)
                            .is_ok()
                    })
                    .ok_or(Error::TooManyProducers { max: MAX_PRODUCERS })?;
                h.producers[i].state.store(SLOT_ACTIVE, Ordering::Release);
                h.producers_seen.fetch_add(1, Ordering::AcqRel);
                i
            }
        };
        self.registered
            .store(u64::from(me as u32) << 32 | (idx as u64 + 1), Ordering::Relaxed);
        Ok(())
    }

    /// True when at least one process has put, and every one of them has exited or closed.
    fn producers_gone(&self) -> bool {
        let h = self.header();
        if h.producers_seen.load(Ordering::Acquire) == 0 {
            return false;
        }
        h.producers.iter().all(|slot| {
            let pid = slot.pid.load(Ordering::Acquire);
            pid == 0 || slot.state.load(Ordering::Acquire) == SLOT_CLOSED || !process_alive(pid)
        })
    }

    /// `check_producers`: whether waiting may end in [`Error::Disconnected`] (`try_get` does
    /// not pay for the liveness check).
    fn recv(&self, deadline: Option<Instant>, check_producers: bool) -> Result<T, Error> {
        let h = self.header();
        let acquired = match self.inner.rlock.lock_until(deadline)? {
            Some(a) => a,
            None => return Err(Error::Timeout),
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
        // Wait for the first byte, checking now and then that someone can still send.
        // (While this consumer waits it holds the reader lock, so other consumers queue
        // behind it on the lock; each of them checks the producers in turn once it gets it.)
        loop {
            let slice = match deadline {
                None => LIVENESS_SLICE,
                Some(d) => d.saturating_duration_since(Instant::now()).min(LIVENESS_SLICE),
            };
            if self.readable(slice)? {
                break;
            }
            // Order matters: producers first, then the pipe. A producer's last put finished
            // before it exited, so if it is gone its bytes are already in the pipe.
            if check_producers && self.producers_gone() {
                if self.readable(Duration::ZERO)? {
                    break;
                }
                return Err(Error::Disconnected);
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::Timeout);
            }
        }
        // The frame is read without any more polls while its bytes are there: one `read`
        // for the header, one for the body.
        let mut head = [0u8; FRAME_HEADER];
        // SAFETY: `head` is a live, writable buffer of FRAME_HEADER bytes.
        unsafe { self.read_exact(head.as_mut_ptr(), FRAME_HEADER)? };
        let magic = u32::from_le_bytes(head[..4].try_into().expect("4 bytes"));
        let len = u32::from_le_bytes(head[4..].try_into().expect("4 bytes")) as usize;
        if magic != MAGIC || len > MAX_MESSAGE {
            h.corrupted.store(true, Ordering::Release);
            return Err(Error::Corrupted(format!("bad frame header {magic:#x}/{len}")));
        }
        // Read straight into the vector's spare capacity: zero-filling it first would be a
        // wasted pass over a large message.
        let mut body: Vec<u8> = Vec::with_capacity(len);
        // SAFETY: the vector owns `len` bytes of allocated capacity starting at this pointer.
        unsafe { self.read_exact(body.as_mut_ptr(), len)? };
        // SAFETY: read_exact returned Ok, so all `len` bytes were written by the kernel.
        unsafe { body.set_len(len) };
        h.read_in_flight.store(0, Ordering::Release);
        h.messages_got.fetch_add(1, Ordering::Relaxed);
        h.bytes_got.fetch_add(len as u64, Ordering::Relaxed);
        postcard::from_bytes(&body).map_err(Error::Decode)
    }

    fn readable(&self, timeout: Duration) -> Result<bool, Error> {
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        let ms = if ms == 0 && !timeout.is_zero() { 1 } else { ms };
        let mut fds = [PollFd::new(self.inner.rx.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)) {
            Ok(n) => Ok(n > 0),
            Err(Errno::EINTR) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Reads exactly `len` bytes of the current frame into `ptr` (the caller holds the reader
    /// lock). The pipe is non-blocking: when the bytes stop coming, it waits in `poll` and
    /// checks whether the writer died in the middle of the frame (the robust lock tells).
    ///
    /// # Safety
    /// `ptr` must be valid for writes of `len` bytes.
    unsafe fn read_exact(&self, ptr: *mut u8, len: usize) -> Result<(), Error> {
        let h = self.header();
        let mut done = 0;
        while done < len {
            // SAFETY: `ptr + done .. ptr + len` is inside the caller's buffer (contract above).
            let n = unsafe { libc::read(self.inner.rx.as_raw_fd(), ptr.add(done).cast(), len - done) };
            if n > 0 {
                done += n as usize;
                // Part of a frame has left the pipe: if we die before the end, the next
                // reader must know the stream is broken.
                h.read_in_flight.store(1, Ordering::Release);
                continue;
            }
            if n == 0 {
                return Err(Error::Corrupted("pipe closed in the middle of a message".into()));
            }
            match Errno::last() {
                Errno::EAGAIN => {
                    if !self.readable(Duration::from_millis(100))? {
                        self.check_writer_alive()?;
                    }
                }
                Errno::EINTR => {}
                e => return Err(e.into()),
            }
        }
        Ok(())
    }

    fn check_writer_alive(&self) -> Result<(), Error> {
        let h = self.header();
        if let Some(acquired) = self.inner.wlock.try_lock()? {
            let _unlock = Unlock(&self.inner.wlock);
            if matches!(acquired, Acquired::OwnerDied) || h.corrupted.load(Ordering::Acquire) {
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

fn write_all(fd: &OwnedFd, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        match nix::unistd::write(fd, buf) {
            Ok(n) => buf = &buf[n..],
            Err(Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Alive means: exists and is not a zombie (a zombie has exited but not been reaped yet).
pub(crate) fn process_alive(pid: i32) -> bool {
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Err(Errno::ESRCH) => false,
        _ => match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
            // The state letter follows the command name, which is in parentheses.
            Ok(stat) => stat
                .rsplit_once(") ")
                .is_none_or(|(_, rest)| !rest.starts_with('Z') && !rest.starts_with('X')),
            Err(_) => false,
        },
    }
}
