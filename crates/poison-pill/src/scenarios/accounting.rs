//! Every task id accounted for, and every worker process checked gone.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::lesson::Done;
use crate::work::expected_value;

/// Every task id, accounted for.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Accounting {
    pub tasks_put: u32,
    /// Result messages received (duplicates included).
    pub results_received: u32,
    /// Ids that never came back.
    pub lost_ids: Vec<u32>,
    /// Ids that came back more than once.
    pub duplicated_ids: Vec<u32>,
    /// Results whose value is not the task's answer.
    pub wrong_values: u32,
    /// Lost ids still sitting in the task queue once the workers were gone (the parent drained it).
    pub left_in_queue_ids: Vec<u32>,
    /// Lost ids taken off the queue by a worker and never finished.
    pub in_progress_ids: Vec<u32>,
    /// Of those, the ones a worker had noted in its shared slot: (worker, id).
    pub in_progress_by_worker: Vec<(u32, u32)>,
    /// `Stop` messages put, and left unread in the queue at the end.
    pub stops_put: u32,
    pub stops_left: u32,
}

impl Accounting {
    pub fn lost(&self) -> u32 {
        self.lost_ids.len() as u32
    }
    /// Every id came back exactly once with the right answer.
    pub fn exactly_once(&self) -> bool {
        self.lost_ids.is_empty() && self.duplicated_ids.is_empty() && self.wrong_values == 0
    }
}

/// Every task id, accounted for: what came back, what was lost, and where the lost ones were.
pub fn account(
    tasks_put: u32,
    got: &[Done],
    left_in_queue: &[u32],
    busy: &[u64],
    stops_put: u32,
    stops_left: u32,
) -> Accounting {
    let mut seen: BTreeMap<u32, u32> = BTreeMap::new();
    let mut wrong_values = 0;
    for d in got {
        *seen.entry(d.id).or_default() += 1;
        if d.value != expected_value(d.id) || d.id >= tasks_put {
            wrong_values += 1;
        }
    }
    let lost_ids: Vec<u32> = (0..tasks_put).filter(|id| !seen.contains_key(id)).collect();
    let duplicated_ids = seen.iter().filter(|(_, c)| **c > 1).map(|(id, _)| *id).collect();
    let mut left_in_queue_ids: Vec<u32> = left_in_queue.to_vec();
    left_in_queue_ids.sort_unstable();
    let in_progress_ids: Vec<u32> = lost_ids
        .iter()
        .copied()
        .filter(|id| left_in_queue_ids.binary_search(id).is_err())
        .collect();
    let in_progress_by_worker = busy
        .iter()
        .enumerate()
        .filter(|(_, b)| **b != 0)
        .map(|(w, b)| (w as u32, (*b - 1) as u32))
        .filter(|(_, id)| in_progress_ids.contains(id))
        .collect();
    Accounting {
        tasks_put,
        results_received: got.len() as u32,
        lost_ids,
        duplicated_ids,
        wrong_values,
        left_in_queue_ids,
        in_progress_ids,
        in_progress_by_worker,
        stops_put,
        stops_left,
    }
}

/// Of these pids, the ones that still exist as children of this process, running or zombie.
/// (Checking the parent pid too means a recycled pid of some other process is not mistaken
/// for ours.)
pub fn still_our_children(pids: &[u32]) -> Vec<u32> {
    let me = std::process::id();
    pids.iter()
        .copied()
        .filter(|&pid| lab_support::procfs::stat(pid).is_some_and(|s| s.ppid == me))
        .collect()
}

/// Every process whose parent is `parent`, with its state letter (`Z` for a zombie), from /proc.
pub fn children_of(parent: u32) -> Vec<(u32, char)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let s = lab_support::procfs::stat(pid)?;
            (s.ppid == parent).then_some((pid, s.state))
        })
        .collect()
}

/// The pids of every process this program still has as a child (after the runs: none).
pub fn children_left() -> Vec<u32> {
    children_of(std::process::id())
        .into_iter()
        .map(|(pid, _)| pid)
        .collect()
}
