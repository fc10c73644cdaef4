//! A small fixed timeline the renderers' tests draw.

use crate::model::{Color, Event, Kind, Lane, Timeline};

pub(crate) const KINDS: &[Kind] = &[
    Kind::mark(1, "stop", 'P', "read its Stop", Color::Red),
    Kind::mark(2, "kill", 'K', "killed", Color::Magenta),
    Kind::mark(3, "sent", 'S', "Stops sent", Color::Plain),
    Kind::mark(4, "joined", 'j', "joined <all>", Color::Plain),
    Kind::begin(5, "task", '=', "working on a task"),
    Kind::end(6, "done"),
];

fn ev(ms: u64, cpu_ms: u64, kind: u8, arg: u32) -> Event {
    Event {
        t_ns: 1_000_000_000 + ms * 1_000_000,
        cpu_ns: cpu_ms * 1_000_000,
        kind,
        arg,
    }
}

/// parent: Stops sent at 14 ms, joined at 50. w0: two tasks of 5 ms wall, 2.5 ms CPU each,
/// then its Stop. w1: one task from 1 ms, killed in it at 33 ms.
pub(crate) fn sample() -> Timeline {
    let lane = |name: &str, events: Vec<Event>| Lane {
        name: name.into(),
        events,
        overflow: 0,
    };
    Timeline::new(
        vec![
            lane("parent", vec![ev(0, 0, 4, 0), ev(14, 1, 3, 0), ev(50, 2, 4, 0)]),
            lane(
                "w0",
                vec![
                    ev(1, 0, 5, 0),
                    ev(11, 5, 6, 0),
                    ev(12, 5, 5, 2),
                    ev(22, 10, 6, 2),
                    ev(23, 10, 1, 0),
                ],
            ),
            lane("w1", vec![ev(1, 0, 5, 1), ev(33, 32, 2, 0)]),
        ],
        KINDS,
    )
}
