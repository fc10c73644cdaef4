//! The built binary: bad arguments give a one-line error and a non-zero exit, and `--json`
//! prints one object with the lecture's claims. Every run has a deadline and is killed on it.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

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

// ---- Running the binary: the same helper in every crate's tests/cli.rs (separate packages). ----

/// How one run of the binary ended, and what it printed.
struct Ran {
    status: std::process::ExitStatus,
    stdout: String,
    stderr: String,
}

/// Runs `cmd` in its own process group, stdin closed, both pipes read on their own threads.
///
/// Nothing here waits for ever. Past `deadline` the whole group is killed and the test fails.
/// Once the binary has exited, its workers get a few seconds to die with it (they are killed
/// when their parent dies); anything of the group still running then is killed and fails the
/// test, so no surviving worker can hold a pipe open. The pipe readers are awaited with a bound
/// too, in case a process that left the group keeps a pipe open.
fn run_in_group(cmd: &mut Command, deadline: Duration) -> Ran {
    use nix::sys::signal::{Signal, killpg};
    use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
    use std::os::unix::process::CommandExt;
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("start {cmd:?}: {e}"));
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    let (tx, rx) = std::sync::mpsc::channel();
    let pipes: [Box<dyn Read + Send>; 2] = [
        Box::new(child.stdout.take().unwrap()),
        Box::new(child.stderr.take().unwrap()),
    ];
    for (i, mut pipe) in pipes.into_iter().enumerate() {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = pipe.read_to_end(&mut buf);
            let _ = tx.send((i, String::from_utf8_lossy(&buf).into_owned()));
        });
    }
    // WNOWAIT leaves an exited binary unreaped (a zombie), so its pid, which is also the
    // group's id, cannot be given to another process before the `killpg` below.
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    let exited = || !matches!(waitid(Id::Pid(pid), flags), Ok(WaitStatus::StillAlive));
    let end = Instant::now() + deadline;
    while !exited() && Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    let finished = exited();
    let grace = Instant::now() + Duration::from_secs(5);
    let mut left = group_members(pid.as_raw());
    while finished && !left.is_empty() && Instant::now() < grace {
        std::thread::sleep(Duration::from_millis(20));
        left = group_members(pid.as_raw());
    }
    let _ = killpg(pid, Signal::SIGKILL);
    let status = child.wait().expect("reap the binary");
    assert!(finished, "{cmd:?} did not finish within {deadline:?}: killed");
    assert!(
        left.is_empty(),
        "{cmd:?} left processes behind (now killed): {left:?}"
    );
    let mut out = [String::new(), String::new()];
    for _ in 0..2 {
        let (i, s) = rx
            .recv_timeout(Duration::from_secs(10))
            .expect("a process outside the binary's group kept its stdout or stderr open");
        out[i] = s;
    }
    let [stdout, stderr] = out;
    Ran {
        status,
        stdout,
        stderr,
    }
}

/// Live (not zombie) processes whose process group is `pgid`, from /proc.
fn group_members(pgid: i32) -> Vec<i32> {
    let mut found = vec![];
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // After the ")" that closes the command name: state, ppid, pgrp, ...
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map_or("", |(_, r)| r)
            .split_whitespace()
            .collect();
        if fields.len() > 2 && fields[2] == pgid.to_string() && !matches!(fields[0], "Z" | "X") {
            found.push(pid);
        }
    }
    found
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
