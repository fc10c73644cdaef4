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
