//! `ShmQueue`: exactly-once, intact, FIFO per producer with 4 producers × 4 consumers and
//! messages up to 256 KiB; a process SIGKILLed at a known point in the middle of copying a
//! message in or out is reported, never delivered torn, and hangs nobody; `Disconnected` when
//! the producers are gone; every timeout kept; clear errors for bad sizes.

mod common;

use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};
use std::time::Duration;

use common::{DEADLINE, join, join_ok, proc_state, sleep_until_killed, wait_until};
use coord_core::{Error, MAX_SHM_BYTES, Process, RawArray, RawValue, ShmQueue, Waiting};
use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeTuple;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The payload of message `seq` of producer `p`: rebuilt by the consumer, so "intact" means
/// every byte. Sizes: every 100th message 256 KiB, every 10th 16–26 KiB, the rest up to 600 B.
fn message(p: u32, seq: u32) -> Vec<u8> {
    let n = match seq {
        s if s % 100 == 0 => 256 << 10,
        s if s % 10 == 0 => (16 << 10) + (s as usize * 7) % (10 << 10),
        s => 8 + (s as usize * 37 + p as usize) % 600,
    };
    let mut v: Vec<u8> = (0..n)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).wrapping_add(p * 7 + seq) as u8)
        .collect();
    v[..4].copy_from_slice(&p.to_le_bytes());
    v[4..8].copy_from_slice(&seq.to_le_bytes());
    v
}

/// `producers` processes put `each` messages (`msg(p, seq)`, which carries `p` and `seq` in
/// its first 8 bytes) and `consumers` processes get until `Disconnected`. Then: nothing torn,
/// nothing out of order per producer, every message got exactly once.
fn mpmc_exactly_once(
    q: &ShmQueue<Vec<u8>>,
    producers: u32,
    consumers: usize,
    each: u32,
    msg: fn(u32, u32) -> Vec<u8>,
) {
    // seen[p * each + seq]: how many times that message was got; bad: torn or out of order.
    let seen = RawArray::new((producers * each) as usize, 0u32).unwrap();
    let bad = RawValue::new(0u32).unwrap();
    let (seenr, badr) = (&seen, &bad);
    let ps: Vec<Process> = (0..producers)
        .map(|p| {
            Process::start(move || -> Result<(), Error> {
                for seq in 0..each {
                    q.put_bytes_timeout(&msg(p, seq), DEADLINE)?;
                }
                Ok(())
            })
            .unwrap()
        })
        .collect();
    let cs: Vec<Process> = (0..consumers)
        .map(|_| {
            Process::start(move || -> Result<(), Error> {
                let mut out = Vec::new();
                let mut last = vec![None::<u32>; producers as usize];
                loop {
                    match q.get_bytes_into_timeout(&mut out, DEADLINE) {
                        Ok(_) => {
                            let p = u32::from_le_bytes(out[..4].try_into().unwrap());
                            let seq = u32::from_le_bytes(out[4..8].try_into().unwrap());
                            if p >= producers || seq >= each || out != msg(p, seq) {
                                badr.fetch_add(1);
                                continue;
                            }
                            if last[p as usize].is_some_and(|l| l >= seq) {
                                badr.fetch_add(1);
                            }
                            last[p as usize] = Some(seq);
                            seenr.fetch_add((p * each + seq) as usize, 1)?;
                        }
                        Err(Error::Disconnected) => return Ok(()),
                        Err(e) => return Err(e),
                    }
                }
            })
            .unwrap()
        })
        .collect();
    join_ok(&ps);
    join_ok(&cs);
    assert_eq!(bad.get(), 0, "torn, foreign or out-of-order messages");
    let counts = seen.to_vec();
    let lost = counts.iter().filter(|&&c| c == 0).count();
    let dup = counts.iter().filter(|&&c| c > 1).count();
    assert_eq!((lost, dup), (0, 0), "lost, duplicated");
}

#[test]
fn four_producers_four_consumers_ten_thousand_each_exactly_once_intact_in_order() {
    let q: ShmQueue<Vec<u8>> = ShmQueue::with_capacity(8, (256 << 10) + 16).unwrap();
    mpmc_exactly_once(&q, 4, 4, 10_000, message);
    let s = q.stats();
    assert_eq!((s.put, s.got, s.torn, s.lost), (40_000, 40_000, 0, 0));
}

#[test]
fn every_waiting_policy_delivers_a_ping_pong_exactly() {
    for waiting in [Waiting::Adaptive, Waiting::Spin, Waiting::Block] {
        let ping: ShmQueue<u64> = ShmQueue::with_capacity(2, 16).unwrap().with_waiting(waiting);
        let pong: ShmQueue<u64> = ShmQueue::with_capacity(2, 16).unwrap().with_waiting(waiting);
        let (a, b) = (&ping, &pong);
        let child = Process::start(move || -> Result<(), Error> {
            loop {
                match a.get_timeout(DEADLINE) {
                    Ok(x) => b.put(&(x * 2))?,
                    Err(Error::Disconnected) => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
        })
        .unwrap();
        for i in 0..500u64 {
            ping.put(&i).unwrap();
            assert_eq!(pong.get_timeout(DEADLINE).unwrap(), i * 2, "{waiting:?}");
        }
        ping.close();
        join_ok(&[child]);
        assert!(matches!(pong.get_timeout(DEADLINE), Err(Error::Disconnected)));
    }
}

#[test]
fn typed_and_bytes_paths_share_one_wire_and_refuse_what_they_cannot_read() {
    let q: ShmQueue<(u32, String)> = ShmQueue::with_capacity(4, 256).unwrap();
    q.put(&(7, "seven".into())).unwrap();
    q.retype::<Vec<u8>>().put(&vec![1, 2, 3]).unwrap();
    q.put_bytes(b"raw").unwrap();
    assert_eq!(q.get_timeout(DEADLINE).unwrap(), (7, "seven".to_string()));
    let mut out = vec![9; 100];
    assert_eq!(q.get_bytes_into_timeout(&mut out, DEADLINE).unwrap(), 3);
    assert_eq!(out, [1, 2, 3]);
    assert_eq!(q.retype::<Vec<u8>>().get_timeout(DEADLINE).unwrap(), b"raw");
    // A message that is not a byte string, read as one: taken and refused.
    q.retype::<u64>().put(&u64::MAX).unwrap();
    assert!(matches!(
        q.get_bytes_into_timeout(&mut out, DEADLINE),
        Err(Error::Decode(_))
    ));
    // A malformed message for the type: taken and refused, and the queue goes on.
    q.put_bytes(&[0xff; 5]).unwrap();
    assert!(matches!(q.get_timeout(DEADLINE), Err(Error::Decode(_))));
    q.put(&(8, "eight".into())).unwrap();
    assert_eq!(q.get_timeout(DEADLINE).unwrap(), (8, "eight".to_string()));
}

#[test]
fn bad_sizes_are_clear_errors_and_the_queue_goes_on() {
    for (cap, max) in [
        (0, 16),
        (16, 0),
        (usize::MAX, 16),
        (16, usize::MAX),
        (usize::MAX, usize::MAX),
        (1 << 20, 1 << 20),
    ] {
        let e = ShmQueue::<u8>::with_capacity(cap, max).unwrap_err();
        assert!(matches!(e, Error::InvalidArgument(_)), "{cap} × {max}: {e}");
        if cap > 0 && max > 0 {
            assert!(e.to_string().contains(&MAX_SHM_BYTES.to_string()), "{e}");
        }
    }
    let q: ShmQueue<Vec<u8>> = ShmQueue::with_capacity(3, 100).unwrap();
    assert_eq!(q.capacity(), 4, "rounded up to a power of two");
    assert_eq!((q.max_message(), q.max_bytes()), (100, 99));
    q.put_bytes(&[5; 99]).unwrap();
    let e = q.put_bytes(&[5; 100]).unwrap_err();
    assert!(matches!(e, Error::TooLarge { len: 100, max: 99 }), "{e}");
    let e = q.put(&vec![5; 1000]).unwrap_err();
    assert!(matches!(e, Error::TooLarge { len: 1002, max: 100 }), "{e}");
    let mut out = Vec::new();
    assert_eq!(q.get_bytes_into_timeout(&mut out, DEADLINE).unwrap(), 99);
    assert!(
        matches!(q.try_get(), Err(Error::Empty)),
        "nothing else was queued"
    );
}

#[test]
fn every_timeout_is_kept_and_empty_differs_from_timeout() {
    let q: ShmQueue<u32> = ShmQueue::with_capacity(1, 8).unwrap();
    // Nobody has put yet: waiting, not disconnected.
    assert!(matches!(q.try_get(), Err(Error::Empty)));
    assert!(matches!(
        q.get_timeout(Duration::from_millis(30)),
        Err(Error::Timeout)
    ));
    q.put(&1).unwrap();
    // Full (one cell): put_timeout gives up.
    assert!(matches!(
        q.put_timeout(&2, Duration::from_millis(30)),
        Err(Error::Timeout)
    ));
    assert!(matches!(
        q.put_bytes_timeout(b"x", Duration::ZERO),
        Err(Error::Timeout)
    ));
    assert_eq!(q.get_timeout(DEADLINE).unwrap(), 1);
    // This process is a live producer: an empty queue times out instead of disconnecting.
    assert!(matches!(
        q.get_timeout(Duration::from_millis(30)),
        Err(Error::Timeout)
    ));
    assert!(matches!(q.try_get(), Err(Error::Empty)));
    q.put_timeout(&3, DEADLINE).unwrap();
    assert_eq!(q.try_get().unwrap(), 3);
}

#[test]
fn disconnected_when_every_producer_exited_was_killed_or_closed_not_before() {
    let q: ShmQueue<u32> = ShmQueue::with_capacity(8, 8).unwrap();
    let qr = &q;
    // A child that never touches the queue counts as a producer for as long as it lives.
    let idle = Process::start(sleep_until_killed).unwrap();
    let quick = Process::start(move || qr.put(&1)).unwrap();
    let killed = Process::start(move || -> Result<(), Error> {
        qr.put(&2)?;
        sleep_until_killed();
        Ok(())
    })
    .unwrap();
    let closed = Process::start(move || -> Result<(), Error> {
        qr.put(&3)?;
        qr.close();
        sleep_until_killed();
        Ok(())
    })
    .unwrap();
    let mut got: Vec<u32> = (0..3).map(|_| q.get_timeout(DEADLINE).unwrap()).collect();
    got.sort();
    assert_eq!(got, [1, 2, 3]);
    join_ok(&[quick]);
    // `killed` and `idle` are alive: still connected.
    assert!(matches!(
        q.get_timeout(Duration::from_millis(60)),
        Err(Error::Timeout)
    ));
    killed.kill().unwrap();
    join(&killed);
    assert!(matches!(
        q.get_timeout(Duration::from_millis(60)),
        Err(Error::Timeout)
    ));
    idle.kill().unwrap();
    join(&idle);
    // `closed` still lives, but said it is done.
    assert!(matches!(q.get_timeout(DEADLINE), Err(Error::Disconnected)));
    assert!(matches!(q.try_get(), Err(Error::Disconnected)));
    closed.kill().unwrap();
    join(&closed);
}

/// All on ONE CPU, where a spinner keeps the process it waits for off the only CPU: each
/// policy must still deliver every message exactly once and intact, 2 producers × 2 consumers.
/// (Spin yields at every turn there, Adaptive sleeps at once; both see that the partner was
/// last on their CPU.) The test thread is pinned, so the processes it forks are too.
#[test]
fn on_one_cpu_every_waiting_policy_delivers_mpmc_exactly_once() {
    use nix::sched::{CpuSet, sched_getaffinity, sched_setaffinity};
    use nix::unistd::Pid;
    let me = Pid::from_raw(0);
    let all = sched_getaffinity(me).unwrap();
    let first = (0..CpuSet::count()).find(|&i| all.is_set(i).unwrap()).unwrap();
    let mut one = CpuSet::new();
    one.set(first).unwrap();
    sched_setaffinity(me, &one).unwrap();
    for waiting in [Waiting::Spin, Waiting::Adaptive, Waiting::Block] {
        let q: ShmQueue<Vec<u8>> = ShmQueue::with_capacity(4, 1024).unwrap().with_waiting(waiting);
        // Short messages only (never a multiple of 10: see `message`).
        let short = |p, seq: u32| {
            let mut m = message(p, seq * 10 + 1);
            m[4..8].copy_from_slice(&seq.to_le_bytes());
            m
        };
        eprintln!("one CPU, {waiting:?}");
        mpmc_exactly_once(&q, 2, 2, 1_000, short);
    }
    sched_setaffinity(me, &all).unwrap();
}

/// A child forked while 300 queues are alive counts as a producer of each of them from its
/// first instant, the 300th too: the table of queues the fork handlers see grows (a fixed one
/// of 256 slots once left the later queues out, and a consumer gave up on their producers).
#[test]
fn a_child_forked_with_300_queues_alive_is_a_producer_of_the_last_one_from_its_start() {
    let queues: Vec<ShmQueue<u32>> = (0..300).map(|_| ShmQueue::with_capacity(1, 8).unwrap()).collect();
    let q = queues.last().unwrap();
    let go = RawValue::new(0u32).unwrap();
    let (qr, gor) = (q, &go);
    let first = Process::start(move || qr.put(&1)).unwrap();
    assert!(join(&first).success());
    // Alive, and silent until told: the queue must stay connected meanwhile.
    let late = Process::start(move || -> Result<(), Error> {
        wait_until("the parent's go", || gor.get() == 1);
        qr.put(&2)
    })
    .unwrap();
    assert_eq!(q.get_timeout(DEADLINE).unwrap(), 1);
    match q.get_timeout(Duration::from_millis(300)) {
        Err(Error::Timeout) => {}
        other => panic!("a producer is alive and has not put yet, yet get gave {other:?}"),
    }
    go.set(1);
    assert_eq!(q.get_timeout(DEADLINE).unwrap(), 2);
    join_ok(&[late]);
}

#[test]
fn an_idle_consumer_sleeps_instead_of_spinning() {
    let q: ShmQueue<u32> = ShmQueue::with_capacity(2, 8).unwrap();
    let qr = &q;
    let consumer = Process::start(move || qr.get_timeout(DEADLINE).map(|v| v as i32)).unwrap();
    // Once its short spin is over it sleeps in FUTEX_WAIT ('S'); a spinning one stays 'R'.
    wait_until("the consumer asleep", || proc_state(consumer.pid()) == Some('S'));
    q.put(&42).unwrap();
    assert_eq!(join(&consumer).code(), 42);
}

// --- killed in the middle of a copy, at a known point ------------------------------------

/// Where a stalling (de)serializer tells the test it has stopped half-way: a word in shared
/// memory, set in the child just before the call.
static STALL_FLAG: AtomicPtr<RawValue<u32>> = AtomicPtr::new(std::ptr::null_mut());
/// How many times a `Half` was serialized in this process: the queue measures the size
/// first (call 1), then writes into the cell (call 2), where it stops.
static SERIALIZED: AtomicU32 = AtomicU32::new(0);

/// In a child that armed `STALL_FLAG`: say "stopped" and wait to be SIGKILLed.
fn stall_here() {
    let flag = STALL_FLAG.load(Ordering::Relaxed);
    if !flag.is_null() {
        // SAFETY: set by this (single-threaded, forked) child to a RawValue that outlives it.
        unsafe { (*flag).set(1) };
        sleep_until_killed();
    }
}

/// A message in two halves; (de)serializing it can stop between them, with the first half
/// already copied into (or out of) the cell.
#[derive(Debug, PartialEq)]
struct Half(Vec<u8>, Vec<u8>);

impl Serialize for Half {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut t = s.serialize_tuple(2)?;
        t.serialize_element(serde_bytes::Bytes::new(&self.0))?;
        if SERIALIZED.fetch_add(1, Ordering::Relaxed) == 1 {
            stall_here();
        }
        t.serialize_element(serde_bytes::Bytes::new(&self.1))?;
        t.end()
    }
}

impl<'de> Deserialize<'de> for Half {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Half, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Half;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("two byte strings")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Half, A::Error> {
                let first: serde_bytes::ByteBuf = a
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(0, &self))?;
                stall_here();
                let second: serde_bytes::ByteBuf = a
                    .next_element()?
                    .ok_or_else(|| de::Error::invalid_length(1, &self))?;
                Ok(Half(first.into_vec(), second.into_vec()))
            }
        }
        d.deserialize_tuple(2, V)
    }
}

fn half(tag: u8) -> Half {
    Half(vec![tag; 20_000], vec![tag.wrapping_add(1); 20_000])
}

#[test]
fn a_producer_killed_mid_copy_is_reported_never_delivered_torn_and_hangs_nobody() {
    let q: ShmQueue<Half> = ShmQueue::with_capacity(4, 64 << 10).unwrap();
    let flag = RawValue::new(0u32).unwrap();
    let (qr, fr) = (&q, &flag);
    let writer = Process::start(move || -> Result<(), Error> {
        qr.put(&half(1))?;
        SERIALIZED.store(0, Ordering::Relaxed);
        STALL_FLAG.store(fr as *const _ as *mut _, Ordering::Relaxed);
        qr.put(&half(2)) // stops half-way through copying into its cell
    })
    .unwrap();
    wait_until("the writer stopped half-way", || flag.get() == 1);
    assert_eq!(q.get_timeout(DEADLINE).unwrap(), half(1));
    // The half-written message is not handed out while its writer lives...
    assert!(matches!(
        q.get_timeout(Duration::from_millis(60)),
        Err(Error::Timeout)
    ));
    writer.kill().unwrap();
    join(&writer);
    // ...and once the writer is dead, it is reported, once, and dropped.
    let e = q.get_timeout(DEADLINE).unwrap_err();
    assert!(
        matches!(&e, Error::Corrupted(why) if why.contains("killed while writing")),
        "{e}"
    );
    let after = Process::start(move || qr.put(&half(3))).unwrap();
    assert_eq!(q.get_timeout(DEADLINE).unwrap(), half(3), "the queue goes on");
    join_ok(&[after]);
    assert!(matches!(q.get_timeout(DEADLINE), Err(Error::Disconnected)));
    let s = q.stats();
    assert_eq!((s.put, s.got, s.torn, s.lost), (3, 3, 1, 0));
}

#[test]
fn a_consumer_killed_mid_copy_is_reported_and_hangs_no_producer() {
    // Two cells: the third put needs the cell the killed consumer held.
    let q: ShmQueue<Half> = ShmQueue::with_capacity(2, 64 << 10).unwrap();
    let flag = RawValue::new(0u32).unwrap();
    let (qr, fr) = (&q, &flag);
    q.put(&half(1)).unwrap();
    let reader = Process::start(move || -> Result<(), Error> {
        STALL_FLAG.store(fr as *const _ as *mut _, Ordering::Relaxed);
        qr.get().map(drop) // stops half-way through copying out of its cell
    })
    .unwrap();
    wait_until("the reader stopped half-way", || flag.get() == 1);
    reader.kill().unwrap();
    join(&reader);
    q.put_timeout(&half(2), DEADLINE).unwrap();
    q.put_timeout(&half(3), DEADLINE).unwrap(); // frees the dead reader's cell
    let e = q.get_timeout(DEADLINE).unwrap_err();
    assert!(
        matches!(&e, Error::Corrupted(why) if why.contains("consumer was killed")),
        "{e}"
    );
    assert_eq!(q.get_timeout(DEADLINE).unwrap(), half(2));
    assert_eq!(q.get_timeout(DEADLINE).unwrap(), half(3));
    assert!(matches!(q.try_get(), Err(Error::Empty)));
    let s = q.stats();
    assert_eq!((s.put, s.got, s.torn, s.lost), (3, 3, 0, 1));
}
