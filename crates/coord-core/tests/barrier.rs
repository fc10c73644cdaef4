//! The process barrier: nobody passes a round before every party has arrived, rounds can be
//! reused, and a party that never comes gives a timeout (then a broken barrier), never a hang.

mod common;

use std::time::Duration;

use common::{DEADLINE, join, join_ok};
use coord_core::{Barrier, Error, ExitStatus, Process, RawValue, start_all};

#[test]
fn nobody_passes_a_round_before_everyone_arrived() {
    const PARTIES: usize = 4;
    const ROUNDS: u64 = 50;
    let gate = Barrier::new(PARTIES).unwrap();
    let arrivals = RawValue::new(0u64).unwrap();
    let early = RawValue::new(0u64).unwrap();
    // The last process sleeps before arriving at each round, so the others are surely
    // waiting: a barrier that let anyone through early would be seen every round.
    let procs = start_all(PARTIES, |i| {
        for round in 0..ROUNDS {
            if i == PARTIES - 1 {
                std::thread::sleep(Duration::from_micros(200));
            }
            arrivals.fetch_add(1);
            gate.wait_timeout(DEADLINE).expect("every party arrives");
            if arrivals.get() < (round + 1) * PARTIES as u64 {
                early.fetch_add(1);
            }
        }
    })
    .unwrap();
    join_ok(&procs);
    assert_eq!(
        early.get(),
        0,
        "a party passed the barrier before all had arrived"
    );
    assert_eq!(arrivals.get(), ROUNDS * PARTIES as u64);
    assert!(!gate.broken());
    assert_ne!(gate.opened_at_ns(), 0);
}

#[test]
fn arrival_indices_are_distinct_in_each_round() {
    let gate = Barrier::new(3).unwrap();
    let seen = RawValue::new(0u32).unwrap();
    let procs = start_all(3, |_| {
        let i = gate.wait_timeout(DEADLINE).unwrap();
        seen.fetch_add(1 << i);
    })
    .unwrap();
    join_ok(&procs);
    assert_eq!(seen.get(), 0b111, "each of 0, 1, 2 handed out exactly once");
}

#[test]
fn a_party_that_never_arrives_is_a_timeout_not_a_hang() {
    let gate = Barrier::new(2).unwrap();
    let r = gate.wait_timeout(Duration::from_millis(100));
    assert!(matches!(r, Err(Error::Timeout)), "got {r:?}");
    assert!(gate.broken());
    // And the broken barrier says so to anyone who comes later.
    assert!(matches!(gate.wait_timeout(DEADLINE), Err(Error::BrokenBarrier)));
}

#[test]
fn a_timeout_wakes_the_other_waiters_with_broken_barrier() {
    // Three parties, two come: the child waits with a long timeout, the parent gives up
    // early. The child must hear at once that the round will never open.
    let gate = Barrier::new(3).unwrap();
    let child = Process::start(|| match gate.wait_timeout(DEADLINE) {
        Err(Error::BrokenBarrier) => 0,
        Ok(_) => 1,
        Err(_) => 2,
    })
    .unwrap();
    common::wait_until("the child waits", || gate.n_waiting() == 1);
    assert!(matches!(
        gate.wait_timeout(Duration::from_millis(50)),
        Err(Error::Timeout)
    ));
    assert_eq!(join(&child), ExitStatus::Exited(0));
}

#[test]
fn zero_parties_is_a_clear_error() {
    let e = Barrier::new(0).unwrap_err();
    assert!(matches!(e, Error::InvalidArgument(_)));
    assert!(e.to_string().contains("parties"), "{e}");
}

#[test]
fn one_party_never_waits() {
    let gate = Barrier::new(1).unwrap();
    for _ in 0..3 {
        assert_eq!(gate.wait_timeout(Duration::from_millis(1)).unwrap(), 0);
    }
}
