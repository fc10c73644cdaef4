//! Concept 1.1 in code: a pool of worker processes shut down through its own task queue.
//!
//! In Python the pattern reads:
//!
//! ```python
//! def worker(tasks, results):
//!     while True:
//!         item = tasks.get()
//!         if item is None:          # the poison pill
//!             break
//!         results.put(process(item))
//!
//! for t in work: tasks.put(t)
//! for _ in workers: tasks.put(None) # one pill per worker, behind the last task
//! ```
//!
//! Below: the same worker and the same pills in Rust, then the two alternatives the binary
//! runs for contrast, a `terminate()` and a stop flag beside the queue.

use std::time::Duration;

use coord_core::{Error, Process, Queue, RawValue, Result};
use serde::{Deserialize, Serialize};

use crate::work::do_work;

// ANCHOR: messages
/// What travels on the task queue. `Stop` is the poison pill: the Rust counterpart of the
/// `None` a Python worker pool puts once per worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Msg {
    /// Work for one worker: task `id`, costing `work_us` microseconds of CPU.
    Task { id: u32, work_us: u32 },
    /// "No more work for you": the worker that reads it exits.
    Stop,
}

/// What travels back on the result queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Done {
    pub id: u32,
    /// Index of the worker that did it.
    pub worker: u32,
    /// The task's answer, [`expected_value`](crate::work::expected_value)`(id)`, so a result
    /// can be checked.
    pub value: u64,
}
// ANCHOR_END: messages

/// The body of one pool worker: take a message, do it, repeat, until the pill.
///
/// It blocks in `get()`: no polling, no flag, no lock of its own. Because the parent put the
/// `Stop` messages after the last task on the same queue, every task is taken before any `Stop`.
// ANCHOR: worker_loop
pub fn worker_loop(me: usize, tasks: &Queue<Msg>, results: &Queue<Done>, probe: &impl Probe) -> Result<()> {
    loop {
        match tasks.get()? {
            Msg::Task { id, work_us } => {
                probe.took(me, id)?;
                let value = do_work(id, work_us);
                results.put(&Done {
                    id,
                    worker: me as u32,
                    value,
                })?;
                probe.finished(me)?;
            }
            Msg::Stop => {
                probe.read_stop(me)?;
                return Ok(()); // the pill: everything queued before it was already taken
            }
        }
    }
}
// ANCHOR_END: worker_loop

/// The poison pills: one `Stop` per worker, on the task queue, after the last task.
// ANCHOR: send_pills
pub fn send_pills(tasks: &Queue<Msg>, workers: usize) -> Result<()> {
    for _ in 0..workers {
        tasks.put(&Msg::Stop)?;
    }
    Ok(())
}
// ANCHOR_END: send_pills

/// Alternative 1, no pill: "the task queue is empty, so the work is done", then
/// `terminate()` (SIGTERM) every worker. `meanwhile` runs between looks at the queue (the
/// binary reads results there); when it returns `false` the parent stops waiting.
// ANCHOR: terminate_contrast
pub fn terminate_when_queue_looks_empty(
    tasks: &Queue<Msg>,
    workers: &[Process],
    mut meanwhile: impl FnMut() -> bool,
) -> Result<()> {
    while !tasks.is_empty() && meanwhile() {
        std::thread::sleep(Duration::from_micros(100));
    }
    // The queue is empty, yet each worker may still hold the task it took last:
    // terminate() kills it in the middle of that task, and the task is lost.
    for w in workers {
        w.terminate()?;
    }
    Ok(())
}
// ANCHOR_END: terminate_contrast

/// How long a side-channel worker waits in `get_timeout` before it looks at the flag again.
pub const SIDE_CHANNEL_POLL: Duration = Duration::from_millis(5);

/// Alternative 2, a side channel: the stop signal is a shared flag, not a message in the queue.
/// The worker looks at the flag before each `get`, and waits in `get_timeout` so that it
/// notices the flag even when the queue is empty. The parent sets the flag after its last put.
// ANCHOR: side_channel_worker
pub fn side_channel_worker(
    me: usize,
    tasks: &Queue<Msg>,
    results: &Queue<Done>,
    stop: &RawValue<bool>,
    probe: &impl Probe,
) -> Result<()> {
    loop {
        if stop.get() {
            return Ok(()); // the flag needs no queue slot: it is seen at once, tasks or no tasks
        }
        match tasks.get_timeout(SIDE_CHANNEL_POLL) {
            Ok(Msg::Task { id, work_us }) => {
                probe.took(me, id)?;
                let value = do_work(id, work_us);
                results.put(&Done {
                    id,
                    worker: me as u32,
                    value,
                })?;
                probe.finished(me)?;
            }
            Ok(Msg::Stop) => return Ok(()),
            Err(Error::Timeout) => continue,
            Err(e) => return Err(e),
        }
    }
}
// ANCHOR_END: side_channel_worker

/// What a worker tells an onlooker as it goes. The lecture's worker tells nobody: pass `&()`.
/// The binary passes a probe that notes each event in shared memory, so that the parent can
/// say which worker held a task that was lost. Every method defaults to doing nothing.
pub trait Probe {
    /// Worker `me` took task `id` off the queue and starts on it.
    fn took(&self, _me: usize, _id: u32) -> Result<()> {
        Ok(())
    }
    /// Worker `me` put the result of the task it held.
    fn finished(&self, _me: usize) -> Result<()> {
        Ok(())
    }
    /// Worker `me` read a `Stop`.
    fn read_stop(&self, _me: usize) -> Result<()> {
        Ok(())
    }
}

/// The probe that notes nothing.
impl Probe for () {}
