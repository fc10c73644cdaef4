//! The lecture's claims, decided from a run's results, and the `--json` object that carries
//! them (read back by `lecture-claims`).

use lab_support::Claim;
use serde::Serialize;

use crate::render::{dur, int, opt_int, target_words};
use crate::scenarios::plan::{Plan, Results};
use crate::scenarios::{Target, median_u64};

#[derive(Debug, Serialize)]
pub struct JsonOut<'a> {
    #[serde(rename = "crate")]
    pub krate: &'static str,
    pub build: &'static str,
    pub claims: Vec<Claim>,
    pub plan: &'a Plan,
    pub results: &'a Results,
}

pub fn claims(p: &Plan, r: &Results) -> Vec<Claim> {
    let mut v = Vec::new();
    if let Some(e) = &r.example {
        v.push(
            Claim::new(
                "Example 27.1",
                "each of 4 workers searches its own 100,000-number range, checking the flag every iteration",
                "4 workers x 100,000 integers each",
            )
            .measured(
                format!(
                    "iterations actually searched per worker: {:?} (every range has a prime within {} of its \
                 start)",
                    e.iterations,
                    e.far_prime()
                ),
                e.max_iterations() as f64,
            )
            .holds(Some(e.max_iterations() * 100 >= e.range_len)),
        );
        let smallest = e.first_prime_in_range.iter().flatten().min().copied();
        if let Some((w, n)) = e.winner() {
            v.push(
                Claim::new("Example 27.1", "the prime reported is the smallest one the workers look for", "each worker searches for the smallest prime in its range; the first to find one \
                          reports it"
                    )
                    .measured(format!(
                    "worker {w} reported {n}; the smallest prime over all ranges is {} (first found wins)",
                    opt_int(smallest)
                ), n as f64)
                    .holds(Some(Some(n) == smallest)),
            );
        }
        v.push(
            Claim::new(
                "Example 27.1",
                "the printed elapsed time measures the search",
                "prints the winner and the elapsed time",
            )
            .measured(
                format!(
                    "{:.2} ms for {} iterations in all: process start and join, not search",
                    e.elapsed_ns as f64 / 1e6,
                    e.iterations.iter().sum::<u64>()
                ),
                e.elapsed_ns as f64 / 1e6,
            )
            .holds(Some(e.max_iterations() * 100 >= e.range_len)),
        );
    }
    if let Some(c) = r.compare.first() {
        let mwo = c.median_wasted_without();
        let mw = c.median_wasted_with();
        let beyond = median_u64(&c.beyond_winner_without).unwrap_or(0);
        if let Target::Needle(n) = c.target
            && n < p.range_len
        {
            let whole = p.workers as u64 * p.range_len;
            v.push(
                Claim::new(
                    "2.1",
                    "without a stop signal the other workers search their whole ranges: 399,000 \
                        unnecessary iterations",
                    "400,000 items over 4 workers, first match at position 1,000: 399,000 unnecessary \
                          iterations",
                )
                .measured(
                    format!(
                        "without early exit the non-winners examined {} items ({} workers x {}, match at \
                     position {}); the lecture's {} ({} - {}) also counts the {} items left in the \
                     winner's own range, which the winner never searches since it returns when it finds",
                        int(beyond),
                        p.workers,
                        int(p.range_len),
                        int(n),
                        int(whole.saturating_sub(n)),
                        int(whole),
                        int(n),
                        int(p.range_len.saturating_sub(n))
                    ),
                    beyond as f64,
                )
                .holds(Some(beyond >= whole.saturating_sub(n))),
            );
        }
        v.push(
            Claim::new("2.1", "with cooperative early exit the remaining workers stop almost at once", "after a result is found, the other workers should quit soon, not finish their ranges")
                .measured(format!(
                "items examined after the flag went up: {} with early exit vs {} without (medians of {}, {}); \
                 stop latency median {}",
                int(mw),
                int(mwo),
                c.reps,
                target_words(c.target),
                c.median_latency_ns().map(dur).unwrap_or_else(|| "-".into())
            ), mw as f64)
                .holds(Some(c.wasted_with.iter().all(|&w| w <= p.workers as u64))),
        );
    }
    if let Some(f) = &r.flag_cost {
        v.push(
            Claim::new("2.1", "a flag read costs a lock acquisition when the Value has a lock", "a read of a Value with a lock pays for taking the lock on top of the memory access"
                )
                .measured(format!(
                "per item: {:.1} ns with a locked read vs {:.1} ns with an atomic load vs {:.1} ns with no \
                 check ({} workers, median of {}): a locked read costs {:+.1} ns more",
                f.locked_ns,
                f.atomic_ns,
                f.none_ns,
                f.workers,
                f.reps,
                f.locked_extra_ns()
            ), f.locked_extra_ns())
                // Holds when the lock is what costs: a locked read adds clearly more than an atomic one.
                .holds(Some(f.locked_extra_ns() >= 1.0 && f.locked_ns - f.none_ns >= 2.0 * f.atomic_extra_ns())),
        );
    }
    if let Some(x) = &r.race {
        v.push(
            Claim::new("2.1", "lock-check-set stops two workers from both reporting a result", "the finder takes the lock, checks again inside it, then sets the flag and reports"
                )
                .measured(format!(
                "{} workers finding a match at once, {} races each: lock-check-set had exactly one winner in \
                 {} runs; check-then-set without the lock had 2+ winners in {} runs",
                x.lock_check_set.workers,
                x.lock_check_set.runs,
                x.lock_check_set.runs_with_exactly_one(),
                x.unsafe_set.runs_with_several_winners()
            ), x.unsafe_set.runs_with_several_winners() as f64)
                .holds(Some(x.lock_check_set.runs_with_exactly_one() == x.lock_check_set.runs)),
        );
    }
    v
}

pub fn to_json<'a>(p: &'a Plan, r: &'a Results) -> JsonOut<'a> {
    JsonOut {
        krate: "early-exit",
        build: if cfg!(debug_assertions) { "dev" } else { "release" },
        claims: claims(p, r),
        plan: p,
        results: r,
    }
}
