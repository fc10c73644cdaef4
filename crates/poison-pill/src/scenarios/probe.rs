//! The instrumented stand-in the runs hand to the lesson's workers: a [`Probe`] that notes, in
//! shared memory the parent reads, what each worker was doing.

use coord_core::{Error as CoreError, RawArray};
use serde::Serialize;
use timeline::Recorder;

use crate::lanes::{self, code};
use crate::lesson::Probe;

/// Shared memory the parent reads to see what each worker was doing.
pub struct Slots {
    /// Per worker: `id + 1` of the task it is working on, 0 when it holds none.
    pub busy: RawArray<u64>,
    /// Per worker: how many `Stop` messages it read (1 in the pill mode, never more).
    pub stops_read: RawArray<u32>,
    /// Per worker: why its loop failed, if it did ([`WorkerError`] as a number, 0 = no error).
    pub error: RawArray<u8>,
    /// The timeline's event log: lane 0 the parent, lane `i + 1` worker `i`.
    pub events: Recorder,
}

impl Slots {
    pub fn new(workers: usize, tasks: u32) -> coord_core::Result<Slots> {
        Ok(Slots {
            busy: RawArray::new(workers, 0)?,
            stops_read: RawArray::new(workers, 0)?,
            error: RawArray::new(workers, 0)?,
            events: Recorder::new(workers + 1, lanes::capacity(tasks))?,
        })
    }

    /// Notes event `kind` in worker `me`'s lane.
    pub fn note(&self, me: usize, kind: u8, arg: u32) -> coord_core::Result<()> {
        self.events.record(me + 1, kind, arg)
    }

    /// Notes event `kind` in the parent's lane.
    pub fn note_parent(&self, kind: u8, arg: u32) -> coord_core::Result<()> {
        self.events.record(0, kind, arg)
    }
}

/// "I hold task `id`", "I hold none", "I read a Stop": one shared-memory write each, and the
/// same moment stamped in the worker's timeline lane.
impl Probe for Slots {
    fn took(&self, me: usize, id: u32) -> coord_core::Result<()> {
        self.busy.set(me, id as u64 + 1)?;
        self.note(me, code::TOOK, id)
    }
    fn finished(&self, me: usize) -> coord_core::Result<()> {
        let id = self.busy.get(me)?.saturating_sub(1) as u32;
        self.note(me, code::DONE, id)?;
        self.busy.set(me, 0)
    }
    fn read_stop(&self, me: usize) -> coord_core::Result<()> {
        self.note(me, code::STOP_READ, 0)?;
        self.stops_read.fetch_add(me, 1).map(drop)
    }
}

/// Why a worker's loop returned an error, as the parent learns it from shared memory (the
/// child's own message only goes to stderr).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum WorkerError {
    /// A queue refused to work any more because some process died in the middle of a message.
    QueueCorrupted,
    /// The task queue disconnected: the parent is gone.
    Disconnected,
    Other,
}

impl WorkerError {
    pub(crate) fn code(e: &CoreError) -> u8 {
        match e {
            CoreError::Corrupted(_) => 1,
            CoreError::Disconnected => 2,
            _ => 3,
        }
    }
    pub(crate) fn from_code(c: u8) -> Option<WorkerError> {
        match c {
            0 => None,
            1 => Some(WorkerError::QueueCorrupted),
            2 => Some(WorkerError::Disconnected),
            _ => Some(WorkerError::Other),
        }
    }
}
