//! The built binary, run as a student runs it, each time with a deadline.

use std::process::Command;
use std::time::Duration;

use lab_support::cli_test::run_in_group;

use coord_core::pid_alive;

struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the binary; kills it and fails the test if it is still running at the deadline.
fn run(args: &[&str], deadline: Duration) -> Output {
    let r = run_in_group(
        Command::new(env!("CARGO_BIN_EXE_shared-state")).args(args),
        deadline,
    );
    Output {
        code: r.status.code(),
        stdout: r.stdout,
        stderr: r.stderr,
    }
}

const DEADLINE: Duration = Duration::from_secs(120);

#[test]
fn quick_run_exits_zero_and_prints_every_row() {
    let o = run(&["--quick"], DEADLINE);
    assert_eq!(o.code, Some(0), "stderr: {}", o.stderr);
    let s = &o.stdout;
    assert!(s.starts_with("Lecture 27, concepts 3.1 and 5.1"), "{s}");
    let flat = s.split_whitespace().collect::<Vec<_>>().join(" ");
    for row in [
        "manager value, read",
        "manager value, write",
        "manager list, append",
        "manager list, index read",
        "manager dict, set key",
        "manager dict, get key",
        "synchronized Value, read",
        "synchronized Value, write",
        "RawValue (atomic), read",
        "RawValue (atomic), write",
        "synchronized Array element, read",
        "synchronized Array element, write",
        "RawArray element (atomic), read",
        "RawArray element (atomic), write",
        "local variable, read",
        "local variable, write",
        "claim 3.1: a manager access costs far more than a Value access, \"1,000x or more\"",
        "claim 5.1: shared memory is faster per access than a manager object, \"100 to 1,000 times faster\"",
        "\"80% of wall-clock time in the manager\"",
        "\"single-threaded in effect\"",
        "\"needs manual lock discipline\"",
        "\"always safe\"",
        "this machine:",
        "(a) manager add, one round trip each",
        "(b) synchronized Value, lock held across +1",
        "(c) atomic fetch_add on a RawValue",
        "(d) local count, merged once at the end",
        "RawValue get then set, no lock",
        "Value get then set, lock not held across",
        "manager get then set, two round trips",
        "stored 8 of 10, then: error: index 8 is out of bounds",
        "manager list: len() = 10",
        "What to notice",
    ] {
        // Long lines are word-wrapped: compare with every run of whitespace as one space.
        assert!(flat.contains(row), "missing {row:?} in:\n{s}");
    }
    // The correctness table has a row for the manager's add, exact by design.
    assert!(
        s.lines()
            .any(|l| l.trim_start().starts_with("manager add, one round trip each")
                && l.contains("(exact by design)")),
        "{s}"
    );
    // Each exact method reports "yes" in the bottleneck table.
    for letter in ["(a)", "(b)", "(c)", "(d)"] {
        let line = s
            .lines()
            .find(|l| l.trim_start().starts_with(letter) && l.contains(" 4 "))
            .unwrap_or_else(|| panic!("no 4-worker row for {letter}"));
        assert!(line.trim_end().ends_with(" yes"), "{letter} not exact: {line}");
    }
    assert!(!o.stderr.contains("panicked"), "{}", o.stderr);
}

#[test]
fn json_has_the_claims_and_leaves_no_process_behind() {
    let o = run(&["--quick", "--json"], DEADLINE);
    assert_eq!(o.code, Some(0), "stderr: {}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(o.stdout.trim()).expect("one JSON object");
    assert_eq!(v["crate"], "shared-state");
    let claims = v["claims"].as_array().expect("claims array");
    for section in ["3.1", "5.1"] {
        assert!(
            claims.iter().any(|c| c["section"] == section),
            "no claim for section {section}"
        );
    }
    for c in claims {
        for key in ["section", "claim", "lecture", "measured", "value", "holds"] {
            assert!(c.get(key).is_some(), "claim without {key}: {c}");
        }
        assert!(c["holds"].is_boolean() || c["holds"].is_null());
    }
    assert_eq!(v["latency"]["rows"].as_array().unwrap().len(), 16);
    for row in v["bottleneck"].as_array().unwrap() {
        for run in row["runs"].as_array().unwrap() {
            assert_eq!(run["final_count"], run["expected"], "{run}");
        }
    }

    // Every worker and manager the run started has gone.
    let mut pids = Vec::new();
    for run in v["bottleneck"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["runs"].as_array().unwrap())
    {
        pids.extend(
            run["worker_pids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p.as_u64().unwrap()),
        );
        pids.extend(run["manager_pid"].as_u64());
    }
    for row in v["lost_updates"].as_array().unwrap() {
        for key in ["worker_pids", "manager_pids"] {
            pids.extend(row[key].as_array().unwrap().iter().map(|p| p.as_u64().unwrap()));
        }
    }
    pids.extend(v["fixed_capacity"]["manager_pid"].as_u64());
    pids.extend(v["latency"]["manager_pid"].as_u64());
    assert!(pids.len() > 40, "expected many pids, got {}", pids.len());
    for pid in pids {
        assert!(!pid_alive(pid as u32), "process {pid} outlived the binary");
    }
}

#[test]
fn bad_values_give_a_clear_error_and_exit_2() {
    for args in [
        &["--iterations", "0"][..],
        &["--iterations", "many"],
        &["--workers", "1"],
        &["--reps", "0"],
        &["--runs", "-3"],
        &["--no-such-option"],
    ] {
        let o = run(args, Duration::from_secs(30));
        assert_eq!(o.code, Some(2), "{args:?}: {}", o.stderr);
        assert!(o.stderr.starts_with("error:"), "{args:?}: {}", o.stderr);
        assert!(!o.stderr.contains("panicked"), "{args:?}: {}", o.stderr);
        assert!(o.stdout.is_empty(), "{args:?} printed: {}", o.stdout);
    }
}

#[test]
fn help_describes_every_option() {
    let o = run(&["--help"], Duration::from_secs(30));
    assert_eq!(o.code, Some(0));
    for opt in [
        "--quick",
        "--iterations",
        "--reps",
        "--workers",
        "--runs",
        "--json",
        "--timeline",
        "--timeline-svg",
        "--class",
    ] {
        let line = o
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(opt))
            .unwrap_or_else(|| panic!("{opt} not in --help:\n{}", o.stdout));
        assert!(line.len() > opt.len() + 10, "{opt} has no description: {line}");
    }
}
