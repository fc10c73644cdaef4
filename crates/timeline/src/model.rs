//! What a timeline is made of: [`Event`]s in [`Lane`]s, and the [`Kind`]s that say how each
//! event is drawn.

/// One thing that happened in one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// `coord_core::monotonic_ns()` when it happened: comparable across processes.
    pub t_ns: u64,
    /// CPU time the recording thread had used by then (`lab_support::clock::thread_cpu_ns`).
    pub cpu_ns: u64,
    /// Which [`Kind`] (its `code`).
    pub kind: u8,
    /// A number that goes with it: a task id, a count of tasks still queued...
    pub arg: u32,
}

/// How a kind of event is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// A single mark at its moment (a Stop read, a kill).
    Mark,
    /// Opens a span (work on a task); the lane is filled with this kind's symbol until the
    /// next [`Shape::End`] in the same lane.
    Begin,
    /// Closes the open span. Not drawn itself.
    End,
}

/// The colour of a mark on a terminal and in the SVG. Never needed: every mark also has its
/// own letter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Color {
    Plain,
    Red,
    Green,
    Yellow,
    Blue,
    Magenta,
    Cyan,
}

impl Color {
    /// The ANSI escape that starts this colour (empty for `Plain`).
    pub fn ansi(self) -> &'static str {
        match self {
            Color::Plain => "",
            Color::Red => "\x1b[31;1m",
            Color::Green => "\x1b[32m",
            Color::Yellow => "\x1b[33;1m",
            Color::Blue => "\x1b[34;1m",
            Color::Magenta => "\x1b[35;1m",
            Color::Cyan => "\x1b[36m",
        }
    }
    /// The SVG fill.
    pub fn hex(self) -> &'static str {
        match self {
            Color::Plain => "#444444",
            Color::Red => "#c62828",
            Color::Green => "#2e7d32",
            Color::Yellow => "#b26a00",
            Color::Blue => "#1565c0",
            Color::Magenta => "#8e24aa",
            Color::Cyan => "#00838f",
        }
    }
}

/// One kind of event: its code in the log, a short machine name (JSON, SVG classes), the
/// letter drawn in the text lanes, and the words of the legend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub code: u8,
    pub name: &'static str,
    pub symbol: char,
    pub label: &'static str,
    pub shape: Shape,
    pub color: Color,
}

impl Kind {
    pub const fn mark(code: u8, name: &'static str, symbol: char, label: &'static str, color: Color) -> Kind {
        Kind {
            code,
            name,
            symbol,
            label,
            shape: Shape::Mark,
            color,
        }
    }
    /// A span opener; `symbol` fills the lane while the span lasts.
    pub const fn begin(code: u8, name: &'static str, symbol: char, label: &'static str) -> Kind {
        Kind {
            code,
            name,
            symbol,
            label,
            shape: Shape::Begin,
            color: Color::Plain,
        }
    }
    /// A span closer (not drawn, not in the legend).
    pub const fn end(code: u8, name: &'static str) -> Kind {
        Kind {
            code,
            name,
            symbol: ' ',
            label: "",
            shape: Shape::End,
            color: Color::Plain,
        }
    }
}

/// One process's events, in time order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lane {
    pub name: String,
    pub events: Vec<Event>,
    /// Events the process tried to record after its log was full (not in `events`).
    pub overflow: u64,
}

/// A span of a lane: from a [`Shape::Begin`] event to its [`Shape::End`] (or to the lane's
/// last event, `closed == false`, when it never ended: a process killed mid-task).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub begin: Event,
    pub end: Event,
    pub closed: bool,
}

impl Span {
    pub fn wall_ns(&self) -> u64 {
        self.end.t_ns.saturating_sub(self.begin.t_ns)
    }
    pub fn cpu_ns(&self) -> u64 {
        self.end.cpu_ns.saturating_sub(self.begin.cpu_ns)
    }
}

/// One lane in a `--json` report: its name and how many events of each kind it recorded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LaneCounts {
    pub lane: String,
    pub counts: std::collections::BTreeMap<&'static str, usize>,
    /// Events that did not fit in the lane's log.
    pub overflow: u64,
}

/// A whole run: every lane, and the kinds their events are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timeline {
    pub lanes: Vec<Lane>,
    pub kinds: Vec<Kind>,
    /// What the time between a lane's events, outside any span, means (legend of `.`).
    pub idle_label: String,
}

impl Lane {
    /// The events of the kind with this code.
    pub fn of(&self, code: u8) -> impl Iterator<Item = &Event> {
        self.events.iter().filter(move |e| e.kind == code)
    }

    /// First and last moment of this lane, if it has any event.
    pub fn bounds(&self) -> Option<(u64, u64)> {
        Some((self.events.first()?.t_ns, self.events.last()?.t_ns))
    }
}

impl Timeline {
    pub fn new(lanes: Vec<Lane>, kinds: &[Kind]) -> Timeline {
        Timeline {
            lanes,
            kinds: kinds.to_vec(),
            idle_label: "waiting".into(),
        }
    }

    /// Says what the time between events means in these lanes ("waiting in get()").
    pub fn with_idle_label(mut self, label: &str) -> Timeline {
        self.idle_label = label.into();
        self
    }

    pub fn kind(&self, code: u8) -> Option<&Kind> {
        self.kinds.iter().find(|k| k.code == code)
    }

    /// The code of the kind named `name`.
    pub fn code(&self, name: &str) -> Option<u8> {
        self.kinds.iter().find(|k| k.name == name).map(|k| k.code)
    }

    /// Where the kind with this code stands in the list: kinds listed first win a shared
    /// column in the text lanes.
    pub(crate) fn rank(&self, code: u8) -> usize {
        self.kinds
            .iter()
            .position(|k| k.code == code)
            .unwrap_or(usize::MAX)
    }

    /// Earliest and latest event over all lanes.
    pub fn bounds(&self) -> Option<(u64, u64)> {
        let b = self.lanes.iter().filter_map(Lane::bounds);
        b.reduce(|(a0, a1), (b0, b1)| (a0.min(b0), a1.max(b1)))
    }

    /// The spans of a lane, in order: each Begin paired with the next End.
    pub fn spans(&self, lane: &Lane) -> Vec<Span> {
        let mut out = Vec::new();
        let mut open: Option<Event> = None;
        for e in &lane.events {
            match self.kind(e.kind).map(|k| k.shape) {
                Some(Shape::Begin) => {
                    if let Some(b) = open.take() {
                        out.push(Span {
                            begin: b,
                            end: *e,
                            closed: false,
                        });
                    }
                    open = Some(*e);
                }
                Some(Shape::End) => {
                    if let Some(b) = open.take() {
                        out.push(Span {
                            begin: b,
                            end: *e,
                            closed: true,
                        });
                    }
                }
                _ => {}
            }
        }
        if let (Some(b), Some(last)) = (open, lane.events.last()) {
            out.push(Span {
                begin: b,
                end: *last,
                closed: false,
            });
        }
        out
    }

    /// Per lane, how many events of each kind (in the order of `kinds`): what the tests and
    /// the `--json` reports compare with the run's own accounting.
    pub fn counts(&self, lane: &Lane) -> Vec<(&'static str, usize)> {
        self.kinds
            .iter()
            .map(|k| (k.name, lane.of(k.code).count()))
            .collect()
    }

    /// What a `--json` report carries of the timeline: per lane, its name, the kinds it
    /// recorded with their counts (kinds it never recorded left out), and its overflow.
    pub fn lane_counts(&self) -> Vec<LaneCounts> {
        self.lanes
            .iter()
            .map(|l| LaneCounts {
                lane: l.name.clone(),
                counts: self.counts(l).into_iter().filter(|(_, n)| *n > 0).collect(),
                overflow: l.overflow,
            })
            .collect()
    }

    /// The kinds that occur in some lane (a Begin counts when it opens a span), in list
    /// order: what the legend lists.
    pub fn kinds_present(&self) -> Vec<Kind> {
        self.kinds
            .iter()
            .filter(|k| k.shape != Shape::End)
            .filter(|k| self.lanes.iter().any(|l| l.of(k.code).next().is_some()))
            .copied()
            .collect()
    }

    /// How many events of the kind named `name` lane `lane` holds (0 for an unknown name).
    pub fn count(&self, lane: &Lane, name: &str) -> usize {
        self.code(name).map_or(0, |c| lane.of(c).count())
    }
}
