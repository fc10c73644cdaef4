//! Fault injection against the public API: processes killed (`SIGKILL`) or stopped
//! (`SIGSTOP`) at an exact point of a queue operation, lock owners killed, a manager killed in
//! the middle of a call, and inputs that are too large. Each test forces its fault with a gate
//! (a shared flag, the state of a process in `/proc`, or how many bytes it has read) rather
//! than a sleep, and every wait has a bound.
//!
//! What must hold whatever happens: no consumer ever receives bytes that are not exactly one
//! message as put; every `*_timeout` call returns while the peer that could unblock it is
//! still stopped; no safe call crashes the process; and the handles stay usable where the
//! docs say so.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{DEADLINE, join, proc_state, sleep_until_killed, wait_not_alive, wait_until};
use coord_core::{
    Array, Error, ExitStatus, Lock, MAX_MESSAGE, Manager, Process, Queue, RawArray, RawValue, Signal,
};
use serde_bytes::ByteBuf;

/// The tests of this file run one at a time. A queue counts as a possible producer every
/// process forked while it exists, so a long-lived child forked by a sibling test on another
/// harness thread would hold this test's queue open, and the `Disconnected` the test waits
/// for would come only when that child exits (seen: a 60 s timeout under `cargo test
/// --workspace`). nextest runs each test in its own process and needs no such lock.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The bytes of message `i` of a test: every byte depends on `i` and its position, so a
/// message made of two others' pieces is told apart.
fn pattern(i: u32, n: usize) -> Vec<u8> {
    (0..n)
        .map(|k| ((k as u32).wrapping_mul(2_654_435_761) ^ i.wrapping_mul(97)) as u8)
        .collect()
}

/// Sends a signal to a child we have not reaped yet.
fn signal(p: &Process, sig: Signal) {
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(p.pid() as i32), sig).unwrap();
}

/// Bytes a process has read with `read(2)` and friends so far (`rchar` in `/proc/<pid>/io`).
/// A forked child starts at 0.
fn bytes_read(pid: u32) -> u64 {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io")).unwrap_or_default();
    io.lines()
        .find_map(|l| l.strip_prefix("rchar: "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Stops `p` for the length of a test; a watchdog resumes it at the test deadline, so that
/// a wait that ignores its own deadline makes the test fail instead of hang. `fired` says
/// whether the watchdog had to act.
struct Stopped {
    pid: i32,
    done: Arc<AtomicBool>,
    fired: Arc<AtomicBool>,
    watchdog: Option<std::thread::JoinHandle<()>>,
}

impl Stopped {
    fn stop(p: &Process) -> Stopped {
        let pid = p.pid() as i32;
        signal(p, Signal::SIGSTOP);
        wait_until("stopped", || proc_state(pid as u32) == Some('T'));
        let done = Arc::new(AtomicBool::new(false));
        let fired = Arc::new(AtomicBool::new(false));
        let (d, f) = (done.clone(), fired.clone());
        let watchdog = std::thread::spawn(move || {
            let end = std::time::Instant::now() + DEADLINE;
            while !d.load(Ordering::Acquire) {
                if std::time::Instant::now() >= end {
                    f.store(true, Ordering::Release);
                    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), Signal::SIGCONT);
                    return;
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        });
        Stopped {
            pid,
            done,
            fired,
            watchdog: Some(watchdog),
        }
    }

    /// Resumes the process; `true` if it was stopped all along (the watchdog never fired).
    fn resume(mut self) -> bool {
        self.done.store(true, Ordering::Release);
        let _ = self.watchdog.take().map(|w| w.join());
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid), Signal::SIGCONT);
        !self.fired.load(Ordering::Acquire)
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        self.done.store(true, Ordering::Release);
        let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.pid), Signal::SIGCONT);
    }
}

/// Starts a producer that puts `small` messages of 110 KiB, then one of `big` bytes that
/// does not fit the pipe behind them, and returns once it is blocked in the middle of that
/// one (it has begun the frame: it holds the writer lock and waits for room).
fn producer_blocked_mid_frame<'a>(
    q: &'a Queue<Vec<u8>>,
    small: u32,
    big: usize,
    started: &'a RawValue<bool>,
) -> Process {
    let p = Process::start(move || -> Result<(), Error> {
        for i in 0..small {
            q.put_bytes(&pattern(i, 110 << 10))?;
        }
        started.set(true);
        q.put_bytes(&pattern(small, big))?;
        sleep_until_killed();
        Ok(())
    })
    .unwrap();
    wait_until("the big put started", || started.get());
    wait_until("the producer waits for room", || proc_state(p.pid()) == Some('S'));
    p
}

/// A child that holds the queue's write end (it was forked while the queue existed) and
/// does nothing: the pipe keeps a writer, so a consumer cannot rely on end-of-file.
fn bystander() -> Process {
    Process::start(sleep_until_killed).unwrap()
}

// --- 1. a writer killed in the middle of a frame: never a torn message -----------------------

/// Reads until the first error. Every message received must be exactly
/// `pattern(i, 110 KiB)`, in order, and at most `whole` of them (the ones put whole): the
/// queue may refuse to deliver some of them once it knows it is corrupted, but it must never
/// deliver anything else.
fn drain_intact(q: &Queue<Vec<u8>>, whole: u32) -> Error {
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        match q.get_bytes_into_timeout(&mut out, DEADLINE) {
            Ok(n) => {
                assert!(
                    i < whole,
                    "message {i} ({n} bytes): more messages than were put whole"
                );
                assert!(
                    out == pattern(i, 110 << 10),
                    "message {i} ({n} bytes) is not a message as put: torn"
                );
                i += 1;
            }
            Err(e) => return e,
        }
    }
}

#[test]
fn close_after_a_writer_died_mid_frame_condemns_the_queue_no_torn_message_is_delivered() {
    let _serial = one_at_a_time();
    let q: Queue<Vec<u8>> = Queue::new().unwrap();
    assert!(matches!(q.try_get(), Err(Error::Empty))); // the parent is a consumer
    let started = RawValue::new(false).unwrap();
    let keep = bystander();
    let p1 = producer_blocked_mid_frame(&q, 9, 256 << 10, &started);
    p1.kill().unwrap();
    assert_eq!(join(&p1), ExitStatus::Signaled(Signal::SIGKILL));
    // P2 closes its end (taking the writer lock the dead P1 held), then tries to put a message
    // of its own while the consumer reads.
    let p2_result = RawValue::new(0u32).unwrap();
    let p2 = Process::start(|| {
        q.close();
        let r = q.put_bytes(&pattern(99, 256 << 10));
        p2_result.set(match r {
            Ok(()) => 1,
            Err(Error::Corrupted(_)) => 2,
            Err(_) => 3,
        });
    })
    .unwrap();
    let e = drain_intact(&q, 9);
    assert!(matches!(e, Error::Corrupted(_)), "{e:?}");
    // Found out, not waited out: a writer is still alive, so no end-of-file told us.
    assert!(
        keep.is_alive(),
        "the broken frame was only noticed when the last writer left"
    );
    assert!(join(&p2).success());
    assert_eq!(
        p2_result.get(),
        2,
        "P2's put after the broken frame must be refused"
    );
    drop(keep);
}

#[test]
fn a_consumer_that_closed_after_a_writer_died_mid_frame_gets_corrupted_not_a_torn_message() {
    let _serial = one_at_a_time();
    let q: Queue<Vec<u8>> = Queue::new().unwrap();
    let started = RawValue::new(false).unwrap();
    let keep = bystander();
    let p1 = producer_blocked_mid_frame(&q, 9, 256 << 10, &started);
    p1.kill().unwrap();
    join(&p1);
    q.close(); // repairs the writer lock: must not make the broken frame look finished
    let e = drain_intact(&q, 9);
    assert!(matches!(e, Error::Corrupted(_)), "{e:?}");
    // Found out, not waited out: a writer is still alive, so no end-of-file told us.
    assert!(
        keep.is_alive(),
        "the broken frame was only noticed when the last writer left"
    );
    // And a later put is refused rather than glued to the broken frame.
    assert!(matches!(q.put_bytes(b"late"), Err(Error::Corrupted(_))));
    drop(keep);
}

/// Producers killed wherever they happen to be (small frames, which go out in one atomic
/// write, and large ones, which do not): whatever the consumer receives is whole, and each
/// producer's messages arrive in order, once. The stream ends in `Disconnected` (no frame was
/// cut) or `Corrupted` (one was), never in a torn message or a hang.
#[test]
fn producers_killed_at_random_points_never_deliver_a_torn_or_duplicated_message() {
    let _serial = one_at_a_time();
    const PRODUCERS: u32 = 4;
    for round in 0..3u32 {
        let q: Queue<Vec<u8>> = Queue::new().unwrap();
        let size =
            |p: u32, seq: u32| [16usize, 3000, 40_000, 200_000][((p * 7 + seq * 3 + round) % 4) as usize];
        let msg = |p: u32, seq: u32| {
            let mut m = pattern(p * 100_000 + seq, size(p, seq));
            m[..8].copy_from_slice(&[p.to_le_bytes(), seq.to_le_bytes()].concat());
            m
        };
        let (qr, msg_r) = (&q, &msg);
        let procs: Vec<Process> = (0..PRODUCERS)
            .map(|p| {
                Process::start(move || -> Result<(), Error> {
                    for seq in 0.. {
                        qr.put_bytes(&msg_r(p, seq))?;
                    }
                    Ok(())
                })
                .unwrap()
            })
            .collect();
        let mut next = [0u32; PRODUCERS as usize];
        let mut out = Vec::new();
        let mut got = 0u32;
        let end = loop {
            match q.get_bytes_into_timeout(&mut out, DEADLINE) {
                Ok(_) => {
                    let p = u32::from_le_bytes(out[..4].try_into().unwrap());
                    let seq = u32::from_le_bytes(out[4..8].try_into().unwrap());
                    assert!(p < PRODUCERS, "a message from nowhere: torn");
                    assert_eq!(
                        seq, next[p as usize],
                        "producer {p}: lost, duplicated or reordered"
                    );
                    assert!(out == msg(p, seq), "message {p}/{seq} torn");
                    next[p as usize] += 1;
                    got += 1;
                    // Kill the producers one by one, at whatever point each has reached.
                    if got % 40 == 0 && (got / 40) as usize <= procs.len() {
                        procs[(got / 40) as usize - 1].kill().unwrap();
                    }
                }
                Err(e) => break e,
            }
        };
        assert!(
            matches!(end, Error::Disconnected | Error::Corrupted(_)),
            "{end:?}"
        );
        for p in &procs {
            p.kill().unwrap();
            let st = join(p);
            // Killed, or refused by a queue that a kill had broken (its put returned Corrupted).
            assert!(
                st == ExitStatus::Signaled(Signal::SIGKILL)
                    || (st == ExitStatus::Exited(1) && matches!(end, Error::Corrupted(_))),
                "{st} after {end:?}"
            );
        }
    }
}

// --- 2. every *_timeout keeps its deadline, even with a stopped peer -------------------------

#[test]
fn get_bytes_into_timeout_returns_while_the_writer_is_stopped_mid_frame_and_nothing_is_lost() {
    let _serial = one_at_a_time();
    let q: Queue<Vec<u8>> = Queue::new().unwrap();
    let started = RawValue::new(false).unwrap();
    let big = 4 << 20;
    let w = producer_blocked_mid_frame(&q, 0, big, &started);
    let stopped = Stopped::stop(&w);
    let mut out = Vec::new();
    // The frame has begun (1 MiB of it is in the pipe) and its writer is stopped: the call
    // must come back by itself.
    let r = q.get_bytes_into_timeout(&mut out, Duration::from_millis(300));
    let r2 = q.get_bytes_into_timeout(&mut out, Duration::from_millis(100));
    assert!(stopped.resume(), "the get waited until the writer was resumed");
    assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
    assert!(matches!(r2, Err(Error::Timeout)), "{r2:?}");
    // The part already read was kept for the next get: the message arrives whole, once.
    assert_eq!(q.get_bytes_into_timeout(&mut out, DEADLINE).unwrap(), big);
    assert!(
        out == pattern(0, big),
        "the message resumed after a timeout is not as put"
    );
    let s = q.stats();
    assert_eq!((s.messages_put, s.messages_got), (1, 1));
    w.kill().unwrap();
    join(&w);
}

#[test]
fn typed_get_timeout_returns_while_the_writer_is_stopped_and_another_process_finishes_the_message() {
    let _serial = one_at_a_time();
    let q: Queue<Vec<u8>> = Queue::new().unwrap();
    let started = RawValue::new(false).unwrap();
    let big = 3 << 20;
    let w = producer_blocked_mid_frame(&q, 0, big, &started);
    let stopped = Stopped::stop(&w);
    let r = q.get_timeout(Duration::from_millis(200));
    assert!(stopped.resume(), "the get waited until the writer was resumed");
    assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
    // Another process picks the message up where this one left it.
    let ok = RawValue::new(false).unwrap();
    let c = Process::start(|| -> Result<(), Error> {
        let m = q.retype::<ByteBuf>().get_timeout(DEADLINE)?;
        ok.set(m.into_vec() == pattern(0, big));
        Ok(())
    })
    .unwrap();
    assert!(join(&c).success());
    assert!(ok.get(), "the message finished by another process is not as put");
    w.kill().unwrap();
    join(&w);
}

#[test]
fn a_child_that_inherited_a_write_end_keeps_its_get_deadline_while_a_stopped_writer_holds_the_lock() {
    let _serial = one_at_a_time();
    let q: Queue<Vec<u8>> = Queue::new().unwrap();
    let started = RawValue::new(false).unwrap();
    let w = producer_blocked_mid_frame(&q, 0, 8 << 20, &started);
    let stopped = Stopped::stop(&w);
    // C2 drains what is in the pipe and waits, holding the reader lock, for the rest.
    let c2 = Process::start(|| {
        let mut out = Vec::new();
        let _ = q.get_bytes_into(&mut out);
    })
    .unwrap();
    wait_until("C2 waits in the middle of the frame", || {
        bytes_read(c2.pid()) >= 64 << 10 && proc_state(c2.pid()) == Some('S')
    });
    // C was forked while the queue existed: it holds a write end it must let go of before it
    // waits, which needs the writer lock, which the stopped writer holds.
    let result = RawValue::new(0u32).unwrap();
    let c = Process::start(|| {
        result.set(match q.get_timeout(Duration::from_millis(200)) {
            Err(Error::Timeout) => 1,
            _ => 2,
        })
    })
    .unwrap();
    let st = c.join_timeout(DEADLINE).unwrap();
    assert!(stopped.resume());
    assert!(st.is_some_and(|s| s.success()), "get_timeout did not return");
    assert_eq!(result.get(), 1);
    c2.kill().unwrap();
    w.kill().unwrap();
    join(&c2);
    join(&w);
}

#[test]
fn put_timeout_returns_on_a_full_pipe_with_nothing_written_and_the_queue_goes_on() {
    let _serial = one_at_a_time();
    let q: Queue<Vec<u8>> = Queue::new().unwrap();
    let keep = bystander();
    // Fill the pipe with messages nobody reads yet. A timed put of a large frame waits for
    // room for all of it (it stops at about half the pipe); smaller ones go on until the pipe
    // is really full.
    let mut sizes = Vec::new();
    for size in [60 << 10, 4000, 1] {
        loop {
            match q.put_bytes_timeout(&pattern(sizes.len() as u32, size), Duration::from_millis(50)) {
                Ok(()) => sizes.push(size),
                Err(Error::Timeout) => break,
                Err(e) => panic!("{e:?}"),
            }
            assert!(sizes.len() < 100_000, "the pipe never filled up");
        }
    }
    // Small (atomic) and large frames alike come back with Timeout, and write nothing.
    assert!(matches!(
        q.put_bytes_timeout(b"x", Duration::from_millis(20)),
        Err(Error::Timeout)
    ));
    assert!(matches!(
        q.put_timeout(&vec![1u8; 300 << 10], Duration::from_millis(20)),
        Err(Error::Timeout)
    ));
    let mut out = Vec::new();
    for (i, &size) in sizes.iter().enumerate() {
        q.get_bytes_into_timeout(&mut out, DEADLINE).unwrap();
        assert!(out == pattern(i as u32, size), "message {i} torn");
    }
    q.put_bytes_timeout(b"after", DEADLINE).unwrap();
    assert_eq!(q.get_bytes_into_timeout(&mut out, DEADLINE).unwrap(), 5);
    assert_eq!(q.stats().messages_put, q.stats().messages_got);
    drop(keep);
}

#[test]
fn a_put_blocked_on_a_full_pipe_returns_when_the_queue_becomes_corrupted() {
    let _serial = one_at_a_time();
    let q: Queue<Vec<u8>> = Queue::new().unwrap();
    let started = RawValue::new(false).unwrap();
    let big = 8 << 20;
    // W blocks half-way through an 8 MiB message; stopped, it cannot go on.
    let w = producer_blocked_mid_frame(&q, 0, big, &started);
    let stopped = Stopped::stop(&w);
    // C starts reading that message, and is killed in the middle of it (it has read more than
    // the frame header, and waits for the rest).
    let c = Process::start(|| {
        let mut out = Vec::new();
        let _ = q.get_bytes_into(&mut out);
    })
    .unwrap();
    wait_until("the consumer is in the middle of the frame", || {
        bytes_read(c.pid()) >= 64 << 10 && proc_state(c.pid()) == Some('S')
    });
    c.kill().unwrap();
    join(&c);
    assert!(stopped.resume());
    // W goes on, fills the pipe again and waits for room. The next consumer finds the reader
    // lock of a process killed half-way through a frame: the queue is corrupted, and W's put,
    // blocked meanwhile, must come back with that.
    let mut out = Vec::new();
    let r = q.get_bytes_into_timeout(&mut out, DEADLINE);
    assert!(matches!(r, Err(Error::Corrupted(_))), "{r:?}");
    let st = join(&w);
    assert_eq!(
        st,
        ExitStatus::Exited(1),
        "the blocked put did not return an error"
    );
}

// --- 3 and 4. sizes: checked, bounded, a clear error -----------------------------------------

#[test]
fn array_sizes_that_overflow_or_exceed_the_bound_are_clear_errors_not_crashes() {
    let _serial = one_at_a_time();
    // In a child: before the fix these crashed (SIGSEGV in release, an overflow panic in dev)
    // or filled memory without end. The child's address space is capped, so even a wrong
    // answer fails fast instead of eating the machine.
    let p = Process::start(|| -> Result<(), String> {
        let cap = 4u64 << 30;
        nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_AS, cap, cap)
            .map_err(|e| e.to_string())?;
        let refused = |what: &str, r: Result<(), Error>| match r {
            Err(Error::SharedTooLarge { .. }) => Ok(()),
            other => Err(format!("{what}: {other:?}")),
        };
        refused("Array<u64> 2^61+1", Array::<u64>::new((1 << 61) + 1, 0).map(drop))?;
        refused(
            "Array<u64> usize::MAX",
            Array::<u64>::new(usize::MAX, 0).map(drop),
        )?;
        refused(
            "RawArray<u64> 2^61+1",
            RawArray::<u64>::new((1 << 61) + 1, 0).map(drop),
        )?;
        refused(
            "RawArray<u32> 2^62+1",
            RawArray::<u32>::new((1 << 62) + 1, 0).map(drop),
        )?;
        refused("Array<u8> 2^40", Array::<u8>::new(1 << 40, 0).map(drop))?;
        refused("RawArray<u8> 2^40", RawArray::<u8>::new(1 << 40, 0).map(drop))?;
        // The bound itself is usable right up to it (nothing is touched before a fill).
        let e = Array::<u8>::new(coord_core::MAX_SHARED_BYTES + 1, 0).unwrap_err();
        if !e.to_string().contains("MAX_SHARED_BYTES") {
            return Err(format!("the error does not name the limit: {e}"));
        }
        Ok(())
    })
    .unwrap();
    assert!(join(&p).success());
    // Ordinary sizes still work.
    let a = Array::<u64>::new(1000, 7).unwrap();
    assert_eq!(a.get(999).unwrap(), 7);
    let r = RawArray::<u32>::new(1000, 3).unwrap();
    assert_eq!(r.get(999).unwrap(), 3);
}

// --- 5. the fork-time registry never drops a queue ---------------------------------------------

#[test]
fn with_more_than_1024_live_queues_a_late_producer_is_still_counted() {
    let _serial = one_at_a_time();
    // Each queue holds three descriptors: make sure this process may open enough.
    let (soft, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE).unwrap();
    let want = 8192.min(hard);
    if soft < want {
        nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, want, hard).unwrap();
    }
    assert!(
        want >= 4000,
        "this test needs 4,000 descriptors; the hard limit is {hard}"
    );
    let queues: Vec<Queue<(u32, u32)>> = (0..1100).map(|_| Queue::new().unwrap()).collect();
    let q = queues.last().unwrap();
    let go = RawValue::new(false).unwrap();
    let p0 = Process::start(|| -> Result<(), Error> {
        for i in 0..10 {
            q.put(&(0, i))?;
        }
        Ok(())
    })
    .unwrap();
    let p1 = Process::start(|| -> Result<(), Error> {
        wait_until("go", || go.get());
        for i in 0..10 {
            q.put(&(1, i))?;
        }
        Ok(())
    })
    .unwrap();
    for i in 0..10 {
        assert_eq!(q.get_timeout(DEADLINE).unwrap(), (0, i));
    }
    assert!(join(&p0).success());
    // P1 has not put yet but is a potential producer: not Disconnected.
    let r = q.get_timeout(Duration::from_millis(50));
    assert!(
        matches!(r, Err(Error::Timeout)),
        "queue 1,100 lost its late producer: {r:?}"
    );
    go.set(true);
    for i in 0..10 {
        assert_eq!(q.get_timeout(DEADLINE).unwrap(), (1, i));
    }
    assert!(join(&p1).success());
    assert!(matches!(q.get_timeout(DEADLINE), Err(Error::Disconnected)));
}

// --- 6. an oversized manager request: a clear error, and the proxy goes on --------------------

#[test]
fn an_oversized_manager_request_is_refused_client_side_and_the_proxy_stays_usable() {
    let _serial = one_at_a_time();
    let manager = Manager::start().unwrap();
    let d = manager.dict();
    d.set("before", 1).unwrap();
    let key = "k".repeat(MAX_MESSAGE + 1);
    let r = d.set(&key, 1);
    assert!(matches!(r, Err(Error::TooLarge { .. })), "{r:?}");
    // The same proxy, the same connection: still fine.
    d.set("after", 2).unwrap();
    assert_eq!(d.get("before").unwrap(), Some(1));
    assert_eq!(d.get("after").unwrap(), Some(2));
    assert_eq!(d.len().unwrap(), 2);
    assert!(coord_core::pid_alive(manager.pid()));
}

#[test]
fn a_manager_killed_in_the_middle_of_calls_is_server_gone_for_every_proxy_never_a_hang() {
    let _serial = one_at_a_time();
    let manager = Manager::start().unwrap();
    let v = manager.value();
    let calls = RawValue::new(0u64).unwrap();
    // A client hammering the server when it dies.
    let c = Process::start(|| -> i32 {
        loop {
            match v.add(1) {
                Ok(_) => {
                    calls.fetch_add(1);
                }
                Err(Error::ServerGone) => return 0,
                Err(_) => return 1,
            }
        }
    })
    .unwrap();
    wait_until("client calling", || calls.get() > 100);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(manager.pid() as i32), Signal::SIGKILL).unwrap();
    assert_eq!(join(&c), ExitStatus::Exited(0));
    assert!(matches!(v.get(), Err(Error::ServerGone)));
}

// --- locks whose owner is killed ---------------------------------------------------------------

#[test]
fn a_lock_owner_killed_inside_the_critical_section_hands_the_lock_on_as_owner_died() {
    let _serial = one_at_a_time();
    let lock = Lock::new().unwrap();
    let inside = RawValue::new(false).unwrap();
    for _ in 0..5 {
        inside.set(false);
        let p = Process::start(|| {
            let _g = lock.lock();
            inside.set(true);
            sleep_until_killed();
        })
        .unwrap();
        wait_until("owner inside", || inside.get());
        p.kill().unwrap();
        join(&p);
        let g = lock.lock_timeout(DEADLINE).expect("the lock was not handed on");
        assert!(
            g.is_err(),
            "the next owner was not told that the previous one died"
        );
    }
    // After recovery it is an ordinary lock again.
    assert!(lock.lock_timeout(DEADLINE).unwrap().is_ok());
}

// --- a child started by a thread that ends at once ---------------------------------------------

#[test]
fn a_child_dies_when_the_thread_that_started_it_ends_even_at_once() {
    let _serial = one_at_a_time();
    for _ in 0..10 {
        // The thread starts a child and ends right away, often before the child has run.
        let p = std::thread::scope(|s| {
            s.spawn(|| Process::start(sleep_until_killed).unwrap())
                .join()
                .unwrap()
        });
        wait_not_alive(p.pid());
        assert_eq!(join(&p), ExitStatus::Signaled(Signal::SIGKILL));
    }
}
