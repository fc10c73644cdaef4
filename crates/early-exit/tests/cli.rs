//! The built binary: bad arguments give a one-line error and a non-zero exit, and `--json`
//! prints one object with the lecture's claims. Every run has a deadline and is killed on it.

use std::process::Command;
use std::time::Duration;

use lab_support::cli_test::run_in_group;

struct Output {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

fn run(args: &[&str], deadline: Duration) -> Output {
    let r = run_in_group(
        Command::new(env!("CARGO_BIN_EXE_early-exit")).args(args),
        deadline,
    );
    Output {
        code: r.status.code(),
        stdout: r.stdout,
        stderr: r.stderr,
    }
}

const SHORT: Duration = Duration::from_secs(30);

#[test]
fn zero_workers_is_a_usage_error() {
    let o = run(&["--workers", "0"], SHORT);
    assert_eq!(o.code, Some(2));
    assert!(o.stderr.contains("--workers"), "{}", o.stderr);
    assert!(o.stdout.is_empty());
}

#[test]
fn empty_range_is_a_usage_error() {
    let o = run(&["--range", "0"], SHORT);
    assert_eq!(o.code, Some(2));
    assert!(o.stderr.contains("--range"), "{}", o.stderr);
}

#[test]
fn non_numbers_are_usage_errors() {
    for args in [
        ["--needle", "abc"],
        ["--density", "x1"],
        ["--workers", "four"],
        ["--flag", "maybe"],
    ] {
        let o = run(&args, SHORT);
        assert_eq!(o.code, Some(2), "{args:?}");
        assert!(o.stderr.contains("invalid value"), "{args:?}: {}", o.stderr);
    }
}

#[test]
fn ranges_past_u64_are_a_one_line_error() {
    let o = run(&["--workers", "2", "--range", "18446744073709551615"], SHORT);
    assert_eq!(o.code, Some(1));
    assert!(
        o.stderr.starts_with("error: ") && o.stderr.contains("do not fit"),
        "{}",
        o.stderr
    );
    assert_eq!(o.stderr.trim().lines().count(), 1, "{}", o.stderr);
    assert!(!o.stderr.contains("panicked"));
}

#[test]
fn a_needle_outside_every_range_is_a_one_line_error() {
    // 2 workers x 1000 numbers cover 0..2000: 2000 is the first number no worker examines.
    for needle in ["2000", "18446744073709551615"] {
        let o = run(&["--workers", "2", "--range", "1000", "--needle", needle], SHORT);
        assert_eq!(o.code, Some(1), "--needle {needle}: {}", o.stderr);
        assert!(
            o.stderr.starts_with("error: ") && o.stderr.contains("outside every worker's range"),
            "{}",
            o.stderr
        );
        assert_eq!(o.stderr.trim().lines().count(), 1, "{}", o.stderr);
        assert!(o.stdout.is_empty(), "{}", o.stdout);
    }
    // The last number of the last range is accepted (and found).
    let o = run(
        &[
            "--workers",
            "2",
            "--range",
            "1000",
            "--needle",
            "1999",
            "--no-early-exit",
            "--quick",
        ],
        SHORT,
    );
    assert_eq!(o.code, Some(0), "stderr: {}", o.stderr);
}

#[test]
fn json_run_prints_one_object_with_claims() {
    let o = run(&["--json", "--quick"], Duration::from_secs(120));
    assert_eq!(o.code, Some(0), "stderr: {}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(o.stdout.trim()).expect("stdout is one JSON object");
    assert_eq!(v["crate"], "early-exit");
    let claims = v["claims"].as_array().expect("claims array");
    assert!(claims.len() >= 5, "{claims:?}");
    for c in claims {
        for key in ["section", "claim", "lecture", "measured"] {
            assert!(c[key].as_str().is_some_and(|s| !s.is_empty()), "{key} in {c}");
        }
        assert!(c["value"].is_number() || c["value"].is_null(), "{c}");
        assert!(c["holds"].is_boolean() || c["holds"].is_null(), "{c}");
    }
    let sections: Vec<&str> = claims.iter().filter_map(|c| c["section"].as_str()).collect();
    assert!(
        sections.contains(&"2.1") && sections.contains(&"Example 27.1"),
        "{sections:?}"
    );
    // The lock-check-set claim is decided by counts: it must hold in every run.
    let lcs = claims
        .iter()
        .find(|c| c["claim"].as_str().unwrap().contains("lock-check-set"))
        .expect("the lock-check-set claim");
    assert_eq!(lcs["holds"], true, "{lcs}");
    // Example 27.1: one result, a prime from its worker's range.
    let results = v["results"]["example"]["results"].as_array().unwrap();
    assert_eq!(results.len(), 1);
}

#[test]
fn section_flag_runs_only_that_section() {
    let o = run(&["--smallest"], SHORT);
    assert_eq!(o.code, Some(0), "stderr: {}", o.stderr);
    assert!(o.stdout.contains("First found is not smallest"));
    assert!(o.stdout.contains("(same)"), "{}", o.stdout);
    assert!(!o.stdout.contains("Example 27.1 as written"));
}

#[test]
fn class_mode_runs_to_the_end_with_stdin_closed() {
    let r = run_in_group(
        Command::new(env!("CARGO_BIN_EXE_early-exit"))
            .args(["--class", "--seed", "3"])
            .stdin(std::process::Stdio::null()),
        Duration::from_secs(60),
    );
    assert_eq!(r.status.code(), Some(0), "{}", r.stderr);
    let o = &r.stdout;
    assert_eq!(o.matches("Question for the room:").count(), 3, "{o}");
    assert_eq!(o.matches("Answer:").count(), 3, "{o}");
    assert!(!o.contains("[Enter to reveal]"), "no pause without a terminal");
    // The seed places the match: the same one the library computes, in the last range.
    let n = early_exit::class::needle(3, 4);
    assert!(o.contains(&format!("matches: {n},")), "{o}");
    assert!(
        o.contains(&format!("found item {n} and raised the flag (R)")),
        "{o}"
    );
    assert!(
        o.contains("LockCheckSet:    over 40 races: 1 winner(s) in 40 runs"),
        "{o}"
    );
    // Step 2 is exact: without early exit the others examine their whole ranges.
    assert!(
        o.contains("Answer: 300000 (every one of their 3 x 100000)"),
        "{o}"
    );
}
