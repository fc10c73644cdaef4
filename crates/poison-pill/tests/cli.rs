//! Runs the built `poison-pill` binary as a student would, each time with a deadline: the child
//! is killed if it overruns, so a hang fails the test instead of stalling the suite.

use std::process::Command;
use std::time::Duration;

use lab_support::cli_test::{Ran, run_in_group};

use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(60);

fn run_bin(args: &[&str]) -> Ran {
    run_in_group(
        Command::new(env!("CARGO_BIN_EXE_poison-pill")).args(args),
        DEADLINE,
    )
}

fn run_json(args: &[&str]) -> (Ran, Value) {
    let mut all = args.to_vec();
    all.push("--json");
    let out = run_bin(&all);
    let v: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}\nstderr: {}", out.stdout, out.stderr));
    (out, v)
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn ids(v: &Value) -> Vec<u64> {
    v.as_array().unwrap().iter().map(u).collect()
}

/// Common to every run: no process of the binary outlived it, and the losses add up.
fn check_run(run: &Value) {
    let a = &run["accounting"];
    let put = u(&a["tasks_put"]);
    let received = u(&a["results_received"]);
    let lost = ids(&a["lost_ids"]);
    let dup = ids(&a["duplicated_ids"]);
    let in_progress = ids(&a["in_progress_ids"]);
    let queued = ids(&a["left_in_queue_ids"]);
    assert!(dup.is_empty(), "a task came back twice: {dup:?}");
    assert_eq!(u(&a["wrong_values"]), 0);
    assert!(received <= put, "more results ({received}) than tasks ({put})");
    assert_eq!(
        lost.len() as u64,
        put - received,
        "lost must be put minus came back"
    );
    assert_eq!(lost.len(), in_progress.len() + queued.len());
    assert!(lost.iter().all(|&id| id < put));
    let done: u64 = run["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| u(&w["tasks_done"]))
        .sum();
    assert_eq!(done, received);
    assert_eq!(run["processes_left"].as_array().unwrap().len(), 0, "{run}");
    for w in run["workers"].as_array().unwrap() {
        let pid = u(&w["pid"]) as u32;
        assert!(
            !coord_core::pid_alive(pid),
            "worker pid {pid} still alive after the binary exited"
        );
    }
}

fn single_run(v: &Value) -> &Value {
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!(
        v["children_left"].as_array().unwrap().len(),
        0,
        "children left: {v}"
    );
    &runs[0]
}

#[test]
fn pill_processes_every_task_exactly_once_and_exits_0() {
    let (out, v) = run_json(&[
        "--shutdown",
        "pill",
        "--workers",
        "3",
        "--tasks",
        "60",
        "--task-us",
        "200",
    ]);
    assert!(out.status.success(), "stderr: {}", out.stderr);
    assert_eq!(v["crate"], "poison-pill");
    let r = single_run(&v);
    assert_eq!(r["mode"], "pill");
    check_run(r);
    let a = &r["accounting"];
    assert_eq!(u(&a["results_received"]), 60);
    assert!(ids(&a["lost_ids"]).is_empty());
    assert_eq!(u(&a["stops_put"]), 3);
    assert_eq!(u(&a["stops_left"]), 0);
    let workers = r["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 3);
    for w in workers {
        assert_eq!(w["exit_code"], 0, "{w}");
        assert_eq!(u(&w["stops_read"]), 1, "{w}");
    }
    let claims = v["claims"].as_array().unwrap();
    assert_eq!(claims.len(), 1);
    assert_eq!(claims[0]["section"], "1.1");
    assert_eq!(claims[0]["holds"], true);
    assert_eq!(claims[0]["value"], 0.0);
}

#[test]
fn terminate_reports_losses_that_match_its_accounting() {
    let (out, v) = run_json(&[
        "--shutdown",
        "terminate",
        "--workers",
        "3",
        "--tasks",
        "60",
        "--task-us",
        "500",
    ]);
    assert!(out.status.success(), "stderr: {}", out.stderr);
    let r = single_run(&v);
    assert_eq!(r["mode"], "terminate");
    check_run(r);
    for w in r["workers"].as_array().unwrap() {
        // SIGTERM ends every worker, unless (rarely) its own put failed first because another
        // worker was killed in the middle of writing to the result queue.
        let corrupted = w["exit_code"] == 1 && w["error"] == "queue-corrupted";
        assert!(
            w["exit_code"] == -15 || corrupted,
            "terminate() ends every worker: {w}"
        );
    }
    let lost = ids(&r["accounting"]["lost_ids"]).len() as f64;
    assert_eq!(v["claims"][0]["value"], lost);
}

#[test]
fn side_channel_reports_losses_that_match_its_accounting() {
    let (out, v) = run_json(&[
        "--shutdown",
        "side-channel",
        "--workers",
        "3",
        "--tasks",
        "80",
        "--task-us",
        "200",
    ]);
    assert!(out.status.success(), "stderr: {}", out.stderr);
    let r = single_run(&v);
    assert_eq!(r["mode"], "side-channel");
    check_run(r);
    let a = &r["accounting"];
    assert!(
        ids(&a["in_progress_ids"]).is_empty(),
        "a side-channel worker never drops a task it holds"
    );
    for w in r["workers"].as_array().unwrap() {
        assert_eq!(w["exit_code"], 0, "{w}");
    }
    let lost = ids(&a["lost_ids"]).len();
    let claim = &v["claims"][0];
    assert_eq!(claim["value"], lost as f64);
    assert_eq!(
        claim["holds"],
        if lost > 0 { Value::Bool(true) } else { Value::Null }
    );
}

#[test]
fn side_channel_says_when_a_run_lost_nothing_and_when_it_lost_tasks() {
    let out = run_bin(&["--shutdown", "side-channel", "--workers", "2", "--tasks", "40"]);
    assert!(out.status.success(), "stderr: {}", out.stderr);
    let lost_some = out.stdout.contains("LOST");
    let lucky = out.stdout.contains("this time nothing, by luck");
    assert!(
        lost_some != lucky,
        "exactly one verdict expected:\n{}",
        out.stdout
    );
}

#[test]
fn none_returns_within_its_bound_and_cleans_up() {
    let (out, v) = run_json(&[
        "--shutdown",
        "none",
        "--workers",
        "2",
        "--tasks",
        "20",
        "--task-us",
        "100",
        "--join-wait-ms",
        "200",
    ]);
    assert!(out.status.success(), "stderr: {}", out.stderr);
    let r = single_run(&v);
    assert_eq!(r["mode"], "none");
    check_run(r);
    assert_eq!(
        u(&r["join_wait"]["still_alive"]),
        2,
        "without a Stop no worker can leave"
    );
    assert!(
        ids(&r["accounting"]["lost_ids"]).is_empty(),
        "the work itself completes"
    );
    for w in r["workers"].as_array().unwrap() {
        assert_eq!(w["exit_code"], -15, "cleanup terminate(): {w}");
    }
    assert_eq!(v["claims"][0]["holds"], true);
}

#[test]
fn default_run_shows_the_pill_then_every_contrast() {
    let out = run_bin(&[]);
    assert!(out.status.success(), "stderr: {}", out.stderr);
    let s = &out.stdout;
    assert!(s.starts_with("Lecture 27, Concept 1.1"), "{s}");
    assert!(s.contains("every task id 0..=199 came back exactly once"), "{s}");
    assert!(s.contains("What to notice"), "{s}");
    for mode in ["pill ", "terminate ", "none ", "side-channel "] {
        assert!(
            s.lines().any(|l| l.trim_start().starts_with(mode)),
            "no {mode}row:\n{s}"
        );
    }
    assert!(s.contains("Processes left after all 4 runs: none."), "{s}");
    assert!(s.contains("--shutdown terminate"), "{s}");
}

#[test]
fn all_modes_in_json_give_one_claim_each() {
    let (out, v) = run_json(&[
        "--shutdown",
        "all",
        "--workers",
        "2",
        "--tasks",
        "30",
        "--task-us",
        "200",
        "--join-wait-ms",
        "100",
    ]);
    assert!(out.status.success(), "stderr: {}", out.stderr);
    let runs = v["runs"].as_array().unwrap();
    let modes: Vec<&str> = runs.iter().map(|r| r["mode"].as_str().unwrap()).collect();
    assert_eq!(modes, ["pill", "terminate", "none", "side-channel"]);
    runs.iter().for_each(check_run);
    let claims = v["claims"].as_array().unwrap();
    assert_eq!(claims.len(), 4);
    for c in claims {
        assert_eq!(c["section"], "1.1");
        for key in ["claim", "lecture", "measured"] {
            assert!(!c[key].as_str().unwrap().is_empty(), "{c}");
        }
    }
    assert_eq!(claims[0]["holds"], true);
    assert_eq!(claims[2]["holds"], true);
    assert_eq!(v["children_left"].as_array().unwrap().len(), 0);
}

#[test]
fn quick_json_runs_every_mode() {
    let (out, v) = run_json(&["--quick"]);
    assert!(out.status.success(), "stderr: {}", out.stderr);
    let runs = v["runs"].as_array().unwrap();
    assert_eq!(runs.len(), 4);
    assert_eq!(u(&runs[0]["accounting"]["tasks_put"]), 80);
    runs.iter().for_each(check_run);
    assert_eq!(v["claims"][0]["holds"], true);
}

#[test]
fn bad_arguments_fail_with_a_clear_message() {
    for (args, phrase) in [
        (&["--workers", "0"][..], "--workers"),
        (&["--tasks", "0"][..], "--tasks"),
        (&["--workers", "four"][..], "invalid value 'four'"),
        (&["--task-us", "-5"][..], "--task-us"),
        (&["--workers", "-1"][..], "--workers"),
        (&["--tasks", "100001"][..], "--tasks"),
        (&["--shutdown", "later"][..], "invalid value 'later'"),
        (&["--join-wait-ms", "0"][..], "--join-wait-ms"),
        (&["--quick", "--tasks", "10"][..], "cannot be used with"),
    ] {
        let out = run_bin(args);
        assert!(!out.status.success(), "{args:?} should fail");
        assert_ne!(out.status.code(), Some(101), "{args:?} panicked: {}", out.stderr);
        assert!(
            out.stderr.contains(phrase),
            "{args:?}: stderr lacks {phrase:?}:\n{}",
            out.stderr
        );
        assert!(
            out.stdout.is_empty(),
            "{args:?} printed to stdout: {}",
            out.stdout
        );
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
}

/// A file name of this test run's own in the temp directory.
fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("poison-pill-{}-{name}", std::process::id()))
}

/// One run, three views of it: the report's accounting (from the result queue), the report's
/// per-lane event counts (from the shared-memory event log), and the SVG drawn from that log.
/// They must agree lane by lane.
fn timeline_matches_report(mode: &str, task_us: &str) -> Value {
    let svg_path = temp_path(&format!("{mode}.svg"));
    let (out, v) = run_json(&[
        "--shutdown",
        mode,
        "--workers",
        "3",
        "--tasks",
        "40",
        "--task-us",
        task_us,
        "--timeline-svg",
        svg_path.to_str().unwrap(),
    ]);
    let svg = std::fs::read_to_string(&svg_path).expect("the SVG was written");
    let _ = std::fs::remove_file(&svg_path);
    assert!(out.status.success(), "stderr: {}", out.stderr);
    let r = single_run(&v).clone();
    check_run(&r);
    let drawn = timeline::svg::check(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    let lanes = r["timeline"].as_array().unwrap();
    let names: Vec<&str> = lanes.iter().map(|l| l["lane"].as_str().unwrap()).collect();
    assert_eq!(names, ["parent", "w0", "w1", "w2"]);
    assert_eq!(drawn.names(), names, "the SVG names every lane");
    let count = |lane: &Value, k: &str| lane["counts"][k].as_u64().unwrap_or(0);
    for (w, lane) in r["workers"].as_array().unwrap().iter().zip(&lanes[1..]) {
        let name = lane["lane"].as_str().unwrap();
        assert_eq!(name, format!("w{}", u(&w["index"])));
        assert_eq!(u(&lane["overflow"]), 0);
        assert_eq!(count(lane, "done"), u(&w["tasks_done"]), "{name}: {r}");
        assert_eq!(count(lane, "stop_read"), u(&w["stops_read"]), "{name}");
        assert_eq!(count(lane, "start"), 1, "{name}");
        assert_eq!(drawn.count(name, "task") as u64, count(lane, "task"), "{name}");
        assert_eq!(drawn.count(name, "stop_read") as u64, count(lane, "stop_read"));
        assert_eq!(drawn.count(name, "flag_seen") as u64, count(lane, "flag_seen"));
    }
    r
}

#[test]
fn pill_timeline_lanes_and_counts_match_the_runs_own_report() {
    let r = timeline_matches_report("pill", "200");
    for lane in &r["timeline"].as_array().unwrap()[1..] {
        assert_eq!(lane["counts"]["stop_read"], 1, "{lane}");
        assert_eq!(lane["counts"]["exit"], 1, "{lane}");
    }
    assert_eq!(r["timeline"][0]["counts"]["stops_put"], 1);
}

#[test]
fn side_channel_timeline_shows_each_worker_seeing_the_flag() {
    // 40 tasks of 20 ms for 3 workers: the flag, set right after the last put, cannot find the
    // queue empty.
    let r = timeline_matches_report("side-channel", "20000");
    assert!(
        !r["accounting"]["left_in_queue_ids"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    for lane in &r["timeline"].as_array().unwrap()[1..] {
        assert_eq!(lane["counts"]["flag_seen"], 1, "{lane}");
    }
}

#[test]
fn timeline_text_has_a_lane_per_process_and_says_what_it_shows() {
    let out = run_in_group(
        Command::new(env!("CARGO_BIN_EXE_poison-pill"))
            .args([
                "--shutdown",
                "pill",
                "--workers",
                "4",
                "--tasks",
                "40",
                "--task-us",
                "200",
                "--timeline",
            ])
            .env("COLUMNS", "80"),
        DEADLINE,
    );
    assert!(out.status.success(), "{}", out.stderr);
    let s = &out.stdout;
    assert!(!s.contains('\x1b'), "no colour into a pipe");
    for lane in ["parent  ", "w0      ", "w1      ", "w2      ", "w3      "] {
        assert!(s.lines().any(|l| l.starts_with(lane)), "no lane {lane:?}:\n{s}");
    }
    assert!(s.contains("legend:"), "{s}");
    assert!(
        s.contains("in 4 of 4 lanes the Stop (P) was read after the lane's last task"),
        "{s}"
    );
    // The chart rows fit the 80 columns asked for.
    let chart = s.lines().skip_while(|l| !l.starts_with("ms ")).take(7);
    assert!(
        chart.clone().count() == 7 && chart.clone().all(|l| l.chars().count() <= 80),
        "{s}"
    );
    for row in s
        .lines()
        .filter(|l| l.starts_with('w') && l.contains('='))
        .take(4)
    {
        // The lane's exit (x) may fall a column later; the Stop must follow the last task.
        let stop = row.rfind('P').unwrap_or_else(|| panic!("no Stop in {row:?}"));
        assert!(row.rfind('=') < Some(stop), "a task after the Stop: {row:?}");
    }
}

#[test]
fn class_mode_runs_end_to_end_with_stdin_closed() {
    // run_in_group closes stdin, so no pause may wait for Enter; past 20 s it kills the run
    // and fails the test.
    let out = run_in_group(
        Command::new(env!("CARGO_BIN_EXE_poison-pill"))
            .args(["--class", "--seed", "7"])
            .env("COLUMNS", "90"),
        Duration::from_secs(20),
    );
    assert!(out.status.success(), "{}\n{}", out.stdout, out.stderr);
    let s = &out.stdout;
    assert!(!s.contains('\x1b') && !s.contains("[Enter"), "{s}");
    assert!(s.contains("--seed 7 always gives these sizes"), "{s}");
    // Three steps, each: a question, then the timeline, then the answer; at most 25 lines.
    let steps: Vec<&str> = s.split("\nStep ").skip(1).collect();
    assert_eq!(steps.len(), 3, "{s}");
    for (step, shows) in steps.iter().zip(["P", "F", "K"]) {
        let q = step.find("Question for the room: ").expect("a question");
        let chart = step.find("\nms ").expect("a timeline");
        let a = step.find("\nAnswer: ").expect("an answer");
        assert!(q < chart && chart < a, "question, timeline, answer: {step}");
        let lines = step.trim_end().lines().count();
        let lines = lines - if step.contains("Take away") { 3 } else { 0 };
        assert!(lines <= 25, "{lines} lines:\n{step}");
        assert!(
            step.lines().any(|l| l.starts_with("w0 ") && l.contains(shows)),
            "{step}"
        );
    }
    assert!(
        steps[0].contains("Answer: 0 of 24 lost, in every one of 5 runs"),
        "{s}"
    );
}

/// The SVG timelines the book shows (docs/capture.sh writes them): each must parse as SVG and
/// name every lane; the pill's shows one Stop read in every worker lane, the side channel's
/// the flag seen in every worker lane.
#[test]
fn the_books_timeline_svgs_are_valid_and_name_every_lane() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/src/timelines");
    for (file, each_worker) in [
        ("poison_pill.svg", "stop_read"),
        ("poison_pill_side_channel.svg", "flag_seen"),
    ] {
        let path = dir.join(file);
        let svg = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let c = timeline::svg::check(&svg).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(c.names(), ["parent", "w0", "w1", "w2", "w3"], "{file}");
        for w in &c.names()[1..] {
            assert_eq!(c.count(w, each_worker), 1, "{file}: lane {w}");
        }
    }
}
