//! The tables the binary prints: text only, from a plan and its results.

use std::fmt::Write as _;

use crate::scenarios::plan::{CompareSection, Plan, RaceSection, Results, SmallestSection};
use crate::scenarios::{Example271, Exit, FlagCost, Target, median_u64};

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

pub fn opt_int(v: Option<u64>) -> String {
    v.map(int).unwrap_or_else(|| "none".into())
}

pub fn target_words(t: Target) -> String {
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
    let _ = writeln!(o, "{}", lab_support::RUST_FIGURES);
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
    let far = e.far_prime();
    let total: u64 = e.iterations.iter().sum();
    let _ = writeln!(
        o,
        "Nobody really searched: every range has a prime within {far} of its start, so the {} workers ran \
         {total} iterations in all (at most {} each, out of {}).",
        e.workers,
        e.max_iterations(),
        int(e.range_len)
    );
    let smallest = e.first_prime_in_range.iter().flatten().min().copied();
    // First found wins: the reported prime is the smallest only when the worker of the
    // lowest range happened to finish first, so say which it was this time.
    let which = match (e.winner(), smallest) {
        (Some((_, n)), Some(s)) if n == s => {
            format!(
                "this time it is also the smallest, {}, by luck of scheduling",
                int(s)
            )
        }
        _ => format!("not the smallest: the smallest here is {}", opt_int(smallest)),
    };
    let _ = writeln!(
        o,
        "The {:.1} ms measures starting and joining {} processes, not a search. The reported prime is the \
         one found first; {which}.",
        e.elapsed_ns as f64 / 1e6,
        e.workers,
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
        "Released together by a barrier in shared memory (Python's multiprocessing.Barrier). \"after flag\" = items examined after the \
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
             gets a core: {} workers share {} cores, so worker 0 may start after the others have run for a \
             while (the items after the flag stay near 0 either way).",
            int(whole),
            int(n),
            int(whole.saturating_sub(n)),
            int(median_u64(&c.beyond_winner_without).unwrap_or(0)),
            p.workers,
            cpus()
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
         and with {} workers on {} cores, a worker waiting for a core sees any flag only once it runs again.",
        p.workers,
        cpus()
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

/// CPUs this program may run on (what "share N cores" means in the text).
fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
