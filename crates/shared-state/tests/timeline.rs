//! `--timeline`, `--timeline-svg` and `--class`, run as a student runs them, with a deadline.
//! One run, three views of it: the bottleneck row's own figures (the workers' counts, the
//! manager's calls), the per-lane event counts from the shared-memory log, and the SVG.

use std::process::Command;
use std::time::Duration;

use lab_support::cli_test::run_in_group;
use serde_json::Value;

const DEADLINE: Duration = Duration::from_secs(120);

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_shared-state"))
}

fn u(v: &Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not a count: {v}"))
}

#[test]
fn timeline_lanes_and_counts_match_the_runs_own_report() {
    let svg_path = std::env::temp_dir().join(format!("shared-state-{}.svg", std::process::id()));
    // 3 workers of 300 requests: `every` is 8, and 300 is not a multiple of it, so a probe
    // that noted every request, or a fixed number of them, would not match.
    let out = run_in_group(
        bin()
            .args(["--quick", "--json", "--workers", "3", "--iterations", "300"])
            .args(["--timeline-svg", svg_path.to_str().unwrap()]),
        DEADLINE,
    );
    let svg = std::fs::read_to_string(&svg_path).expect("the SVG was written");
    let _ = std::fs::remove_file(&svg_path);
    assert!(out.status.success(), "stderr: {}", out.stderr);
    let v: Value = serde_json::from_str(out.stdout.trim()).expect("one JSON object");
    let t = &v["timeline"];
    let every = u(&t["every"]);
    assert_eq!(every, 8, "{t}");
    // The run drawn: the first run of (a) with several workers.
    let row = v["bottleneck"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["method"] == "manager_add" && u(&r["workers"]) == 3)
        .expect("row (a) with 3 workers");
    let run = &row["runs"][0];
    let lanes = t["lanes"].as_array().unwrap();
    let names: Vec<&str> = lanes.iter().map(|l| l["lane"].as_str().unwrap()).collect();
    assert_eq!(names, ["manager", "w0", "w1", "w2"]);
    let drawn = timeline::svg::check(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    assert_eq!(drawn.names(), names, "the SVG names every lane");
    let count = |lane: &Value, k: &str| lane["counts"][k].as_u64().unwrap_or(0);
    // The manager's lane: one span, carrying the calls its own stats counted in the run.
    assert_eq!(count(&lanes[0], "serving"), 1);
    assert_eq!(count(&lanes[0], "served"), 1);
    assert_eq!(u(&t["manager_calls"]), u(&run["manager"]["calls"]));
    assert_eq!(u(&t["manager_calls"]), 900, "3 workers x 300 adds, each one call");
    for (i, lane) in lanes[1..].iter().enumerate() {
        let name = names[i + 1];
        let done = u(&run["done_per_worker"][i]);
        assert_eq!(done, 300);
        assert_eq!(u(&lane["overflow"]), 0, "{name}");
        assert_eq!(count(lane, "run"), 1, "{name}");
        assert_eq!(count(lane, "run_done"), 1, "{name}");
        assert_eq!(count(lane, "answered"), done / every, "{name}: {lane}");
        assert_eq!(
            drawn.count(name, "answered") as u64,
            count(lane, "answered"),
            "{name}"
        );
        assert_eq!(drawn.count(name, "run") as u64, 1, "{name}");
    }
}

#[test]
fn timeline_text_has_a_lane_per_process_and_says_what_it_shows() {
    let out = run_in_group(
        bin().args(["--quick", "--timeline"]).env("COLUMNS", "80"),
        DEADLINE,
    );
    assert!(out.status.success(), "{}", out.stderr);
    let s = &out.stdout;
    assert!(!s.contains('\x1b'), "no colour into a pipe");
    let chart: Vec<&str> = s.lines().skip_while(|l| !l.starts_with("ms ")).take(7).collect();
    for (row, lane) in chart[2..].iter().zip(["manager ", "w0 ", "w1 ", "w2 ", "w3 "]) {
        assert!(row.starts_with(lane), "no lane {lane:?}:\n{s}");
        assert!(row.chars().count() <= 80, "{row:?}");
    }
    // 200 requests per worker, one A per 5: 40 in each worker row unless two share a column.
    for row in &chart[3..] {
        assert!(row.contains('A') && row.contains('='), "{row:?}");
    }
    assert!(s.contains("legend:") && s.contains("served 800 requests"), "{s}");
    assert!(
        s.contains("one A = 5 requests answered; only 1 in 5 is drawn"),
        "{s}"
    );
    assert!(s.contains("comes from its own stats"), "{s}");
    // The tables are still there, unchanged around the timeline.
    assert!(s.contains("5.1") && s.contains("3.1"), "{s}");
}

#[test]
fn class_mode_runs_end_to_end_with_stdin_closed() {
    // run_in_group closes stdin, so no pause may wait for Enter; past 20 s it kills the run
    // and fails the test.
    let out = run_in_group(
        bin().args(["--class"]).env("COLUMNS", "90"),
        Duration::from_secs(20),
    );
    assert!(out.status.success(), "{}\n{}", out.stdout, out.stderr);
    let s = &out.stdout;
    assert!(!s.contains('\x1b') && !s.contains("[Enter"), "{s}");
    let steps: Vec<&str> = s.split("\nStep ").skip(1).collect();
    assert_eq!(steps.len(), 3, "{s}");
    for step in &steps {
        let q = step.find("Question for the room: ").expect("a question");
        let a = step.find("\nAnswer: ").expect("an answer");
        assert!(q < a, "question, then answer: {step}");
        assert!(step.contains("timing-dependent"), "{step}");
        let lines = step.trim_end().lines().count();
        let lines = lines - if step.contains("Take away") { 3 } else { 0 };
        assert!(lines <= 25, "{lines} lines:\n{step}");
    }
    // Step 2 draws its first run: question, timeline, answer; 4 workers x 1,000 requests.
    let (q, chart, a) = (
        steps[1].find("Question").unwrap(),
        steps[1].find("\nms ").expect("a timeline"),
        steps[1].find("\nAnswer").unwrap(),
    );
    assert!(q < chart && chart < a, "{}", steps[1]);
    assert!(steps[1].contains("served 4000 requests"), "{}", steps[1]);
    for w in ["w0", "w1", "w2", "w3"] {
        let row = steps[1].lines().find(|l| l.starts_with(w)).unwrap();
        assert!(row.contains('A'), "{row}");
    }
}

/// The SVG the book shows (docs/capture.sh writes it) parses and names every lane.
#[test]
fn the_books_timeline_svg_is_valid_and_names_every_lane() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/src/timelines/shared_state.svg");
    let svg = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let c = timeline::svg::check(&svg).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(c.names(), ["manager", "w0", "w1", "w2", "w3"]);
    for w in &c.names()[1..] {
        assert!(c.count(w, "answered") > 0, "lane {w}");
        assert_eq!(c.count(w, "run"), 1, "lane {w}");
    }
}
