//! A run's figures, set against what the lecture says: one [`Claim`] per run, and the
//! `--json` document.

use lab_support::Claim;
use serde::Serialize;

use crate::config::{SECTION, Shutdown};
use crate::scenarios::{RunReport, WorkerError};

/// The claim a run of this mode checks.
pub fn claim(r: &RunReport) -> Claim {
    let a = &r.accounting;
    let put = a.tasks_put;
    let lost = a.lost();
    let n = r.workers.len();
    match r.mode {
        Shutdown::Pill => {
            let clean = r
                .workers
                .iter()
                .filter(|w| w.exit_code == 0 && w.stops_read == 1)
                .count();
            Claim::new(
                SECTION,
                "one sentinel per worker, behind the tasks on the same queue: no task is lost and every worker exits on its own",
                "the queue hands out every task ahead of the sentinels, so nothing is lost",
            )
            .measured(
                format!(
                    "{} of {put} task ids came back exactly once ({lost} lost, {} twice); {clean} of {n} workers read one Stop and exited with code 0",
                    put - lost - a.duplicated_ids.len() as u32,
                    a.duplicated_ids.len()
                ),
                lost as f64,
            )
            .holds(r.pill_ok())
        }
        Shutdown::Terminate => {
            let corrupted = r
                .workers
                .iter()
                .filter(|w| w.error == Some(WorkerError::QueueCorrupted))
                .count();
            Claim::new(
                SECTION,
                "terminate() loses the tasks the workers are in the middle of",
                "a forced terminate() drops whatever task a worker is running",
            )
            .measured(
                format!(
                    "SIGTERM once the task queue looked empty: {lost} of {put} tasks lost ({} in progress, {} still queued){}",
                    a.in_progress_ids.len(),
                    a.left_in_queue_ids.len(),
                    match corrupted {
                        0 => String::new(),
                        k => format!("; {k} worker(s) then found a queue corrupted by a killed one"),
                    }
                ),
                lost as f64,
            )
            // A run where no worker happened to hold a task shows nothing either way.
            .holds(if lost > 0 { Some(true) } else { None })
        }
        Shutdown::None => {
            let alive = r.join_wait.as_ref().map_or(0, |j| j.still_alive);
            let waited = r.join_wait.as_ref().map_or(0.0, |j| j.waited_ms);
            Claim::new(
                SECTION,
                "without a shutdown message, the workers never finish and join cannot return",
                "workers keep waiting for more work, so joining them never returns",
            )
            .measured(
                format!(
                    "all {} results back, yet after a {waited:.0} ms join wait {alive} of {n} workers were still running (cleaned up with SIGTERM)",
                    a.results_received
                ),
                alive as f64,
            )
            .holds(alive as usize == n)
        }
        Shutdown::SideChannel => Claim::new(
            SECTION,
            "a stop signal on a separate channel can overtake the last tasks on the queue",
            "a stop signal sent outside the queue can get there ahead of the final tasks",
        )
        .measured(
            format!(
                "stop flag set right after the last put: {lost} of {put} tasks never processed ({} left in the queue)",
                a.left_in_queue_ids.len()
            ),
            lost as f64,
        )
        .holds(if lost > 0 { Some(true) } else { None }),
    }
}

/// The `--json` document: one claim per run, the runs' figures, and the processes left.
pub fn json(runs: &[RunReport], children_left: Vec<u32>) -> serde_json::Result<String> {
    let out = JsonOut {
        krate: "poison-pill",
        section: SECTION,
        claims: runs.iter().map(claim).collect(),
        runs,
        children_left,
    };
    Ok(format!("{}\n", serde_json::to_string_pretty(&out)?))
}

/// The `--json` document's shape.
#[derive(Debug, Serialize)]
pub struct JsonOut<'a> {
    #[serde(rename = "crate")]
    pub krate: &'static str,
    pub section: &'static str,
    pub claims: Vec<Claim>,
    pub runs: &'a [RunReport],
    /// Processes whose parent is this binary, after every run (must be empty).
    pub children_left: Vec<u32>,
}
