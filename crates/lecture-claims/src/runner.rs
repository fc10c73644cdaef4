//! Running another program with a deadline: a child that overruns is killed, with everything
//! it started, and reported as timed out. Nothing here waits for ever.

use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid};
use nix::unistd::Pid;

/// What a run produced.
#[derive(Debug)]
pub struct RunOutput {
    /// `None` when the deadline passed and the child was killed.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

impl RunOutput {
    pub fn timed_out(&self) -> bool {
        self.status.is_none()
    }
    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }
    /// The last non-empty line of stderr: usually the program's `error: ...` line.
    pub fn last_error_line(&self) -> &str {
        self.stderr
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
            .trim()
    }
}

/// Runs `cmd` with stdin closed and stdout/stderr captured; kills it after `deadline`.
///
/// The child leads its own process group. When the child exits, or when the deadline passes,
/// the whole group is killed: a concept binary's workers and a Python script's
/// `multiprocessing` children go with it, so none of them can keep a pipe open and hold the
/// readers up. The readers are then awaited for at most [`PIPE_GRACE`] (a process that left
/// the group could still hold a pipe): what they had by then is returned.
pub fn run_with_deadline(mut cmd: Command, deadline: Duration) -> io::Result<RunOutput> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.process_group(0);
    // Its own group keeps the terminal's Ctrl-C from reaching the child directly, so the
    // child must die with us instead: the parent-death signal, set between fork and exec.
    // SAFETY: the closure runs in the forked child before exec and makes one prctl call,
    // which is async-signal-safe; it touches no lock or allocation of the parent.
    unsafe {
        cmd.pre_exec(|| nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(io::Error::from));
    }
    let start = Instant::now();
    let mut child = cmd.spawn()?;
    let (tx, rx) = mpsc::channel();
    drain(Stream::Out, child.stdout.take(), tx.clone());
    drain(Stream::Err, child.stderr.take(), tx);
    let exited = wait_until(&child, start + deadline)?;
    kill_group(&child);
    let status = child.wait()?; // reap the leader: it has exited, or SIGKILL ends it promptly
    let (stdout, stderr) = collect(&rx, Instant::now() + PIPE_GRACE);
    Ok(RunOutput {
        status: exited.then_some(status),
        stdout,
        stderr,
        elapsed: start.elapsed(),
    })
}

/// How long the pipe readers may still take once the child's group has been killed.
pub const PIPE_GRACE: Duration = Duration::from_secs(5);

/// Waits until the child exits (`Ok(true)`) or `deadline` passes (`Ok(false)`), without
/// reaping it: an exited child stays a zombie, so its pid, which is also its group's id,
/// cannot go to another process before [`kill_group`] signals that group.
fn wait_until(child: &Child, deadline: Instant) -> io::Result<bool> {
    let pid = Pid::from_raw(child.id() as i32);
    let flags = WaitPidFlag::WEXITED | WaitPidFlag::WNOHANG | WaitPidFlag::WNOWAIT;
    loop {
        match waitid(Id::Pid(pid), flags) {
            Ok(WaitStatus::StillAlive) => {}
            Ok(_) => return Ok(true),
            Err(e) => return Err(io::Error::from(e)),
        }
        if Instant::now() >= deadline {
            return Ok(false);
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// SIGKILL to everything in the child's process group (the child itself, alive or a zombie,
/// keeps the group's id reserved until it is reaped).
fn kill_group(child: &Child) {
    // Only the zombie leader may be left: then the signal reaches nobody, which is fine.
    let _ = killpg(Pid::from_raw(child.id() as i32), Signal::SIGKILL);
}

#[derive(Clone, Copy)]
enum Stream {
    Out,
    Err,
}

/// Reads a pipe on its own thread, so a chatty child never blocks on a full pipe; sends each
/// chunk as it comes, then `None` at end-of-file.
fn drain<R: Read + Send + 'static>(which: Stream, pipe: Option<R>, tx: Sender<(Stream, Option<Vec<u8>>)>) {
    thread::spawn(move || {
        if let Some(mut p) = pipe {
            let mut buf = [0u8; 8192];
            loop {
                match p.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => {
                        if tx.send((which, Some(buf[..n].to_vec()))).is_err() {
                            return;
                        }
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => break,
                }
            }
        }
        let _ = tx.send((which, None));
    });
}

/// Gathers both streams until both reach end-of-file or `until` passes.
fn collect(rx: &Receiver<(Stream, Option<Vec<u8>>)>, until: Instant) -> (String, String) {
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let mut open = 2;
    while open > 0 {
        let left = until.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((Stream::Out, Some(bytes))) => out.extend(bytes),
            Ok((Stream::Err, Some(bytes))) => err.extend(bytes),
            Ok((_, None)) => open -= 1,
            Err(_) => break,
        }
    }
    let text = |b: Vec<u8>| String::from_utf8_lossy(&b).into_owned();
    (text(out), text(err))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn captures_output_and_status() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo out; echo err >&2; exit 3"]);
        let r = run_with_deadline(cmd, Duration::from_secs(20)).unwrap();
        assert_eq!(r.stdout, "out\n");
        assert_eq!(r.last_error_line(), "err");
        assert_eq!(r.status.unwrap().code(), Some(3));
        assert!(!r.success());
    }

    /// Whether `pid` is gone, waiting up to 2 s: a killed orphan is reaped by init, not by us.
    fn gone(pid: u32) -> bool {
        (0..200).any(|_| {
            if !coord_core::pid_alive(pid) {
                return true;
            }
            thread::sleep(Duration::from_millis(10));
            false
        })
    }

    #[test]
    fn kills_an_overrunning_child_and_its_children() {
        // The shell starts a background sleeper that keeps stdout open: unless the whole
        // group is killed, reading stdout to the end would wait for the sleeper. The test needs
        // the shell to have printed the sleeper's pid before the deadline; on a very loaded
        // machine it may not have, so then it tries again with a longer deadline.
        for deadline_ms in [500, 2_000, 10_000, 60_000] {
            let mut cmd = Command::new("sh");
            cmd.args(["-c", "sleep 30 & echo $!; wait"]);
            let r = run_with_deadline(cmd, Duration::from_millis(deadline_ms)).unwrap();
            assert!(r.timed_out(), "the shell waits for a 30 s sleeper: {r:?}");
            let Ok(sleeper) = r.stdout.trim().parse::<u32>() else {
                assert_eq!(r.stdout, "", "only the sleeper's pid is printed");
                continue; // killed before it printed: no pid to check yet
            };
            assert!(gone(sleeper), "pid {sleeper} survived the timeout");
            return;
        }
        panic!("the shell never printed its sleeper's pid, even with a 60 s deadline");
    }

    #[test]
    fn a_child_that_exits_does_not_leave_its_children_holding_the_pipes() {
        // The shell exits at once, but its background sleeper holds stdout and stderr for
        // 10 minutes: the run must end when the shell does, with the sleeper killed. The run
        // happens on a thread so that, if it waited for the sleeper, this test fails (after 2
        // minutes) instead of hanging.
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            let mut cmd = Command::new("sh");
            cmd.args(["-c", "sleep 600 & echo $!"]);
            let _ = tx.send(run_with_deadline(cmd, Duration::from_secs(60)));
        });
        let r = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("run_with_deadline waited for the sleeper holding the pipes")
            .unwrap();
        assert!(!r.timed_out(), "{r:?}");
        assert!(r.success(), "{r:?}");
        let sleeper: u32 = r.stdout.trim().parse().expect("the sleeper's pid");
        assert!(gone(sleeper), "pid {sleeper} outlived the run");
    }
}
