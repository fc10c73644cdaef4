//! coord-core, the raw OS floors under it, and the Rust IPC crates that do the same work
//! (ipc-channel, raw_sync, procspawn, and iceoryx2 with its feature), measured in ONE process run.
//!
//! `cargo bench -p ipc-peers` (about 40 s on 2 vCPUs once built; `-- --quick` for a smoke run).
//!
//! Why one run: on these shared VMs IPC figures drift ±30 % between runs, and a blocking
//! wake-up costs ~6 µs when both processes sit on one CPU and ~50 µs across CPUs. So every
//! row here is measured with its floor and its peers in the same run, repetitions interleaved
//! (each repetition runs every contestant of the row once, in a rotating order), and every
//! two-process row is run twice: both processes pinned to one CPU, and pinned to two CPUs
//! (`sched_setaffinity`). The table gives the median of the per-repetition means, its ratio
//! to the row's fastest raw floor, and its ratio to the row's fastest peer crate that waits
//! the same way; under a row where coord-core is behind, the measured reason (`explain_gaps`).
//!
//! iceoryx2's rows are included with `--features iceoryx2` (code in `peers/iceoryx2.rs`); its
//! build needs libclang: `apt-get install libclang-dev`, then
//! `cargo bench -p ipc-peers --features iceoryx2`.

use std::hint::black_box;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use coord_core::{Error, Lock, Manager, Process, Queue, RawValue, ShmQueue, Value, Waiting};
use ipc_channel::ipc;
use nix::sched::{CpuSet, sched_setaffinity};
use nix::sys::mman::{MapFlags, ProtFlags, mmap_anonymous};
use nix::sys::socket::{AddressFamily, SockFlag, SockType, socketpair};
use nix::sys::wait::waitpid;
use nix::unistd::{ForkResult, Pid, fork};
use raw_sync::locks::{LockImpl, LockInit};

#[cfg(feature = "iceoryx2")]
#[path = "peers/iceoryx2.rs"]
mod ice;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Who {
    Floor,
    Ours,
    Peer,
}

/// One contestant: runs `n` operations, returns seconds per operation.
struct Entry {
    who: Who,
    name: &'static str,
    run: Box<dyn FnMut(usize) -> f64>,
    /// Keeps helper processes (echo servers) alive while the row runs; dropped = killed.
    _keep: Vec<Process>,
}

struct Row {
    what: &'static str,
    place: &'static str,
    entries: Vec<Entry>,
}

struct Cfg {
    reps: usize,
    /// Wall time one measurement of one contestant aims at.
    slice: Duration,
    /// `--only TEXT`: measure only the contestants whose name contains TEXT (and the floors).
    only: Option<String>,
}

/// Result of one row: (who, name, median seconds per op).
type Measured = Vec<(Who, &'static str, f64)>;

fn measure(cfg: &Cfg, row: &mut Row) -> Measured {
    if let Some(only) = &cfg.only {
        row.entries
            .retain(|e| e.who == Who::Floor || e.name.contains(only.as_str()));
    }
    // Calibrate: how many operations fill one slice (this also warms up every contestant).
    let ns: Vec<usize> = row
        .entries
        .iter_mut()
        .map(|e| {
            let mut n = 1usize;
            loop {
                let per = (e.run)(n);
                let took = per * n as f64;
                if took >= cfg.slice.as_secs_f64() / 4.0 || n >= 1 << 26 {
                    break ((cfg.slice.as_secs_f64() / per.max(1e-10)) as usize).clamp(1, 1 << 28);
                }
                n *= 4;
            }
        })
        .collect();
    let k = row.entries.len();
    let mut samples = vec![Vec::new(); k];
    for r in 0..cfg.reps {
        for j in 0..k {
            let i = (j + r) % k;
            samples[i].push((row.entries[i].run)(ns[i]));
        }
    }
    row.entries
        .iter()
        .zip(samples)
        .map(|(e, s)| (e.who, e.name, median(s)))
        .collect()
}

/// The median of the repetitions (their count is odd: the middle one).
fn median(v: Vec<f64>) -> f64 {
    lab_support::stats::median(&v).unwrap_or(f64::NAN)
}

fn per_op(t0: Instant, n: usize) -> f64 {
    t0.elapsed().as_secs_f64() / n as f64
}

fn fmt_time(s: f64) -> String {
    if s < 1e-6 {
        format!("{:.1} ns", s * 1e9)
    } else if s < 1e-3 {
        format!("{:.2} µs", s * 1e6)
    } else {
        format!("{:.2} ms", s * 1e3)
    }
}

// --- placement ------------------------------------------------------------------------------

fn pin(cpus: &[usize]) {
    let mut set = CpuSet::new();
    for &c in cpus {
        set.set(c).expect("cpu index");
    }
    sched_setaffinity(Pid::from_raw(0), &set).expect("sched_setaffinity");
}

/// Where the two sides of a pair run: this process on `me`, helpers started by `spawn` on
/// `other` (a child inherits its parent's affinity at fork, so the parent moves there for the
/// fork and comes back).
#[derive(Clone, Copy)]
struct Place {
    name: &'static str,
    me: usize,
    other: usize,
}

impl Place {
    fn spawn<R>(&self, f: impl FnOnce() -> R) -> R {
        pin(&[self.other]);
        let r = f();
        pin(&[self.me]);
        r
    }
}

// --- raw helpers ----------------------------------------------------------------------------

fn read_exact(fd: &OwnedFd, buf: &mut [u8]) -> bool {
    let mut done = 0;
    while done < buf.len() {
        match nix::unistd::read(fd, &mut buf[done..]) {
            Ok(0) => return false,
            Ok(n) => done += n,
            Err(nix::errno::Errno::EINTR) => {}
            Err(_) => return false,
        }
    }
    true
}

fn write_all(fd: &OwnedFd, mut buf: &[u8]) {
    while !buf.is_empty() {
        match nix::unistd::write(fd, buf) {
            Ok(n) => buf = &buf[n..],
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => panic!("write: {e}"),
        }
    }
}

fn pipe() -> (OwnedFd, OwnedFd) {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).expect("pipe");
    let _ = nix::fcntl::fcntl(&r, nix::fcntl::FcntlArg::F_SETPIPE_SZ(1 << 20));
    (r, w)
}

/// A zeroed MAP_SHARED region of `len` bytes, never unmapped (the benchmark ends soon).
fn shared(len: usize) -> *mut u8 {
    // SAFETY: a fresh anonymous mapping, aliased by nothing yet.
    let p = unsafe {
        mmap_anonymous(
            None,
            std::num::NonZeroUsize::new(len).expect("non-zero"),
            ProtFlags::PROT_READ | ProtFlags::PROT_WRITE,
            MapFlags::MAP_SHARED,
        )
    }
    .expect("mmap");
    p.as_ptr().cast()
}

/// A bare process-shared pthread mutex (default type, not robust) in a MAP_SHARED page.
struct BareMutex(*mut libc::pthread_mutex_t);

impl BareMutex {
    fn new() -> BareMutex {
        let m = shared(4096) as *mut libc::pthread_mutex_t;
        // SAFETY: `m` is aligned, writable, not shared yet; attr is initialized before use.
        unsafe {
            let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
            libc::pthread_mutexattr_init(&mut attr);
            libc::pthread_mutexattr_setpshared(&mut attr, libc::PTHREAD_PROCESS_SHARED);
            assert_eq!(libc::pthread_mutex_init(m, &attr), 0);
            libc::pthread_mutexattr_destroy(&mut attr);
        }
        BareMutex(m)
    }
    fn with<R>(&self, f: impl FnOnce() -> R) -> R {
        // SAFETY: initialized in `new`, mapped for ever; unlocked by the thread that locked.
        unsafe { libc::pthread_mutex_lock(self.0) };
        let r = f();
        // SAFETY: as above.
        unsafe { libc::pthread_mutex_unlock(self.0) };
        r
    }
    /// The word next to the mutex that it guards.
    fn data(&self) -> *mut u64 {
        // SAFETY: offset 64 of the mutex's page: aligned, inside the page.
        unsafe { (self.0 as *mut u8).add(64) as *mut u64 }
    }
}

/// raw_sync's mutex, in a MAP_SHARED page (its own documented use).
fn raw_sync_mutex() -> (Box<dyn LockImpl>, *mut u64) {
    let mem = shared(4096);
    // SAFETY: `mem` is a fresh page, large enough for the mutex (checked) and the u64 after it.
    unsafe {
        assert!(raw_sync::locks::Mutex::size_of(Some(mem)) <= 64);
        let (m, _) = raw_sync::locks::Mutex::new(mem, mem.add(64)).expect("raw_sync mutex");
        (m, mem.add(64) as *mut u64)
    }
}

// --- rows -----------------------------------------------------------------------------------

fn entry(who: Who, name: &'static str, keep: Vec<Process>, run: impl FnMut(usize) -> f64 + 'static) -> Entry {
    Entry {
        who,
        name,
        run: Box::new(run),
        _keep: keep,
    }
}

/// An echo over two pipes (`size` bytes each way): the floor of every queue row.
fn pipe_echo(place: Place, size: usize) -> Entry {
    let (r1, w1) = pipe();
    let (r2, w2) = pipe();
    let child = place
        .spawn(|| {
            Process::start(|| {
                let mut buf = vec![0u8; size];
                while read_exact(&r1, &mut buf) {
                    write_all(&w2, &buf);
                }
            })
        })
        .expect("start");
    let (msg, mut back) = (vec![1u8; size], vec![0u8; size]);
    entry(Who::Floor, "pipe ping-pong (raw)", vec![child], move |n| {
        let t0 = Instant::now();
        for _ in 0..n {
            write_all(&w1, &msg);
            assert!(read_exact(&r2, &mut back));
        }
        per_op(t0, n)
    })
}

/// A ping-pong over one socket pair of `ty` (stream or seqpacket), `size` bytes each way.
fn socket_echo(place: Place, size: usize, ty: SockType, name: &'static str) -> Entry {
    let (a, b) = socketpair(AddressFamily::Unix, ty, None, SockFlag::SOCK_CLOEXEC).expect("socketpair");
    let seqpacket = ty == SockType::SeqPacket;
    let child = place
        .spawn(|| {
            Process::start(|| {
                let mut buf = vec![0u8; size];
                loop {
                    let ok = if seqpacket {
                        matches!(nix::unistd::read(&b, &mut buf), Ok(n) if n > 0)
                    } else {
                        read_exact(&b, &mut buf)
                    };
                    if !ok {
                        break;
                    }
                    write_all(&b, &buf);
                }
            })
        })
        .expect("start");
    let (msg, mut back) = (vec![1u8; size], vec![0u8; size]);
    entry(Who::Floor, name, vec![child], move |n| {
        let t0 = Instant::now();
        for _ in 0..n {
            write_all(&a, &msg);
            if seqpacket {
                assert_eq!(nix::unistd::read(&a, &mut back).expect("read"), size);
            } else {
                assert!(read_exact(&a, &mut back));
            }
        }
        per_op(t0, n)
    })
}

fn queue_u64(place: Place) -> Entry {
    let (ping, pong) = (
        Queue::<u64>::new().expect("queue"),
        Queue::<u64>::new().expect("queue"),
    );
    let child = {
        let (ping, pong) = (ping.clone(), pong.clone());
        place
            .spawn(|| {
                Process::start(move || -> Result<(), Error> {
                    loop {
                        let x = gone_is_done(ping.get())?;
                        pong.put(&x)?;
                    }
                })
            })
            .expect("start")
    };
    entry(Who::Ours, "coord-core Queue<u64>", vec![child], move |n| {
        let t0 = Instant::now();
        for i in 0..n as u64 {
            ping.put(&i).expect("put");
            black_box(pong.get().expect("get"));
        }
        per_op(t0, n)
    })
}

fn queue_bytes(place: Place, size: usize) -> Entry {
    let (ping, pong) = (
        Queue::<Vec<u8>>::new().expect("queue"),
        Queue::<Vec<u8>>::new().expect("queue"),
    );
    let child = {
        let (ping, pong) = (ping.clone(), pong.clone());
        place
            .spawn(|| {
                Process::start(move || -> Result<(), Error> {
                    let mut buf = Vec::new();
                    loop {
                        gone_is_done(ping.get_bytes_into(&mut buf))?;
                        pong.put_bytes(&buf)?;
                    }
                })
            })
            .expect("start")
    };
    let (msg, mut back) = (vec![1u8; size], Vec::new());
    entry(Who::Ours, "coord-core Queue put_bytes", vec![child], move |n| {
        let t0 = Instant::now();
        for _ in 0..n {
            ping.put_bytes(&msg).expect("put");
            pong.get_bytes_into(&mut back).expect("get");
        }
        per_op(t0, n)
    })
}

/// In an echo child: the parent dropping its end (`Disconnected`) is the normal end, not an
/// error to report; the child leaves quietly with exit code 0.
fn gone_is_done<T>(r: Result<T, Error>) -> Result<T, Error> {
    if let Err(Error::Disconnected) = r {
        // SAFETY: _exit ends this forked child at once, running none of the parent's
        // destructors and flushing none of its buffers; it is always safe to call.
        unsafe { libc::_exit(0) }
    }
    r
}

/// Ends a burst of round trips: the echo goes back to sleeping.
const PARK: u64 = u64::MAX;

fn shm_u64(place: Place, waiting: Waiting, name: &'static str) -> Entry {
    let mk = || {
        ShmQueue::<u64>::with_capacity(2, 16)
            .expect("shm queue")
            .with_waiting(waiting)
    };
    let (ping, pong) = (mk(), mk());
    let child = {
        let (ping, pong) = (ping.clone(), pong.clone());
        // Between measurements the echo sleeps (a spinning one would burn the CPU that the
        // other contestants' echoes need): PARK ends a burst.
        let idle = ping.clone().with_waiting(Waiting::Block);
        place
            .spawn(|| {
                Process::start(move || -> Result<(), Error> {
                    let mut active = false;
                    loop {
                        let x = gone_is_done(if active { ping.get() } else { idle.get() })?;
                        active = x != PARK;
                        if active {
                            pong.put(&x)?;
                        }
                    }
                })
            })
            .expect("start")
    };
    entry(Who::Ours, name, vec![child], move |n| {
        let t0 = Instant::now();
        for i in 0..n as u64 {
            ping.put(&i).expect("put");
            black_box(pong.get().expect("get"));
        }
        let per = per_op(t0, n);
        ping.put(&PARK).expect("put");
        per
    })
}

fn shm_bytes(place: Place, size: usize, waiting: Waiting, name: &'static str) -> Entry {
    let mk = || {
        ShmQueue::<Vec<u8>>::with_capacity(2, size + 16)
            .expect("shm queue")
            .with_waiting(waiting)
    };
    let (ping, pong) = (mk(), mk());
    let child = {
        let (ping, pong) = (ping.clone(), pong.clone());
        let idle = ping.clone().with_waiting(Waiting::Block);
        place
            .spawn(|| {
                Process::start(move || -> Result<(), Error> {
                    let mut buf = Vec::new();
                    let mut active = false;
                    loop {
                        let n = gone_is_done(if active {
                            ping.get_bytes_into(&mut buf)
                        } else {
                            idle.get_bytes_into(&mut buf)
                        })?;
                        active = n > 0; // an empty message parks the echo
                        if active {
                            pong.put_bytes(&buf)?;
                        }
                    }
                })
            })
            .expect("start")
    };
    let (msg, mut back) = (vec![1u8; size], Vec::new());
    entry(Who::Ours, name, vec![child], move |n| {
        let t0 = Instant::now();
        for _ in 0..n {
            ping.put_bytes(&msg).expect("put");
            pong.get_bytes_into(&mut back).expect("get");
        }
        let per = per_op(t0, n);
        ping.put_bytes(&[]).expect("put");
        per
    })
}

fn ipc_channel_u64(place: Place) -> Entry {
    let (tx1, rx1) = ipc::channel::<u64>().expect("ipc channel");
    let (tx2, rx2) = ipc::channel::<u64>().expect("ipc channel");
    let child = place
        .spawn(|| {
            Process::start(|| {
                while let Ok(x) = rx1.recv() {
                    if tx2.send(x).is_err() {
                        break;
                    }
                }
            })
        })
        .expect("start");
    entry(Who::Peer, "ipc-channel u64", vec![child], move |n| {
        let t0 = Instant::now();
        for i in 0..n as u64 {
            tx1.send(i).expect("send");
            black_box(rx2.recv().expect("recv"));
        }
        per_op(t0, n)
    })
}

fn ipc_channel_bytes(place: Place, size: usize) -> Entry {
    let (tx1, rx1) = ipc::bytes_channel().expect("ipc channel");
    let (tx2, rx2) = ipc::bytes_channel().expect("ipc channel");
    let child = place
        .spawn(|| {
            Process::start(|| {
                while let Ok(x) = rx1.recv() {
                    if tx2.send(&x).is_err() {
                        break;
                    }
                }
            })
        })
        .expect("start");
    let msg = vec![1u8; size];
    entry(Who::Peer, "ipc-channel bytes_channel", vec![child], move |n| {
        let t0 = Instant::now();
        for _ in 0..n {
            tx1.send(&msg).expect("send");
            black_box(rx2.recv().expect("recv"));
        }
        per_op(t0, n)
    })
}

fn manager_get(place: Place) -> Entry {
    let manager = place.spawn(Manager::start).expect("manager");
    let value = manager.value();
    entry(Who::Ours, "coord-core Manager value.get", vec![], move |n| {
        let _alive = &manager; // the server lives as long as this contestant
        let t0 = Instant::now();
        for _ in 0..n {
            black_box(value.get().expect("get"));
        }
        per_op(t0, n)
    })
}

/// How a raw shared-memory floor waits for the other side's sequence number.
#[derive(Clone, Copy, PartialEq, Eq)]
enum FloorWait {
    /// Spin on the word (yielding now and then, as `ShmQueue` spinning does).
    Spin,
    /// Sleep on the word with FUTEX_WAIT, wake with FUTEX_WAKE after every store (as
    /// `ShmQueue` blocking does, minus its bookkeeping).
    Futex,
}

/// The floor of a shared-memory round trip: `size` bytes copied into a shared buffer, a
/// sequence number stored; the other process waits for it, copies the bytes out and back into
/// a second buffer, stores its own number; we wait, and copy them out. The same four copies
/// and the same kind of waiting as `ShmQueue`, with nothing else. The echo is forked for each
/// measurement (outside the timed part), so it spins only while it is measured.
fn shm_floor(place: Place, size: usize, wait: FloorWait) -> Entry {
    let base = shared(4096 + 2 * size);
    let addr = base as usize;
    let flags = move |i: usize| -> &'static AtomicU32 {
        // SAFETY: offsets 0 and 64 of a page-aligned region mapped for ever: aligned u32s
        // touched only through atomics (and the futex calls, which take their address).
        unsafe { &*((addr + 64 * i) as *const AtomicU32) }
    };
    // SAFETY (of both): inside the region (4096 + 2 × size bytes), mapped for ever.
    let (req_buf, rep_buf) = unsafe { (base.add(4096), base.add(4096 + size)) };
    let (req_addr, rep_addr) = (req_buf as usize, rep_buf as usize);
    let (msg, mut back) = (vec![1u8; size], vec![0u8; size]);
    let name = match wait {
        FloorWait::Spin => "shared memory + spinning flag (raw)",
        FloorWait::Futex => "shared memory + futex (raw)",
    };
    let wait_for = move |flag: &AtomicU32, want: u32| match wait {
        FloorWait::Spin => spin_until(flag, want),
        FloorWait::Futex => futex_until(flag, want),
    };
    let store = move |flag: &AtomicU32, v: u32| {
        flag.store(v, Ordering::Release);
        if wait == FloorWait::Futex {
            futex_wake(flag);
        }
    };
    entry(Who::Floor, name, vec![], move |n| {
        let (req, rep) = (flags(0), flags(1));
        req.store(0, Ordering::Relaxed);
        rep.store(0, Ordering::Relaxed);
        let n = n.min(u32::MAX as usize - 1);
        let child = place
            .spawn(|| {
                Process::start(move || {
                    let mut local = vec![0u8; size];
                    store(rep, u32::MAX); // ready
                    for i in 1..=n as u32 {
                        wait_for(req, i);
                        // SAFETY: the request buffer is ours until we answer (the parent
                        // waits), the reply buffer too; both are `size` bytes, mapped for ever.
                        unsafe {
                            std::ptr::copy_nonoverlapping(req_addr as *const u8, local.as_mut_ptr(), size);
                            std::ptr::copy_nonoverlapping(local.as_ptr(), rep_addr as *mut u8, size);
                        }
                        store(rep, i);
                    }
                })
            })
            .expect("start");
        wait_for(rep, u32::MAX);
        let t0 = Instant::now();
        for i in 1..=n as u32 {
            // SAFETY: the child touches the request buffer only after `req` says `i`, and the
            // reply buffer is ours again once `rep` says `i`.
            unsafe { std::ptr::copy_nonoverlapping(msg.as_ptr(), req_addr as *mut u8, size) };
            store(req, i);
            wait_for(rep, i);
            // SAFETY: as above.
            unsafe { std::ptr::copy_nonoverlapping(rep_addr as *const u8, back.as_mut_ptr(), size) };
        }
        let per = per_op(t0, n);
        assert!(child.join().expect("join").success());
        per
    })
}

/// Sleeps on `flag` (FUTEX_WAIT, process-shared) until it holds `want`.
fn futex_until(flag: &AtomicU32, want: u32) {
    loop {
        let now = flag.load(Ordering::Acquire);
        if now == want {
            return;
        }
        // SAFETY: `flag` is a live, aligned AtomicU32 in a MAP_SHARED page; FUTEX_WAIT only
        // reads it and sleeps while it still holds `now`. No timeout (null), unused uaddr2/val3.
        unsafe {
            libc::syscall(
                libc::SYS_futex,
                flag.as_ptr(),
                libc::FUTEX_WAIT,
                now,
                std::ptr::null::<libc::timespec>(),
                std::ptr::null::<u32>(),
                0u32,
            )
        };
    }
}

/// Wakes the (at most one) process sleeping on `flag`.
fn futex_wake(flag: &AtomicU32) {
    // SAFETY: FUTEX_WAKE only uses the address of the live `flag` to find its sleepers.
    unsafe {
        libc::syscall(
            libc::SYS_futex,
            flag.as_ptr(),
            libc::FUTEX_WAKE,
            1,
            std::ptr::null::<libc::timespec>(),
            std::ptr::null::<u32>(),
            0u32,
        )
    };
}

/// Spins until `flag` holds `want`, yielding now and then (as `ShmQueue`'s spinning does) so
/// that a partner on the same CPU can run.
fn spin_until(flag: &AtomicU32, want: u32) {
    let mut spins = 0u32;
    while flag.load(Ordering::Acquire) != want {
        spins = spins.wrapping_add(1);
        std::hint::spin_loop();
        if spins % 4096 == 0 {
            std::thread::yield_now();
        }
    }
}

/// Two 64 KiB copies in this process (into a buffer, out of it): what a shared-memory hop
/// must do at least, with a warm cache.
fn memcpy_pair(size: usize) -> Entry {
    let (a, mut mid, mut b) = (vec![1u8; size], vec![0u8; size], vec![0u8; size]);
    entry(Who::Floor, "2 × memcpy (in-process)", vec![], move |n| {
        let t0 = Instant::now();
        for _ in 0..n {
            mid.copy_from_slice(black_box(&a));
            b.copy_from_slice(black_box(&mid));
            black_box(&mut b);
        }
        per_op(t0, n)
    })
}

fn round_trip_u64(place: Place) -> Row {
    Row {
        what: "u64 round trip between two processes",
        place: place.name,
        entries: vec![
            pipe_echo(place, 8),
            socket_echo(place, 8, SockType::Stream, "socketpair ping-pong (raw)"),
            socket_echo(place, 8, SockType::SeqPacket, "seqpacket ping-pong (raw)"),
            shm_floor(place, 8, FloorWait::Spin),
            shm_floor(place, 8, FloorWait::Futex),
            queue_u64(place),
            shm_u64(place, Waiting::Spin, "coord-core ShmQueue (spinning)"),
            shm_u64(place, Waiting::Adaptive, "coord-core ShmQueue (adaptive)"),
            shm_u64(place, Waiting::Block, "coord-core ShmQueue (blocking)"),
            manager_get(place),
            ipc_channel_u64(place),
            #[cfg(feature = "iceoryx2")]
            ice::u64_polling(place),
            #[cfg(feature = "iceoryx2")]
            ice::u64_waitset(place),
        ],
    }
}

fn round_trip_64k(place: Place) -> Row {
    const SIZE: usize = 64 << 10;
    Row {
        what: "64 KiB round trip between two processes",
        place: place.name,
        entries: vec![
            pipe_echo(place, SIZE),
            socket_echo(place, SIZE, SockType::SeqPacket, "seqpacket ping-pong (raw)"),
            memcpy_pair(SIZE),
            shm_floor(place, SIZE, FloorWait::Spin),
            shm_floor(place, SIZE, FloorWait::Futex),
            queue_bytes(place, SIZE),
            shm_bytes(place, SIZE, Waiting::Spin, "coord-core ShmQueue bytes (spinning)"),
            shm_bytes(
                place,
                SIZE,
                Waiting::Block,
                "coord-core ShmQueue bytes (blocking)",
            ),
            ipc_channel_bytes(place, SIZE),
            #[cfg(feature = "iceoryx2")]
            ice::bytes_polling(place, SIZE),
        ],
    }
}

fn spawn_join() -> Row {
    Row {
        what: "start a process and wait for it",
        place: "both CPUs",
        entries: vec![
            entry(Who::Floor, "fork + _exit + waitpid (raw)", vec![], |n| {
                let t0 = Instant::now();
                for _ in 0..n {
                    // SAFETY: the child calls only the async-signal-safe _exit.
                    match unsafe { fork() }.expect("fork") {
                        // SAFETY: _exit never returns and is always allowed.
                        ForkResult::Child => unsafe { libc::_exit(0) },
                        ForkResult::Parent { child } => {
                            black_box(waitpid(child, None).expect("waitpid"));
                        }
                    }
                }
                per_op(t0, n)
            }),
            entry(Who::Ours, "coord-core Process::start + join", vec![], |n| {
                let t0 = Instant::now();
                for _ in 0..n {
                    let p = Process::start(|| ()).expect("start");
                    black_box(p.join().expect("join"));
                }
                per_op(t0, n)
            }),
            entry(Who::Peer, "procspawn spawn + join", vec![], |n| {
                let t0 = Instant::now();
                for _ in 0..n {
                    let h = procspawn::spawn((), |()| ());
                    h.join().expect("procspawn join");
                }
                per_op(t0, n)
            }),
        ],
    }
}

fn reads_and_locks() -> Row {
    // SAFETY: a fresh page, only touched through this atomic.
    let atomic: &'static AtomicU64 = unsafe { &*(shared(4096) as *const AtomicU64) };
    let raw = RawValue::new(7u64).expect("raw value");
    let value = Value::new(7u64).expect("value");
    let lock = Lock::new().expect("lock");
    let bare = BareMutex::new();
    let (rs, rs_data) = raw_sync_mutex();
    Row {
        what: "one process: read a shared u64, lock + unlock",
        place: "one CPU",
        entries: vec![
            entry(Who::Floor, "AtomicU64 load (raw)", vec![], move |n| {
                let t0 = Instant::now();
                for _ in 0..n {
                    black_box(atomic.load(Ordering::Acquire));
                }
                per_op(t0, n)
            }),
            entry(Who::Ours, "coord-core RawValue::get", vec![], move |n| {
                let t0 = Instant::now();
                for _ in 0..n {
                    black_box(raw.get());
                }
                per_op(t0, n)
            }),
            entry(
                Who::Floor,
                "pshared pthread mutex + read (raw)",
                vec![],
                move |n| {
                    let t0 = Instant::now();
                    for _ in 0..n {
                        // SAFETY: read under the mutex; the page is mapped for ever.
                        black_box(bare.with(|| unsafe { bare.data().read_volatile() }));
                    }
                    per_op(t0, n)
                },
            ),
            entry(Who::Ours, "coord-core Value::get (locked)", vec![], move |n| {
                let t0 = Instant::now();
                for _ in 0..n {
                    black_box(value.get());
                }
                per_op(t0, n)
            }),
            entry(Who::Ours, "coord-core Lock lock + unlock", vec![], move |n| {
                let t0 = Instant::now();
                for _ in 0..n {
                    drop(black_box(lock.lock().expect("lock")));
                }
                per_op(t0, n)
            }),
            entry(Who::Peer, "raw_sync Mutex lock + read", vec![], move |n| {
                let t0 = Instant::now();
                for _ in 0..n {
                    let g = rs.lock().expect("lock");
                    // SAFETY: read under raw_sync's mutex; the page is mapped for ever.
                    black_box(unsafe { rs_data.read_volatile() });
                    drop(g);
                }
                per_op(t0, n)
            }),
        ],
    }
}

/// Four processes adding 1 to one counter under one lock, `n` times in all; per increment.
fn contended() -> Row {
    const PROCS: usize = 4;
    fn run_procs(n: usize, f: impl Fn(usize)) -> f64 {
        let each = n.div_ceil(PROCS);
        let t0 = Instant::now();
        let ps: Vec<Process> = (0..PROCS)
            .map(|_| Process::start(|| f(each)).expect("start"))
            .collect();
        for p in &ps {
            assert!(p.join().expect("join").success());
        }
        per_op(t0, each * PROCS)
    }
    let bare = BareMutex::new();
    let lock = Lock::new().expect("lock");
    let counter = RawValue::new(0u64).expect("counter");
    let (rs, rs_data) = raw_sync_mutex();
    let rs_addr = rs_data as usize;
    Row {
        what: "4 processes increment one counter under one lock",
        place: "both CPUs",
        entries: vec![
            entry(Who::Floor, "pshared pthread mutex (raw)", vec![], move |n| {
                run_procs(n, |k| {
                    for _ in 0..k {
                        // SAFETY: under the mutex; the page is mapped for ever.
                        bare.with(|| unsafe { *bare.data() += 1 });
                    }
                })
            }),
            entry(Who::Ours, "coord-core Lock", vec![], move |n| {
                run_procs(n, |k| {
                    for _ in 0..k {
                        let _g = lock.lock().expect("lock");
                        counter.set(counter.get() + 1);
                    }
                })
            }),
            entry(Who::Peer, "raw_sync Mutex", vec![], move |n| {
                run_procs(n, |k| {
                    for _ in 0..k {
                        let _g = rs.lock().expect("lock");
                        // SAFETY: under raw_sync's mutex; the page is mapped for ever.
                        unsafe { *(rs_addr as *mut u64) += 1 };
                    }
                })
            }),
        ],
    }
}

fn print_row(row: &Row, m: &Measured) {
    // A spinning contestant is compared with the raw spinning floor, the others with the
    // fastest raw blocking mechanism (the in-process memcpy is a reference, not a floor).
    let floor_of = |spinning: bool| {
        m.iter()
            .filter(|e| e.0 == Who::Floor && !e.1.starts_with("2 × memcpy") && spins(e.1) == spinning)
            .map(|e| e.2)
            .fold(f64::INFINITY, f64::min)
    };
    let (blocking_floor, spinning_floor) = (floor_of(false), floor_of(true));
    println!("\n{} — {}", row.what, row.place);
    if spinning_floor.is_finite() {
        println!(
            "  (× floor: spinning rows against the raw spinning floor, the others against the fastest raw blocking one;\n   \
             × best peer: against the fastest peer that waits the same way, spinning or not; the fastest of all if none does)"
        );
    }
    println!(
        "  {:<40} {:>12} {:>9} {:>10}",
        "", "median", "× floor", "× best peer"
    );
    for (who, name, t) in m {
        let tag = match who {
            Who::Floor => "floor",
            Who::Ours => "ours",
            Who::Peer => "peer",
        };
        let vs_peer = if let Some((_, _, peer)) = best_peer(m, name) {
            format!("{:.2}", t / peer)
        } else {
            "—".into()
        };
        println!(
            "  {:<40} {:>12} {:>9.2} {:>10}   {tag}",
            name,
            fmt_time(*t),
            t / if spins(name) && spinning_floor.is_finite() {
                spinning_floor
            } else {
                blocking_floor
            },
            vs_peer
        );
    }
    explain_gaps(m);
}

/// Whether a contestant waits by spinning (or polling) rather than sleeping in the kernel.
fn spins(name: &str) -> bool {
    name.contains("spinning") || name.contains("polling")
}

/// The fastest peer to set `name` against: one that waits the same way (a spinning queue
/// against a polling peer, a blocking one against a blocking peer), or, if the row has none
/// of that kind, the fastest peer of all.
fn best_peer<'a>(m: &'a Measured, name: &str) -> Option<&'a (Who, &'static str, f64)> {
    let fastest = |same_kind: bool| {
        m.iter()
            .filter(|e| e.0 == Who::Peer && (!same_kind || spins(e.1) == spins(name)))
            .min_by(|a, b| a.2.total_cmp(&b.2))
    };
    fastest(true).or_else(|| fastest(false))
}

/// The raw floor a contestant is built on: the mechanism it would cost if it added nothing.
/// Used to explain a row where coord-core is behind a peer: is the gap in what the crate adds,
/// or in the kernel mechanism underneath?
fn mechanism(name: &str) -> Option<&'static str> {
    let spinning = spins(name);
    Some(match name {
        n if n.starts_with("coord-core Queue") => "pipe ping-pong (raw)",
        n if n.starts_with("coord-core Manager") => "socketpair ping-pong (raw)",
        n if n.starts_with("ipc-channel") => "seqpacket ping-pong (raw)",
        n if (n.starts_with("coord-core ShmQueue") || n.starts_with("iceoryx2")) && spinning => {
            "shared memory + spinning flag (raw)"
        }
        n if n.starts_with("coord-core ShmQueue") => "shared memory + futex (raw)",
        "coord-core RawValue::get" => "AtomicU64 load (raw)",
        "coord-core Value::get (locked)" | "coord-core Lock lock + unlock" | "raw_sync Mutex lock + read" => {
            "pshared pthread mutex + read (raw)"
        }
        "coord-core Lock" | "raw_sync Mutex" => "pshared pthread mutex (raw)",
        "coord-core Process::start + join" => "fork + _exit + waitpid (raw)",
        _ => return None,
    })
}

/// For every coord-core contestant slower than the row's fastest peer: the measurement that
/// says where the gap is, from the same run. Each side is set against the raw mechanism it is
/// built on; if coord-core adds no more to its mechanism than the peer adds to its own, the
/// gap is the kernel's (pipe against socket, say), not coord-core's code.
fn explain_gaps(m: &Measured) {
    let floor = |name: &str| {
        mechanism(name)
            .map(|f| (f, get(m, f)))
            .filter(|f| f.1.is_finite())
    };
    for &(_, ours, t) in m.iter().filter(|e| e.0 == Who::Ours) {
        let Some(&(_, peer, peer_t)) = best_peer(m, ours) else {
            continue;
        };
        if t <= peer_t {
            continue;
        }
        print!("  behind: {ours} is {:.2}× {peer}", t / peer_t);
        match (floor(ours), floor(peer)) {
            (Some((fo, o)), Some((fp, p))) => {
                // The gap splits exactly into two factors: how far apart the two mechanisms
                // are (o / p), and how much more coord-core adds to its mechanism than the
                // peer adds to its own ((t / o) / (peer_t / p)).
                let (over_o, over_p) = (t / o, peer_t / p);
                let (mech, added) = (o / p, over_o / over_p);
                println!(
                    ";\n    {ours} is {over_o:.2}× the {fo} it is built on; {peer} is {over_p:.2}× its {fp}"
                );
                println!(
                    "    so the {:.2}× gap = {mech:.2}× between the mechanisms × {added:.2}× that coord-core adds beyond what the peer adds",
                    t / peer_t
                );
                println!(
                    "    → {}",
                    if added <= 1.05 && mech <= 1.05 {
                        "the same mechanism, and within 5 % of the peer on it: equal within this run's noise"
                    } else if added <= 1.05 {
                        "coord-core adds no more than the peer (within 5 %): the gap is the mechanism's"
                    } else if mech >= added {
                        "mostly the mechanism's; the rest is coord-core's own work (see the crate's docs)"
                    } else {
                        "mostly coord-core's own work: NOT explained by the mechanisms"
                    }
                );
            }
            _ => println!(" (no raw floor of both mechanisms in this row to compare)"),
        }
    }
}

fn get(m: &Measured, name: &str) -> f64 {
    m.iter().find(|e| e.1 == name).map_or(f64::NAN, |e| e.2)
}

fn main() {
    // procspawn runs its children by starting this executable again: it must look first.
    procspawn::init();
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        println!(
            "cargo bench -p ipc-peers [-- [--quick] [--only TEXT]]\n  \
             --quick      3 repetitions of 10 ms instead of 15 of 30 ms (a smoke run)\n  \
             --only TEXT  measure only the contestants whose name contains TEXT, and the floors"
        );
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned());
    let cfg = Cfg {
        reps: if quick { 3 } else { 15 },
        slice: Duration::from_millis(if quick { 10 } else { 30 }),
        only,
    };
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let started = Instant::now();
    println!(
        "ipc-peers: coord-core, the raw floors and the peer crates, one run ({} repetitions, interleaved; \
         medians; Rust figures, this machine: {cpus} CPUs)",
        cfg.reps
    );
    let mut places = vec![Place {
        name: "both on CPU 0",
        me: 0,
        other: 0,
    }];
    if cpus >= 2 {
        places.push(Place {
            name: "CPU 0 ↔ CPU 1",
            me: 0,
            other: 1,
        });
    }
    let mut small = Vec::new();
    let mut big = Vec::new();
    for &place in &places {
        pin(&[place.me]);
        let mut row = round_trip_u64(place);
        let m = measure(&cfg, &mut row);
        print_row(&row, &m);
        drop(row);
        let mut row = round_trip_64k(place);
        let m64 = measure(&cfg, &mut row);
        print_row(&row, &m64);
        drop(row);
        small.push((place.name, m));
        big.push((place.name, m64));
    }
    pin(&[0]);
    let mut row = reads_and_locks();
    let m = measure(&cfg, &mut row);
    print_row(&row, &m);
    pin(&(0..cpus).collect::<Vec<_>>());
    for mut row in [spawn_join(), contended()] {
        let m = measure(&cfg, &mut row);
        print_row(&row, &m);
    }

    if cfg.only.is_some() {
        // The targets need every contestant of the two round-trip rows.
        println!(
            "\ntotal time {:.0} s (--only: no targets)",
            started.elapsed().as_secs_f64()
        );
        return;
    }
    println!("\nissue 16's targets, from the rows above (same run):");
    for ((place, m), (_, m64)) in small.iter().zip(&big) {
        let pipe = get(m, "pipe ping-pong (raw)");
        let spin = get(m, "coord-core ShmQueue (spinning)");
        let block = get(m, "coord-core ShmQueue (blocking)");
        let pair = get(m64, "2 × memcpy (in-process)");
        let raw_spin = get(m, "shared memory + spinning flag (raw)");
        let raw_spin64 = get(m64, "shared memory + spinning flag (raw)");
        // "Both sides active" needs a CPU for each side: on one CPU only one of them runs at
        // a time, so the spinning figure there is reported, not held to the target.
        let both_active = if place.contains('↔') {
            "(target ≥ 10)"
        } else {
            "(one CPU: the two sides take turns, so they are never both active; no target)"
        };
        println!(
            "  {place}: u64 round trip, both sides spinning: {:.1}× below the pipe {both_active}; \
             consumer blocked: {:.2}× the pipe (target ≤ 1.2)",
            pipe / spin,
            block / pipe
        );
        // The bound takes the copies at in-cache speed (the in-process pair). Across
        // CPUs the same bytes must also move from one core's cache to the other's: the raw
        // floors do exactly the four copies and two hand-offs, so a 64 KiB floor minus its
        // u64 floor is what the copies cost on this placement, with no queue at all (taken from
        // the faster of the two floors: spinning across CPUs, the futex on one CPU).
        let futex = get(m, "shared memory + futex (raw)");
        let futex64 = get(m64, "shared memory + futex (raw)");
        let (floor_small, floor_big, which) = if raw_spin64 <= futex64 {
            (raw_spin, raw_spin64, "spinning")
        } else {
            (futex, futex64, "futex")
        };
        let placed_pair = (floor_big - floor_small) / 2.0;
        println!(
            "    a 64 KiB copy pair (into shared memory, out of it): {} in one process, {} on this placement \
             (raw {which} floor: 64 KiB minus u64, per direction)",
            fmt_time(pair),
            fmt_time(placed_pair)
        );
        for (what, small_rt) in [("spinning", spin), ("blocking", block)] {
            let big_rt = get(m64, &format!("coord-core ShmQueue bytes ({what})"));
            let bound = 2.0 * (pair + small_rt);
            let placed = 2.0 * (placed_pair + small_rt);
            println!(
                "    64 KiB {what}: {}; 2 × (pair + its u64 round trip) = {} with the in-process pair: ratio {:.2} \
                 (target ≤ 1); = {} with this placement's pair: ratio {:.2}",
                fmt_time(big_rt),
                fmt_time(bound),
                big_rt / bound,
                fmt_time(placed),
                big_rt / placed
            );
        }
        println!(
            "    against the raw floors of the same run (what ShmQueue adds to the same copies and waits): \
             spinning u64 {:.2}×, 64 KiB {:.2}×; blocking u64 {:.2}×, 64 KiB {:.2}× (the futex floor)",
            spin / raw_spin,
            get(m64, "coord-core ShmQueue bytes (spinning)") / raw_spin64,
            block / futex,
            get(m64, "coord-core ShmQueue bytes (blocking)") / futex64
        );
    }
    println!("\ntotal time {:.0} s", started.elapsed().as_secs_f64());
}
