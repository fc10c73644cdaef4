//! Everything the binary prints: the human tables, the charts, `--csv` and `--json`.

use serde::Serialize;

use crate::chart::{self, Series, YAxis};
use crate::{
    Check, Contended, ExampleReport, FlagKind, Recommendation, SweepReport, WorkKind, fmt_ns, group_digits,
    recommend,
};

/// The measured cost of one flag read.
#[derive(Clone, Debug, Serialize)]
pub struct ReadCosts {
    /// One process reading an untouched flag, ns per read.
    pub locked_alone_ns: f64,
    pub atomic_alone_ns: f64,
    /// Per read in the tight sweep with K=1: (ns/iter at K=1) - (ns/iter never checking).
    pub locked_in_run_ns: Option<f64>,
    pub atomic_in_run_ns: Option<f64>,
    /// All workers reading one flag back to back, at once.
    pub locked_contended: Option<Contended>,
    pub atomic_contended: Option<Contended>,
}

impl ReadCosts {
    /// The cost the recommendation uses: the largest of the measurements (one process alone;
    /// inside the tight K=1 run; every worker reading at once), so that the interval still
    /// keeps its promise when the workers collide on the flag. Returns it and where it came from.
    pub fn for_formula(&self, kind: FlagKind) -> (f64, String) {
        let (alone, run, cont) = match kind {
            FlagKind::Locked => (
                self.locked_alone_ns,
                self.locked_in_run_ns,
                &self.locked_contended,
            ),
            FlagKind::Atomic => (
                self.atomic_alone_ns,
                self.atomic_in_run_ns,
                &self.atomic_contended,
            ),
        };
        let mut all = vec![(alone, "alone")];
        if let Some(r) = run {
            all.push((r, "in the K=1 run"));
        }
        if let Some(c) = cont {
            all.push((c.cpu_ns_per_read, "all reading at once"));
        }
        let (best, name) = all
            .iter()
            .copied()
            .fold((f64::NEG_INFINITY, ""), |m, x| if x.0 > m.0 { x } else { m });
        let list: Vec<String> = all.iter().map(|(v, n)| format!("{n} {v:.2}")).collect();
        (
            best,
            format!("the largest, {name}; measured {} ns", list.join(", ")),
        )
    }
}

/// One quantitative claim of the lecture, checked against this run.
#[derive(Clone, Debug, Serialize)]
pub struct Claim {
    pub section: String,
    pub claim: String,
    pub lecture: String,
    pub measured: String,
    pub value: Option<f64>,
    pub holds: Option<bool>,
}

/// Everything one run measured.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    #[serde(rename = "crate")]
    pub crate_name: &'static str,
    pub claims: Vec<Claim>,
    pub cpus: usize,
    pub dev_build: bool,
    pub example: Option<ExampleReport>,
    pub sweeps: Vec<SweepReport>,
    pub read_costs: ReadCosts,
    pub budget_us: f64,
    pub recommendations: Vec<Recommendation>,
    pub elapsed_s: f64,
}

pub const MAX_OVERHEAD: f64 = 0.01;

/// One recommendation per (work measured, flag kind).
pub fn recommendations(sweeps: &[SweepReport], costs: &ReadCosts, budget_us: f64) -> Vec<Recommendation> {
    let mut out = vec![];
    for s in sweeps {
        for kind in &s.config.kinds {
            let iter_ns = s
                .row(*kind, None)
                .map(|r| r.ns_per_iter)
                .unwrap_or_else(|| s.baseline_ns());
            let (read_ns, source) = costs.for_formula(*kind);
            out.push(recommend(
                s.config.work_kind,
                *kind,
                iter_ns,
                read_ns,
                &source,
                budget_us,
                MAX_OVERHEAD,
            ));
        }
    }
    out
}

/// The per-read cost seen inside the tight sweep at K=1 (one read per iteration).
pub fn in_run_read_cost(sweeps: &[SweepReport], kind: FlagKind) -> Option<f64> {
    let s = sweeps.iter().find(|s| s.config.work_kind == WorkKind::Tight)?;
    let k1 = s.row(kind, Some(1))?;
    let never = s.row(kind, None)?;
    Some(k1.ns_per_iter - never.ns_per_iter)
}

pub fn header(workers: usize, cpus: usize, dev_build: bool) -> String {
    let mut s = String::new();
    s.push_str(
        "Lecture 27, Concept 4.1 and Example 27.2: how often should a worker look at the stop flag?\n",
    );
    if dev_build {
        s.push_str(&lab_support::dev_build_text("check-frequency"));
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
        let r = |v: &crate::ExampleVariant| v.reads_per_worker.first().copied().unwrap_or(0);
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

pub fn sweep_text(sw: &SweepReport, workers: usize) -> String {
    let c = &sw.config;
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
    let series = |f: &dyn Fn(&crate::SweepRow) -> f64| -> Vec<Series> {
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
        for line in r.derivation() {
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
    let (locked, _) = out.read_costs.for_formula(FlagKind::Locked);
    let (atomic, _) = out.read_costs.for_formula(FlagKind::Atomic);
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

/// The lecture's quantitative claims of section 4.1 / Example 27.2, against this run.
pub fn claims(ex: Option<&ExampleReport>, sweeps: &[SweepReport], costs: &ReadCosts) -> Vec<Claim> {
    let mut v = vec![];
    let sec = "4.1".to_string();
    if let Some(ex) = ex
        && let (Some(f), Some(r)) = (ex.variant(Check::Lecture(10)), ex.variant(Check::Lecture(1000)))
    {
        let ratio = f.start_join_median() / r.start_join_median();
        let inner = f.worker_cpu_median() / r.worker_cpu_median();
        let diff = f.start_join_median() - r.start_join_median();
        let spread = crate::iqr(&f.start_join_ms).max(crate::iqr(&r.start_join_ms));
        v.push(Claim {
            section: sec.clone(),
            claim: "Example 27.2: checking every 10 vs every 1000 shows a measurable difference in elapsed time"
                .into(),
            lecture: "the time difference reveals the frequent checker's coordination overhead".into(),
            measured: format!(
                "start..join medians {:.2} ms vs {:.2} ms over {} rounds (ratio {ratio:.3}, difference {diff:+.2} ms, \
                 spread (IQR) {spread:.2} ms; holds if the frequent one is slower by more than the spread); CPU time \
                 per worker {:.3} vs {:.3} ms (ratio {inner:.3})",
                f.start_join_median(),
                r.start_join_median(),
                ex.rounds,
                f.worker_cpu_median(),
                r.worker_cpu_median()
            ),
            value: Some(ratio),
            holds: Some(diff > spread),
        });
        let reads = |x: &crate::ExampleVariant| x.reads_per_worker.first().copied().unwrap_or(0);
        v.push(Claim {
            section: sec.clone(),
            claim: "Example 27.2's `count % K == 0` checks the flag every K iterations".into(),
            lecture: "'check every 10 iterations' / 'check every 1000 iterations'".into(),
            measured: format!(
                "count counts primes: K=10 read {} times, up to {} numbers between reads; K=1000 read {} times, up to \
                 {} numbers between reads (iteration-based: {} and {} reads, at most K apart)",
                reads(f),
                f.longest_without_read,
                reads(r),
                r.longest_without_read,
                corrected(ex, 10),
                corrected(ex, 1000)
            ),
            value: Some(r.longest_without_read as f64),
            holds: Some(f.longest_without_read <= 10 && r.longest_without_read <= 1000),
        });
    }
    let tight = sweeps.iter().find(|s| s.config.work_kind == WorkKind::Tight);
    let heavy = sweeps.iter().find(|s| s.config.work_kind == WorkKind::Heavy);
    // The per-read price (the largest measurement, as the recommendation uses)
    // over the measured iteration cost: the overhead of one locked read per iteration. The
    // direct measurement is quoted too, but a 1% effect sits inside its noise.
    let (locked_read, _) = costs.for_formula(FlagKind::Locked);
    if let Some(h) = heavy
        && let Some(row) = h.row(FlagKind::Locked, Some(1))
    {
        let derived = locked_read / h.baseline_ns() * 100.0;
        v.push(Claim {
            section: sec.clone(),
            claim: "for expensive iterations, checking the flag every iteration is fine".into(),
            lecture: "iterations of 10 ms: the lock cost is negligible".into(),
            measured: format!(
                "iterations of {}, a locked read ({locked_read:.1} ns, the worst measured) every iteration adds {derived:.4}% (holds if \
                 under 1%); measured directly {:+.2}%, with the identical baselines {:.2}% apart",
                fmt_ns(h.baseline_ns()),
                row.overhead_pct,
                h.baseline_spread_pct()
            ),
            value: Some(derived),
            holds: Some(derived < 1.0),
        });
    }
    if let Some(t) = tight
        && let Some(row) = t.row(FlagKind::Locked, Some(1))
    {
        let derived = locked_read / t.baseline_ns() * 100.0;
        v.push(Claim {
            section: sec.clone(),
            claim: "in a tight loop, a locked check every iteration costs about as much as the work".into(),
            lecture: "with 1 µs iterations, taking the lock costs about as much as the work".into(),
            measured: format!(
                "iterations of {}, a locked read ({locked_read:.1} ns, the worst measured) every iteration adds {derived:.2}% (holds if \
                 >= 10%); measured directly {:+.2}%, with the identical baselines {:.2}% apart",
                fmt_ns(t.baseline_ns()),
                row.overhead_pct,
                t.baseline_spread_pct()
            ),
            value: Some(derived),
            holds: Some(derived >= 10.0),
        });
        let last = t
            .rows
            .iter()
            .rfind(|r| r.kind == FlagKind::Locked && r.interval.is_some());
        if let (Some(k1), Some(kl)) = (t.row(FlagKind::Locked, Some(1)), last)
            && kl.interval != k1.interval
        {
            v.push(Claim {
                section: sec.clone(),
                claim: "with rare checks, workers keep computing for a while after the stop is raised".into(),
                lecture: "check seldom and the workers waste effort once stopping has been asked for".into(),
                measured: format!(
                    "tight loop, locked flag: {} iterations after the raise at K=1, {} at K={} (all workers); stop \
                     latency {} vs {}",
                    k1.after_raise_total(),
                    kl.after_raise_total(),
                    kl.interval_label(),
                    fmt_ns(k1.stop_latency_us * 1e3),
                    fmt_ns(kl.stop_latency_us * 1e3)
                ),
                value: Some(kl.after_raise_total() as f64),
                holds: Some(kl.after_raise_total() > k1.after_raise_total()),
            });
        }
    }
    if let Some(c) = &costs.locked_contended {
        v.push(Claim {
            section: sec.clone(),
            claim: "four workers checking every microsecond make four million lock acquisitions per second".into(),
            lecture: "four million lock acquisitions per second".into(),
            measured: format!(
                "{} processes taking the flag's lock back to back managed {:.1} M acquisitions/s in total on {} CPUs \
                 ({:.1} ns of CPU each); in the tight K=1 run (1 µs of work between reads) a read cost {}; at \
                 {:.1} ns a read, 4 M reads/s cost {:.1}% of one CPU",
                c.workers,
                c.total_reads_per_s / 1e6,
                std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
                c.cpu_ns_per_read,
                costs.locked_in_run_ns.map(|v| format!("{v:.1} ns")).unwrap_or_else(|| "(not run)".into()),
                c.cpu_ns_per_read,
                4e6 * c.cpu_ns_per_read / 1e9 * 100.0
            ),
            value: Some(c.total_reads_per_s / 1e6),
            holds: None,
        });
    }
    v.push(Claim {
        section: sec,
        claim: "reading the flag without the lock is cheaper, yet still costs a barrier on x86".into(),
        lecture: "cheaper than a locked read, but not free: a memory barrier on x86".into(),
        measured: format!(
            "atomic (acquire) read {:.2} ns vs locked read {:.2} ns ({:.0}x cheaper); on x86 an acquire load is a \
             plain mov, no fence instruction",
            costs.atomic_alone_ns,
            costs.locked_alone_ns,
            costs.locked_alone_ns / costs.atomic_alone_ns
        ),
        value: Some(costs.atomic_alone_ns),
        holds: Some(false),
    });
    v
}

fn corrected(ex: &ExampleReport, k: u64) -> u64 {
    ex.variant(Check::Corrected(k))
        .and_then(|v| v.reads_per_worker.first().copied())
        .unwrap_or_else(|| crate::corrected_reads(ex.iterations, k))
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
