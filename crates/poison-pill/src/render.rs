//! The human-readable output: plain text built from [`RunReport`]s, so the binary stays thin.

use std::fmt::Write;

use crate::config::{Config, SECTION, Shutdown};
use crate::scenarios::RunReport;

/// The first lines: the lecture section, and a note when this is an unoptimized-checks build.
pub fn header() -> String {
    let mut s =
        format!("Lecture 27, Concept {SECTION}: the poison-pill shutdown pattern, with real processes\n");
    s.push_str(lab_support::RUST_FIGURES);
    s.push('\n');
    if let Some(note) = lab_support::dev_build_note("poison-pill") {
        s.push_str(&note);
        s.push('\n');
    }
    s
}

/// `0..=3, 7, 9..=12`: sorted ids as ranges, at most `max` pieces.
pub fn id_ranges(ids: &[u32], max: usize) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut i = 0;
    while i < ids.len() {
        let mut j = i;
        while j + 1 < ids.len() && ids[j + 1] == ids[j] + 1 {
            j += 1;
        }
        parts.push(match j - i {
            0 => ids[i].to_string(),
            1 => format!("{}, {}", ids[i], ids[j]),
            _ => format!("{}..={}", ids[i], ids[j]),
        });
        i = j + 1;
    }
    if parts.len() > max {
        let more = parts.len() - max;
        parts.truncate(max);
        parts.push(format!("... ({more} more groups)"));
    }
    parts.join(", ")
}

fn ms(v: f64) -> String {
    if v >= 1000.0 {
        format!("{:.2} s", v / 1000.0)
    } else {
        format!("{v:.1} ms")
    }
}

fn setup_line(c: &Config) -> String {
    format!(
        "    {} worker processes take tasks from one queue and put results on a second queue.\n    \
         The parent puts {} tasks ({} µs of CPU work each)",
        c.workers, c.tasks, c.task_us
    )
}

/// The full report of one run: what the mode does, the per-worker table, the accounting.
pub fn details(r: &RunReport) -> String {
    let c = &r.config;
    let a = &r.accounting;
    let mut s = String::new();
    let _ = match r.mode {
        Shutdown::Pill => writeln!(
            s,
            "{SECTION} --shutdown pill: one Stop message per worker, through the task queue\n{},\n    \
             then {} Stop messages, one per worker, on the same queue behind the last task.",
            setup_line(c),
            c.workers
        ),
        Shutdown::Terminate => writeln!(
            s,
            "{SECTION} --shutdown terminate: what goes wrong without the pill (1)\n{}.\n    \
             No Stop message: the parent calls terminate() (SIGTERM) on every worker as soon as\n    \
             the task queue looks empty ({} after the last put).",
            setup_line(c),
            ms(r.terminate_after_ms.unwrap_or(0.0))
        ),
        Shutdown::None => writeln!(
            s,
            "{SECTION} --shutdown none: what goes wrong without the pill (2)\n{}.\n    \
             No Stop message, no terminate: the parent collects the results, then joins the workers,\n    \
             waiting at most {} ms.",
            setup_line(c),
            c.join_wait_ms
        ),
        Shutdown::SideChannel => writeln!(
            s,
            "{SECTION} --shutdown side-channel: what goes wrong without the pill (3)\n{}.\n    \
             The stop signal is a shared flag (RawValue<bool>), set right after the last put; each\n    \
             worker looks at it before every get.",
            setup_line(c)
        ),
    };
    s.push('\n');
    let status_w = r
        .workers
        .iter()
        .map(|w| w.exit_status.len())
        .max()
        .unwrap_or(0)
        .max(11);
    // Only the pill mode sends Stop messages; elsewhere the column would be all zeros.
    let pill = r.mode == Shutdown::Pill;
    let _ = writeln!(
        s,
        "    worker  pid       tasks done  {}{:<status_w$}  ended because",
        if pill { "Stops read  " } else { "" },
        "exit status"
    );
    for w in &r.workers {
        let stops = if pill {
            format!("{:>10}  ", w.stops_read)
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "    w{:<5}  {:<8}  {:>10}  {stops}{:<status_w$}  {}",
            w.index, w.pid, w.tasks_done, w.exit_status, w.ended_by
        );
    }
    s.push('\n');
    let row = |s: &mut String, k: &str, v: String| {
        let _ = writeln!(s, "    {k:<17}  {v}");
    };
    row(
        &mut s,
        "results received",
        format!("{} of {}", a.results_received, a.tasks_put),
    );
    if let Some(j) = &r.join_wait {
        row(
            &mut s,
            "join",
            format!(
                "gave up after {}: {} of {} workers still running, blocked in get() waiting for work",
                ms(j.waited_ms),
                j.still_alive,
                r.workers.len()
            ),
        );
        let sigterm = r.workers.iter().filter(|w| w.exit_code == -15).count();
        row(
            &mut s,
            "cleanup",
            format!(
                "terminate() on each: {sigterm} of {} ended by SIGTERM",
                r.workers.len()
            ),
        );
    }
    row(
        &mut s,
        "elapsed",
        format!("{} (first fork to last join)", ms(r.elapsed_ms)),
    );
    if a.exactly_once() {
        row(
            &mut s,
            "accounting",
            format!(
                "every task id 0..={} came back exactly once, with the right answer",
                a.tasks_put - 1
            ),
        );
    } else {
        let mut v = format!("LOST {} of {}", a.lost(), a.tasks_put);
        if !a.lost_ids.is_empty() {
            let _ = write!(v, ": ids {}", id_ranges(&a.lost_ids, 8));
        }
        if !a.duplicated_ids.is_empty() {
            let _ = write!(v, "; came back twice: {}", id_ranges(&a.duplicated_ids, 8));
        }
        if a.wrong_values > 0 {
            let _ = write!(v, "; {} wrong answers", a.wrong_values);
        }
        row(&mut s, "accounting", v);
        let held: Vec<String> = a
            .in_progress_by_worker
            .iter()
            .map(|(w, id)| format!("w{w} held {id}"))
            .collect();
        let unnoted = a.in_progress_ids.len() - a.in_progress_by_worker.len();
        let mut ip = format!("{} taken by a worker and never finished", a.in_progress_ids.len());
        if !held.is_empty() {
            let _ = write!(ip, " ({})", held.join(", "));
        }
        if unnoted > 0 {
            let _ = write!(
                ip,
                "; {unnoted} of them taken off the queue just before the kill, not yet noted"
            );
        }
        row(&mut s, "  in progress", ip);
        row(
            &mut s,
            "  still queued",
            format!(
                "{} never taken (the parent drained them from the queue afterwards)",
                a.left_in_queue_ids.len()
            ),
        );
    }
    if a.stops_put > 0 || r.mode == Shutdown::Pill {
        let readers = r.workers.iter().filter(|w| w.stops_read == 1).count();
        row(
            &mut s,
            "Stop messages",
            format!(
                "{} put, {} read ({} workers read exactly one), {} left in the queue",
                a.stops_put,
                r.workers.iter().map(|w| w.stops_read).sum::<u32>(),
                readers,
                a.stops_left
            ),
        );
    }
    if r.processes_left.is_empty() {
        row(
            &mut s,
            "processes left",
            format!("none: all {} worker pids are gone, no zombie", r.workers.len()),
        );
    } else {
        row(
            &mut s,
            "processes left",
            format!("STILL THERE: {:?}", r.processes_left),
        );
    }
    for n in &r.notes {
        row(&mut s, "note", n.clone());
    }
    s.push('\n');
    s.push_str(&notice(r));
    s
}

/// The closing "what to notice" of one run.
pub fn notice(r: &RunReport) -> String {
    let a = &r.accounting;
    match r.mode {
        Shutdown::Pill if r.pill_ok() => format!(
            "What to notice: the workers never poll a flag or take a lock to learn that the work is over.\n\
             The Stop messages wait in the queue behind the tasks, so a worker reaches one only after every\n\
             task has been taken; {} Stops stop exactly {} workers, each of which exits on its own.\n",
            a.stops_put,
            r.workers.len()
        ),
        Shutdown::Pill => {
            "What to notice: this pill run did NOT account for every task exactly once; that is a bug.\n"
                .into()
        }
        Shutdown::Terminate if a.lost() > 0 => format!(
            "What went wrong: the queue was empty, but the work was not done. {} task(s) were in the workers'\n\
             hands and died with them; nothing tells the parent which, except bookkeeping like this run's.\n",
            a.lost()
        ),
        Shutdown::Terminate => {
            "What went wrong: this time nothing, by luck: no worker held a task when SIGTERM arrived.\n\
             Nothing guarantees that; run it again, or raise --task-us.\n"
                .into()
        }
        Shutdown::None => format!(
            "What went wrong: every task was done, yet {} worker(s) would have waited for ever; a long-running\n\
             program that forgets them leaks processes. Here the parent had to step in with terminate().\n",
            r.join_wait.as_ref().map_or(0, |j| j.still_alive)
        ),
        Shutdown::SideChannel if a.lost() > 0 => format!(
            "What went wrong: the flag does not wait in line. Set right after the last put, it reached the\n\
             workers while {} task(s) were still queued, and they stopped with that work undone.\n",
            a.left_in_queue_ids.len()
        ),
        Shutdown::SideChannel => {
            "What went wrong: this time nothing, by luck: the workers emptied the queue before they looked\n\
             at the flag. The order is still not guaranteed; run it again, or raise --tasks or --task-us.\n"
                .into()
        }
    }
}

/// One line per mode, side by side.
pub fn contrast_table(runs: &[RunReport]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{SECTION} The same pool and tasks, stopped each way ({} workers, {} tasks of {} µs):\n",
        runs[0].config.workers, runs[0].config.tasks, runs[0].config.task_us
    );
    let mut rows = vec![[
        "--shutdown".to_string(),
        "how the workers were told to stop".to_string(),
        "tasks lost".to_string(),
        "how the workers ended".to_string(),
        "elapsed".to_string(),
    ]];
    for r in runs {
        let n = r.workers.len();
        let (how, ended) = match r.mode {
            Shutdown::Pill => (
                "one Stop per worker, after the tasks".to_string(),
                format!(
                    "{} of {n} returned",
                    r.workers.iter().filter(|w| w.exit_code == 0).count()
                ),
            ),
            Shutdown::Terminate => (
                "terminate() when the queue looked empty".to_string(),
                format!(
                    "{} of {n} killed",
                    r.workers.iter().filter(|w| w.exit_code < 0).count()
                ),
            ),
            Shutdown::None => (
                format!("nothing; join gave up after {} ms", r.config.join_wait_ms),
                format!(
                    "{} of {n} stuck, then killed",
                    r.join_wait.as_ref().map_or(0, |j| j.still_alive)
                ),
            ),
            Shutdown::SideChannel => (
                "shared flag, set after the last put".to_string(),
                format!(
                    "{} of {n} returned",
                    r.workers.iter().filter(|w| w.exit_code == 0).count()
                ),
            ),
        };
        rows.push([
            r.mode.name().to_string(),
            how,
            format!("{}/{}", r.accounting.lost(), r.accounting.tasks_put),
            ended,
            ms(r.elapsed_ms),
        ]);
    }
    let width = |c: usize| rows.iter().map(|row| row[c].chars().count()).max().unwrap_or(0);
    let w: Vec<usize> = (0..5).map(width).collect();
    for row in &rows {
        let _ = writeln!(
            s,
            "    {:<w0$}  {:<w1$}  {:>w2$}  {:<w3$}  {:>w4$}",
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            w0 = w[0],
            w1 = w[1],
            w2 = w[2],
            w3 = w[3],
            w4 = w[4]
        );
    }
    // The verdict comes from this run's figures, not from a script.
    let clean: Vec<&str> = runs
        .iter()
        .filter(|r| r.accounting.exactly_once() && r.workers.iter().all(|w| w.exit_code == 0))
        .map(|r| r.mode.name())
        .collect();
    let left: usize = runs.iter().map(|r| r.processes_left.len()).sum();
    let _ = writeln!(
        s,
        "\n    Processes left after all {} runs: {}.",
        runs.len(),
        if left == 0 {
            "none".to_string()
        } else {
            left.to_string()
        }
    );
    let _ = write!(
        s,
        "\nWhat to notice: the way that lost no task AND let every worker return on its own: {}.",
        if clean.is_empty() {
            "none of them".to_string()
        } else {
            clean.join(", ")
        }
    );
    if clean == ["pill"] {
        s.push_str(
            "\nOnly a stop signal that travels in the same queue as the work is sure to come after the work.",
        );
    }
    s.push('\n');
    s
}

/// Everything after the detailed runs: the side-by-side table (when there is more than one
/// run), the processes left behind if any, and what to try next.
pub fn footer(runs: &[RunReport], children_left: &[u32], last: Option<Shutdown>) -> String {
    let mut s = String::new();
    if runs.len() > 1 {
        let _ = write!(s, "\n{}", contrast_table(runs));
    }
    if !children_left.is_empty() {
        let _ = write!(
            s,
            "\nPROCESSES LEFT BEHIND (children of this program): {children_left:?}\n"
        );
    }
    let _ = write!(s, "\n{}", next_hint(last));
    s
}

/// The closing line: where to look next.
pub fn next_hint(last: Option<Shutdown>) -> String {
    let next = match last {
        Option::None | Some(Shutdown::Pill) => "--shutdown terminate   (then none, side-channel, or all)",
        Some(Shutdown::Terminate) => "--shutdown none   (or side-channel, all)",
        Some(Shutdown::None) => "--shutdown side-channel   (or all)",
        Some(Shutdown::SideChannel) => "--shutdown all   (every mode in detail, side by side)",
    };
    format!("Try: cargo run -p poison-pill -- {next}; --help lists every knob.\n")
}

pub use timeline::class::emit;
