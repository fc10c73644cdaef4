//! What the binary runs and prints: a [`Plan`] of sections, their results, the human tables
//! and the `--json` object. Kept out of `main.rs` so `main` stays a thin argument parser.

use std::fmt::Write as _;
use std::time::Instant;

use anyhow::Result;
use serde::Serialize;

use crate::{
    Comparison, Example271, Exit, FlagCost, FlagKind, Matcher, RaceTally, SearchConfig, SearchRun, SetMode,
    Smallest, Target, compare_early_exit, example_27_1, flag_read_cost, median_u64, race_trials, search,
};

/// Which sections to run, and with what shape.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub example: bool,
    pub compare: bool,
    pub flag_cost: bool,
    pub race: bool,
    pub smallest: bool,
    pub workers: usize,
    pub range_len: u64,
    /// What the compared searches look for (one early-exit/no-early-exit comparison each).
    pub targets: Vec<Target>,
    /// The density of the first-found/smallest section.
    pub smallest_density: u64,
    pub work: u32,
    pub flag: FlagKind,
    pub runs: usize,
    pub reps: usize,
}

impl Plan {
    fn search_config(&self, target: Target) -> SearchConfig {
        SearchConfig {
            workers: self.workers,
            range_len: self.range_len,
            target,
            work: self.work,
            flag: self.flag,
            early_exit: true,
            set_mode: SetMode::LockCheckSet,
        }
    }
}

/// Early exit against no early exit, repeated `reps` times.
#[derive(Debug, Clone, Serialize)]
pub struct CompareSection {
    pub target: Target,
    /// The run shown in the table (the first).
    pub shown: Comparison,
    pub reps: usize,
    pub total_with: Vec<u64>,
    pub total_without: Vec<u64>,
    pub wasted_with: Vec<u64>,
    pub wasted_without: Vec<u64>,
    pub beyond_winner_with: Vec<u64>,
    pub beyond_winner_without: Vec<u64>,
    /// Every stop latency of every early-exit run (ns).
    pub latencies_ns: Vec<u64>,
    /// The same early-exit search with the other kind of flag, for its stop latencies.
    pub other_flag: FlagKind,
    pub other_flag_latencies_ns: Vec<u64>,
}

impl CompareSection {
    pub fn median_wasted_with(&self) -> u64 {
        median_u64(&self.wasted_with).unwrap_or(0)
    }
    pub fn median_wasted_without(&self) -> u64 {
        median_u64(&self.wasted_without).unwrap_or(0)
    }
    pub fn median_latency_ns(&self) -> Option<u64> {
        median_u64(&self.latencies_ns)
    }
}

/// Lock-check-set and the bare check-then-set, raced the same number of times.
#[derive(Debug, Clone, Serialize)]
pub struct RaceSection {
    pub unsafe_set: RaceTally,
    pub lock_check_set: RaceTally,
}

/// First found against smallest on a search with several matches per range.
#[derive(Debug, Clone, Serialize)]
pub struct SmallestSection {
    pub target: Target,
    /// The first match in each worker's range (sequential scan in the parent).
    pub first_per_range: Vec<Option<u64>>,
    pub first_found: SearchRun,
    pub smallest: Smallest,
    /// The smallest match by a sequential scan from 0: the reference answer.
    pub sequential: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Results {
    pub example: Option<Example271>,
    pub compare: Vec<CompareSection>,
    pub flag_cost: Option<FlagCost>,
    pub race: Option<RaceSection>,
    pub smallest: Option<SmallestSection>,
    pub total_ms: f64,
}

pub fn run_plan(p: &Plan) -> Result<Results> {
    let t0 = Instant::now();
    let example = if p.example {
        Some(example_27_1(4, 100_000)?)
    } else {
        None
    };

    let mut compare = Vec::new();
    for &target in p.targets.iter().filter(|_| p.compare) {
        let mut runs = Vec::new();
        for _ in 0..p.reps {
            runs.push(compare_early_exit(&p.search_config(target))?);
        }
        let other_flag = match p.flag {
            FlagKind::Locked => FlagKind::Atomic,
            FlagKind::Atomic => FlagKind::Locked,
        };
        let mut other_flag_latencies_ns = Vec::new();
        for _ in 0..p.reps {
            let run = search(&SearchConfig {
                flag: other_flag,
                ..p.search_config(target)
            })?;
            other_flag_latencies_ns.extend(run.stop_latencies());
        }
        let pick = |f: &dyn Fn(&Comparison) -> u64| runs.iter().map(f).collect::<Vec<_>>();
        compare.push(CompareSection {
            target,
            other_flag,
            other_flag_latencies_ns,
            total_with: pick(&|c| c.with_early_exit.total_iterations()),
            total_without: pick(&|c| c.without_early_exit.total_iterations()),
            wasted_with: pick(&|c| c.with_early_exit.wasted()),
            wasted_without: pick(&|c| c.without_early_exit.wasted()),
            beyond_winner_with: pick(&|c| c.with_early_exit.beyond_winner()),
            beyond_winner_without: pick(&|c| c.without_early_exit.beyond_winner()),
            latencies_ns: runs
                .iter()
                .flat_map(|c| c.with_early_exit.stop_latencies())
                .collect(),
            reps: p.reps,
            shown: runs.swap_remove(0),
        });
    }

    let flag_cost = if p.flag_cost {
        Some(flag_read_cost(p.workers, p.range_len, p.work, p.reps)?)
    } else {
        None
    };

    let race = if p.race {
        Some(RaceSection {
            unsafe_set: race_trials(p.workers, p.runs, SetMode::Unsafe, p.flag)?,
            lock_check_set: race_trials(p.workers, p.runs, SetMode::LockCheckSet, p.flag)?,
        })
    } else {
        None
    };

    let smallest = if p.smallest {
        let target = Target::Density(p.smallest_density);
        let m = Matcher::new(target, p.work);
        let first_per_range = (0..p.workers as u64)
            .map(|i| m.first_in(i * p.range_len..(i + 1) * p.range_len))
            .collect();
        let first_found = search(&SearchConfig {
            target,
            flag: FlagKind::Atomic,
            ..p.search_config(target)
        })?;
        let smallest = crate::smallest(p.workers, p.range_len, target, p.work)?;
        Some(SmallestSection {
            target,
            first_per_range,
            first_found,
            smallest,
            sequential: m.first_in(0..p.workers as u64 * p.range_len),
        })
    } else {
        None
    };

    Ok(Results {
        example,
        compare,
        flag_cost,
        race,
        smallest,
        total_ms: t0.elapsed().as_secs_f64() * 1e3,
    })
}

// --------------------------------------------------------------------------------------------
// Formatting
// --------------------------------------------------------------------------------------------

pub use lab_support::fmt::group_digits as int;

/// Nanoseconds in the unit that reads best.
pub fn dur(ns: u64) -> String {
    match ns {
        0..1_000 => format!("{ns} ns"),
        1_000..1_000_000 => format!("{:.1} µs", ns as f64 / 1e3),
        1_000_000..1_000_000_000 => format!("{:.2} ms", ns as f64 / 1e6),
        _ => format!("{:.2} s", ns as f64 / 1e9),
    }
}

fn opt_int(v: Option<u64>) -> String {
    v.map(int).unwrap_or_else(|| "none".into())
}

fn target_words(t: Target) -> String {
    match t {
        Target::Needle(n) => format!("one match (number {})", int(n)),
        Target::Density(d) => format!("about one match in {}", int(d)),
        Target::Prime => "primes".into(),
    }
}

pub fn render(p: &Plan, r: &Results) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "Lecture 27, Concept 2.1 and Example 27.1: first found wins, and the others stop"
    );
    if let Some(note) = lab_support::dev_build_note("early-exit") {
        let _ = writeln!(o, "{note}");
    }
    let _ = writeln!(
        o,
        "Real forked processes; the flag lives in MAP_SHARED memory; results travel through a pipe queue."
    );
    if let Some(e) = &r.example {
        render_example(&mut o, e);
    }
    for c in &r.compare {
        render_compare(&mut o, p, c);
    }
    if let Some(f) = &r.flag_cost {
        render_flag_cost(&mut o, f);
    }
    if let Some(x) = &r.race {
        render_race(&mut o, x);
    }
    if let Some(s) = &r.smallest {
        render_smallest(&mut o, s);
    }
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "What to notice: early exit only pays when workers have work left to skip; the flag is cheap to \
         read atomically and costs a lock when read Python's way; the lock around check-and-set is what \
         makes the winner unique; and \"first found\" is a different answer from \"smallest\"."
    );
    let _ = writeln!(o, "(all sections: {:.0} ms)", r.total_ms);
    o
}

fn render_example(o: &mut String, e: &Example271) {
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "== Example 27.1 as written: {} workers x {} numbers, a prime each, a locked Value<bool> flag ==",
        e.workers,
        int(e.range_len)
    );
    match e.winner() {
        Some((w, n)) => {
            let _ = writeln!(
                o,
                "Worker {w} found prime {n} in {:.3}s",
                e.elapsed_ns as f64 / 1e9
            );
        }
        None => {
            let _ = writeln!(
                o,
                "(no result on the queue; elapsed {:.3}s)",
                e.elapsed_ns as f64 / 1e9
            );
        }
    }
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        " worker | range             | first prime | iterations | how its loop ended"
    );
    for i in 0..e.workers {
        let lo = i as u64 * e.range_len;
        let _ = writeln!(
            o,
            " {:>6} | {:<17} | {:>11} | {:>10} | {}",
            i,
            format!("{}..{}", int(lo), int(lo + e.range_len)),
            opt_int(e.first_prime_in_range[i]),
            int(e.iterations[i]),
            e.exits[i].describe()
        );
    }
    let far = far_prime(e);
    let total: u64 = e.iterations.iter().sum();
    let _ = writeln!(
        o,
        "Nobody really searched: every range has a prime within {far} of its start, so the {} workers ran \
         {total} iterations in all (at most {} each, out of {}).",
        e.workers,
        e.max_iterations(),
        int(e.range_len)
    );
    let _ = writeln!(
        o,
        "The {:.1} ms measures starting and joining {} processes, not a search. The reported prime is the \
         one found first, not the smallest: the smallest here is {}.",
        e.elapsed_ns as f64 / 1e6,
        e.workers,
        opt_int(e.first_prime_in_range.iter().flatten().min().copied())
    );
    if e.results.len() > 1 {
        let _ = writeln!(
            o,
            "UNEXPECTED: {} results on the queue: {:?}",
            e.results.len(),
            e.results
        );
    }
}

/// How far from its range's start the farthest first prime lies.
fn far_prime(e: &Example271) -> u64 {
    e.first_prime_in_range
        .iter()
        .enumerate()
        .filter_map(|(i, p)| p.map(|p| p - i as u64 * e.range_len))
        .max()
        .unwrap_or(0)
}

fn render_compare(o: &mut String, p: &Plan, c: &CompareSection) {
    let w = &c.shown.with_early_exit;
    let wo = &c.shown.without_early_exit;
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "== 2.1 A search that runs long: {} workers x {} items, {}, {} hash rounds per item, flag: {} ==",
        p.workers,
        int(p.range_len),
        target_words(c.target),
        p.work,
        p.flag.name()
    );
    let _ = writeln!(
        o,
        "Released together by a start gate in shared memory. \"after flag\" = items examined after the \
         finder raised the flag; latency = flag raised -> worker saw it (early exit) or finished anyway."
    );
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "        |             with early exit              |           without early exit"
    );
    let _ = writeln!(
        o,
        " worker | iterations | after flag | stop latency | iterations | after flag | stopped after"
    );
    for (a, b) in w.workers.iter().zip(&wo.workers) {
        // "done before": the worker had finished its range before the flag went up.
        let lat = |r: &crate::WorkerReport, found: bool| match (r.exit, r.stop_latency_ns) {
            (Exit::Won, _) => "winner".to_string(),
            (_, Some(ns)) => dur(ns),
            (Exit::Exhausted, None) if found => "done before".to_string(),
            (_, None) => "-".to_string(),
        };
        let _ = writeln!(
            o,
            " {:>6} | {:>10} | {:>10} | {:>12} | {:>10} | {:>10} | {:>13}",
            a.id,
            int(a.iterations),
            int(a.after_set),
            lat(a, w.winner().is_some()),
            int(b.iterations),
            int(b.after_set),
            lat(b, wo.winner().is_some())
        );
    }
    let _ = writeln!(
        o,
        "  total | {:>10} | {:>10} | {:>12} | {:>10} | {:>10} | {:>13}",
        int(w.total_iterations()),
        int(w.wasted()),
        "",
        int(wo.total_iterations()),
        int(wo.wasted()),
        ""
    );
    let _ = writeln!(
        o,
        " wall   | {:>10} |            |              | {:>10} |",
        dur(w.elapsed_ns),
        dur(wo.elapsed_ns)
    );
    let _ = writeln!(o);
    let mw = c.median_wasted_with();
    let mwo = c.median_wasted_without();
    let _ = writeln!(
        o,
        "Over {} runs (medians), with early exit vs without: items examined after the flag {} vs {}; \
         items examined by the non-winners {} vs {}; total items {} vs {}.",
        c.reps,
        int(mw),
        int(mwo),
        int(median_u64(&c.beyond_winner_with).unwrap_or(0)),
        int(median_u64(&c.beyond_winner_without).unwrap_or(0)),
        int(median_u64(&c.total_with).unwrap_or(0)),
        int(median_u64(&c.total_without).unwrap_or(0)),
    );
    if let Target::Needle(n) = c.target
        && n < p.range_len
        && p.workers > 1
    {
        let whole = p.workers as u64 * p.range_len;
        let _ = writeln!(
            o,
            "The lecture counts {} - {} = {} unnecessary iterations. Without early exit the non-winners \
             examine {} items: the winner stops by itself in both designs, so its own remaining range is \
             never searched. With early exit, what the non-winners still do depends on when the winner \
             gets a core: {} workers share 2 cores, so worker 0 may start after the others have run for a \
             while (the items after the flag stay near 0 either way).",
            int(whole),
            int(n),
            int(whole.saturating_sub(n)),
            int(median_u64(&c.beyond_winner_without).unwrap_or(0)),
            p.workers
        );
    }
    let stats = |v: &[u64]| match median_u64(v) {
        Some(m) => format!(
            "fastest {}, median {}, worst {} ({} sightings)",
            dur(v.iter().copied().min().unwrap_or(0)),
            dur(m),
            dur(v.iter().copied().max().unwrap_or(0)),
            v.len()
        ),
        None => "no worker had to stop".to_string(),
    };
    let _ = writeln!(o, "Stop latency, {}: {}", p.flag.name(), stats(&c.latencies_ns));
    let _ = writeln!(
        o,
        "Stop latency, {}: {}",
        c.other_flag.name(),
        stats(&c.other_flag_latencies_ns)
    );
    let _ = writeln!(
        o,
        "A running worker notices an atomic flag at its next check. A locked read can find the lock \
         held by the winner (it keeps it while it sets the flag and reports) and then sleeps until woken; \
         and with {} workers on 2 cores, a worker waiting for a core sees any flag only once it runs again.",
        p.workers
    );
}

fn render_flag_cost(o: &mut String, f: &FlagCost) {
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "== 2.1 The price of reading the flag every iteration: {} workers x {} items, no match (all run to \
         the end), {} hash rounds per item, median of {} ==",
        f.workers,
        int(f.range_len),
        f.work,
        f.reps
    );
    let _ = writeln!(
        o,
        " flag read per iteration               | CPU ns per item | extra per read"
    );
    let _ = writeln!(
        o,
        " none (--no-early-exit)                | {:>15.1} | {:>14}",
        f.none_ns, "-"
    );
    let _ = writeln!(
        o,
        " atomic load (RawValue, --flag atomic) | {:>15.1} | {:>+14.1}",
        f.atomic_ns,
        f.atomic_extra_ns()
    );
    let _ = writeln!(
        o,
        " locked read (Value, Python's way)     | {:>15.1} | {:>+14.1}",
        f.locked_ns,
        f.locked_ns - f.none_ns
    );
    let _ = writeln!(
        o,
        "A locked read costs {:+.1} ns more than an atomic load: with the lock, each item costs {:.2}x as \
         much. The lock's cache line moves between the cores on every read; the atomic load only reads.",
        f.locked_extra_ns(),
        f.locked_ns / f.atomic_ns
    );
}

fn render_race(o: &mut String, x: &RaceSection) {
    let u = &x.unsafe_set;
    let l = &x.lock_check_set;
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "== 2.1 Why lock-check-set: {} workers all find a match on their first item, released together, {} \
         races each ({}) ==",
        u.workers,
        u.runs,
        u.flag.name()
    );
    let _ = writeln!(
        o,
        " claim                        | exactly 1 winner | 2+ winners | most winners in one run"
    );
    for (name, t) in [("check, then set (no lock)", u), ("lock, check again, set", l)] {
        let _ = writeln!(
            o,
            " {:<28} | {:>16} | {:>10} | {:>23}",
            name,
            t.runs_with_exactly_one(),
            t.runs_with_several_winners(),
            t.max_winners()
        );
    }
    let _ = writeln!(
        o,
        "Without the lock, two workers can both read \"not set\" before either sets it, and both put a \
         result on the queue ({} of {} runs here). With it, the second one re-reads the flag under the \
         lock and backs off.",
        u.runs_with_several_winners(),
        u.runs
    );
}

fn render_smallest(o: &mut String, s: &SmallestSection) {
    let _ = writeln!(o);
    let _ = writeln!(
        o,
        "== 2.1 First found is not smallest: {} workers x {} items, {} ==",
        s.smallest.workers,
        int(s.smallest.range_len),
        target_words(s.target)
    );
    let firsts: Vec<String> = s
        .first_per_range
        .iter()
        .enumerate()
        .map(|(i, f)| format!("worker {i}: {}", opt_int(*f)))
        .collect();
    let _ = writeln!(o, "First match in each range: {}", firsts.join(", "));
    match s.first_found.winner() {
        Some((w, n)) => {
            let _ = writeln!(
                o,
                "First found (early exit):    worker {w} reported {}{}",
                int(n),
                if Some(n) == s.sequential {
                    "  (this time it is also the smallest)"
                } else {
                    "  (not the smallest)"
                }
            );
        }
        None => {
            let _ = writeln!(o, "First found (early exit):    no match anywhere");
        }
    }
    let _ = writeln!(
        o,
        "Smallest (branch and bound): {}   sequential scan: {}   {}",
        opt_int(s.smallest.smallest),
        opt_int(s.sequential),
        if s.smallest.smallest == s.sequential {
            "(same)"
        } else {
            "(DIFFERENT: a bug)"
        }
    );
    let per: Vec<String> = s
        .smallest
        .iterations
        .iter()
        .zip(&s.smallest.exits)
        .enumerate()
        .map(|(i, (n, e))| format!("worker {i} {} ({})", int(*n), e.describe()))
        .collect();
    let _ = writeln!(o, "Branch and bound, items per worker: {}", per.join("; "));
    let _ = writeln!(
        o,
        "The first-found search stops at whichever match any worker meets first; to get the smallest, \
         workers share the best so far and give up only when their next item cannot beat it."
    );
}

// --------------------------------------------------------------------------------------------
// --json
// --------------------------------------------------------------------------------------------

/// One quantitative statement of the lecture and what this run measured.
#[derive(Debug, Clone, Serialize)]
pub struct Claim {
    pub section: String,
    pub claim: String,
    pub lecture: String,
    pub measured: String,
    pub value: f64,
    pub holds: Option<bool>,
}

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
        v.push(Claim {
            section: "Example 27.1".into(),
            claim:
                "each of 4 workers searches its own 100,000-number range, checking the flag every iteration"
                    .into(),
            lecture: "4 workers x 100,000 integers each".into(),
            measured: format!(
                "iterations actually searched per worker: {:?} (every range has a prime within {} of its \
                 start)",
                e.iterations,
                far_prime(e)
            ),
            value: e.max_iterations() as f64,
            holds: Some(e.max_iterations() * 100 >= e.range_len),
        });
        let smallest = e.first_prime_in_range.iter().flatten().min().copied();
        if let Some((w, n)) = e.winner() {
            v.push(Claim {
                section: "Example 27.1".into(),
                claim: "the prime reported is the smallest one the workers look for".into(),
                lecture: "each worker searches for the smallest prime in its range; the first to find one \
                          reports it"
                    .into(),
                measured: format!(
                    "worker {w} reported {n}; the smallest prime over all ranges is {} (first found wins)",
                    opt_int(smallest)
                ),
                value: n as f64,
                holds: Some(Some(n) == smallest),
            });
        }
        v.push(Claim {
            section: "Example 27.1".into(),
            claim: "the printed elapsed time measures the search".into(),
            lecture: "prints the winner and the elapsed time".into(),
            measured: format!(
                "{:.2} ms for {} iterations in all: process start and join, not search",
                e.elapsed_ns as f64 / 1e6,
                e.iterations.iter().sum::<u64>()
            ),
            value: e.elapsed_ns as f64 / 1e6,
            holds: Some(e.max_iterations() * 100 >= e.range_len),
        });
    }
    if let Some(c) = r.compare.first() {
        let mwo = c.median_wasted_without();
        let mw = c.median_wasted_with();
        let beyond = median_u64(&c.beyond_winner_without).unwrap_or(0);
        if let Target::Needle(n) = c.target
            && n < p.range_len
        {
            let whole = p.workers as u64 * p.range_len;
            v.push(Claim {
                section: "2.1".into(),
                claim: "without a stop signal the other workers search their whole ranges: 399,000 \
                        unnecessary iterations"
                    .into(),
                lecture: "400,000 items over 4 workers, first match at position 1,000: 399,000 unnecessary \
                          iterations"
                    .into(),
                measured: format!(
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
                value: beyond as f64,
                holds: Some(beyond >= whole.saturating_sub(n)),
            });
        }
        v.push(Claim {
            section: "2.1".into(),
            claim: "with cooperative early exit the remaining workers stop almost at once".into(),
            lecture: "after a result is found, the other workers should quit soon, not finish their ranges".into(),
            measured: format!(
                "items examined after the flag went up: {} with early exit vs {} without (medians of {}, {}); \
                 stop latency median {}",
                int(mw),
                int(mwo),
                c.reps,
                target_words(c.target),
                c.median_latency_ns().map(dur).unwrap_or_else(|| "-".into())
            ),
            value: mw as f64,
            holds: Some(c.wasted_with.iter().all(|&w| w <= p.workers as u64)),
        });
    }
    if let Some(f) = &r.flag_cost {
        v.push(Claim {
            section: "2.1".into(),
            claim: "a flag read costs a lock acquisition when the Value has a lock".into(),
            lecture: "a read of a Value with a lock pays for taking the lock on top of the memory access"
                .into(),
            measured: format!(
                "per item: {:.1} ns with a locked read vs {:.1} ns with an atomic load vs {:.1} ns with no \
                 check ({} workers, median of {}): a locked read costs {:+.1} ns more",
                f.locked_ns,
                f.atomic_ns,
                f.none_ns,
                f.workers,
                f.reps,
                f.locked_extra_ns()
            ),
            value: f.locked_extra_ns(),
            // Holds when the lock is what costs: a locked read adds clearly more than an atomic one.
            holds: Some(f.locked_extra_ns() >= 1.0 && f.locked_ns - f.none_ns >= 2.0 * f.atomic_extra_ns()),
        });
    }
    if let Some(x) = &r.race {
        v.push(Claim {
            section: "2.1".into(),
            claim: "lock-check-set stops two workers from both reporting a result".into(),
            lecture: "the finder takes the lock, checks again inside it, then sets the flag and reports"
                .into(),
            measured: format!(
                "{} workers finding a match at once, {} races each: lock-check-set had exactly one winner in \
                 {} runs; check-then-set without the lock had 2+ winners in {} runs",
                x.lock_check_set.workers,
                x.lock_check_set.runs,
                x.lock_check_set.runs_with_exactly_one(),
                x.unsafe_set.runs_with_several_winners()
            ),
            value: x.unsafe_set.runs_with_several_winners() as f64,
            holds: Some(x.lock_check_set.runs_with_exactly_one() == x.lock_check_set.runs),
        });
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
