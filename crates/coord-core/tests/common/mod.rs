//! Helpers shared by the integration tests: deadlines and "no process left behind" checks.
#![allow(dead_code)]

use std::path::Path;
use std::time::{Duration, Instant};

use coord_core::{ExitStatus, Process};

/// The bound on every wait in these tests. Generous: a loaded 2-core machine is slow, and
/// the point of the bound is "never hang", not "be fast".
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Joins with the test deadline; a child still running then is a failed test, not a hang.
pub fn join(p: &Process) -> ExitStatus {
    match p.join_timeout(DEADLINE).expect("waitpid failed") {
        Some(st) => st,
        None => panic!("process {} still running after {DEADLINE:?}", p.pid()),
    }
}

/// Joins every process and asserts each one exited with code 0.
pub fn join_ok(procs: &[Process]) {
    for p in procs {
        let st = join(p);
        assert!(st.success(), "process {} ended badly: {st}", p.pid());
    }
}

/// A reaped child leaves no trace: not even a zombie entry under /proc.
pub fn assert_reaped(pid: u32) {
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "process {pid} is still in /proc (zombie or still running)"
    );
}

/// For a process that is not our child (a grandchild): it must stop running. Its zombie may
/// linger until whoever adopted it reaps it, which is not ours to control.
pub fn wait_not_alive(pid: u32) {
    let end = Instant::now() + DEADLINE;
    while coord_core::pid_alive(pid) {
        assert!(
            Instant::now() < end,
            "process {pid} still alive after {DEADLINE:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Spins (with short sleeps) until `cond` holds, failing the test at the deadline.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let end = Instant::now() + DEADLINE;
    while !cond() {
        assert!(Instant::now() < end, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The one-letter state of a process from /proc/<pid>/stat ('R', 'S', 'Z', ...).
pub fn proc_state(pid: u32) -> Option<char> {
    lab_support::procfs::stat(pid).map(|s| s.state)
}

/// What a child does while it waits to be killed: sleeps, in short naps, for at most the
/// test deadline (so even a test bug cannot leave it running for ever).
pub fn sleep_until_killed() {
    let end = Instant::now() + DEADLINE;
    while Instant::now() < end {
        std::thread::sleep(Duration::from_millis(10));
    }
}
