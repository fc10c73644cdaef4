//! Wrong implementations of exercise 5.

use coord_exercises_kit::ex05::{StopFlag, Tally, Work};

// Mistake: the interval counts hits, not iterations (as in the lecture's Example 4.1), so the check stops happening.
pub fn counts_hits(stop: &StopFlag, k: u64, work: &Work) -> Tally {
    let mut tally = Tally::default();
    let mut hits = 0;
    for i in 0..work.len() {
        if hits % k == 0 {
            tally.flag_reads += 1;
            if stop.is_set() {
                break;
            }
        }
        if work.step(i) {
            hits += 1;
        }
        tally.iterations += 1;
    }
    tally
}

// Mistake: reads the flag on every iteration whatever k says; the check interval is ignored.
pub fn every_iteration(stop: &StopFlag, _k: u64, work: &Work) -> Tally {
    let mut tally = Tally::default();
    for i in 0..work.len() {
        tally.flag_reads += 1;
        if stop.is_set() {
            break;
        }
        work.step(i);
        tally.iterations += 1;
    }
    tally
}

// Mistake: a check that never happens; the worker runs to the end of its items.
pub fn never_checks(_stop: &StopFlag, _k: u64, work: &Work) -> Tally {
    let mut tally = Tally::default();
    for i in 0..work.len() {
        work.step(i);
        tally.iterations += 1;
    }
    tally
}

// Mistake: when a read says stop, the worker still processes the current item before leaving.
pub fn step_after_stop(stop: &StopFlag, k: u64, work: &Work) -> Tally {
    let mut tally = Tally::default();
    for i in 0..work.len() {
        let mut leave = false;
        if i % k == 0 {
            tally.flag_reads += 1;
            leave = stop.is_set();
        }
        work.step(i);
        tally.iterations += 1;
        if leave {
            break;
        }
    }
    tally
}

// Mistake: once a read says stop, the worker stops stepping but keeps looping (and reading) instead of returning.
pub fn stops_but_loops(stop: &StopFlag, k: u64, work: &Work) -> Tally {
    let mut tally = Tally::default();
    let mut stopped = false;
    for i in 0..work.len() {
        if i % k == 0 {
            tally.flag_reads += 1;
            stopped = stop.is_set();
        }
        if stopped {
            continue;
        }
        work.step(i);
        tally.iterations += 1;
    }
    tally
}

// Mistake: the items are stepped as 1..=len instead of 0..len.
pub fn one_based_items(stop: &StopFlag, k: u64, work: &Work) -> Tally {
    let mut tally = Tally::default();
    for i in 1..=work.len() {
        if (i - 1) % k == 0 {
            tally.flag_reads += 1;
            if stop.is_set() {
                break;
            }
        }
        work.step(i);
        tally.iterations += 1;
    }
    tally
}
