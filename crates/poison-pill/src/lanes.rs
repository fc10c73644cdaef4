//! The run as a picture: which events each process records, and what the lanes show.
//!
//! Lane 0 is the parent, lane `i + 1` worker `i`. The workers record through their probe
//! ([`Slots`](crate::scenarios::Slots)) and, once the lesson's loop has returned, in the code
//! that forked them; the parent records its own steps and the kills it caused. Nothing here is
//! simulated: the events are the run's.

use std::fmt::Write;

use timeline::{Color, Kind};

use crate::config::Shutdown;
use crate::scenarios::RunReport;

/// Event codes (the `kind` of a [`timeline::Event`]).
pub mod code {
    pub const KILLED: u8 = 1;
    pub const FLAG_SEEN: u8 = 2;
    pub const STOP_READ: u8 = 3;
    pub const EXIT: u8 = 4;
    pub const STOPS_PUT: u8 = 5;
    pub const FLAG_SET: u8 = 6;
    pub const TERMINATE: u8 = 7;
    pub const GAVE_UP: u8 = 8;
    pub const JOINED: u8 = 9;
    pub const TOOK: u8 = 10;
    pub const DONE: u8 = 11;
    pub const PUTTING: u8 = 12;
    pub const PUT_ALL: u8 = 13;
    pub const START: u8 = 14;
}

/// Listed most telling first: where two marks fall in one text column, the first one shows.
pub const KINDS: &[Kind] = &[
    Kind::mark(code::KILLED, "killed", 'K', "killed by a signal", Color::Magenta),
    Kind::mark(
        code::FLAG_SEEN,
        "flag_seen",
        'F',
        "saw the stop flag and left",
        Color::Red,
    ),
    Kind::mark(
        code::STOP_READ,
        "stop_read",
        'P',
        "read its Stop (the pill)",
        Color::Green,
    ),
    Kind::mark(code::EXIT, "exit", 'x', "returned", Color::Plain),
    Kind::mark(
        code::STOPS_PUT,
        "stops_put",
        'S',
        "parent put the Stops",
        Color::Cyan,
    ),
    Kind::mark(
        code::FLAG_SET,
        "flag_set",
        'f',
        "parent set the flag",
        Color::Yellow,
    ),
    Kind::mark(
        code::TERMINATE,
        "terminate",
        'T',
        "parent sent terminate()",
        Color::Magenta,
    ),
    Kind::mark(
        code::GAVE_UP,
        "gave_up",
        'g',
        "parent's join gave up",
        Color::Yellow,
    ),
    Kind::mark(code::JOINED, "joined", 'j', "parent joined all", Color::Plain),
    Kind::begin(code::TOOK, "task", '=', "working on a task"),
    Kind::end(code::DONE, "done"),
    Kind::begin(code::PUTTING, "putting", '>', "parent putting the tasks"),
    Kind::end(code::PUT_ALL, "put_all"),
    Kind::end(code::START, "start"),
];

/// Room per lane: a worker may take every task (two events each) plus a few others.
pub fn capacity(tasks: u32) -> usize {
    (2 * tasks as usize + 16).min(16_384)
}

/// `parent`, `w0`, `w1`, ...: the names the tables use.
pub fn names(workers: usize) -> Vec<String> {
    std::iter::once("parent".to_string())
        .chain((0..workers).map(|i| format!("w{i}")))
        .collect()
}

pub use timeline::LaneCounts;

/// The text timeline of a run, with a line saying what to see in it.
pub fn text(r: &RunReport, width: usize, color: bool) -> String {
    let mut s = format!(
        "    Timeline: one lane per process, time in ms from the first event, {width} columns\n    \
         (--timeline-svg FILE draws the same events with exact times):\n\n"
    );
    s.push_str(&timeline::text::render(&r.timeline, width, color));
    for line in what_it_shows(r) {
        let _ = writeln!(s, "{line}");
    }
    s
}

/// The SVG of a run.
pub fn svg(r: &RunReport) -> String {
    let c = &r.config;
    timeline::svg::render(
        &r.timeline,
        &format!(
            "poison-pill --shutdown {}: {} workers, {} tasks of {} µs (Rust, one run)",
            r.mode.name(),
            c.workers,
            c.tasks,
            c.task_us
        ),
    )
}

/// What the lanes show, read from the events themselves (not from the tables).
pub fn what_it_shows(r: &RunReport) -> Vec<String> {
    let t = &r.timeline;
    let workers = &t.lanes[1.min(t.lanes.len())..];
    let last_done = |l: &timeline::Lane| l.of(code::DONE).map(|e| e.t_ns).max();
    let mut out = Vec::new();
    match r.mode {
        Shutdown::Pill => {
            // A lane counts if its Stop came after its last task and it took nothing after it.
            let after = workers
                .iter()
                .filter(|l| {
                    l.of(code::STOP_READ).next().is_some_and(|stop| {
                        stop.t_ns >= last_done(l).unwrap_or(0) && l.of(code::TOOK).all(|e| e.t_ns < stop.t_ns)
                    })
                })
                .count();
            out.push(format!(
                "What the lanes show: in {after} of {} lanes the Stop (P) was read after the lane's last task;\n{}",
                workers.len(),
                if after == workers.len() {
                    "no lane took a task after its Stop. The pills waited in the queue behind the tasks."
                } else {
                    "in the others the Stop was not the last thing read: look at their lanes."
                }
            ));
        }
        Shutdown::SideChannel => {
            let seen: Vec<String> = workers
                .iter()
                .filter_map(|l| {
                    let f = l.of(code::FLAG_SEEN).next()?;
                    Some(format!("{} {}", l.name, f.arg))
                })
                .collect();
            let left_early = workers
                .iter()
                .filter(|l| l.of(code::FLAG_SEEN).any(|e| e.arg > 0))
                .count();
            out.push(format!(
                "What the lanes show: {left_early} of {} lanes saw the flag (F) and left while tasks were still queued\n\
                 (tasks in the queue as each left: {}).{}",
                workers.len(),
                if seen.is_empty() { "none".into() } else { seen.join(", ") },
                if left_early > 0 { " The flag overtook the tasks." } else { "" }
            ));
        }
        Shutdown::Terminate => {
            let mid: Vec<String> = workers
                .iter()
                .filter(|l| l.of(code::KILLED).next().is_some())
                .filter(|l| l.of(code::TOOK).count() > l.of(code::DONE).count())
                .map(|l| {
                    let id = l.of(code::TOOK).last().map_or(0, |e| e.arg);
                    format!("{} (task {id})", l.name)
                })
                .collect();
            out.push(format!(
                "What the lanes show: terminate() (K) hit {} lane(s) in the middle of a task:\n\
                 {}. Those tasks end in an unfinished bar and never come back.",
                mid.len(),
                if mid.is_empty() {
                    "none this run".into()
                } else {
                    mid.join(", ")
                }
            ));
        }
        Shutdown::None => {
            let killed = workers
                .iter()
                .filter(|l| l.of(code::KILLED).next().is_some())
                .count();
            out.push(format!(
                "What the lanes show: no lane returns on its own; after the parent's join gave up (g),\n\
                 the cleanup killed {killed} of {} workers still waiting in get() (K).",
                workers.len()
            ));
        }
    }
    out
}

/// `--timeline-svg FILE`: writes the run's timeline as SVG, and says so on stdout if `say`.
pub fn write_svg(r: &RunReport, path: &std::path::Path, say: bool) -> anyhow::Result<()> {
    use anyhow::Context;
    std::fs::write(path, svg(r))
        .with_context(|| format!("writing the timeline SVG to {}", path.display()))?;
    if say {
        crate::render::emit(&format!(
            "\n    (timeline of this run written to {})\n",
            path.display()
        ));
    }
    Ok(())
}
