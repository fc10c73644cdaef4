//! The built binary, run as a student would: every row printed, clear errors, no process left.
//! Each run has a deadline; on timeout its whole process group is killed and the test fails.

use std::process::Command;
use std::time::Duration;

use lab_support::cli_test::run_in_group;

const BIN: &str = env!("CARGO_BIN_EXE_check-frequency");
const DEADLINE: Duration = Duration::from_secs(240);

struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

/// Runs the binary with a deadline; fails if any process of its group outlives it.
fn run(args: &[&str]) -> Out {
    let r = run_in_group(Command::new(BIN).args(args), DEADLINE);
    Out {
        code: r.status.code(),
        stdout: r.stdout,
        stderr: r.stderr,
    }
}

#[test]
fn quick_run_prints_every_row() {
    let o = run(&["--quick"]);
    assert_eq!(o.code, Some(0), "stderr: {}", o.stderr);
    let s = &o.stdout;
    assert!(s.starts_with("Lecture 27, Concept 4.1 and Example 27.2"), "{s}");
    for check in [
        "count % 10 == 0",
        "count % 1000 == 0",
        "i % 10 == 0",
        "i % 1000 == 0",
        "every iteration",
        "no check",
    ] {
        let line = s
            .lines()
            .find(|l| l.contains(check))
            .unwrap_or_else(|| panic!("no row {check:?}\n{s}"));
        assert!(line.contains("2,262 x4"), "{line}");
    }
    let (tight, heavy) = s
        .split_once("the sweep with heavy work")
        .expect("a heavy section");
    assert!(tight.contains("the sweep with tight work"));
    for section in [tight, heavy] {
        for kind in ["locked", "atomic"] {
            for interval in ["1", "10", "100", "1,000", "10,000", "100,000", "never"] {
                let found = section.lines().any(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    f.len() > 2 && f[0] == kind && f[1] == interval
                });
                assert!(found, "no sweep row for {kind} / {interval}\n{section}");
            }
        }
        assert!(section.contains("throughput overhead against the never-check loop"));
        assert!(section.contains("stop latency (µs), log scale"));
    }
    for needle in ["Recommended interval", "K_min", "K_max", "What to notice"] {
        assert!(s.contains(needle), "missing {needle:?}");
    }
}

#[test]
fn json_carries_the_claims() {
    let o = run(&["--quick", "--json", "--work", "tight", "--intervals", "1,1000"]);
    assert_eq!(o.code, Some(0), "stderr: {}", o.stderr);
    let v: serde_json::Value = serde_json::from_str(&o.stdout).expect("one JSON object");
    assert_eq!(v["crate"], "check-frequency");
    let claims = v["claims"].as_array().expect("claims");
    assert!(claims.len() >= 5, "{claims:?}");
    for c in claims {
        assert_eq!(c["section"], "4.1");
        for key in ["claim", "lecture", "measured"] {
            assert!(c[key].as_str().is_some_and(|s| !s.is_empty()), "{c}");
        }
        assert!(c["holds"].is_boolean() || c["holds"].is_null());
    }
    assert_eq!(v["sweeps"][0]["rows"].as_array().unwrap().len(), 2 * 3);
}

#[test]
fn csv_has_one_row_per_cell() {
    let o = run(&[
        "--quick",
        "--csv",
        "--work",
        "heavy",
        "--heavy-iters",
        "4",
        "--intervals",
        "1,10",
    ]);
    assert_eq!(o.code, Some(0), "stderr: {}", o.stderr);
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert!(lines[0].starts_with("work,flag,interval,"), "{}", o.stdout);
    assert_eq!(lines.len(), 1 + 2 * 3, "{}", o.stdout);
    let cols = lines[0].split(',').count();
    assert!(lines.iter().all(|l| l.split(',').count() == cols));
    assert!(lines.iter().any(|l| l.starts_with("heavy,atomic,never,")));
}

#[test]
fn bad_values_fail_clearly() {
    let cases: [(&[&str], &str); 7] = [
        (&["--workers", "0"], "--workers"),
        (&["--intervals", "0"], "--intervals"),
        (&["--intervals", "10,x"], "--intervals"),
        (&["--budget-us", "abc"], "--budget-us"),
        (&["--work", "medium"], "--work"),
        (&["--limit", "2"], "--limit"),
        (&["--quick", "--full"], "--full"),
    ];
    for (args, mention) in cases {
        let o = run(args);
        assert_ne!(o.code, Some(0), "{args:?} was accepted");
        assert!(o.code.is_some(), "{args:?} died from a signal");
        assert!(o.stderr.contains("error"), "{args:?}: {}", o.stderr);
        assert!(o.stderr.contains(mention), "{args:?}: {}", o.stderr);
        assert!(!o.stderr.contains("panicked"), "{args:?}: {}", o.stderr);
        assert!(o.stdout.is_empty(), "{args:?} printed {}", o.stdout);
    }
}

#[test]
fn every_option_has_a_help_line() {
    let o = run(&["--help"]);
    assert_eq!(o.code, Some(0));
    for opt in [
        "--workers",
        "--limit",
        "--example-rounds",
        "--work",
        "--intervals",
        "--tight-iters",
        "--heavy-iters",
        "--rounds",
        "--budget-us",
        "--quick",
        "--full",
        "--json",
        "--csv",
        "--timeline",
        "--timeline-svg",
        "--check",
        "--raise-at",
        "--class",
    ] {
        let line = o
            .stdout
            .lines()
            .find(|l| l.trim_start().starts_with(opt))
            .unwrap_or_else(|| panic!("{opt}"));
        let help = o.stdout.split(line).nth(1).unwrap_or("");
        assert!(
            line.len() > opt.len() + 10 || !help.trim().is_empty(),
            "{opt} has no help: {line}"
        );
    }
}
