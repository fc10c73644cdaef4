//! The work a search does on each item, when it is not Example 27.1's prime test: a hash
//! whose matches the measured runs can place (one needle anywhere, or about one in `d`).

use std::ops::Range;

use lab_support::is_prime;
use serde::Serialize;

/// One round of the splitmix64 finalizer. Each step (add, xor-shift, multiply by an odd
/// constant) can be undone, so the whole round is a one-to-one map of `u64`.
fn mix(z: u64) -> u64 {
    let mut z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The work done on item `n`: `rounds` rounds of the splitmix64 finalizer, a stand-in for inspecting one
/// record. One-to-one, so two different items never get the same score.
pub fn score(n: u64, rounds: u32) -> u64 {
    let mut x = n;
    for _ in 0..rounds {
        x = mix(x);
    }
    x
}

/// What the search looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    /// Exactly one item matches: this one (found by comparing scores, so every item costs
    /// the same work).
    Needle(u64),
    /// About one item in `d` matches: those whose score is a multiple of `d`.
    Density(u64),
    /// Every item is a prime test, as in Example 27.1.
    Prime,
}

/// A [`Target`] ready to test items, with the needle's score computed once.
#[derive(Debug, Clone, Copy)]
pub struct Matcher {
    target: Target,
    rounds: u32,
    needle_score: u64,
}

impl Matcher {
    pub fn new(target: Target, rounds: u32) -> Matcher {
        let needle_score = match target {
            Target::Needle(n) => score(n, rounds),
            _ => 0,
        };
        Matcher {
            target,
            rounds,
            needle_score,
        }
    }

    /// Whether item `n` is a match; costs one [`score`] (or one prime test).
    #[inline]
    pub fn matches(&self, n: u64) -> bool {
        match self.target {
            Target::Needle(_) => score(n, self.rounds) == self.needle_score,
            Target::Density(d) => score(n, self.rounds) % d == 0,
            Target::Prime => is_prime(n),
        }
    }

    /// The first match in `range`, scanning upward on one core: the reference answer.
    pub fn first_in(&self, range: Range<u64>) -> Option<u64> {
        range.into_iter().find(|&n| self.matches(n))
    }
}
