//! The learner's commands, run as a real binary (with a deadline: a hung run is killed).

use std::process::{Command, Output};
use std::time::Duration;

use lab_support::cli_test::run_in_group;

fn run(args: &[&str]) -> Output {
    let cmd = &mut Command::new(env!("CARGO_BIN_EXE_coord-exercises"));
    let r = run_in_group(cmd.args(args), Duration::from_secs(60));
    Output {
        status: r.status,
        stdout: r.stdout.into_bytes(),
        stderr: r.stderr.into_bytes(),
    }
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn hint_prints_the_section_and_the_hint() {
    let out = run(&["hint", "1"]);
    assert!(out.status.success());
    let s = text(&out.stdout);
    assert!(s.contains("lecture section 1.1"), "{s}");
    assert!(s.contains("Job::Stop"), "{s}");
}

#[test]
fn a_bad_exercise_number_is_a_one_line_usage_error() {
    for bad in ["0", "6", "x"] {
        let out = run(&["check", bad]);
        assert_eq!(out.status.code(), Some(2), "check {bad}");
        let err = text(&out.stderr);
        assert!(err.starts_with("error:"), "{err}");
        assert!(!err.contains("panicked"), "{err}");
    }
}

#[test]
fn list_names_every_exercise_with_its_section() {
    let out = run(&["list"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let s = text(&out.stdout);
    assert!(s.contains("progress:"), "{s}");
    for (name, section) in [
        ("poison pill", "1.1"),
        ("lock-check-set", "2.1, 6.1"),
        ("cooperative early exit", "2.1"),
        ("choose the primitive", "3.1, 5.1"),
        ("check interval", "4.1"),
    ] {
        let line = s
            .lines()
            .find(|l| l.contains(name))
            .unwrap_or_else(|| panic!("{name} missing: {s}"));
        assert!(line.contains(section), "{line}");
        assert!(
            line.contains("done") || line.contains("not yet") || line.contains("edited"),
            "{line}"
        );
    }
}
