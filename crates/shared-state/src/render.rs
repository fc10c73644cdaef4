//! The human-readable output: one function per section, each returning text.

use std::fmt::Write;

use lab_support::Claim;

use crate::scenarios::Config;
use crate::scenarios::bottleneck::BottleneckRow;
use crate::scenarios::counter::Method;
use crate::scenarios::fixed::FixedLayout;
use crate::scenarios::latency::{LatencyTable, Mechanism};
use crate::scenarios::lost_updates::LostUpdates;

pub use lab_support::fmt::group_digits as group;

/// Formats a ratio for people: `3,100×`, `42×`, `1.8×`.
pub fn fmt_ratio(r: f64) -> String {
    if !r.is_finite() {
        return "-".into();
    }
    if r >= 100.0 {
        format!("{}×", group(r.round() as u64))
    } else if r >= 10.0 {
        format!("{r:.0}×")
    } else {
        format!("{r:.1}×")
    }
}

/// Formats nanoseconds: `0.31`, `17.4`, `52,310`.
pub fn fmt_ns(ns: f64) -> String {
    if !ns.is_finite() {
        "-".into()
    } else if ns < 10.0 {
        format!("{ns:.2}")
    } else if ns < 100.0 {
        format!("{ns:.1}")
    } else {
        group(ns.round() as u64)
    }
}

/// Nanoseconds as milliseconds, for people.
pub fn fmt_ms(ns: u64) -> String {
    let ms = ns as f64 / 1e6;
    if ms < 10.0 {
        format!("{ms:.2}")
    } else if ms < 100.0 {
        format!("{ms:.1}")
    } else {
        format!("{ms:.0}")
    }
}

/// Title, build note, sizes.
pub fn header(cfg: &Config) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "Lecture 27, concepts 3.1 and 5.1: Manager vs Value vs Array, what one shared access costs"
    );
    let _ = writeln!(s, "{}", lab_support::RUST_FIGURES);
    if let Some(note) = lab_support::dev_build_note("shared-state") {
        let _ = writeln!(s, "{note}");
    }
    let _ = writeln!(
        s,
        "this run: {} manager calls and {} shared-memory accesses per repetition, {} repetitions, {} workers",
        group(cfg.iterations),
        group(cfg.shm_iterations()),
        cfg.reps,
        cfg.workers
    );
    s
}

/// This binary's words for a verdict (it has always said "not shown by this run" where the
/// shared [`Claim::verdict`] says "cannot tell").
fn verdict(c: &Claim) -> &'static str {
    match c.holds {
        Some(true) => "holds",
        Some(false) => "does not hold",
        None => "not shown by this run",
    }
}

/// Word-wraps `text` at 110 columns: `first` before the first line, `rest` before the others.
fn wrap(text: &str, first: &str, rest: &str) -> String {
    const WIDTH: usize = 110;
    let mut out = String::new();
    let mut line = first.to_string();
    let mut empty = true;
    for word in text.split(' ') {
        if !empty && line.chars().count() + 1 + word.chars().count() > WIDTH {
            out.push_str(&line);
            out.push('\n');
            line = rest.to_string();
            empty = true;
        }
        if !empty {
            line.push(' ');
        }
        line.push_str(word);
        empty = false;
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// Two lines (wrapped) per claim: the lecture's words, then this machine's figure and verdict.
pub fn claims(claims: &[Claim]) -> String {
    let mut s = String::new();
    for c in claims {
        let head = format!("claim {}: {}, \"{}\"", c.section, c.claim, c.lecture);
        let body = format!("this machine: {} -> {}", c.measured, verdict(c).to_uppercase());
        s.push_str(&wrap(&head, "  ", "      "));
        s.push_str(&wrap(&body, "    ", "      "));
    }
    s
}

/// Section 1: the per-access table.
pub fn latency(t: &LatencyTable) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n1. One access, timed in one process: ns per access, median of {} repetitions",
        t.reps
    );
    let _ = writeln!(
        s,
        "   (manager rows: {} round trips per repetition; shared-memory rows: {} accesses)",
        group(t.manager_ops_per_rep),
        group(t.shm_ops_per_rep)
    );
    let _ = writeln!(
        s,
        "  {:<5} {:<33} {:<12} {:>10} {:>19} {:>11} {:>9}",
        "sec", "what", "Python", "median ns", "min - max", "× raw read", "mgr/sync"
    );
    let mut last = None;
    for r in &t.rows {
        if last.is_some() && last != Some(r.mechanism) {
            s.push('\n');
        }
        last = Some(r.mechanism);
        let spread = format!("{} - {}", fmt_ns(r.ns.min), fmt_ns(r.ns.max));
        let _ = writeln!(
            s,
            "  {:<5} {:<33} {:<12} {:>10} {:>19} {:>11} {:>9}",
            r.section,
            r.what,
            r.python,
            fmt_ns(r.ns.median),
            spread,
            fmt_ratio(r.ratio_to_raw_read),
            r.manager_over_synchronized.map(fmt_ratio).unwrap_or_default()
        );
    }
    let _ = writeln!(
        s,
        "  (× raw read: median / RawValue read median; mgr/sync: manager row / synchronized Value, \
         same kind of access)"
    );
    let _ = writeln!(
        s,
        "  (Python: mv, ml, md = m.Value('q', 0), m.list(), m.dict(); v = Value('q', 0); rv = RawValue('q', 0);\n   \
         a = Array('q', 1000); ra = RawArray('q', 1000))"
    );
    s.push('\n');
    s
}

/// Rates for people: `812`, `77.3 k`, `15.8 M`, `1.5 G`.
fn si(x: f64) -> String {
    if x >= 1e9 {
        format!("{:.1} G", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.1} M", x / 1e6)
    } else if x >= 1e4 {
        format!("{:.1} k", x / 1e3)
    } else {
        group(x.round() as u64)
    }
}

/// Section 2: many workers, one counter.
pub fn bottleneck(rows: &[BottleneckRow]) -> String {
    let mut s = String::new();
    let workers = rows.iter().map(|r| r.workers).max().unwrap_or(0);
    let runs = rows.first().map(|r| r.runs.len()).unwrap_or(0);
    let _ = writeln!(
        s,
        "\n2. The bottleneck: {workers} worker processes add 1 to one shared counter, {runs} runs each (3.1)"
    );
    let _ = writeln!(
        s,
        "  {:<42} {:>7} {:>10} {:>8}  {:<25} {:>10}  exact",
        "how", "workers", "increments", "total ms", "increments/s (min - max)", "ns each(1)"
    );
    for row in rows {
        let r = &row.median_run;
        let how = format!("{} {}", r.method.letter(), r.method.describe());
        let rate = format!(
            "{} ({} - {})",
            si(row.increments_per_sec.median),
            si(row.increments_per_sec.min),
            si(row.increments_per_sec.max)
        );
        let _ = writeln!(
            s,
            "  {:<42} {:>7} {:>10} {:>8}  {:<25} {:>10}  {}",
            how,
            r.workers,
            group(r.expected),
            fmt_ms(r.total_ns),
            rate,
            fmt_ns(r.ns_per_increment_per_worker),
            if row.all_exact() { "yes" } else { "NO" }
        );
    }
    let _ = writeln!(
        s,
        "  (median run shown; (1) ns each: total time / increments per worker, one increment as a worker saw it)"
    );
    for row in rows.iter().filter(|r| r.median_run.manager.is_some()) {
        let m = row.median_run.manager.expect("filtered");
        let calls: u64 = row.runs.iter().filter_map(|r| r.manager).map(|m| m.calls).sum();
        let trips: u64 = row
            .runs
            .iter()
            .filter_map(|r| r.manager)
            .map(|m| m.worker_round_trips)
            .sum();
        let _ = writeln!(
            s,
            "  {} {} worker(s): manager CPU {} ms in {} ms of wall time = {:.0}% busy; all runs: {} calls \
             executed,\n      {} round trips counted by the workers' proxies, {} increments arrived",
            row.method.letter(),
            row.workers,
            fmt_ms(m.cpu_ns),
            fmt_ms(m.wall_ns),
            m.busy * 100.0,
            group(calls),
            group(trips),
            group(row.final_counts.iter().sum())
        );
    }
    s.push('\n');
    s
}

/// Section 3: lost updates over several runs.
pub fn lost_updates(rows: &[LostUpdates]) -> String {
    let mut s = String::new();
    let (workers, runs, window) = rows
        .first()
        .map(|r| (r.workers, r.lost_per_run.len(), r.window_ms))
        .unwrap_or((0, 0, 0.0));
    let _ = writeln!(
        s,
        "\n3. Correctness: {workers} workers increment for {window:.0} ms, with and without the lock, {runs} runs each (5.1)"
    );
    let _ = writeln!(
        s,
        "  {:<42} {:<32}  lost in each run (share of the increments made)",
        "how", "code"
    );
    for r in rows {
        let lost: Vec<String> = r
            .lost_per_run
            .iter()
            .zip(&r.expected_per_run)
            .map(|(&l, &e)| {
                if l == 0 {
                    "0".to_string()
                } else {
                    let pct = 100.0 * l as f64 / e.max(1) as f64;
                    if pct < 0.1 {
                        format!("{} (<0.1%)", group(l))
                    } else {
                        format!("{} ({pct:.1}%)", group(l))
                    }
                }
            })
            .collect();
        let mut line = format!(
            "  {:<42} {:<32}  {}",
            r.method.describe(),
            r.method.code(),
            lost.join(", ")
        );
        if r.exact_by_design {
            line.push_str("  (exact by design)");
        } else if r.runs_without_loss == r.lost_per_run.len() {
            line.push_str("  (no run lost any this time: luck, not correctness)");
        } else if r.runs_without_loss > 0 {
            let _ = write!(
                line,
                "  ({} run(s) happened to lose none: luck, not correctness)",
                r.runs_without_loss
            );
        }
        let _ = writeln!(s, "{line}");
    }
    s.push('\n');
    s
}

/// Section 4: fixed capacity against a growing list.
pub fn fixed_capacity(f: &FixedLayout) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "\n4. Fixed layout: put {} numbers into Array::new({}) and into a manager list (5.1)",
        f.attempted, f.capacity
    );
    match &f.array_error {
        Some(e) => {
            let _ = writeln!(
                s,
                "  Array:        stored {} of {}, then: error: {e}",
                f.array_stored, f.attempted
            );
        }
        None => {
            let _ = writeln!(s, "  Array:        stored all {}", f.array_stored);
        }
    }
    let _ = writeln!(
        s,
        "  manager list: len() = {} after {} appends: it grows, one round trip per append",
        f.list_len, f.attempted
    );
    s.push('\n');
    s
}

/// The closing "what to notice" line.
pub fn notice(t: &LatencyTable, bottleneck: &[BottleneckRow]) -> String {
    let find = |id: &str| t.row(id).map(|r| r.ns.median).unwrap_or(f64::NAN);
    let manager = t.rows.iter().filter(|r| r.mechanism == Mechanism::Manager);
    let (lo, hi) = manager.fold((f64::INFINITY, 0.0f64), |(lo, hi), r| {
        (lo.min(r.ns.median), hi.max(r.ns.median))
    });
    let manager = |several: bool| {
        bottleneck
            .iter()
            .find(|r| r.method == Method::ManagerAdd && (r.workers > 1) == several)
    };
    let scaling = match (manager(true), manager(false)) {
        (Some(many), Some(one)) => format!(
            "Through the manager, {} workers reach {} increments/s and one worker {} ({}), \
             while each worker's calls take {} longer: they wait their turn at one server. ",
            many.workers,
            si(many.increments_per_sec.median),
            si(one.increments_per_sec.median),
            fmt_ratio(many.increments_per_sec.median / one.increments_per_sec.median),
            fmt_ratio(
                many.median_run.ns_per_increment_per_worker / one.median_run.ns_per_increment_per_worker
            ),
        ),
        _ => String::new(),
    };
    let text = format!(
        "What to notice: every manager operation is a round trip to another process ({}-{} µs here, \
         whatever the data structure), while a locked shared-memory access costs {} ns and an atomic one {} ns. {}Use \
         the manager for rare, flexible updates; count locally or with an atomic in hot loops; hold the lock \
         across a read-modify-write.",
        fmt_ns(lo / 1000.0),
        fmt_ns(hi / 1000.0),
        fmt_ns(find("value_get")),
        fmt_ns(find("raw_value_get")),
        scaling,
    );
    wrap(&text, "", "")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_grouped_for_people() {
        assert_eq!(group(0), "0");
        assert_eq!(group(999), "999");
        assert_eq!(group(1000), "1,000");
        assert_eq!(group(1234567), "1,234,567");
        assert_eq!(fmt_ratio(3100.4), "3,100×");
        assert_eq!(fmt_ratio(42.4), "42×");
        assert_eq!(fmt_ratio(1.84), "1.8×");
        assert_eq!(fmt_ns(0.314), "0.31");
        assert_eq!(fmt_ns(52_310.2), "52,310");
    }
}
