//! How the CLI tests (`tests/cli.rs` of each crate) run a built binary: as a student would,
//! with a deadline, and checking that no process of it is left behind.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How one run of the binary ended, and what it printed.
pub struct Ran {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `cmd` in its own process group, stdin closed, both pipes read on their own threads.
///
/// Nothing here waits for ever. Past `deadline` the whole group is killed and the test fails.
/// Once the binary has exited, its workers get a few seconds to die with it (they are killed
/// when their parent dies); anything of the group still running then is killed and fails the
/// test, so no surviving worker can hold a pipe open. The pipe readers are awaited with a bound
/// too, in case a process that left the group keeps a pipe open.
#[track_caller]
pub fn run_in_group(cmd: &mut Command, deadline: Duration) -> Ran {
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
pub fn group_members(pgid: i32) -> Vec<i32> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_both_streams_and_the_status() {
        let r = run_in_group(
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            Duration::from_secs(20),
        );
        assert_eq!(r.stdout, "out\n");
        assert_eq!(r.stderr, "err\n");
        assert_eq!(r.status.code(), Some(3));
    }

    #[test]
    #[should_panic(expected = "did not finish within")]
    fn an_overrunning_binary_is_killed_and_fails() {
        run_in_group(Command::new("sleep").arg("30"), Duration::from_millis(300));
    }

    #[test]
    #[should_panic(expected = "left processes behind")]
    fn a_process_left_behind_fails() {
        // The shell exits at once; its background sleeper stays in the group (and holds the pipes).
        run_in_group(
            Command::new("sh").args(["-c", "sleep 30 &"]),
            Duration::from_secs(20),
        );
    }
}
