//! `--timeline`, `--timeline-svg` and `--class`, run as a student would, each with a deadline.
//! The timeline's lanes and event counts are checked against the same run's own figures (what
//! each worker wrote into shared memory) and against the SVG drawn from the same events.

use std::process::Command;
use std::time::Duration;

use lab_support::cli_test::{Ran, run_in_group};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_check-frequency");
const DEADLINE: Duration = Duration::from_secs(60);

fn run(args: &[&str], columns: &str, deadline: Duration) -> Ran {
    run_in_group(Command::new(BIN).args(args).env("COLUMNS", columns), deadline)
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn timeline_lanes_and_counts_match_the_runs_own_figures_and_the_svg() {
    let svg_path = std::env::temp_dir().join(format!("check-frequency-{}.svg", std::process::id()));
    let out = run(
        &[
            "--workers",
            "3",
            "--limit",
            "9000",
            "--raise-at",
            "4001",
            "--json",
        ]
        .into_iter()
        .chain(["--timeline-svg", svg_path.to_str().unwrap()])
        .collect::<Vec<_>>(),
        "100",
        DEADLINE,
    );
    assert!(out.status.success(), "stderr: {}", out.stderr);
    let svg = std::fs::read_to_string(&svg_path).expect("the SVG was written");
    let _ = std::fs::remove_file(&svg_path);
    let v: Value = serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout));
    let runs = v["timeline_runs"].as_array().unwrap();
    assert_eq!(runs.len(), 2, "count % 10, then i % 10");
    let drawn = timeline::svg::check(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    assert_eq!(drawn.names(), ["w0", "w1", "w2"], "the SVG names every lane");
    for (ri, r) in runs.iter().enumerate() {
        let lanes = r["timeline"].as_array().unwrap();
        let count = |lane: &Value, k: &str| lane["counts"][k].as_u64().unwrap_or(0);
        for (w, lane) in r["workers"].as_array().unwrap().iter().zip(lanes) {
            let name = lane["lane"].as_str().unwrap();
            assert_eq!(name, format!("w{}", u(&w["index"])));
            assert_eq!(u(&lane["overflow"]), 0, "{name}");
            let saw = w["saw_flag"].as_bool().unwrap() as u64;
            assert_eq!(count(lane, "saw_flag"), saw, "{name}: {r}");
            assert_eq!(count(lane, "read") + saw, u(&w["reads"]), "{name}: {r}");
            assert_eq!(count(lane, "counting"), 1, "{name}");
            assert_eq!(count(lane, "raised"), (name == "w0") as u64, "{name}");
            if ri == 0 {
                for k in ["read", "saw_flag", "raised", "counting"] {
                    assert_eq!(drawn.count(name, k) as u64, count(lane, k), "{name} {k}");
                }
            }
        }
        // w0 raised the flag itself just before number 4001 (iteration 3999), so it always sees
        // it at its next read: with `i % 10`, iteration 4000, the number 4002.
        let w0 = &r["workers"][0];
        assert_eq!(w0["saw_flag"], true, "{r}");
        if r["test"] == "i % 10 == 0" {
            assert_eq!(u(&w0["numbers_tested"]), 4001, "{r}");
            assert_eq!(u(&w0["reads"]), 401, "{r}");
        }
    }
}

#[test]
fn timeline_text_has_a_lane_per_worker_and_says_what_it_shows() {
    let out = run(&["--timeline", "--check", "lecture"], "90", DEADLINE);
    assert!(out.status.success(), "{}", out.stderr);
    let s = &out.stdout;
    assert!(!s.contains('\x1b'), "no colour into a pipe");
    for lane in ["w0      ", "w1      ", "w2      ", "w3      "] {
        assert!(s.lines().any(|l| l.starts_with(lane)), "no lane {lane:?}:\n{s}");
    }
    assert!(s.contains("legend:") && s.contains("count % 10 == 0"), "{s}");
    assert!(
        !s.contains("i % 10 == 0"),
        "--check lecture runs only the lecture's check: {s}"
    );
    // Fixed by the primes, not by the schedule: from 10,000 w0's next read is at 10,008.
    assert!(
        s.contains("w0 raised the flag (R) at number 10000 and saw it (S) at its next read, at number 10008"),
        "{s}"
    );
    let chart = s.lines().skip_while(|l| !l.starts_with("ms ")).take(6);
    assert!(chart.clone().all(|l| l.chars().count() <= 90), "{s}");
}

#[test]
fn class_mode_runs_end_to_end_with_stdin_closed() {
    // run_in_group closes stdin, so no pause may wait for Enter; past 20 s the run is killed.
    let out = run(&["--class"], "90", Duration::from_secs(20));
    assert!(out.status.success(), "{}\n{}", out.stdout, out.stderr);
    let s = &out.stdout;
    assert!(!s.contains('\x1b') && !s.contains("[Enter"), "{s}");
    let steps: Vec<&str> = s.split("\nStep ").skip(1).collect();
    assert_eq!(steps.len(), 3, "{s}");
    for step in &steps {
        let q = step.find("Question for the room: ").expect("a question");
        let chart = step.find("\nms ").expect("a timeline");
        let a = step.find("\nAnswer: ").expect("an answer");
        assert!(q < chart && chart < a, "question, timeline, answer: {step}");
        let lines = step.trim_end().lines().count();
        let lines = lines - if step.contains("Take away") { 2 } else { 0 };
        assert!(lines <= 25, "{lines} lines:\n{step}");
    }
    // The lecture's 20,000: the longest stretch without a read is 143 numbers, the corrected
    // check's 10; w0 goes 9 and 3 numbers past its own raise, in every run.
    assert!(
        steps[0].contains("up to 143 numbers between reads"),
        "{}",
        steps[0]
    );
    assert!(
        steps[0].contains("w0 after raising: 9, 9, 9 numbers"),
        "{}",
        steps[0]
    );
    assert!(
        steps[1].contains("up to 10 numbers between reads"),
        "{}",
        steps[1]
    );
    assert!(
        steps[1].contains("w0 after raising: 3, 3, 3 numbers"),
        "{}",
        steps[1]
    );
    assert!(steps[2].contains("waiting for a core"), "{}", steps[2]);
}

/// The SVG timelines the book shows (docs/capture.sh writes them): each must parse as SVG,
/// name every lane, and show w0 raising the flag and seeing it.
#[test]
fn the_books_timeline_svgs_are_valid_and_name_every_lane() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/src/timelines");
    for file in ["check_frequency.svg", "check_frequency_corrected.svg"] {
        let path = dir.join(file);
        let svg = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let c = timeline::svg::check(&svg).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(c.names(), ["w0", "w1", "w2", "w3"], "{file}");
        assert_eq!(c.count("w0", "raised"), 1, "{file}");
        assert_eq!(c.count("w0", "saw_flag"), 1, "{file}");
        assert!(c.count("w0", "read") > 0, "{file}");
    }
}

#[test]
fn timeline_options_fail_clearly_when_misused() {
    for (args, mention) in [
        (&["--check", "lecture"][..], "--timeline"),
        (&["--timeline", "--raise-at", "30000"][..], "--raise-at"),
        (&["--timeline", "--json"][..], "--json"),
        (&["--class", "--timeline"][..], "--class"),
    ] {
        let o = run(args, "80", DEADLINE);
        assert!(o.status.code().is_some_and(|c| c != 0), "{args:?} was accepted");
        assert!(
            o.stderr.contains("error") && o.stderr.contains(mention),
            "{args:?}: {}",
            o.stderr
        );
        assert!(
            !o.stderr.contains("panicked") && o.stdout.is_empty(),
            "{args:?}: {}",
            o.stdout
        );
    }
}
