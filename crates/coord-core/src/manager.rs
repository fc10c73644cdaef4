//! A server process that owns shared objects (Python's `multiprocessing.Manager`).
//!
//! The manager is a real process. It owns one integer value, one list and one dict; other
//! processes reach them through proxies, and *every* proxy call is one round trip: the call
//! is serialized, written to a socket, read and executed by the server, and the result is
//! serialized and written back. That is the cost the lecture warns about.
//!
//! Nobody else can connect: there is no listening address at all. Each process that uses a
//! proxy gets its own private socket pair, whose server end is passed to the manager over a
//! control socket pair (`SCM_RIGHTS`) that only the manager's creator and its children hold.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicI32, AtomicU64, Ordering};
use std::sync::{Mutex, TryLockError};
use std::time::Duration;

use nix::errno::Errno;
use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, recvmsg, sendmsg,
    socketpair,
};
use serde::{Deserialize, Serialize};

use crate::Error;
use crate::process::Process;
use crate::shm::SharedRegion;

#[derive(Debug, Serialize, Deserialize)]
enum Request {
    ValueGet,
    ValueSet(i64),
    ValueAdd(i64),
    ListAppend(i64),
    ListGet(u64),
    ListSet(u64, i64),
    ListLen,
    ListSnapshot,
    DictSet(String, i64),
    DictGet(String),
    DictAdd(String, i64),
    DictLen,
    DictSnapshot,
    Stats,
}

#[derive(Debug, Serialize, Deserialize)]
enum Response {
    Unit,
    Int(i64),
    MaybeInt(Option<i64>),
    Len(u64),
    List(Vec<i64>),
    Dict(Vec<(String, i64)>),
    Stats { calls: u64, cpu_ns: u64 },
    Error(String),
}

/// What the manager process reports about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ManagerStats {
    /// Proxy calls the server has executed (each one a round trip); `stats()` itself is not counted.
    pub calls: u64,
    /// CPU time the server process has used so far.
    pub cpu_time: Duration,
}

/// Starts and owns the manager process (`multiprocessing.Manager()`).
///
/// ```
/// use coord_core::{Manager, Process};
///
/// let manager = Manager::start()?;
/// let counter = manager.value();
/// let workers: Vec<_> = (0..2)
///     .map(|_| Process::start(|| for _ in 0..10 { counter.add(1).unwrap(); }))
///     .collect::<Result<_, _>>()?;
/// for w in workers { w.join()?; }
/// assert_eq!(counter.get()?, 20);           // add runs inside the server: exact
/// assert_eq!(manager.stats()?.calls, 21);   // 20 adds + 1 get, each a round trip
/// # Ok::<(), coord_core::Error>(())
/// ```
pub struct Manager {
    ctrl: Arc<Link>,
    server: Process,
    stats_conn: Proxy,
}

impl fmt::Debug for Manager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Manager")
            .field("pid", &self.server.pid())
            .finish()
    }
}

impl Manager {
    /// Starts the server process.
    pub fn start() -> Result<Manager, Error> {
        // Proxies compare a cached pid to know they were forked; the cache is reset at fork.
        crate::queue::install_atfork();
        let (client_end, server_end) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        // The server counts in shared memory too, so a test can compare without a round trip.
        let counters = Arc::new(SharedRegion::new("coord-manager", 64)?);
        let keep = server_end.as_raw_fd();
        let server = Process::start(move || {
            // The server keeps only its own end of the control socket and closes every other
            // descriptor it inherited (the client end, other queues' pipes, other managers'
            // connections...): a stray copy of a socket end in the server would keep a peer
            // from ever seeing end-of-file. No Rust object in this child uses those fds: the
            // child runs only `serve`, which owns `server_end`.
            close_inherited_fds(keep);
            serve(server_end, counters)
        })?;
        let ctrl = Arc::new(Link {
            ctrl: client_end,
            server_pid: server.pid() as i32,
        });
        Ok(Manager {
            stats_conn: Proxy::new(ctrl.clone()),
            ctrl,
            server,
        })
    }

    /// The manager process's pid.
    pub fn pid(&self) -> u32 {
        self.server.pid()
    }

    /// A proxy to the manager's integer value (`manager.Value('i', 0)`).
    pub fn value(&self) -> ValueProxy {
        ValueProxy {
            p: Proxy::new(self.ctrl.clone()),
        }
    }
    /// A proxy to the manager's list (`manager.list()`).
    pub fn list(&self) -> ListProxy {
        ListProxy {
            p: Proxy::new(self.ctrl.clone()),
        }
    }
    /// A proxy to the manager's dict (`manager.dict()`).
    pub fn dict(&self) -> DictProxy {
        DictProxy {
            p: Proxy::new(self.ctrl.clone()),
        }
    }

    /// Calls executed and CPU time used by the server (one extra round trip, not counted).
    pub fn stats(&self) -> Result<ManagerStats, Error> {
        match self.stats_conn.call_uncounted(&Request::Stats)? {
            Response::Stats { calls, cpu_ns } => Ok(ManagerStats {
                calls,
                cpu_time: Duration::from_nanos(cpu_ns),
            }),
            r => Err(unexpected(r)),
        }
    }

    /// Stops the server and waits for it (`manager.shutdown()`).
    pub fn shutdown(self) -> Result<(), Error> {
        self.server.terminate()?;
        self.server.join()?;
        Ok(())
    }

    /// Kills the server without ceremony: for showing what a proxy does when its peer is gone.
    pub fn kill_server(&self) -> Result<(), Error> {
        self.server.kill()?;
        self.server.join()?;
        Ok(())
    }
}

/// Closes every descriptor from 3 up except `keep` (in the manager process, right after fork).
fn close_inherited_fds(keep: i32) {
    let keep_u = keep as libc::c_uint;
    let mut ok = true;
    for (first, last) in [(3, keep_u.saturating_sub(1)), (keep_u + 1, libc::c_uint::MAX)] {
        if first <= last {
            // SAFETY: close_range only closes descriptors of this (single-threaded, just
            // forked) process; none in the range is owned by a live Rust object here.
            let rc = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) };
            ok &= rc == 0;
        }
    }
    if !ok {
        // close_range is missing (Linux < 5.9: ENOSYS) or refused (a seccomp filter).
        close_fds_listed_in_proc(keep);
    }
}

/// The slow way: closes each descriptor listed in `/proc/self/fd`, from 3 up, except `keep`.
/// Reading a directory allocates; that is fine here, in the manager's fresh child, which has
/// one thread and glibc's fork-safe malloc.
fn close_fds_listed_in_proc(keep: i32) {
    // Collect first, close after: the directory's own descriptor is in the listing, and must
    // not be closed while it is being read. (Closing it again afterwards is a harmless EBADF.)
    let fds: Vec<i32> = match std::fs::read_dir("/proc/self/fd") {
        Ok(dir) => dir
            .filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .filter(|&fd| fd > 2 && fd != keep)
            .collect(),
        Err(_) => return, // no /proc: nothing more we can do; the server still works
    };
    for fd in fds {
        // SAFETY: as in `close_inherited_fds`: no live Rust object of this process owns it.
        unsafe { libc::close(fd) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn is_open(fd: i32) -> bool {
        // SAFETY: F_GETFD only reads the descriptor's flags; a closed fd gives EBADF.
        unsafe { libc::fcntl(fd, libc::F_GETFD) >= 0 }
    }

    #[test]
    fn the_proc_fallback_closes_every_descriptor_but_keep_and_stdio() {
        let (a, b) = nix::unistd::pipe().unwrap();
        let (c, d) = nix::unistd::pipe().unwrap();
        let (a, b, c, d) = (a.as_raw_fd(), b.as_raw_fd(), c.as_raw_fd(), d.as_raw_fd());
        let stdio: Vec<bool> = (0..=2).map(is_open).collect();
        // In a child: closing descriptors of the test process itself would break the harness.
        let p = Process::start(|| {
            close_fds_listed_in_proc(c);
            let closed = [a, b, d].iter().all(|&fd| !is_open(fd));
            let kept = is_open(c) && (0..=2).map(is_open).collect::<Vec<_>>() == stdio;
            match (closed, kept) {
                (true, true) => 0,
                (false, _) => 1,
                (_, false) => 2,
            }
        })
        .unwrap();
        let st = p.join_timeout(Duration::from_secs(60)).unwrap();
        assert_eq!(st, Some(crate::ExitStatus::Exited(0)));
    }
}

// --- client side -----------------------------------------------------------------------------

/// What every proxy needs to reach the server: the control socket and who to check on.
struct Link {
    ctrl: OwnedFd,
    server_pid: i32,
}

/// While a proxy waits for a reply, how often it checks that the manager still runs. Normally
/// the manager's death closes the connection and the read returns at once; the check is for a
/// copy of the manager's end caught by some other fork (a multi-threaded parent).
const LIVENESS_SLICE: Duration = Duration::from_millis(100);

/// One process's private connection; made on first use in each process.
struct Conn {
    pid: i32,
    sock: OwnedFd,
    buf: Vec<u8>,
}

struct Proxy {
    ctrl: Arc<Link>,
    conn: Mutex<Option<Conn>>,
    /// The pid of the process whose thread holds `conn`'s mutex (0: free or unknown). A child
    /// forked while a parent thread was in a call inherits the mutex locked for ever; this
    /// tells it so, and it then makes its call over a connection of its own.
    holder: AtomicI32,
    calls: AtomicU64,
}

impl Proxy {
    fn new(ctrl: Arc<Link>) -> Proxy {
        Proxy {
            ctrl,
            conn: Mutex::new(None),
            holder: AtomicI32::new(0),
            calls: AtomicU64::new(0),
        }
    }

    fn connect(&self) -> Result<Conn, Error> {
        let (mine, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::Stream,
            None,
            SockFlag::SOCK_CLOEXEC,
        )?;
        let fds = [theirs.as_raw_fd()];
        let cmsg = [ControlMessage::ScmRights(&fds)];
        loop {
            match sendmsg::<()>(
                self.ctrl.ctrl.as_raw_fd(),
                &[IoSlice::new(b"c")],
                &cmsg,
                MsgFlags::MSG_NOSIGNAL,
                None,
            ) {
                Ok(_) => break,
                Err(Errno::EINTR) => continue,
                Err(Errno::EPIPE) | Err(Errno::ECONNRESET) => return Err(Error::ServerGone),
                Err(e) => return Err(e.into()),
            }
        }
        // Our copy of the server's end closes here: only the manager holds it now, so if the
        // manager dies, our reads see end-of-file instead of hanging.
        drop(theirs);
        // A read that waits longer than this returns EAGAIN, and the caller checks on the
        // manager: a reply that can never come is reported, not waited for.
        nix::sys::socket::setsockopt(
            &mine,
            nix::sys::socket::sockopt::ReceiveTimeout,
            &nix::sys::time::TimeVal::new(0, LIVENESS_SLICE.as_micros() as _),
        )?;
        Ok(Conn {
            pid: crate::queue::my_pid(),
            sock: mine,
            buf: Vec::new(),
        })
    }

    fn call(&self, req: &Request) -> Result<Response, Error> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        self.call_uncounted(req)
    }

    fn call_uncounted(&self, req: &Request) -> Result<Response, Error> {
        let me = crate::queue::my_pid();
        let mut guard = match self.conn.try_lock() {
            Ok(g) => g,
            Err(TryLockError::Poisoned(p)) => p.into_inner(),
            // Another thread of this process is in a call: wait for it.
            Err(TryLockError::WouldBlock) if self.holder.load(Ordering::Acquire) == me => {
                self.conn.lock().unwrap_or_else(|p| p.into_inner())
            }
            // Locked by a thread of the process we were forked from (it will never unlock
            // here): one call over a connection of our own.
            Err(TryLockError::WouldBlock) => {
                let frame = encode_frame(req)?;
                let mut conn = self.connect()?;
                return self.exchange(&mut conn, &frame);
            }
        };
        self.holder.store(me, Ordering::Release);
        let r = self.call_locked(&mut guard, me, req);
        self.holder.store(0, Ordering::Release);
        r
    }

    fn call_locked(&self, guard: &mut Option<Conn>, me: i32, req: &Request) -> Result<Response, Error> {
        // Encoded before the connection is touched: a request that is too large is refused
        // here, with the connection as it was.
        let frame = encode_frame(req)?;
        // A handle inherited through fork must not reuse the parent's socket: two processes
        // would read each other's replies. Each process connects on its own, as Python's
        // proxies reconnect after fork.
        if guard.as_ref().is_none_or(|c| c.pid != me) {
            if let Some(old) = guard.take()
                && old.pid != me
            {
                // Not ours to close cleanly in the parent's name; just forget our copy.
                drop(old);
            }
            *guard = Some(self.connect()?);
        }
        let conn = guard.as_mut().expect("connected above");
        match self.exchange(conn, &frame) {
            // The server answered, with a refusal: the connection is in step.
            Err(Error::Remote(msg)) => Err(Error::Remote(msg)),
            // Anything else may have left half a frame on the connection (or the server
            // dropped it): never reuse it. The next call connects afresh, and says
            // `ServerGone` only if the server really is gone.
            Err(e) => {
                *guard = None;
                Err(e)
            }
            Ok(r) => Ok(r),
        }
    }

    /// One round trip: send the encoded request, wait for the reply.
    fn exchange(&self, conn: &mut Conn, frame: &[u8]) -> Result<Response, Error> {
        send_bytes(&conn.sock, frame)?;
        let server = self.ctrl.server_pid;
        let resp: Response = recv_frame(&conn.sock, &mut conn.buf, || crate::pid_alive(server as u32))?
            .ok_or(Error::ServerGone)?;
        match resp {
            Response::Error(msg) => Err(Error::Remote(msg)),
            r => Ok(r),
        }
    }

    fn round_trips(&self) -> u64 {
        self.calls.load(Ordering::Relaxed)
    }
}

impl Clone for Proxy {
    fn clone(&self) -> Self {
        Proxy::new(self.ctrl.clone())
    }
}

fn unexpected(r: Response) -> Error {
    Error::Corrupted(format!("unexpected reply from the manager: {r:?}"))
}

/// A proxy to the manager's integer (`manager.Value('i', 0)`); every call is a round trip.
#[derive(Clone)]
pub struct ValueProxy {
    p: Proxy,
}

impl ValueProxy {
    /// `v.value`
    pub fn get(&self) -> Result<i64, Error> {
        match self.p.call(&Request::ValueGet)? {
            Response::Int(v) => Ok(v),
            r => Err(unexpected(r)),
        }
    }
    /// `v.value = x`
    pub fn set(&self, v: i64) -> Result<(), Error> {
        self.p.call(&Request::ValueSet(v)).map(drop)
    }
    /// Adds inside the server and returns the new value: exact under contention, because
    /// the server runs one call at a time. (`v.value += 1` from a client is a get and a set:
    /// two round trips, and racy.)
    pub fn add(&self, delta: i64) -> Result<i64, Error> {
        match self.p.call(&Request::ValueAdd(delta))? {
            Response::Int(v) => Ok(v),
            r => Err(unexpected(r)),
        }
    }
    /// Calls this proxy made from this process.
    pub fn round_trips(&self) -> u64 {
        self.p.round_trips()
    }
}

/// A proxy to the manager's list of integers (`manager.list()`): it grows without limit.
#[derive(Clone)]
pub struct ListProxy {
    p: Proxy,
}

impl ListProxy {
    /// `l.append(x)`
    pub fn append(&self, v: i64) -> Result<(), Error> {
        self.p.call(&Request::ListAppend(v)).map(drop)
    }
    /// `l[i]`; [`Error::Remote`] when out of range.
    pub fn get(&self, index: usize) -> Result<i64, Error> {
        match self.p.call(&Request::ListGet(index as u64))? {
            Response::Int(v) => Ok(v),
            r => Err(unexpected(r)),
        }
    }
    /// `l[i] = x`
    pub fn set(&self, index: usize, v: i64) -> Result<(), Error> {
        self.p.call(&Request::ListSet(index as u64, v)).map(drop)
    }
    /// `len(l)`
    pub fn len(&self) -> Result<usize, Error> {
        match self.p.call(&Request::ListLen)? {
            Response::Len(n) => Ok(n as usize),
            r => Err(unexpected(r)),
        }
    }
    pub fn is_empty(&self) -> Result<bool, Error> {
        self.len().map(|n| n == 0)
    }
    /// `list(l)`: a copy of the whole list, in one round trip.
    pub fn to_vec(&self) -> Result<Vec<i64>, Error> {
        match self.p.call(&Request::ListSnapshot)? {
            Response::List(v) => Ok(v),
            r => Err(unexpected(r)),
        }
    }
    pub fn round_trips(&self) -> u64 {
        self.p.round_trips()
    }
}

/// A proxy to the manager's dict from strings to integers (`manager.dict()`).
#[derive(Clone)]
pub struct DictProxy {
    p: Proxy,
}

impl DictProxy {
    /// `d[k] = v`
    pub fn set(&self, key: &str, v: i64) -> Result<(), Error> {
        self.p.call(&Request::DictSet(key.to_string(), v)).map(drop)
    }
    /// `d.get(k)`
    pub fn get(&self, key: &str) -> Result<Option<i64>, Error> {
        match self.p.call(&Request::DictGet(key.to_string()))? {
            Response::MaybeInt(v) => Ok(v),
            r => Err(unexpected(r)),
        }
    }
    /// Adds inside the server (missing keys start at 0); returns the new value.
    pub fn add(&self, key: &str, delta: i64) -> Result<i64, Error> {
        match self.p.call(&Request::DictAdd(key.to_string(), delta))? {
            Response::Int(v) => Ok(v),
            r => Err(unexpected(r)),
        }
    }
    /// `len(d)`
    pub fn len(&self) -> Result<usize, Error> {
        match self.p.call(&Request::DictLen)? {
            Response::Len(n) => Ok(n as usize),
            r => Err(unexpected(r)),
        }
    }
    pub fn is_empty(&self) -> Result<bool, Error> {
        self.len().map(|n| n == 0)
    }
    /// `dict(d)`: every entry, sorted by key, in one round trip.
    pub fn to_vec(&self) -> Result<Vec<(String, i64)>, Error> {
        match self.p.call(&Request::DictSnapshot)? {
            Response::Dict(v) => Ok(v),
            r => Err(unexpected(r)),
        }
    }
    pub fn round_trips(&self) -> u64 {
        self.p.round_trips()
    }
}

// --- framing: [u32 length][postcard] over a stream socket ------------------------------------

/// An encoded frame: most requests and replies are a few bytes, kept on the stack (no
/// allocation on the path of a call).
enum Frame {
    Small([u8; 64], usize),
    Large(Vec<u8>),
}

impl std::ops::Deref for Frame {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Frame::Small(b, n) => &b[..*n],
            Frame::Large(v) => v,
        }
    }
}

/// `[u32 length][postcard]`; a message larger than the peer accepts (`MAX_MESSAGE`, checked
/// by `take_frame`) is refused here, before anything is sent: the peer would drop the
/// connection on reading its length.
fn encode_frame<M: Serialize>(msg: &M) -> Result<Frame, Error> {
    let max = crate::queue::MAX_MESSAGE;
    let size = postcard::experimental::serialized_size(msg).map_err(Error::Encode)?;
    if size > max {
        return Err(Error::TooLarge { len: size, max });
    }
    let head = (size as u32).to_le_bytes();
    if 4 + size <= 64 {
        let mut b = [0u8; 64];
        b[..4].copy_from_slice(&head);
        postcard::to_slice(msg, &mut b[4..]).map_err(Error::Encode)?;
        return Ok(Frame::Small(b, 4 + size));
    }
    let mut frame = Vec::with_capacity(4 + size);
    frame.extend_from_slice(&head);
    let frame = postcard::to_extend(msg, frame).map_err(Error::Encode)?;
    debug_assert_eq!(frame.len(), 4 + size);
    Ok(Frame::Large(frame))
}

fn send_frame<M: Serialize>(sock: &OwnedFd, msg: &M) -> Result<(), Error> {
    send_bytes(sock, &encode_frame(msg)?)
}

fn send_bytes(sock: &OwnedFd, frame: &[u8]) -> Result<(), Error> {
    let mut buf = frame;
    while !buf.is_empty() {
        match nix::sys::socket::send(sock.as_raw_fd(), buf, MsgFlags::MSG_NOSIGNAL) {
            Ok(n) => buf = &buf[n..],
            Err(Errno::EINTR) => {}
            Err(Errno::EPIPE) | Err(Errno::ECONNRESET) => return Err(Error::ServerGone),
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Reads one frame; `Ok(None)` on a clean end-of-file between frames, or when a read times out
/// (`SO_RCVTIMEO`) and `peer_alive` says the other side is gone.
fn recv_frame<M: for<'de> Deserialize<'de>>(
    sock: &OwnedFd,
    buf: &mut Vec<u8>,
    peer_alive: impl Fn() -> bool,
) -> Result<Option<M>, Error> {
    loop {
        if let Some(msg) = take_frame(buf)? {
            return Ok(Some(msg));
        }
        // Read straight into the buffer's spare room (no zero-filled scratch array per call).
        buf.reserve(16 * 1024);
        let spare = buf.spare_capacity_mut();
        // SAFETY: `spare` is allocated, writable memory of `spare.len()` bytes owned by `buf`;
        // the kernel writes at most that many.
        let n = unsafe { libc::read(sock.as_raw_fd(), spare.as_mut_ptr().cast(), spare.len()) };
        if n > 0 {
            // SAFETY: the kernel initialized the first `n` bytes of the spare room.
            unsafe { buf.set_len(buf.len() + n as usize) };
            continue;
        }
        if n == 0 {
            if buf.is_empty() {
                return Ok(None);
            }
            return Err(Error::Corrupted(
                "connection closed in the middle of a message".into(),
            ));
        }
        match Errno::last() {
            Errno::EINTR => {}
            Errno::EAGAIN if !peer_alive() => return Ok(None),
            Errno::EAGAIN => {}
            Errno::ECONNRESET => return Ok(None),
            e => return Err(e.into()),
        }
    }
}

fn take_frame<M: for<'de> Deserialize<'de>>(buf: &mut Vec<u8>) -> Result<Option<M>, Error> {
    if buf.len() < 4 {
        return Ok(None);
    }
    let len = u32::from_le_bytes(buf[..4].try_into().expect("4 bytes")) as usize;
    if len > crate::queue::MAX_MESSAGE {
        return Err(Error::TooLarge {
            len,
            max: crate::queue::MAX_MESSAGE,
        });
    }
    if buf.len() < 4 + len {
        return Ok(None);
    }
    let msg = postcard::from_bytes(&buf[4..4 + len]).map_err(Error::Decode);
    buf.drain(..4 + len);
    msg.map(Some)
}

// --- server side -----------------------------------------------------------------------------

#[derive(Default)]
struct Objects {
    value: i64,
    list: Vec<i64>,
    dict: BTreeMap<String, i64>,
}

impl Objects {
    fn execute(&mut self, req: Request) -> Response {
        match req {
            Request::ValueGet => Response::Int(self.value),
            Request::ValueSet(v) => {
                self.value = v;
                Response::Unit
            }
            Request::ValueAdd(d) => {
                self.value = self.value.wrapping_add(d);
                Response::Int(self.value)
            }
            Request::ListAppend(v) => {
                self.list.push(v);
                Response::Unit
            }
            Request::ListGet(i) => match self.list.get(i as usize) {
                Some(v) => Response::Int(*v),
                None => Response::Error(format!(
                    "list index {i} out of range (length {})",
                    self.list.len()
                )),
            },
            Request::ListSet(i, v) => match self.list.get_mut(i as usize) {
                Some(slot) => {
                    *slot = v;
                    Response::Unit
                }
                None => Response::Error(format!(
                    "list index {i} out of range (length {})",
                    self.list.len()
                )),
            },
            Request::ListLen => Response::Len(self.list.len() as u64),
            Request::ListSnapshot => Response::List(self.list.clone()),
            Request::DictSet(k, v) => {
                self.dict.insert(k, v);
                Response::Unit
            }
            Request::DictGet(k) => Response::MaybeInt(self.dict.get(&k).copied()),
            Request::DictAdd(k, d) => {
                let e = self.dict.entry(k).or_insert(0);
                *e = e.wrapping_add(d);
                Response::Int(*e)
            }
            Request::DictLen => Response::Len(self.dict.len() as u64),
            Request::DictSnapshot => Response::Dict(self.dict.iter().map(|(k, v)| (k.clone(), *v)).collect()),
            Request::Stats => unreachable!("handled by the loop"),
        }
    }
}

fn cpu_time_ns() -> u64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_PROCESS_CPUTIME_ID)
        .map(|t| t.tv_sec() as u64 * 1_000_000_000 + t.tv_nsec() as u64)
        .unwrap_or(0)
}

/// The manager's main loop. Like Python's manager server, it gives each connection its own
/// thread, which waits in a plain blocking `read` on that connection (no `poll` on the path:
/// a call costs what a raw socket ping-pong costs). The objects sit behind one mutex, so the
/// server still runs one call at a time, and `add` is exact under contention.
fn serve(ctrl: OwnedFd, counters: Arc<SharedRegion>) -> Result<(), Error> {
    // The region must outlive every connection thread; the process ends with this function.
    let counters: &'static SharedRegion = Box::leak(Box::new(counters));
    // SAFETY: the region is 64 bytes, page-aligned, mapped for the server's whole life; an
    // AtomicU64 may be shared by reference while other processes read it.
    let calls: &'static AtomicU64 = unsafe { &*(counters.ptr() as *const AtomicU64) };
    let objects: &'static Mutex<Objects> = Box::leak(Box::default());
    loop {
        match accept_conn(&ctrl) {
            Ok(Some(fd)) => {
                std::thread::Builder::new()
                    .name("manager-conn".into())
                    .spawn(move || serve_conn(fd, objects, calls))
                    .map_err(Error::Io)?;
            }
            // Every process that held the manager has gone: nobody can call any more.
            Ok(None) => return Ok(()),
            Err(Error::Corrupted(_)) => {}
            Err(e) => return Err(e),
        }
    }
}

/// One connection: read a request, execute it, answer, until the client hangs up.
fn serve_conn(sock: OwnedFd, objects: &Mutex<Objects>, calls: &AtomicU64) {
    let mut buf = Vec::new();
    // A client that hangs up, dies or sends garbage ends only its own connection.
    while let Ok(Some(req)) = recv_frame::<Request>(&sock, &mut buf, || true) {
        let resp = match req {
            Request::Stats => Response::Stats {
                calls: calls.load(Ordering::Relaxed),
                cpu_ns: cpu_time_ns(),
            },
            req => {
                let mut objects = objects.lock().unwrap_or_else(|p| p.into_inner());
                calls.fetch_add(1, Ordering::Relaxed);
                objects.execute(req)
            }
        };
        let sent = match send_frame(&sock, &resp) {
            // A reply too large to send (a huge list or dict): say so instead.
            Err(e @ Error::TooLarge { .. }) => {
                send_frame(&sock, &Response::Error(format!("the reply is too large: {e}")))
            }
            r => r,
        };
        if sent.is_err() {
            return;
        }
    }
}

fn accept_conn(ctrl: &OwnedFd) -> Result<Option<OwnedFd>, Error> {
    let mut byte = [0u8; 1];
    let mut iov = [IoSliceMut::new(&mut byte)];
    let mut space = nix::cmsg_space!([std::os::fd::RawFd; 1]);
    let msg = loop {
        match recvmsg::<()>(
            ctrl.as_raw_fd(),
            &mut iov,
            Some(&mut space),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(m) => break m,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    if msg.bytes == 0 {
        return Ok(None);
    }
    for c in msg.cmsgs()? {
        if let ControlMessageOwned::ScmRights(fds) = c
            && let Some(&fd) = fds.first()
        {
            // SAFETY: SCM_RIGHTS just installed this fd in our table; we are its only owner.
            return Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }));
        }
    }
    Err(Error::Corrupted("control message without a connection".into()))
}
