//! `Queue`: exactly-once, intact, FIFO per producer with many producers and consumers and
//! large messages; a clear `Disconnected` when the producers are gone; clear errors for
//! empty, timeout, malformed and oversized messages; a killed reader or writer is noticed.

mod common;

use std::time::Duration;

use common::{DEADLINE, assert_reaped, join, join_ok, proc_state, sleep_until_killed, wait_until};
use coord_core::{Error, ExitStatus, MAX_MESSAGE, Process, Queue, RawArray, RawValue, start_all};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;

#[derive(Serialize, Deserialize, Debug)]
struct Msg {
    producer: u32,
    seq: u32,
    checksum: u64,
    payload: ByteBuf,
}

/// A small deterministic generator (xorshift64*): the payload of message (p, s) can be
/// rebuilt by the consumer, so "intact" means every byte, not just the length.
fn rng(seed: u64) -> impl FnMut() -> u64 {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    move || {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// Message sizes: mostly small, a fixed share above the pipe's atomic write size (4 KiB),
/// some above the default pipe capacity (64 KiB), up to 256 KiB; the first message of each
/// producer is exactly 256 KiB and the second one empty.
fn size_of_msg(p: u32, seq: u32) -> usize {
    match seq {
        0 => 256 << 10,
        1 => 0,
        _ => {
            let r = rng(u64::from(p) << 32 | u64::from(seq))();
            match r % 100 {
                0..=69 => (r >> 8) as usize % 513,                       // 70 %: up to 512 B
                70..=89 => 513 + (r >> 8) as usize % (16 << 10),         // 20 %: up to 16 KiB
                90..=97 => (16 << 10) + (r >> 8) as usize % (48 << 10),  // 8 %: up to 64 KiB
                _ => (64 << 10) + (r >> 8) as usize % ((192 << 10) + 1), // 2 %: up to 256 KiB
            }
        }
    }
}

fn payload(p: u32, seq: u32) -> Vec<u8> {
    let mut next = rng(u64::from(p) << 32 | u64::from(seq) | 1 << 63);
    let n = size_of_msg(p, seq);
    let mut v = Vec::with_capacity(n + 8);
    while v.len() < n {
        v.extend_from_slice(&next().to_le_bytes());
    }
    v.truncate(n);
    v
}

fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

const PRODUCERS: u32 = 4;
const CONSUMERS: usize = 4;
const PER_PRODUCER: u32 = 2_500; // 4 x 2,500 = 10,000 messages

#[test]
fn four_producers_four_consumers_ten_thousand_mixed_messages_exactly_once_intact_fifo() {
    let q: Queue<Msg> = Queue::new().unwrap();
    // What each consumer got, sent back to the parent through a second queue:
    // (consumer, producer, seq, checksum it computed).
    let back: Queue<(u32, u32, u32, u64)> = Queue::new().unwrap();
    // And in shared memory: how many times each (producer, seq) arrived.
    let receipts = RawArray::new((PRODUCERS * PER_PRODUCER) as usize, 0u32).unwrap();

    let consumers = start_all(CONSUMERS, |c| -> Result<(), String> {
        let mut last_seq = [None::<u32>; PRODUCERS as usize];
        loop {
            let m = match q.get() {
                Ok(m) => m,
                Err(Error::Disconnected) => break,
                Err(e) => return Err(format!("consumer {c}: {e}")),
            };
            if m.producer >= PRODUCERS || m.seq >= PER_PRODUCER {
                return Err(format!("consumer {c}: bad id ({}, {})", m.producer, m.seq));
            }
            let sum = fnv1a(&m.payload);
            if sum != m.checksum || m.payload.as_slice() != payload(m.producer, m.seq).as_slice() {
                return Err(format!(
                    "consumer {c}: message ({}, {}) is damaged",
                    m.producer, m.seq
                ));
            }
            // FIFO per producer, as this consumer sees it: sequence numbers only go up.
            let last = &mut last_seq[m.producer as usize];
            if last.is_some_and(|l| l >= m.seq) {
                return Err(format!(
                    "consumer {c}: producer {} seq {} after {last:?}",
                    m.producer, m.seq
                ));
            }
            *last = Some(m.seq);
            receipts
                .fetch_add((m.producer * PER_PRODUCER + m.seq) as usize, 1)
                .map_err(|e| e.to_string())?;
            back.put(&(c as u32, m.producer, m.seq, sum))
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    })
    .unwrap();
    let producers = start_all(PRODUCERS as usize, |p| -> Result<(), Error> {
        let p = p as u32;
        for seq in 0..PER_PRODUCER {
            let data = payload(p, seq);
            q.put(&Msg {
                producer: p,
                seq,
                checksum: fnv1a(&data),
                payload: ByteBuf::from(data),
            })?;
        }
        Ok(())
    })
    .unwrap();

    // Drain the return queue while the workers run (it must not fill up).
    let total = (PRODUCERS * PER_PRODUCER) as usize;
    let mut seen = vec![0u8; total];
    let mut per_consumer = [0usize; CONSUMERS];
    for _ in 0..total {
        let (c, p, s, sum) = back.get_timeout(DEADLINE).expect("a consumer's report");
        assert_eq!(sum, fnv1a(&payload(p, s)));
        seen[(p * PER_PRODUCER + s) as usize] += 1;
        per_consumer[c as usize] += 1;
    }
    join_ok(&producers);
    join_ok(&consumers);
    assert!(
        seen.iter().all(|&n| n == 1),
        "every message reported exactly once"
    );
    assert!(
        receipts.to_vec().iter().all(|&n| n == 1),
        "every message received exactly once"
    );
    assert_eq!(per_consumer.iter().sum::<usize>(), total);
    // Nothing more: the consumers have all exited, so the return queue is disconnected.
    assert!(matches!(back.get_timeout(DEADLINE), Err(Error::Disconnected)));

    let st = q.stats();
    assert_eq!(st.messages_put, total as u64);
    assert_eq!(st.messages_got, total as u64);
    assert_eq!(st.bytes_put, st.bytes_got);
    assert!(q.is_empty());
    for p in producers.iter().chain(&consumers) {
        assert_reaped(p.pid());
    }
}

#[test]
fn one_consumer_sees_each_producers_messages_in_order() {
    let q: Queue<(u32, u32, ByteBuf)> = Queue::new().unwrap();
    let producers = start_all(3, |p| -> Result<(), Error> {
        for seq in 0..300u32 {
            // Some frames larger than PIPE_BUF, so writers would interleave without the lock.
            let len = if seq % 10 == 0 { 20_000 } else { 100 };
            q.put(&(p as u32, seq, ByteBuf::from(vec![p as u8; len])))?;
        }
        Ok(())
    })
    .unwrap();
    let mut next = [0u32; 3];
    for _ in 0..900 {
        let (p, seq, data) = q.get_timeout(DEADLINE).unwrap();
        assert_eq!(seq, next[p as usize], "producer {p} out of order");
        assert!(data.iter().all(|&b| b == p as u8));
        next[p as usize] += 1;
    }
    join_ok(&producers);
    assert!(matches!(q.get_timeout(DEADLINE), Err(Error::Disconnected)));
}

#[test]
fn messages_larger_than_the_pipe_arrive_whole() {
    let q: Queue<ByteBuf> = Queue::new().unwrap();
    let sizes = [0usize, 1, 4095, 4096, 4097, 65_536, 1 << 20, 3 << 20];
    let p = Process::start(|| -> Result<(), Error> {
        for (i, &n) in sizes.iter().enumerate() {
            q.put(&ByteBuf::from(vec![i as u8 ^ 0x5a; n]))?;
        }
        Ok(())
    })
    .unwrap();
    for (i, &n) in sizes.iter().enumerate() {
        let m = q.get_timeout(DEADLINE).unwrap();
        assert_eq!(m.len(), n);
        assert!(m.iter().all(|&b| b == i as u8 ^ 0x5a));
    }
    assert!(join(&p).success());
}

#[test]
fn get_returns_disconnected_once_every_producer_has_exited() {
    let q: Queue<u64> = Queue::new().unwrap();
    let producers = start_all(3, |i| q.put(&(i as u64))).unwrap();
    join_ok(&producers);
    let mut got: Vec<u64> = (0..3).map(|_| q.get_timeout(DEADLINE).unwrap()).collect();
    got.sort();
    assert_eq!(got, vec![0, 1, 2]);
    // get_timeout: Disconnected, long before its timeout.
    assert!(matches!(q.get_timeout(DEADLINE), Err(Error::Disconnected)));
    // Plain get, in a child (so a hang would fail the test at the deadline, not hang it).
    let c = Process::start(|| match q.get() {
        Err(Error::Disconnected) => 0,
        _ => 2,
    })
    .unwrap();
    assert_eq!(join(&c), ExitStatus::Exited(0));
}

#[test]
fn consumers_blocked_in_get_before_the_producers_exit_are_woken_with_disconnected() {
    let q: Queue<u32> = Queue::new().unwrap();
    let release = RawValue::new(false).unwrap();
    let waiting = RawValue::new(0u32).unwrap();
    // Producers put one message each, then stay alive until released.
    let producers = start_all(2, |i| -> Result<(), Error> {
        q.put(&(i as u32))?;
        wait_until("release", || release.get());
        Ok(())
    })
    .unwrap();
    // Two consumers: one ends up waiting in the pipe holding the reader lock, the other
    // waiting for that lock. Both must come out with Disconnected.
    let consumers = start_all(2, |_| {
        let mut got = 0;
        waiting.fetch_add(1);
        loop {
            match q.get() {
                Ok(_) => got += 1,
                Err(Error::Disconnected) => return got,
                Err(_) => return 100,
            }
        }
    })
    .unwrap();
    wait_until("consumers waiting", || {
        waiting.get() == 2 && q.stats().messages_got == 2
    });
    std::thread::sleep(Duration::from_millis(100)); // both consumers are now blocked in get
    assert!(
        consumers.iter().all(Process::is_alive),
        "nobody disconnects while a producer lives"
    );
    release.set(true);
    join_ok(&producers);
    let codes: Vec<i32> = consumers.iter().map(|c| join(c).code()).collect();
    assert_eq!(
        codes.iter().sum::<i32>(),
        2,
        "two messages in total, then Disconnected: {codes:?}"
    );
}

#[test]
fn close_counts_as_gone_for_a_producer_that_is_still_alive() {
    let q: Queue<u8> = Queue::new().unwrap();
    let hold = RawValue::new(false).unwrap();
    let p = Process::start(|| -> Result<(), Error> {
        q.put(&1)?;
        q.close();
        hold.set(true);
        sleep_until_killed();
        Ok(())
    })
    .unwrap();
    wait_until("producer closed", || hold.get());
    assert_eq!(q.get_timeout(DEADLINE).unwrap(), 1);
    assert!(matches!(q.get_timeout(DEADLINE), Err(Error::Disconnected)));
    assert!(p.is_alive());
    drop(p);
}

#[test]
fn empty_and_timeout_are_distinct_clear_errors() {
    let q: Queue<u8> = Queue::new().unwrap();
    // No producer ever: nothing can disconnect it, so it is empty / times out.
    assert!(matches!(q.try_get(), Err(Error::Empty)));
    assert!(matches!(
        q.get_timeout(Duration::from_millis(20)),
        Err(Error::Timeout)
    ));
    // A live producer (this process) and an empty queue: the same.
    q.put(&5).unwrap();
    assert_eq!(q.try_get().unwrap(), 5);
    assert!(matches!(q.try_get(), Err(Error::Empty)));
    assert!(matches!(
        q.get_timeout(Duration::from_millis(120)),
        Err(Error::Timeout)
    ));
    assert_eq!(q.len(), 0);
    assert_eq!(Error::Empty.to_string(), "queue is empty");
}

#[test]
fn a_message_read_as_the_wrong_type_is_a_decode_error_and_the_queue_goes_on() {
    let q: Queue<String> = Queue::new().unwrap();
    let as_tuple: Queue<(u64, u64, u64, u64)> = q.retype();
    let as_bytes: Queue<Vec<u8>> = q.retype();
    let p = Process::start(|| -> Result<(), Error> {
        q.put(&"hi".to_string())?; // too short for four integers
        as_bytes.put(&vec![0xff, 0xfe])?; // not UTF-8
        q.put(&"still fine".to_string())
    })
    .unwrap();
    assert!(join(&p).success());
    match as_tuple.get_timeout(DEADLINE) {
        Err(Error::Decode(e)) => assert!(!e.to_string().is_empty()),
        other => panic!("expected Decode, got {other:?}"),
    }
    let e = q.get_timeout(DEADLINE).unwrap_err();
    assert!(matches!(e, Error::Decode(_)), "{e:?}");
    assert!(e.to_string().starts_with("malformed message"), "{e}");
    // Each bad frame was consumed whole: the next message is intact.
    assert_eq!(q.get_timeout(DEADLINE).unwrap(), "still fine");
}

#[test]
fn an_oversized_message_is_refused_before_it_is_sent() {
    let q: Queue<ByteBuf> = Queue::new().unwrap();
    let big = ByteBuf::from(vec![0u8; MAX_MESSAGE + 1]);
    assert!(matches!(
        q.put(&big),
        Err(Error::TooLarge { max: MAX_MESSAGE, .. })
    ));
    assert_eq!(q.stats().messages_put, 0);
    q.put(&ByteBuf::from(vec![1, 2, 3])).unwrap();
    assert_eq!(q.try_get().unwrap().into_vec(), vec![1, 2, 3]);
}

#[test]
fn a_consumer_killed_while_waiting_does_not_block_the_others() {
    let q: Queue<u32> = Queue::new().unwrap();
    let entered = RawValue::new(false).unwrap();
    // This consumer waits in get, holding the reader lock, and is killed there.
    let c = Process::start(|| {
        entered.set(true);
        let _ = q.get();
    })
    .unwrap();
    wait_until("consumer waiting", || entered.get());
    std::thread::sleep(Duration::from_millis(50));
    c.kill().unwrap();
    join(&c);
    q.put(&9).unwrap();
    // The reader lock comes back as "owner died", with no frame half-read: no corruption.
    assert_eq!(q.get_timeout(DEADLINE).unwrap(), 9);
}

#[test]
fn a_writer_killed_in_the_middle_of_a_message_is_reported_not_waited_for() {
    let q: Queue<ByteBuf> = Queue::new().unwrap();
    let writing = RawValue::new(false).unwrap();
    // 8 MiB does not fit the pipe: the writer blocks half-way, holding the writer lock.
    let w = Process::start(|| {
        let big = ByteBuf::from(vec![7u8; 8 << 20]);
        writing.set(true);
        let _ = q.put(&big);
    })
    .unwrap();
    wait_until("writer started", || writing.get());
    wait_until("writer blocked in write", || proc_state(w.pid()) == Some('S'));
    w.kill().unwrap();
    join(&w);
    let e = q.get_timeout(DEADLINE).unwrap_err();
    assert!(matches!(e, Error::Corrupted(_)), "{e:?}");
    // And it stays clearly broken, for readers and writers alike.
    assert!(matches!(q.get_timeout(DEADLINE), Err(Error::Corrupted(_))));
    assert!(matches!(q.put(&ByteBuf::new()), Err(Error::Corrupted(_))));
}

#[test]
fn a_torn_message_is_reported_also_while_other_producers_stay_alive() {
    let q: Queue<ByteBuf> = Queue::new().unwrap();
    let writing = RawValue::new(false).unwrap();
    let bystander_put = RawValue::new(false).unwrap();
    // A producer that stays alive: the pipe keeps a writer, so no end-of-file will come.
    let bystander = Process::start(|| -> Result<(), Error> {
        q.put(&ByteBuf::from(vec![1u8]))?;
        bystander_put.set(true);
        sleep_until_killed();
        Ok(())
    })
    .unwrap();
    wait_until("bystander put", || bystander_put.get());
    let w = Process::start(|| {
        let big = ByteBuf::from(vec![7u8; 8 << 20]);
        writing.set(true);
        let _ = q.put(&big);
    })
    .unwrap();
    wait_until("writer started", || writing.get());
    wait_until("writer blocked in write", || proc_state(w.pid()) == Some('S'));
    w.kill().unwrap();
    join(&w);
    assert_eq!(q.get_timeout(DEADLINE).unwrap().into_vec(), vec![1u8]);
    let e = q.get_timeout(DEADLINE).unwrap_err();
    assert!(matches!(e, Error::Corrupted(_)), "{e:?}");
    assert!(bystander.is_alive());
}

#[test]
fn a_producer_that_starts_late_is_not_missed() {
    // Producer 1 puts nothing until the consumer has seen all of producer 0's messages and
    // producer 0 has exited. A consumer that only counted processes that had put would
    // declare the queue disconnected right there and lose producer 1's messages.
    let q: Queue<(u32, u32)> = Queue::new().unwrap();
    let go = RawValue::new(false).unwrap();
    let p0 = Process::start(|| -> Result<(), Error> {
        for i in 0..100 {
            q.put(&(0, i))?;
        }
        Ok(())
    })
    .unwrap();
    let p1 = Process::start(|| -> Result<(), Error> {
        wait_until("go", || go.get());
        for i in 0..100 {
            q.put(&(1, i))?;
        }
        Ok(())
    })
    .unwrap();
    for i in 0..100 {
        assert_eq!(q.get_timeout(DEADLINE).unwrap(), (0, i));
    }
    assert!(join(&p0).success());
    // Producer 0 is gone and nothing is in the pipe, but producer 1 still could put.
    let r = q.get_timeout(Duration::from_millis(100));
    assert!(matches!(r, Err(Error::Timeout)), "{r:?}");
    go.set(true);
    for i in 0..100 {
        assert_eq!(q.get_timeout(DEADLINE).unwrap(), (1, i));
    }
    assert!(join(&p1).success());
    assert!(matches!(q.get_timeout(DEADLINE), Err(Error::Disconnected)));
}

#[test]
fn a_child_that_never_touches_the_queue_keeps_it_connected_until_it_exits() {
    let q: Queue<u32> = Queue::new().unwrap();
    q.put(&1).unwrap(); // the parent is a producer
    let idle = Process::start(sleep_until_killed).unwrap();
    let consumer = Process::start(|| match q.get() {
        // The consumer's first get lets its own inherited write end go.
        Ok(1) => match q.get_timeout(Duration::from_millis(100)) {
            Err(Error::Timeout) => match q.get() {
                Err(Error::Disconnected) => 0,
                _ => 4,
            },
            _ => 3,
        },
        _ => 2,
    })
    .unwrap();
    q.close(); // the parent is done producing; `idle` still could
    wait_until("consumer past its timeout", || q.stats().messages_got == 1);
    std::thread::sleep(Duration::from_millis(300));
    assert!(consumer.is_alive(), "the idle child still holds a write end");
    idle.kill().unwrap();
    assert_eq!(join(&consumer), ExitStatus::Exited(0));
    // Putting again makes the parent a producer again.
    q.put(&2).unwrap();
    assert_eq!(q.get_timeout(DEADLINE).unwrap(), 2);
    assert!(matches!(q.try_get(), Err(Error::Empty)));
}

#[test]
fn get_before_any_producer_waits_for_the_first_one() {
    let q: Queue<u32> = Queue::new().unwrap();
    let waiting = RawValue::new(false).unwrap();
    let consumer = Process::start(|| {
        waiting.set(true);
        match (q.get(), q.get()) {
            (Ok(5), Err(Error::Disconnected)) => 0,
            _ => 2,
        }
    })
    .unwrap();
    wait_until("consumer waiting", || waiting.get());
    std::thread::sleep(Duration::from_millis(50));
    assert!(
        consumer.is_alive(),
        "no producer yet: get waits, it does not disconnect"
    );
    let producer = Process::start(|| q.put(&5)).unwrap();
    assert!(join(&producer).success());
    assert_eq!(join(&consumer), ExitStatus::Exited(0));
}

#[test]
fn stats_count_messages_and_serialized_bytes() {
    let q: Queue<ByteBuf> = Queue::new().unwrap();
    let p = Process::start(|| -> Result<(), Error> {
        for n in [10usize, 1000] {
            q.put(&ByteBuf::from(vec![0u8; n]))?;
        }
        Ok(())
    })
    .unwrap();
    assert!(join(&p).success());
    assert_eq!(q.len(), 2);
    let st = q.stats();
    assert_eq!(st.messages_put, 2);
    // postcard: a varint length in front of the bytes (1 byte for 10, 2 bytes for 1000).
    assert_eq!(st.bytes_put, 11 + 1002);
    q.get_timeout(DEADLINE).unwrap();
    q.get_timeout(DEADLINE).unwrap();
    assert_eq!(q.stats().bytes_got, 1013);
    assert!(q.is_empty());
}

#[test]
fn queues_made_and_dropped_on_several_threads_while_they_fork_stay_exact() {
    // Every thread makes a queue, forks a producer, checks the message and the disconnect,
    // and drops the queue, while the other threads do the same: the fork handlers read the
    // queue table while queues are registered and freed. (A stress test: it exercises the
    // registry lock and checks that nothing deadlocks or crosses over; the race it guards
    // against was rarely visible without it.)
    const THREADS: u32 = 4;
    const ROUNDS: u32 = 25;
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..THREADS)
            .map(|t| {
                s.spawn(move || {
                    for r in 0..ROUNDS {
                        let q: Queue<u32> = Queue::new().unwrap();
                        let extra: Queue<u8> = Queue::new().unwrap(); // dropped while others fork
                        let p = Process::start(|| q.put(&(t * 1000 + r))).unwrap();
                        drop(extra);
                        assert_eq!(q.get_timeout(DEADLINE).unwrap(), t * 1000 + r);
                        assert_eq!(join(&p), ExitStatus::Exited(0));
                        assert!(matches!(q.get_timeout(DEADLINE), Err(Error::Disconnected)));
                        assert_reaped(p.pid());
                    }
                })
            })
            .collect();
        for w in workers {
            w.join().unwrap();
        }
    });
}
