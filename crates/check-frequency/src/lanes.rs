//! The run as a picture: lane `i` is worker `i`. A worker notes when it starts counting, each
//! read of the flag (only at a check, never per number), the read that found it up, and its
//! return; worker 0 also notes when it raised the flag. The events are the run's own.

use std::fmt::Write;

use timeline::{Color, Kind};

use crate::scenarios::example::Check;
use crate::scenarios::stop_run::StopRun;

/// Event codes (the `kind` of a [`timeline::Event`]); `arg` is the number under test.
pub mod code {
    pub const SAW: u8 = 1;
    pub const RAISE: u8 = 2;
    pub const READ: u8 = 3;
    pub const COUNT: u8 = 4;
    pub const RETURNED: u8 = 5;
}

/// Listed most telling first: where two marks share a text column, the first one shows.
pub const KINDS: &[Kind] = &[
    Kind::mark(code::RAISE, "raised", 'R', "w0 raised the flag", Color::Yellow),
    Kind::mark(
        code::SAW,
        "saw_flag",
        'S',
        "read the flag: up, so it stopped",
        Color::Red,
    ),
    Kind::mark(code::READ, "read", 'r', "read the flag: still down", Color::Cyan),
    Kind::begin(
        code::COUNT,
        "counting",
        '=',
        "counting primes (or waiting for a core), no read",
    ),
    Kind::end(code::RETURNED, "returned"),
];

/// Room per lane: at most one read per number, plus a few others (capped: past the cap the
/// lane reports overflow rather than growing).
pub fn capacity(limit: u64) -> usize {
    (limit as usize + 8).min(1 << 18)
}

/// `w0`, `w1`, ...
pub fn names(workers: usize) -> Vec<String> {
    (0..workers).map(|i| format!("w{i}")).collect()
}

pub use timeline::LaneCounts;

/// The title of a run: which check, how many workers, where the flag goes up.
pub fn title(r: &StopRun) -> String {
    let c = &r.config;
    format!(
        "check-frequency, Example 27.2 with `{}`: {} workers count the primes in 2..{}, w0 raises \
         the flag at {} (Rust, one run)",
        r.test, c.workers, c.limit, c.raise_at
    )
}

/// The text timeline of a run, with what to see in it.
pub fn text(r: &StopRun, width: usize, color: bool) -> String {
    let mut s = format!(
        "    Timeline of `{}`: one lane per worker, time in ms from the first event, {width} columns\n    \
         (--timeline-svg FILE draws the same events with exact times):\n\n",
        r.test
    );
    s.push_str(&timeline::text::render(&r.lanes, width, color));
    for line in what_it_shows(r) {
        let _ = writeln!(s, "{line}");
    }
    s
}

/// The numbers (`arg`s) of a lane's reads, in order, the one that saw the flag included.
fn read_numbers(l: &timeline::Lane) -> Vec<u32> {
    l.events
        .iter()
        .filter(|e| e.kind == code::READ || e.kind == code::SAW)
        .map(|e| e.arg)
        .collect()
}

/// What the lanes show, read from the events themselves (not from the table).
pub fn what_it_shows(r: &StopRun) -> Vec<String> {
    let t = &r.lanes;
    let mut out = Vec::new();
    let gaps: Vec<u32> = t
        .lanes
        .iter()
        .flat_map(|l| {
            read_numbers(l)
                .windows(2)
                .map(|w| w[1] - w[0])
                .collect::<Vec<_>>()
        })
        .collect();
    let max_gap = gaps.iter().max().copied().unwrap_or(0);
    let same = gaps.iter().filter(|&&g| g == 1).count();
    out.push(format!(
        "What the lanes show: `{}` read the flag {} times in all; between two reads a worker tested\n\
         up to {max_gap} numbers ({same} of the {} gaps were a single number: reads back to back).",
        r.test,
        t.lanes.iter().map(read_numbers).map(|v| v.len()).sum::<usize>(),
        gaps.len()
    ));
    if let Some(raise) = t.lanes.first().and_then(|l| l.of(code::RAISE).next()) {
        let w0 = &t.lanes[0];
        let seen = w0.of(code::SAW).next().map(|e| e.arg);
        out.push(match seen {
            Some(n) => format!(
                "w0 raised the flag (R) at number {} and saw it (S) at its next read, at number {n}: {} more numbers.",
                raise.arg,
                n - raise.arg + 1
            ),
            None => format!("w0 raised the flag (R) at number {} and never read it again.", raise.arg),
        });
    }
    let saw = t
        .lanes
        .iter()
        .filter(|l| l.of(code::SAW).next().is_some())
        .count();
    out.push(format!(
        "{saw} of {} workers saw the flag (S){}. How far each had got is timing-dependent.",
        t.lanes.len(),
        if saw < t.lanes.len() {
            "; the rest finished their range first"
        } else {
            ""
        }
    ));
    out
}

/// The runs `--timeline` shows: the lecture's `count % 10`, then the corrected `i % 10`.
pub fn checks(corrected_only: bool, lecture_only: bool) -> Vec<Check> {
    let mut v = vec![];
    if !corrected_only {
        v.push(Check::Lecture(10));
    }
    if !lecture_only {
        v.push(Check::Corrected(10));
    }
    v
}

/// `--timeline-svg FILE`: writes the run's timeline as SVG.
pub fn write_svg(r: &StopRun, path: &std::path::Path) -> anyhow::Result<()> {
    use anyhow::Context;
    std::fs::write(path, timeline::svg::render(&r.lanes, &title(r)))
        .with_context(|| format!("writing the timeline SVG to {}", path.display()))
}

/// The run's own figures, one row per worker: what each worker wrote into shared memory.
pub fn table(r: &StopRun) -> String {
    let mut s = format!(
        "\n{} — {} workers count the primes in 2..{} with `{}`; w0 raises the flag at {}\n\n\
         {:<6} {:>8} {:>7} {:>6} {:>9} {:>9} {:>9} {:>9}\n",
        match r.config.check {
            Check::Lecture(_) => "Example 27.2 as written",
            _ => "Example 27.2 corrected",
        },
        r.config.workers,
        r.config.limit,
        r.test,
        r.config.raise_at,
        "worker",
        "numbers",
        "primes",
        "reads",
        "max gap",
        "saw flag",
        "CPU ms",
        "wall ms"
    );
    for w in &r.workers {
        let _ = writeln!(
            s,
            "{:<6} {:>8} {:>7} {:>6} {:>9} {:>9} {:>9.2} {:>9.2}",
            format!("w{}", w.index),
            w.numbers_tested,
            w.primes,
            w.reads,
            w.longest_without_read,
            if w.saw_flag { "yes" } else { "no" },
            w.cpu_ms,
            w.wall_ms
        );
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let _ = writeln!(
        s,
        "(max gap: most numbers tested between two reads. CPU ms: the worker's own CPU time; wall ms:\n\
         start to return. With {} workers on {cpus} CPU(s), wall above CPU is time spent waiting for a core.)",
        r.config.workers
    );
    s
}
