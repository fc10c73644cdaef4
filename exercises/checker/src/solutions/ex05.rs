//! Reference solution of exercise 5 (spoiler).

use coord_exercises_kit::ex05::{StopFlag, Tally, Work};

// ANCHOR: worker
pub fn worker(stop: &StopFlag, k: u64, work: &Work) -> Tally {
    let mut tally = Tally::default();
    for i in 0..work.len() {
        // The check interval counts iterations, not hits: it must fire every k steps.
        if i % k == 0 {
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
// ANCHOR_END: worker
