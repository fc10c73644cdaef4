//! Everything the binary prints: the tables, the charts (drawn by [`chart`](crate::chart)),
//! and `--csv`. Text only: the figures come from `scenarios`; the ratios and percentages
//! printed beside them are the only arithmetic done here.

use lab_support::fmt::group_digits;

use crate::chart::{self, Series, YAxis};
use crate::scenarios::example::{Check, ExampleReport, ExampleVariant};
use crate::scenarios::read_cost::ReadCosts;
use crate::scenarios::recommend::{MAX_OVERHEAD, Recommendation};
use crate::scenarios::sweep::{SweepReport, SweepRow, WorkKind};
use crate::scenarios::{FlagKind, Outcome, Section};

/// The text for one finished part of the run.
pub fn section(s: &Section<'_>) -> String {
    match s {
        Section::Example(ex) => example_text(ex),
        Section::Sweep(sw) => sweep_text(sw),
        Section::ReadCosts(costs) => read_cost_text(costs),
        Section::Recommendations(recs, budget_us) => recommend_text(recs, *budget_us),
    }
}

/// A duration in ns, printed with a unit that keeps 3 significant figures.
pub fn fmt_ns(ns: f64) -> String {
    let a = ns.abs();
    if a < 1e3 {
        format!("{ns:.1} ns")
    } else if a < 1e6 {
        format!("{:.1} µs", ns / 1e3)
    } else if a < 1e9 {
        format!("{:.1} ms", ns / 1e6)
    } else {
        format!("{:.2} s", ns / 1e9)
    }
}

pub fn header(workers: usize, cpus: usize) -> String {
    let mut s = String::new();
    s.push_str(
        "Lecture 27, Concept 4.1 and Example 27.2: how often should a worker look at the stop flag?\n",
    );
    s.push_str(lab_support::RUST_FIGURES);
    s.push('\n');
    if let Some(note) = lab_support::dev_build_note("check-frequency") {
        s.push_str(&note);
        s.push('\n');
    }
    s.push_str(&format!(
        "{workers} worker processes (fork), {cpus} CPUs online. Two kinds of flag: locked = Value<bool>, a \
         process-shared\nmutex taken around every read (what Python's default Value does for `flag.value`); \
         atomic = RawValue<bool>, one load.\n"
    ));
    if workers > cpus {
        s.push_str(&format!(
            "With {workers} workers on {cpus} CPUs, some worker is always waiting for a CPU: it cannot see the \
             flag before the\nscheduler runs it again, whatever its check interval.\n"
        ));
    }
    s
}

fn ms(v: f64) -> String {
    format!("{v:.2} ms")
}

pub fn example_text(ex: &ExampleReport) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "\nExample 27.2 (section 4.1), as the lecture wrote it: {} processes each count the primes in 2..{} by \
         trial division,\ntesting `count % K == 0 && flag` before every number. The flag is a locked Value that \
         nobody ever sets,\nso this example measures only what looking at the flag costs, never how fast a worker \
         stops.\n{} rounds, variants interleaved; medians. start..join = first fork to last join (the lecture's \
         timer); CPU/worker =\na worker's own CPU time for its loop (no fork, no waiting for a CPU). The sieve counts \
         {} primes below {}.\n\n",
        ex.workers,
        group_digits(ex.limit),
        ex.rounds,
        group_digits(ex.sequential_primes),
        group_digits(ex.limit)
    ));
    let rows: Vec<[String; 7]> = ex
        .variants
        .iter()
        .map(|v| {
            let primes = if v.primes_per_worker.iter().all(|&p| p == v.primes_per_worker[0]) {
                format!(
                    "{} x{}",
                    group_digits(v.primes_per_worker[0]),
                    v.primes_per_worker.len()
                )
            } else {
                v.primes_per_worker
                    .iter()
                    .map(|p| p.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            let reads = if v.reads_per_worker.iter().all(|&r| r == v.reads_per_worker[0]) {
                group_digits(v.reads_per_worker[0])
            } else {
                v.reads_per_worker
                    .iter()
                    .map(|r| r.to_string())
                    .collect::<Vec<_>>()
                    .join(",")
            };
            [
                v.label.clone(),
                v.test.clone(),
                primes,
                reads,
                group_digits(v.longest_without_read),
                ms(v.start_join_median()),
                ms(v.worker_cpu_median()),
            ]
        })
        .collect();
    let head = [
        "variant",
        "check",
        "primes/worker",
        "flag reads/worker",
        "longest run without a read",
        "start..join",
        "CPU/worker",
    ];
    s.push_str(&table(
        &head,
        &rows,
        &[false, false, true, true, true, true, true],
        Some(0),
    ));

    let get = |c: Check| ex.variant(c);
    if let (Some(l10), Some(l1000), Some(c10), Some(c1000), Some(every), Some(never)) = (
        get(Check::Lecture(10)),
        get(Check::Lecture(1000)),
        get(Check::Corrected(10)),
        get(Check::Corrected(1000)),
        get(Check::Corrected(1)),
        get(Check::Never),
    ) {
        let r = |v: &ExampleVariant| v.reads_per_worker.first().copied().unwrap_or(0);
        s.push_str(&format!(
            "\nThe lecture's two times: 'frequent' {} and 'rare' {} from start to join (ratio {:.2}); CPU time \
             inside a worker {} and {}\n(ratio {:.3}). Checking every iteration against never checking: {} vs {} \
             per worker (ratio {:.3}).\n",
            ms(l10.start_join_median()),
            ms(l1000.start_join_median()),
            l10.start_join_median() / l1000.start_join_median(),
            ms(l10.worker_cpu_median()),
            ms(l1000.worker_cpu_median()),
            l10.worker_cpu_median() / l1000.worker_cpu_median(),
            ms(every.worker_cpu_median()),
            ms(never.worker_cpu_median()),
            every.worker_cpu_median() / never.worker_cpu_median(),
        ));
        s.push_str(&format!(
            "\nThe bug: `count` counts primes found, not numbers tried. The flag is read on every number while the \
             count sits on a\nmultiple of K and not at all while it does not. Here that gives {} reads for K=10 \
             and {} for K=1000, close to the\n{} and {} the comments promise, so the cost hardly changes. What \
             breaks is *when* the reads happen: up to {}\nnumbers go by without a read for K=10, and {} for \
             K=1000 (the count only passes {} multiples of 1000 below {}).\nHad the flag been raised, a worker \
             could have run that far past it.\n",
            group_digits(r(l10)),
            group_digits(r(l1000)),
            group_digits(r(c10)),
            group_digits(r(c1000)),
            group_digits(l10.longest_without_read),
            group_digits(l1000.longest_without_read),
            l1000.primes_per_worker.first().copied().unwrap_or(0) / 1000 + 1,
            group_digits(ex.limit),
        ));
        s.push_str(&format!(
            "Corrected (test the iteration number i): exactly ceil({} / K) reads ({} and {}), and never more than \
             K numbers\nbetween two reads ({} and {}): how late a worker notices the flag is bounded by K, not by \
             where the primes fall.\n",
            group_digits(ex.iterations),
            group_digits(r(c10)),
            group_digits(r(c1000)),
            group_digits(c10.longest_without_read),
            group_digits(c1000.longest_without_read),
        ));
    }
    s
}

pub fn sweep_text(sw: &SweepReport) -> String {
    let c = &sw.config;
    let workers = c.workers;
    let mut s = String::new();
    let base = sw.baseline_ns();
    s.push_str(&format!(
        "\nConcept 4.1, the sweep with {} work: one iteration = {} dependent multiply steps, measured {} per \
         iteration when\nnever checking. {} workers x {} iterations. Throughput: flag never raised, {} round{}, \
         medians; overhead = CPU time\nper iteration against the never-check loop. Stop run: worker 0 raises the \
         flag at the top of iteration {};\nstop latency = raise to the last worker leaving its loop. Noise: the two \
         never-check baselines run the very same loop\nand came out {:.2}% apart, a first idea of the noise (single \
         figures stray further on a busy machine).\n\n",
        c.work_kind.name(),
        group_digits(sw.work.steps),
        fmt_ns(base),
        workers,
        group_digits(c.iters),
        c.rounds,
        if c.rounds == 1 { "" } else { "s" },
        group_digits(sw.raise_at),
        sw.baseline_spread_pct(),
    ));
    let rows: Vec<[String; 7]> = sw
        .rows
        .iter()
        .map(|r| {
            [
                r.kind.name().to_string(),
                r.interval_label(),
                group_digits(r.reads_per_worker),
                if r.ns_per_iter >= 10_000.0 {
                    group_digits(r.ns_per_iter.round() as u64)
                } else {
                    format!("{:.1}", r.ns_per_iter)
                },
                format!("{:+.2}%", r.overhead_pct),
                fmt_ns(r.stop_latency_us * 1e3),
                format!(
                    "{} / {}",
                    group_digits(r.after_raise_max()),
                    group_digits(r.after_raise_total())
                ),
            ]
        })
        .collect();
    let head = [
        "flag",
        "check every",
        "reads/worker",
        "ns/iter",
        "overhead",
        "stop latency",
        "iterations after raise (max/worker / all)",
    ];
    s.push_str(&table(
        &head,
        &rows,
        &[false, true, true, true, true, true, true],
        Some(0),
    ));

    // Charts.
    let mut xs: Vec<Option<u64>> = c.intervals.iter().map(|&k| Some(k)).collect();
    xs.push(None);
    let series = |f: &dyn Fn(&SweepRow) -> f64| -> Vec<Series> {
        c.kinds
            .iter()
            .map(|&kind| Series {
                name: format!("{} flag", kind.name()),
                mark: if kind == FlagKind::Locked { 'L' } else { 'A' },
                points: xs.iter().map(|&x| sw.row(kind, x).map(f)).collect(),
            })
            .collect()
    };
    s.push('\n');
    s.push_str(&chart::render(
        &format!(
            "{} work: throughput overhead against the never-check loop",
            c.work_kind.name()
        ),
        &xs,
        &series(&|r| r.overhead_pct),
        &YAxis {
            title: "overhead (% of CPU time per iteration)".into(),
            log: false,
            fmt: |v| format!("{v:.2}%"),
        },
        9,
    ));
    s.push('\n');
    s.push_str(&chart::render(
        &format!(
            "{} work: stop latency (flag raised -> last worker out)",
            c.work_kind.name()
        ),
        &xs,
        &series(&|r| r.stop_latency_us),
        &YAxis {
            title: "stop latency (µs)".into(),
            log: true,
            fmt: |v| fmt_ns(v * 1e3),
        },
        9,
    ));
    s
}

pub fn read_cost_text(costs: &ReadCosts) -> String {
    let mut s = format!(
        "\nOne flag read, one process alone (CPU time): locked {:.2} ns, atomic {:.2} ns ({:.0}x).",
        costs.locked_alone_ns,
        costs.atomic_alone_ns,
        costs.locked_alone_ns / costs.atomic_alone_ns,
    );
    if let (Some(l), Some(a)) = (costs.locked_in_run_ns, costs.atomic_in_run_ns) {
        s.push_str(&format!(
            " Inside the tight sweep at K=1 (all workers reading one flag):\nlocked {l:.2} ns, atomic {a:.2} ns per \
             read (ns/iter at K=1 minus ns/iter never checking; noisy, can come out below 0)."
        ));
    }
    if let (Some(l), Some(a)) = (&costs.locked_contended, &costs.atomic_contended) {
        s.push_str(&format!(
            "\n{} processes reading one flag back to back, all at once: locked {:.1} ns of CPU per read, {:.1} M reads/s \
             in total;\natomic {:.2} ns, {:.0} M reads/s. A locked read costs far more when several CPUs want the \
             lock: its cache line moves\nbetween CPUs on every acquisition, and a worker that finds it taken has to \
             wait.",
            l.workers,
            l.cpu_ns_per_read,
            l.total_reads_per_s / 1e6,
            a.cpu_ns_per_read,
            a.total_reads_per_s / 1e6
        ));
    }
    s.push('\n');
    s
}

/// The recommendation's arithmetic with this run's numbers, one line per step.
pub fn derivation(r: &Recommendation) -> Vec<String> {
    let pct = r.max_overhead * 100.0;
    let mut v = vec![
        format!(
            "overhead(K) = read / (K * iter) < {pct:.0}%  =>  K >= {:.2} ns / ({:.2} * {}) = {:.3}  =>  K_min = {}",
            r.read_ns,
            r.max_overhead,
            fmt_ns(r.iter_ns),
            r.read_ns / (r.max_overhead * r.iter_ns),
            group_digits(r.k_min)
        ),
        format!(
            "stop delay(K) <= K * iter <= budget  =>  K <= {} / {} = {:.1}  =>  K_max = {}",
            fmt_ns(r.budget_us * 1e3),
            fmt_ns(r.iter_ns),
            r.budget_us * 1e3 / r.iter_ns,
            group_digits(r.k_max)
        ),
    ];
    v.push(match r.recommended {
        Some(k) => format!(
            "K_min <= K_max: check every {} iteration{} (overhead about {:.3}%, stop delay at most {})",
            group_digits(k),
            if k == 1 { "" } else { "s" },
            r.read_ns / (k as f64 * r.iter_ns) * 100.0,
            fmt_ns(k as f64 * r.iter_ns)
        ),
        None if r.k_max == 0 => format!(
            "the budget is shorter than one iteration: no interval meets it; checking every iteration (K = 1) \
             comes closest, with a stop delay up to {}",
            fmt_ns(r.iter_ns)
        ),
        None => format!(
            "K_min > K_max: no interval meets both. At K_max = {} the overhead is {:.1}%; at K_min = {} \
             the stop delay is up to {}",
            group_digits(r.k_max),
            r.read_ns / (r.k_max.max(1) as f64 * r.iter_ns) * 100.0,
            group_digits(r.k_min),
            fmt_ns(r.k_min as f64 * r.iter_ns)
        ),
    });
    v
}

pub fn recommend_text(recs: &[Recommendation], budget_us: f64) -> String {
    let mut s = format!(
        "\nRecommended interval (section 4.1): overhead under {:.0}% and a stop within {} of the flag going up \
         (--budget-us).\nThe formula counts a running worker's delay; a worker waiting for a CPU adds the \
         scheduler's delay on top\n(compare the measured stop latency above).\n",
        MAX_OVERHEAD * 100.0,
        fmt_ns(budget_us * 1e3)
    );
    for r in recs {
        s.push_str(&format!(
            "  {} work, {} flag: iter = {}, read = {:.2} ns ({})\n",
            r.work.name(),
            r.kind.name(),
            fmt_ns(r.iter_ns),
            r.read_ns,
            r.read_source
        ));
        for line in derivation(r) {
            s.push_str(&format!("      {line}\n"));
        }
    }
    s
}

pub fn notice_text(out: &Outcome) -> String {
    let mut parts = vec![];
    if let Some(ex) = &out.example
        && let Some(l) = ex.variant(Check::Lecture(1000))
    {
        parts.push(format!(
            "Example 27.2's `count % 1000` let {} numbers pass between two reads, so test the iteration number",
            group_digits(l.longest_without_read)
        ));
    }
    // The worst measured read cost, as the recommendations used it.
    let read_ns = |kind| {
        let r = out.recommendations.iter().find(|r| r.kind == kind);
        r.map_or(0.0, |r| r.read_ns)
    };
    let (locked, atomic) = (read_ns(FlagKind::Locked), read_ns(FlagKind::Atomic));
    if let Some(t) = out.sweeps.iter().find(|s| s.config.work_kind == WorkKind::Tight)
        && let Some(lk) = t.rows.iter().rev().find(|r| r.interval.is_some())
    {
        parts.push(format!(
            "a locked read every {} iteration costs up to {:.1}% of the work ({locked:.1} ns a read at worst), an atomic one \
             {:.2}%, while the rarest check (every {}) let the workers run {} iterations after the flag",
            fmt_ns(t.baseline_ns()),
            locked / t.baseline_ns() * 100.0,
            atomic / t.baseline_ns() * 100.0,
            lk.interval_label(),
            group_digits(lk.after_raise_total())
        ));
    }
    if let Some(h) = out.sweeps.iter().find(|s| s.config.work_kind == WorkKind::Heavy) {
        parts.push(format!(
            "with {} iterations a locked read every iteration is {:.4}% of the work",
            fmt_ns(h.baseline_ns()),
            locked / h.baseline_ns() * 100.0
        ));
    }
    parts.push("the check interval, not the flag mechanism, decides how quickly workers stop".to_string());
    format!("\nWhat to notice: {}.\n", parts.join("; "))
}

/// The sweep rows as CSV, for plotting elsewhere.
pub fn csv(sweeps: &[SweepReport]) -> String {
    let mut s = String::from(
        "work,flag,interval,ns_per_iter,overhead_pct,reads_per_worker,stop_latency_us,after_raise_max,\
         after_raise_total,work_steps,workers,iters\n",
    );
    for sw in sweeps {
        for r in &sw.rows {
            s.push_str(&format!(
                "{},{},{},{:.3},{:.4},{},{:.3},{},{},{},{},{}\n",
                r.work.name(),
                r.kind.name(),
                r.interval
                    .map(|k| k.to_string())
                    .unwrap_or_else(|| "never".into()),
                r.ns_per_iter,
                r.overhead_pct,
                r.reads_per_worker,
                r.stop_latency_us,
                r.after_raise_max(),
                r.after_raise_total(),
                sw.work.steps,
                sw.config.workers,
                sw.config.iters
            ));
        }
    }
    s
}

/// Formats an aligned table. `right[i]`: right-align column i. `indent`: spaces before each line.
pub fn table<const N: usize>(
    head: &[&str; N],
    rows: &[[String; N]],
    right: &[bool; N],
    group: Option<usize>,
) -> String {
    let mut w = [0usize; N];
    for i in 0..N {
        w[i] = head[i].chars().count();
        for r in rows {
            w[i] = w[i].max(r[i].chars().count());
        }
    }
    let line = |cells: &[String; N]| -> String {
        let mut s = String::from(" ");
        for i in 0..N {
            let pad = w[i] - cells[i].chars().count();
            s.push_str("  ");
            if right[i] {
                s.push_str(&" ".repeat(pad));
                s.push_str(&cells[i]);
            } else {
                s.push_str(&cells[i]);
                s.push_str(&" ".repeat(pad));
            }
        }
        s.trim_end().to_string() + "\n"
    };
    let mut out = line(&head.map(|h| h.to_string()));
    let mut prev: Option<String> = None;
    for r in rows {
        if let Some(g) = group {
            // A blank line where the first word of column `g` changes.
            let key = r[g].split_whitespace().next().unwrap_or("").to_string();
            if prev.as_ref().is_some_and(|p| *p != key) {
                out.push('\n');
            }
            prev = Some(key);
        }
        out.push_str(&line(r));
    }
    out
}

pub use timeline::class::emit;
