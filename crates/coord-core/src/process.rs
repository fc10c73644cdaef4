//! Child processes running a closure: Python's `multiprocessing.Process` with the `fork`
//! start method.
//!
//! `fork` copies the whole address space, so the closure may borrow anything the parent
//! has: queues, shared values, locks. What it writes to ordinary memory stays in the child;
//! only shared memory, pipes and sockets carry anything back.

use std::cell::Cell;
use std::fmt;
use std::io::{self, Write};
use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::panic::{self, AssertUnwindSafe};
use std::ptr;
use std::sync::Arc;
use std::sync::Once;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, Ordering};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitPidFlag, WaitStatus, waitpid};
use nix::unistd::{ForkResult, Pid, fork, getppid};

use crate::Error;
use crate::shm::SharedRegion;

/// The exit code of a child whose closure panicked (the same as a Rust program's).
pub const PANIC_EXIT_CODE: i32 = 101;

/// How a child process ended, as `join` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExitStatus {
    /// The closure returned (or called `_exit`) with this code; 0 means success.
    Exited(i32),
    /// A signal ended it: `SIGTERM` from [`Process::terminate`], `SIGKILL` from
    /// [`Process::kill`], `SIGSEGV` from a crash...
    Signaled(Signal),
    /// The closure panicked; this is its message and where it panicked.
    Panicked(String),
}

impl ExitStatus {
    /// Exited with code 0.
    pub fn success(&self) -> bool {
        *self == ExitStatus::Exited(0)
    }
    /// The exit code, as Python's `p.exitcode`: negative for a signal (`-15` for SIGTERM).
    pub fn code(&self) -> i32 {
        match self {
            ExitStatus::Exited(c) => *c,
            ExitStatus::Signaled(s) => -(*s as i32),
            ExitStatus::Panicked(_) => PANIC_EXIT_CODE,
        }
    }
}

impl fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExitStatus::Exited(c) => write!(f, "exited with code {c}"),
            ExitStatus::Signaled(s) => write!(f, "killed by signal {s}"),
            ExitStatus::Panicked(m) => write!(f, "panicked: {m}"),
        }
    }
}

/// What a child's closure may return; it becomes the exit code.
pub trait ChildResult {
    fn into_exit_code(self) -> i32;
}
impl ChildResult for () {
    fn into_exit_code(self) -> i32 {
        0
    }
}
impl ChildResult for i32 {
    fn into_exit_code(self) -> i32 {
        self
    }
}
impl<T: ChildResult, E: fmt::Display> ChildResult for Result<T, E> {
    fn into_exit_code(self) -> i32 {
        match self {
            Ok(v) => v.into_exit_code(),
            Err(e) => {
                raw_stderr(&format!("process {}: error: {e}\n", std::process::id()));
                1
            }
        }
    }
}

// --- the child's side of a panic -----------------------------------------------------------

/// Set only in a forked child: tells the shared panic hook to record instead of print.
static IN_CHILD: AtomicBool = AtomicBool::new(false);
/// The child's shared page for its panic message (null in the parent).
static PANIC_PAGE: AtomicPtr<u8> = AtomicPtr::new(ptr::null_mut());
const PANIC_PAGE_LEN: usize = 4096;
static HOOK: Once = Once::new();

/// Writes straight to fd 2. In a child forked from a multi-threaded parent, std's `stderr`
/// lock may have been held by another thread at the moment of the fork, and would stay held.
fn raw_stderr(msg: &str) {
    let mut buf = msg.as_bytes();
    while !buf.is_empty() {
        // SAFETY: writing a valid, live byte buffer to fd 2; a bad fd only yields an error.
        let n = unsafe { libc::write(2, buf.as_ptr().cast(), buf.len()) };
        if n <= 0 {
            break;
        }
        buf = &buf[n as usize..];
    }
}

/// Installs (once, in the parent) a panic hook that behaves as before in the parent and, in a
/// child, saves the message to the shared page that `join` reads.
fn install_hook() {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !IN_CHILD.load(Ordering::Relaxed) {
                return previous(info);
            }
            let msg = payload_message(info.payload());
            let full = match info.location() {
                Some(l) => format!("{msg} (at {}:{})", l.file(), l.line()),
                None => msg,
            };
            raw_stderr(&format!("process {} panicked: {full}\n", std::process::id()));
            save_panic_message(&full);
        }));
    });
}

/// Writes the message to this child's panic page, unless one is there already.
fn save_panic_message(msg: &str) {
    let page = PANIC_PAGE.load(Ordering::Relaxed);
    if page.is_null() {
        return;
    }
    // SAFETY: the page is PANIC_PAGE_LEN bytes, page-aligned, mapped for this child's life;
    // only this child writes it, and the parent reads it only after the child is dead.
    unsafe {
        let len = &*(page as *const AtomicU32);
        if len.load(Ordering::Relaxed) != 0 {
            return;
        }
        let bytes = msg.as_bytes();
        let n = bytes.len().min(PANIC_PAGE_LEN - 4);
        ptr::copy_nonoverlapping(bytes.as_ptr(), page.add(4), n);
        len.store(n as u32, Ordering::Release);
    }
}

/// The message inside a panic payload (`panic!("...")` gives a `&str` or a `String`).
fn payload_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "Box<dyn Any>".to_string()
    }
}

// --- the parent's handle -------------------------------------------------------------------

#[derive(Clone, Debug, Default)]
enum State {
    #[default]
    Running,
    Done(ExitStatus),
}

/// A child process running a closure (Python's `multiprocessing.Process`).
///
/// The child starts at once (`Process(target=f).start()` in one step). It never outlives
/// its parent: it is killed if the parent dies (`PR_SET_PDEATHSIG`), and a `Process` dropped
/// without `join` kills and reaps its child, so no zombie and no orphan is left behind.
///
/// How the parent's end reaches the children:
/// - the parent panics: unwinding drops each `Process`, which kills and reaps its child;
/// - the parent is killed (`SIGKILL`, a crash, `panic = "abort"`): the kernel sends each
///   child `SIGKILL` (`PR_SET_PDEATHSIG`);
/// - Ctrl-C: the terminal sends `SIGINT` to the whole foreground process group, and the
///   children are in their parent's group, so each of them gets it too and ends
///   (`ExitStatus::Signaled(SIGINT)`); a `SIGINT` sent to the parent alone kills the
///   parent, and `PR_SET_PDEATHSIG` then kills the children.
///
/// A child is also killed (`SIGKILL`) when the *thread* that called `start` ends, even if the
/// rest of the process goes on: that is how `PR_SET_PDEATHSIG` works, and it holds also for a
/// thread that ends at once, before the child has run (the child checks that its thread is
/// still there; the only gap left is the few microseconds inside the kernel between the
/// thread handing its children on and its id disappearing). Start long-lived children from
/// a thread that outlives them (the main thread in a binary). In `cargo test`, where each test runs on its own thread, join (or drop) every
/// child before the test returns; dropping does that for you.
///
/// ```
/// use coord_core::{ExitStatus, Process};
///
/// let p = Process::start(|| 7)?;          // the closure's i32 is the exit code
/// assert_eq!(p.join()?, ExitStatus::Exited(7));
///
/// let p = Process::start(|| -> () { panic!("boom") })?;
/// assert!(matches!(p.join()?, ExitStatus::Panicked(m) if m.contains("boom")));
/// # Ok::<(), coord_core::Error>(())
/// ```
pub struct Process {
    pid: Pid,
    /// Opened on the first `join_timeout` (start + join never needs it).
    pidfd: std::cell::OnceCell<Option<OwnedFd>>,
    panic_page: Arc<SharedRegion>,
    state: Cell<State>,
}

impl fmt::Debug for Process {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Process")
            .field("pid", &self.pid.as_raw())
            .finish()
    }
}

impl Process {
    /// Forks a child that runs `f` and then leaves with `_exit` (no destructors of the
    /// parent's objects run in it, nothing the parent buffered is flushed twice).
    ///
    /// Keep the child's work to the closure and to this crate's calls: with a
    /// multi-threaded parent (the test harness), locks other threads held at the fork (the
    /// one behind `println!`, for instance) stay locked in the child, which would then wait
    /// on them for ever.
    pub fn start<F, R>(f: F) -> Result<Process, Error>
    where
        F: FnOnce() -> R,
        R: ChildResult,
    {
        install_hook();
        crate::queue::install_atfork();
        let panic_page = take_panic_page()?;
        // Whatever sits in our stdout buffer would otherwise be copied into the child.
        let _ = io::stdout().flush();
        let parent = Pid::from_raw(crate::queue::my_pid());
        // PR_SET_PDEATHSIG watches the thread that forks, not the process: the child needs its id.
        let parent_thread = nix::unistd::gettid();
        // SAFETY: nix marks fork unsafe because the child of a multi-threaded parent starts
        // with only the forking thread, and with every lock exactly as it was at that instant.
        // The child below runs arbitrary code (the caller's closure; on a panic, the hook
        // formats the message and the stack unwinds), not only async-signal-safe calls. That
        // is sound, for three reasons:
        // - the child works on a copy of the parent's memory, so whatever it does (including
        //   a half-finished update when it panics or dies) cannot corrupt the parent; only
        //   shared mappings and descriptors are shared, and those are designed for it;
        // - a lock another thread held at the fork (stdout, the environment, an allocator
        //   arena in a non-glibc libc) stays locked in the child for ever: touching it can
        //   *deadlock* the child, never corrupt memory. That is why the docs and the tests
        //   keep children to this crate's calls (no `println!`), and why every wait on a
        //   child has a timeout and a dropped `Process` kills it;
        // - glibc's malloc is fork-safe (it takes its arena locks around fork and resets them
        //   in the child), so allocating, formatting and unwinding in the child work;
        // and the child never returns into the caller's code: it leaves through `_exit`, so
        // no destructor of the parent's objects and no stdio flush runs twice.
        let forked = unsafe { fork() };
        if forked.is_err() {
            // No child: free what the fork handlers reserved for one.
            crate::shm_queue::adopt_child(None);
        }
        match forked? {
            ForkResult::Child => {
                IN_CHILD.store(true, Ordering::Relaxed);
                PANIC_PAGE.store(panic_page.ptr(), Ordering::Relaxed);
                // Die with the parent. If it already died before this line, leave now.
                let _ = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL);
                if getppid() != parent {
                    exit_now(1);
                }
                // The signal comes when the thread that forked us ends. If it ended before the
                // line above, it never will (the kernel handed us to another thread of the
                // parent): look for that thread, and if it is gone, do what the signal would
                // have done.
                if !thread_alive(parent, parent_thread) {
                    let _ = nix::sys::signal::raise(Signal::SIGKILL);
                }
                let code = match panic::catch_unwind(AssertUnwindSafe(f)) {
                    Ok(r) => r.into_exit_code(),
                    Err(payload) => {
                        // Normally the hook saved "message (at file:line)". If someone replaced
                        // the hook after ours was installed, the payload still has the message.
                        save_panic_message(&payload_message(&*payload));
                        PANIC_EXIT_CODE
                    }
                };
                exit_now(code)
            }
            ForkResult::Parent { child } => {
                // A shared-memory queue counts the child as a producer from its first instant:
                // name it now, in case it is killed before it can (see `shm_queue`).
                crate::shm_queue::adopt_child(Some(child.as_raw() as u32));
                Ok(Process {
                    pid: child,
                    pidfd: std::cell::OnceCell::new(),
                    panic_page,
                    state: Cell::new(State::Running),
                })
            }
        }
    }

    /// The child's process id (`p.pid`).
    pub fn pid(&self) -> u32 {
        self.pid.as_raw() as u32
    }

    fn state(&self) -> State {
        let s = self.state.take();
        self.state.set(s.clone());
        s
    }

    fn record(&self, ws: WaitStatus) -> Option<ExitStatus> {
        let status = match ws {
            WaitStatus::Exited(_, code) => {
                // SAFETY: the page is mapped for our lifetime and the child is dead, so
                // nobody writes it any more.
                let len = unsafe { (*(self.panic_page.ptr() as *const AtomicU32)).load(Ordering::Acquire) }
                    as usize;
                if code == PANIC_EXIT_CODE && len > 0 {
                    // SAFETY: as above; len <= PANIC_PAGE_LEN - 4 by construction.
                    let bytes = unsafe { std::slice::from_raw_parts(self.panic_page.ptr().add(4), len) };
                    ExitStatus::Panicked(String::from_utf8_lossy(bytes).into_owned())
                } else {
                    ExitStatus::Exited(code)
                }
            }
            WaitStatus::Signaled(_, sig, _) => ExitStatus::Signaled(sig),
            _ => return None,
        };
        self.state.set(State::Done(status.clone()));
        Some(status)
    }

    /// Non-blocking reap: `Some(status)` once the child has ended.
    fn try_reap(&self) -> Result<Option<ExitStatus>, Error> {
        if let State::Done(s) = self.state() {
            return Ok(Some(s));
        }
        loop {
            match waitpid(self.pid, Some(WaitPidFlag::WNOHANG)) {
                Ok(WaitStatus::StillAlive) => return Ok(None),
                Ok(ws) => {
                    if let Some(s) = self.record(ws) {
                        return Ok(Some(s));
                    }
                }
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Waits for the child to end and reports how (`p.join()` then `p.exitcode`).
    /// Calling it again returns the same status.
    pub fn join(&self) -> Result<ExitStatus, Error> {
        if let State::Done(s) = self.state() {
            return Ok(s);
        }
        loop {
            match waitpid(self.pid, None) {
                Ok(ws) => {
                    if let Some(s) = self.record(ws) {
                        return Ok(s);
                    }
                }
                Err(Errno::EINTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Waits at most `timeout` (`p.join(timeout)`); `Ok(None)` if the child still runs.
    /// A timeout too large to be a point in time (e.g. `Duration::MAX`) waits as `join` does.
    pub fn join_timeout(&self, timeout: Duration) -> Result<Option<ExitStatus>, Error> {
        let Some(deadline) = Instant::now().checked_add(timeout) else {
            return self.join().map(Some);
        };
        loop {
            if let Some(s) = self.try_reap()? {
                return Ok(Some(s));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            // The child has not been reaped (try_reap said so), so its pid is still its own.
            match self.pidfd.get_or_init(|| pidfd_open(self.pid)) {
                // A pidfd becomes readable when the process exits: no polling loop needed.
                Some(fd) => {
                    let ms = left.as_millis().clamp(1, i32::MAX as u128) as i32;
                    let mut fds = [PollFd::new(fd.as_fd(), PollFlags::POLLIN)];
                    match poll(&mut fds, PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)) {
                        Ok(_) | Err(Errno::EINTR) => {}
                        Err(e) => return Err(e.into()),
                    }
                }
                None => std::thread::sleep(left.min(Duration::from_millis(1))),
            }
        }
    }

    /// Whether the child is still running (`p.is_alive()`); reaps it if it has ended.
    pub fn is_alive(&self) -> bool {
        matches!(self.try_reap(), Ok(None))
    }

    /// The status if the child has ended, without waiting (`p.exitcode`, `None` while running).
    pub fn exit_status(&self) -> Option<ExitStatus> {
        self.try_reap().ok().flatten()
    }

    fn signal(&self, sig: Signal) -> Result<(), Error> {
        // Never signal a reaped child: its pid may already belong to someone else.
        if self.try_reap()?.is_some() {
            return Ok(());
        }
        match kill(self.pid, sig) {
            Ok(()) | Err(Errno::ESRCH) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Sends SIGTERM (`p.terminate()`): the child dies where it stands, mid-task or not.
    pub fn terminate(&self) -> Result<(), Error> {
        self.signal(Signal::SIGTERM)
    }

    /// Sends SIGKILL (`p.kill()`), which cannot be caught or ignored.
    pub fn kill(&self) -> Result<(), Error> {
        self.signal(Signal::SIGKILL)
    }
}

impl Drop for Process {
    /// An unjoined child is killed and reaped, so it leaves no zombie and no orphan.
    fn drop(&mut self) {
        if let State::Running = self.state() {
            let _ = self.kill();
            let _ = self.join();
        }
        if let State::Done(_) = self.state() {
            // The child is gone: its panic page can serve the next child.
            give_back_panic_page(self.panic_page.clone());
        }
    }
}

// --- panic pages, reused -----------------------------------------------------------------------

/// How many spare panic pages a thread keeps (a page is one `memfd` + `mmap`: reusing it saves
/// five system calls per `start`).
const SPARE_PAGES: usize = 32;

thread_local! {
    /// Spare panic pages of this thread, tagged with the pid they belong to: a forked child
    /// inherits the list but must not use it (the pages are shared with the parent, which
    /// may hand them to its own next child).
    static SPARE: std::cell::RefCell<(i32, Vec<Arc<SharedRegion>>)> =
        const { std::cell::RefCell::new((0, Vec::new())) };
}

fn take_panic_page() -> io::Result<Arc<SharedRegion>> {
    let me = crate::queue::my_pid();
    let spare = SPARE.with(|s| {
        let mut s = s.try_borrow_mut().ok()?;
        if s.0 != me {
            // Inherited from the parent: not ours. Forget them (unmapping is not needed).
            std::mem::forget(std::mem::take(&mut s.1));
            s.0 = me;
        }
        s.1.pop()
    });
    match spare {
        Some(page) => Ok(page),
        None => Ok(Arc::new(SharedRegion::new("coord-panic", PANIC_PAGE_LEN)?)),
    }
}

fn give_back_panic_page(page: Arc<SharedRegion>) {
    if Arc::strong_count(&page) != 2 {
        return; // someone else still refers to it
    }
    // SAFETY: the page is mapped (we hold an Arc) and its child is dead: nobody writes it.
    unsafe { (*(page.ptr() as *const AtomicU32)).store(0, Ordering::Release) };
    let me = crate::queue::my_pid();
    SPARE.with(|s| {
        if let Ok(mut s) = s.try_borrow_mut()
            && s.0 == me
            && s.1.len() < SPARE_PAGES
        {
            s.1.push(page);
        }
    });
}

/// Leaves the child at once with `_exit`: no atexit handlers, no destructors, no flush of the
/// stdio buffers the child inherited from its parent (they would be printed twice).
fn exit_now(code: i32) -> ! {
    // SAFETY: _exit is async-signal-safe and always allowed; it never returns.
    unsafe { libc::_exit(code) }
}

/// Whether thread `tid` of process `pid` still exists (`tgkill` with signal 0 sends nothing;
/// nix has no wrapper for it).
fn thread_alive(pid: Pid, tid: Pid) -> bool {
    // SAFETY: tgkill with signal 0 only checks that the thread exists (and that we may signal
    // it); it reads no memory of ours.
    let rc = unsafe { libc::syscall(libc::SYS_tgkill, pid.as_raw(), tid.as_raw(), 0) };
    rc == 0 || Errno::last() != Errno::ESRCH
}

fn pidfd_open(pid: Pid) -> Option<OwnedFd> {
    // SAFETY: pidfd_open takes a pid and flags and returns a new fd or -1; nix has no wrapper.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid.as_raw(), 0) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the kernel just returned this fd to us (close-on-exec), nobody else owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Starts `n` processes, the `i`-th running `f(i)`. Stops at the first failure (already
/// started children are killed and reaped when the returned error drops them).
pub fn start_all<F, R>(n: usize, f: F) -> Result<Vec<Process>, Error>
where
    F: Fn(usize) -> R,
    R: ChildResult,
{
    (0..n).map(|i| Process::start(|| f(i))).collect()
}

/// Joins every process with one overall timeout; those still running at the deadline are
/// killed and reported as `None`.
pub fn join_all(procs: &[Process], timeout: Duration) -> Result<Vec<Option<ExitStatus>>, Error> {
    // `None`: a timeout too large to be a point in time, i.e. no deadline.
    let deadline = Instant::now().checked_add(timeout);
    let mut out = Vec::with_capacity(procs.len());
    for p in procs {
        let left = deadline.map_or(Duration::MAX, |d| d.saturating_duration_since(Instant::now()));
        let st = p.join_timeout(left)?;
        if st.is_none() {
            p.kill()?;
            p.join()?;
        }
        out.push(st);
    }
    Ok(out)
}

/// Whether a process is running: it exists and is not a zombie (a zombie has exited but not
/// been reaped yet, so `kill(pid, 0)` still finds it).
pub(crate) fn process_alive(pid: i32) -> bool {
    match kill(Pid::from_raw(pid), None) {
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
