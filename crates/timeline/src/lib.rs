//! # timeline: what each process did, and when
//!
//! The concept binaries answer in tables; this crate draws the same run as a picture: one lane
//! per process, time flowing left to right, a mark where something that carries the lesson
//! happened (a task taken, a Stop read, a flag seen, a kill).
//!
//! The events are written by the processes themselves, while the run happens, into
//! `MAP_SHARED` memory ([`Recorder`]), stamped with [`coord_core::monotonic_ns`] (one clock for
//! every process on the machine) and with the writer's own CPU time, so that a span of work can
//! be split into "running on a core" and "waiting for one". After the run the parent reads
//! them back as a [`Timeline`] and draws it as text ([`text::render`]) or SVG ([`svg::render`]).
//!
//! ```
//! use timeline::{Color, Kind, Recorder, Shape};
//!
//! const KINDS: &[Kind] = &[
//!     Kind::mark(1, "stop", 'P', "read its Stop", Color::Red),
//!     Kind::begin(2, "task", '=', "working on a task"),
//!     Kind::end(3, "done"),
//! ];
//! let rec = Recorder::new(1, 16).unwrap(); // 1 lane, room for 16 events
//! rec.record(0, 2, 7).unwrap(); // lane 0 took task 7...
//! rec.record(0, 3, 7).unwrap(); // ...finished it...
//! rec.record(0, 1, 0).unwrap(); // ...and read its Stop
//! let t = rec.collect(&["w0"], KINDS);
//! assert_eq!(t.count(&t.lanes[0], "task"), 1);
//! let text = timeline::text::render(&t, 60, false);
//! assert!(text.contains("w0") && text.contains("P read its Stop"));
//! ```
//!
//! | module | what |
//! |---|---|
//! | [`record`] | the shared-memory event log the processes write into |
//! | [`model`] | events, lanes, kinds: what the renderers draw |
//! | [`text`] | lanes as plain text, scaled to the terminal ([`term_width`]) |
//! | [`svg`] | the same as an SVG file |
//! | [`class`] | the terminal side of the binaries' `--class` mode: print as it goes, Enter to reveal |

pub mod class;
pub mod model;
pub mod record;
pub mod svg;
pub mod text;

#[cfg(test)]
mod test_data;

pub use model::{Color, Event, Kind, Lane, LaneCounts, Shape, Timeline};
pub use record::Recorder;
pub use text::{color_wanted, term_width};
