//! The event log the processes write while the run happens: fixed-capacity, one region per
//! lane, in `MAP_SHARED` memory that every forked child shares with the parent.
//!
//! Each event is three `u64`s in a [`RawArray`]: the monotonic time, the writer's CPU time,
//! and `kind << 32 | arg`. A lane's counter is bumped with `fetch_add` before the slot is
//! written, so two processes writing the same lane (a worker, and the parent noting that it
//! killed it) never take the same slot. When a lane is full, the counter still counts: what
//! did not fit is reported as overflow, never silently dropped.

use coord_core::{RawArray, Result, monotonic_ns};
use lab_support::clock::thread_cpu_ns;

use crate::model::{Event, Kind, Lane, Timeline};

/// Words per event: time, CPU time, kind and argument.
const WORDS: usize = 3;

/// A shared, fixed-size event log with `lanes` lanes of `capacity` events each. Create it in
/// the parent before forking; every child writes its own lane; the parent calls
/// [`collect`](Recorder::collect) once the children are gone.
pub struct Recorder {
    words: RawArray<u64>,
    /// Per lane: events recorded or attempted (may exceed `capacity`).
    counts: RawArray<u64>,
    lanes: usize,
    capacity: usize,
}

impl Recorder {
    pub fn new(lanes: usize, capacity: usize) -> Result<Recorder> {
        Ok(Recorder {
            words: RawArray::new(lanes * capacity * WORDS, 0)?,
            counts: RawArray::new(lanes, 0)?,
            lanes,
            capacity,
        })
    }

    pub fn lanes(&self) -> usize {
        self.lanes
    }

    /// Notes event `kind` with `arg` in `lane`, now (monotonic clock, this thread's CPU time).
    /// A full lane only counts it; a lane out of range is an error.
    pub fn record(&self, lane: usize, kind: u8, arg: u32) -> Result<()> {
        self.record_at(lane, kind, arg, monotonic_ns(), thread_cpu_ns())
    }

    /// As [`record`](Recorder::record), with the moment given: for an event that one process
    /// notes in another's lane (the parent noting when it killed a worker).
    pub fn record_at(&self, lane: usize, kind: u8, arg: u32, t_ns: u64, cpu_ns: u64) -> Result<()> {
        let slot = self.counts.fetch_add(lane, 1)? as usize;
        if slot < self.capacity {
            let base = (lane * self.capacity + slot) * WORDS;
            self.words.set(base, t_ns)?;
            self.words.set(base + 1, cpu_ns)?;
            self.words.set(base + 2, (kind as u64) << 32 | arg as u64)?;
        }
        Ok(())
    }

    /// Reads every lane back, named by `names` (one per lane, in order), each lane sorted by
    /// time. Call it when no process writes any more (after the joins): a slot being written
    /// at this moment could be read half-done.
    pub fn collect(&self, names: &[&str], kinds: &[Kind]) -> Timeline {
        let lanes = (0..self.lanes)
            .map(|l| {
                let attempted = self.counts.get(l).unwrap_or(0);
                let n = (attempted as usize).min(self.capacity);
                let mut events: Vec<Event> = (0..n)
                    .map(|i| {
                        let base = (l * self.capacity + i) * WORDS;
                        let w = |k| self.words.get(base + k).unwrap_or(0);
                        Event {
                            t_ns: w(0),
                            cpu_ns: w(1),
                            kind: (w(2) >> 32) as u8,
                            arg: w(2) as u32,
                        }
                    })
                    .collect();
                // Stable: two events of one process stamped in the same nanosecond keep their
                // recording order.
                events.sort_by_key(|e| e.t_ns);
                Lane {
                    name: names
                        .get(l)
                        .map_or_else(|| format!("lane {l}"), |s| s.to_string()),
                    events,
                    overflow: attempted.saturating_sub(self.capacity as u64),
                }
            })
            .collect();
        Timeline::new(lanes, kinds)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Color;
    use coord_core::Process;
    use std::time::Duration;

    const KINDS: &[Kind] = &[Kind::mark(1, "ping", 'p', "ping", Color::Plain)];

    #[test]
    fn children_write_their_own_lanes_and_the_parent_reads_them() {
        let rec = Recorder::new(3, 8).unwrap();
        let kids: Vec<Process> = (0..3)
            .map(|i| {
                let rec = &rec;
                Process::start(move || -> Result<()> {
                    for k in 0..=i as u32 {
                        rec.record(i, 1, k)?;
                    }
                    Ok(())
                })
                .unwrap()
            })
            .collect();
        for k in &kids {
            let st = k
                .join_timeout(Duration::from_secs(10))
                .unwrap()
                .expect("child finished");
            assert!(st.success(), "{st}");
        }
        let t = rec.collect(&["a", "b", "c"], KINDS);
        for (i, lane) in t.lanes.iter().enumerate() {
            let args: Vec<u32> = lane.events.iter().map(|e| e.arg).collect();
            assert_eq!(args, (0..=i as u32).collect::<Vec<_>>(), "lane {}", lane.name);
            assert_eq!(lane.overflow, 0);
            assert!(lane.events.windows(2).all(|w| w[0].t_ns <= w[1].t_ns));
        }
    }

    #[test]
    fn a_full_lane_counts_what_did_not_fit() {
        let rec = Recorder::new(1, 2).unwrap();
        for k in 0..5 {
            rec.record(0, 1, k).unwrap();
        }
        let t = rec.collect(&["only"], KINDS);
        assert_eq!(t.lanes[0].events.len(), 2);
        assert_eq!(t.lanes[0].overflow, 3);
        assert!(rec.record(1, 1, 0).is_err(), "lane 1 does not exist");
    }
}
