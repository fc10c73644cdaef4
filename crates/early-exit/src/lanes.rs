//! The search as a picture: which events each process records, and what the lanes show.
//!
//! Lane 0 is the parent, lane `i + 1` worker `i`. A worker records through [`Traced`], a
//! stand-in wrapped around its flag (the lesson's loop is not touched): the search's start and
//! end, the flag raise, and its flag reads. Reading the flag happens once per item, hundreds of
//! thousands of times, so the reads are kept in a process-local ring of the last [`RING`] and
//! written to the shared log when the loop returns: the lanes show every read near the end,
//! where the lesson is (the last item examined, the read that saw the flag, the wasted items),
//! and nothing of the long quiet middle. Nothing here is simulated: the events are the run's.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt::Write;

use coord_core::{Lock, monotonic_ns};
use timeline::{Color, Kind, Recorder, Timeline};

use crate::lesson::FoundFlag;
use crate::scenarios::{Exit, SearchRun};

/// Flag reads each worker keeps (the last ones before it stopped).
pub const RING: usize = 64;

/// Event codes (the `kind` of a [`timeline::Event`]).
pub mod code {
    pub const RAISED: u8 = 1;
    pub const SEEN: u8 = 2;
    pub const WASTED: u8 = 3;
    pub const READ: u8 = 4;
    pub const OPENED: u8 = 5;
    pub const JOINED: u8 = 6;
    pub const SEARCH: u8 = 7;
    pub const SEARCH_END: u8 = 8;
}

/// Listed most telling first: where two marks fall in one text column, the first one shows.
pub const KINDS: &[Kind] = &[
    Kind::mark(
        code::RAISED,
        "flag_raised",
        'R',
        "found it, raised the flag",
        Color::Red,
    ),
    Kind::mark(
        code::SEEN,
        "flag_seen",
        'F',
        "read the flag: up, stopped",
        Color::Green,
    ),
    Kind::mark(
        code::WASTED,
        "wasted",
        'w',
        "examined an item after the flag went up",
        Color::Yellow,
    ),
    Kind::mark(
        code::READ,
        "flag_read",
        'r',
        "read the flag: down, examined an item",
        Color::Plain,
    ),
    Kind::mark(
        code::OPENED,
        "gate_opened",
        'o',
        "parent: all workers started",
        Color::Cyan,
    ),
    Kind::mark(code::JOINED, "joined", 'j', "parent joined all", Color::Plain),
    Kind::begin(code::SEARCH, "search", '=', "searching its range"),
    Kind::end(code::SEARCH_END, "search_end"),
];

/// Room per lane: the ring, the start and end, the raise or the seen read.
pub fn capacity() -> usize {
    RING + 8
}

/// `parent`, `w0`, `w1`, ...: the names the tables use.
pub fn names(workers: usize) -> Vec<String> {
    std::iter::once("parent".to_string())
        .chain((0..workers).map(|i| format!("w{i}")))
        .collect()
}

/// An item number as an event argument (numbers past `u32::MAX` show as `u32::MAX`).
fn arg(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// The stand-in that records a worker's flag reads. It wraps the worker's own flag (already a
/// stand-in that counts) and passes every call on; with no recorder it only passes them on.
pub struct Traced<'r, F> {
    flag: &'r F,
    rec: Option<&'r Recorder>,
    lane: usize,
    /// The first number of the worker's range: the loop's `k`-th read is for item `start + k`.
    start: u64,
    reads: Cell<u64>,
    /// Set once the worker found a match: the reads that follow are the claim's, not the loop's.
    found: Cell<Option<u64>>,
    /// The last loop reads that found the flag down: (time, item).
    ring: RefCell<VecDeque<(u64, u64)>>,
    /// The read that found it up: (time, item it would have examined next).
    seen: Cell<Option<(u64, u64)>>,
}

impl<'r, F: FoundFlag> Traced<'r, F> {
    /// Records the start of the search (with this worker's CPU time) when there is a recorder.
    pub fn new(flag: &'r F, rec: Option<&'r Recorder>, lane: usize, start: u64) -> Self {
        if let Some(r) = rec {
            let _ = r.record(lane, code::SEARCH, arg(start));
        }
        Traced {
            flag,
            rec,
            lane,
            start,
            reads: Cell::new(0),
            found: Cell::new(None),
            ring: RefCell::new(VecDeque::with_capacity(RING + 1)),
            seen: Cell::new(None),
        }
    }

    /// Wrap the test with this, as with `Watched::test`: a match ends the loop's reads.
    pub fn test(&self, n: u64, matched: bool) -> bool {
        if matched {
            self.found.set(Some(n));
        }
        matched
    }

    /// After the loop: writes the ring to the shared log. `wasted_from` is the first item index
    /// (0-based in the range) examined after the flag went up, if it did and this worker did
    /// not raise it: the reads for that item and later ones are marked wasted.
    pub fn flush(&self, wasted_from: Option<u64>) -> coord_core::Result<()> {
        let Some(r) = self.rec else { return Ok(()) };
        for &(t, item) in self.ring.borrow().iter() {
            let wasted = wasted_from.is_some_and(|w| item - self.start >= w);
            let k = if wasted { code::WASTED } else { code::READ };
            r.record_at(self.lane, k, arg(item), t, 0)?;
        }
        if let Some((t, item)) = self.seen.get() {
            r.record_at(self.lane, code::SEEN, arg(item), t, 0)?;
        }
        r.record(self.lane, code::SEARCH_END, arg(self.reads.get()))
    }
}

impl<F: FoundFlag> FoundFlag for Traced<'_, F> {
    fn get(&self) -> bool {
        if self.rec.is_none() || self.found.get().is_some() {
            return self.flag.get();
        }
        let item = self.start + self.reads.get();
        self.reads.set(self.reads.get() + 1);
        let up = self.flag.get();
        let t = monotonic_ns();
        if up {
            self.seen.set(Some((t, item)));
        } else {
            let mut ring = self.ring.borrow_mut();
            ring.push_back((t, item));
            if ring.len() > RING {
                ring.pop_front();
            }
        }
        up
    }
    fn set(&self, v: bool) {
        self.flag.set(v);
        if let (true, Some(r), Some(n)) = (v, self.rec, self.found.get()) {
            let _ = r.record(self.lane, code::RAISED, arg(n));
        }
    }
    fn get_lock(&self) -> &Lock {
        self.flag.get_lock()
    }
}

pub use timeline::LaneCounts;

/// The timeline of a recorded search, read back after the joins.
pub fn collect(rec: &Recorder, workers: usize) -> Timeline {
    let names = names(workers);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    rec.collect(&names, KINDS)
        .with_idle_label("not started yet, or done")
}

/// The text timeline of a search, with the lines saying what to see in it.
pub fn text(t: &Timeline, run: &SearchRun, width: usize, color: bool) -> String {
    let mut s = format!(
        "    Timeline of this early-exit run: one lane per process, time in ms from the first event,\n    \
         {width} columns. Each worker kept its last {RING} flag reads (r, w); --timeline-svg FILE\n    \
         draws the same events with exact times.\n\n"
    );
    s.push_str(&timeline::text::render(t, width, color));
    for line in what_it_shows(t, run) {
        let _ = writeln!(s, "{line}");
    }
    s
}

/// The SVG of a search.
pub fn svg(t: &Timeline, run: &SearchRun) -> String {
    let c = &run.config;
    timeline::svg::render(
        t,
        &format!(
            "early-exit: {} workers x {} numbers, {:?}, {} flag (Rust, one run)",
            c.workers,
            c.range_len,
            c.target,
            c.flag.name()
        ),
    )
}

/// What the lanes show, one line per worker, read from the events themselves.
pub fn what_it_shows(t: &Timeline, run: &SearchRun) -> Vec<String> {
    let mut out = vec!["What the lanes show:".to_string()];
    for (w, lane) in run.workers.iter().zip(t.lanes.iter().skip(1)) {
        let last = |k| lane.of(k).last().map(|e| e.arg);
        let line = match (lane.of(code::RAISED).next(), lane.of(code::SEEN).next()) {
            (Some(r), _) => format!("found item {} and raised the flag (R)", r.arg),
            (None, Some(f)) if u64::from(f.arg) == w.range.0 => {
                "the flag was already up at its first read (F): examined nothing".to_string()
            }
            (None, Some(f)) => format!(
                "last item examined {}, then saw the flag up (F); {} examined after it rose (w)",
                f.arg - 1,
                w.after_set
            ),
            _ => format!(
                "never saw the flag up: {} (last item examined {})",
                w.exit.describe(),
                last(code::READ)
                    .or(last(code::WASTED))
                    .map_or("-".into(), |n| n.to_string())
            ),
        };
        out.push(format!("  {:>6}: {line}", lane.name));
    }
    if run
        .workers
        .iter()
        .any(|w| w.after_set as usize > RING && w.exit == Exit::SawFlag)
    {
        out.push(format!(
            "  (a lane marks at most its last {RING} reads; the table counts every wasted item)"
        ));
    }
    out
}
