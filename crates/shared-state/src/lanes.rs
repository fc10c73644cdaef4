//! 3.1's bottleneck as a picture: which events each process records, and what the lanes show.
//!
//! Lane 0 is the manager server process, lane `i + 1` worker `i`. The manager's code lives in
//! coord-core and is not instrumented: its lane is derived from the manager's own counters
//! (`Manager::stats`, calls served and CPU time), read by the parent just before the workers
//! are released and just after they are joined. The workers record in their own lanes, from
//! the scenario's probe (`scenarios::counter`), around the lesson's unchanged `manager_add`:
//! when they start and finish their loop, and every `every`-th answered request (sparse, so
//! that a lane holds a few dozen events, not thousands). Nothing is simulated.

use std::fmt::Write;

use serde::Serialize;
use timeline::{Color, Kind, Lane, Recorder, Timeline};

/// Event codes (the `kind` of a [`timeline::Event`]).
pub mod code {
    pub const ANSWERED: u8 = 1;
    pub const RUN: u8 = 2;
    pub const RUN_DONE: u8 = 3;
    pub const SERVING: u8 = 4;
    pub const SERVED: u8 = 5;
}

/// What the lanes draw. The `A` label cannot carry `every` (a constant): the lines below the
/// chart do.
pub const KINDS: &[Kind] = &[
    Kind::mark(
        code::ANSWERED,
        "answered",
        'A',
        "requests answered (one A per N, N below)",
        Color::Green,
    ),
    Kind::begin(
        code::SERVING,
        "serving",
        '#',
        "manager serving requests (its own stats)",
    ),
    Kind::end(code::SERVED, "served"),
    Kind::begin(code::RUN, "run", '=', "worker in its add loop"),
    Kind::end(code::RUN_DONE, "run_done"),
];

/// A recorder and how sparsely the workers write into it.
pub struct Trace {
    pub rec: Recorder,
    /// A worker notes one answered request in this many.
    pub every: u64,
}

/// About this many sampled requests per worker lane: enough to see the rhythm, few enough
/// for a small log.
pub const SAMPLES: u64 = 40;

impl Trace {
    /// A recorder for `workers` workers making `per_worker` requests each.
    pub fn new(workers: usize, per_worker: u64) -> coord_core::Result<Trace> {
        let every = per_worker.div_ceil(SAMPLES).max(1);
        let capacity = (per_worker / every) as usize + 4;
        Ok(Trace {
            rec: Recorder::new(workers + 1, capacity)?,
            every,
        })
    }

    /// The lanes, once every process that writes them is gone.
    pub fn collect(&self) -> Timeline {
        let names = names(self.rec.lanes() - 1);
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        self.rec.collect(&names, KINDS).with_idle_label("not recorded")
    }
}

/// `manager`, `w0`, `w1`, ...
pub fn names(workers: usize) -> Vec<String> {
    std::iter::once("manager".to_string())
        .chain((0..workers).map(|i| format!("w{i}")))
        .collect()
}

/// The timeline part of the `--json` report.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineReport {
    /// Which bottleneck run was drawn: the first run of row (a) with several workers.
    pub drawn: &'static str,
    pub every: u64,
    pub lanes: Vec<LaneCounts>,
    /// The `arg` of the manager lane's `served` event: calls served, from its stats.
    pub manager_calls: u64,
}

pub use timeline::LaneCounts;

pub fn report(t: &Timeline, every: u64) -> TimelineReport {
    TimelineReport {
        drawn: "bottleneck row (a), several workers, run 1",
        every,
        lanes: t.lane_counts(),
        manager_calls: t.lanes[0].of(code::SERVED).next().map_or(0, |e| e.arg as u64),
    }
}

/// A lane's closed spans: wall time and CPU time (CPU at most wall).
fn wall_cpu(t: &Timeline, l: &Lane) -> (u64, u64) {
    let spans = t.spans(l);
    let wall: u64 = spans.iter().filter(|s| s.closed).map(|s| s.wall_ns()).sum();
    let cpu: u64 = spans.iter().filter(|s| s.closed).map(|s| s.cpu_ns()).sum();
    (wall, cpu.min(wall))
}

/// Per lane, CPU time against wall time, in words that fit this scenario (the timeline
/// crate's own summary calls all off-CPU time "waiting for a core"; here a worker mostly
/// waits for the manager's answer).
pub fn summary(t: &Timeline, every: u64) -> String {
    let mut s = String::new();
    let pct = |(w, c): (u64, u64)| 100.0 * c as f64 / w.max(1) as f64;
    let ms = |ns: u64| ns as f64 / 1e6;
    let mgr = &t.lanes[0];
    let (w, c) = wall_cpu(t, mgr);
    let calls = mgr.of(code::SERVED).next().map_or(0, |e| e.arg);
    let _ = writeln!(
        s,
        "{:<9}served {calls} requests in {:.1} ms, on a CPU {:.1} ms ({:.0}%)",
        mgr.name,
        ms(w),
        ms(c),
        pct((w, c))
    );
    for l in &t.lanes[1..] {
        let (w, c) = wall_cpu(t, l);
        let _ = writeln!(
            s,
            "{:<9}{} A's ({} answers) in {:.1} ms, on a CPU {:.1} ms ({:.0}%), off it {:.0}%{}",
            l.name,
            l.of(code::ANSWERED).count(),
            l.of(code::ANSWERED).count() as u64 * every,
            ms(w),
            ms(c),
            pct((w, c)),
            100.0 - pct((w, c)),
            match l.overflow {
                0 => String::new(),
                n => format!(" ({n} events not recorded: log full)"),
            }
        );
    }
    s
}

/// What the lanes show, read from the events.
pub fn what_it_shows(t: &Timeline, every: u64) -> Vec<String> {
    let mgr = &t.lanes[0];
    let calls = mgr.of(code::SERVED).next().map_or(0, |e| e.arg);
    vec![
        format!(
            "What the lanes show: one A = {every} requests answered; only 1 in {every} is drawn. The A's of\n\
             the {} workers interleave: one manager process answered all {calls}, one at a time. A worker\n\
             is off the CPU while it waits for the answer, or for one of this machine's cores.",
            t.lanes.len() - 1,
        ),
        "The manager lane comes from its own stats (calls, CPU time) read before and after the\n\
         run: its code is not instrumented. The worker lanes are recorded by the workers."
            .into(),
    ]
}

/// The text timeline, with what to see in it.
pub fn text(t: &Timeline, every: u64, width: usize, color: bool) -> String {
    let mut s = format!(
        "    Timeline of the first run of (a) with {} workers: one lane per process, time in ms\n    \
         from the first event, {width} columns (--timeline-svg FILE: the same with exact times):\n\n",
        t.lanes.len() - 1
    );
    s.push_str(&timeline::text::chart(t, width, color));
    s.push_str(&summary(t, every));
    for line in what_it_shows(t, every) {
        let _ = writeln!(s, "{line}");
    }
    s
}

/// The SVG.
pub fn svg(t: &Timeline, every: u64) -> String {
    timeline::svg::render(
        t,
        &format!(
            "shared-state: {} workers add to one manager counter; A = 1 in {every} requests (Rust, one run)",
            t.lanes.len() - 1
        ),
    )
}
