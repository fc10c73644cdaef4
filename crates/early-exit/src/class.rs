//! `--class`: one search to run live in front of a room. Before each reveal, a one-line
//! question; then Enter shows what happened (no pause when stdin is not a terminal, so the
//! whole thing can be captured or tested).
//!
//! The seed places the match, so the same seed always asks about the same search. What the
//! other workers do once the flag rises depends on the scheduler: those steps run a few times
//! and show the spread, and say so.

use std::fmt::Write;

use crate::lanes;
use crate::scenarios::{FlagKind, SearchConfig, SetMode, Target, race_trials, search, search_traced};

/// Searches per timing-dependent step, and races per claim style.
pub const RUNS: usize = 5;
pub const RACES: usize = 40;
/// Numbers per worker: small enough that a search takes milliseconds.
pub const RANGE: u64 = 100_000;

/// Where the match sits under `seed`: in the last worker's range, between 2% and 12% of the
/// way (splitmix64 of the seed), so the others are still busy when the flag rises.
pub fn needle(seed: u64, workers: usize) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^= z >> 31;
    (workers as u64 - 1) * RANGE + RANGE / 50 + z % (RANGE / 10)
}

/// Runs the class scenario. `say` prints, `pause` waits for Enter (or does nothing). Returns
/// whether the promises held (exactly one winner with the lock, in every run).
pub fn run(
    workers: usize,
    seed: u64,
    width: usize,
    color: bool,
    say: &mut dyn FnMut(&str),
    pause: &mut dyn FnMut(),
) -> anyhow::Result<bool> {
    crate::check_shape(workers, RANGE)?;
    let n = needle(seed, workers);
    let cfg = SearchConfig {
        workers,
        range_len: RANGE,
        target: Target::Needle(n),
        work: 16,
        flag: FlagKind::Atomic,
        early_exit: true,
        set_mode: SetMode::LockCheckSet,
    };
    say(&format!(
        "Lecture 27, Concept 2.1, class mode (Rust, real processes)\n\
         {workers} workers search {RANGE} numbers each (w0 from 0, w1 from {RANGE}, ...). One number\n\
         matches: {n}, in w{}'s range (--seed {seed} always puts it there). The workers read a shared\n\
         flag before every number; the finder raises it and the others stop.\n",
        workers - 1
    ));
    let mut kept = true;

    say("\nStep 1 of 3: with early exit\n");
    say("Question for the room: after the flag rises, how many numbers will the others still examine?\n");
    pause();
    let (first, t) = search_traced(&cfg, true)?;
    let t = t.expect("asked for a timeline");
    let mut s = String::from("\n");
    s.push_str(&timeline::text::chart(&t, width, color));
    for line in lanes::what_it_shows(&t, &first) {
        let _ = writeln!(s, "{line}");
    }
    let mut wasted = vec![first.wasted()];
    kept &= first.winners.len() == 1;
    for _ in 1..RUNS {
        let r = search(&cfg)?;
        kept &= r.winners.len() == 1;
        wasted.push(r.wasted());
    }
    let _ = writeln!(
        s,
        "Answer: {} to {} wasted over {RUNS} runs ({}).\n\
         Timing-dependent: a running worker stops at its next read; one waiting for a core\n\
         stops only when it runs again (and may finish the item it had started).",
        wasted.iter().min().unwrap_or(&0),
        wasted.iter().max().unwrap_or(&0),
        wasted.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
    );
    say(&s);

    say("\nStep 2 of 3: the same search, and nobody reads the flag\n");
    say("Question for the room: how many numbers will the workers that did not find it examine?\n");
    pause();
    let without = search(&SearchConfig {
        early_exit: false,
        ..cfg
    })?;
    say(&format!(
        "\nAnswer: {} (every one of their {} x {RANGE}), against {} in step 1's run. Not\n\
         a matter of timing: without the check each loop runs to the end of its range.\n",
        without.beyond_winner(),
        workers - 1,
        first.beyond_winner()
    ));

    say("\nStep 3 of 3: every worker finds a match on its first number, at the same instant\n");
    say("Question for the room: how many workers will claim the win without the lock?\n");
    pause();
    let mut s = String::from("\n");
    for mode in [SetMode::Unsafe, SetMode::LockCheckSet] {
        let tally = race_trials(workers, RACES, mode, FlagKind::Atomic)?;
        let hist: Vec<String> = (1..tally.winners_histogram.len())
            .filter(|&k| tally.winners_histogram[k] > 0)
            .map(|k| format!("{k} winner(s) in {} runs", tally.winners_histogram[k]))
            .collect();
        let _ = writeln!(
            s,
            "{:<16} over {RACES} races: {}",
            format!("{mode:?}:"),
            hist.join(", ")
        );
        if mode == SetMode::LockCheckSet {
            kept &= tally.runs_with_exactly_one() == RACES;
        }
    }
    s.push_str(
        "Answer: without the lock, timing-dependent: two workers can both read \"down\" before\n\
         either writes \"up\". With lock, check, set: one winner, every time.\n",
    );
    say(&s);
    Ok(kept)
}

/// `--class`: the steps print as they go, with Enter between them only when stdin is a
/// terminal. Returns the exit code.
pub fn in_class(workers: usize, seed: u64) -> anyhow::Result<i32> {
    let (width, color) = (timeline::term_width(), timeline::color_wanted());
    let pause = &mut timeline::class::reveal_pause();
    let kept = run(
        workers,
        seed,
        width,
        color,
        &mut |s| timeline::class::emit(s),
        pause,
    )?;
    Ok(if kept { 0 } else { 1 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_always_places_the_needle_in_the_last_range_and_seeds_differ() {
        assert_eq!(needle(7, 4), needle(7, 4));
        assert_ne!(needle(7, 4), needle(8, 4));
        for seed in 0..50 {
            let n = needle(seed, 3);
            assert!(
                (2 * RANGE + RANGE / 50..2 * RANGE + 3 * RANGE / 25).contains(&n),
                "{n}"
            );
        }
    }
}
