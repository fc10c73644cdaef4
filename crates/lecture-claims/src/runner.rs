//! Running another program with a deadline: a child that overruns is killed, with everything
//! it started, and reported as timed out. Nothing here waits for ever.

use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
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
/// The child leads its own process group, so on timeout the whole group is killed: a
/// concept binary's workers and a Python script's `multiprocessing` children go with it.
pub fn run_with_deadline(mut cmd: Command, deadline: Duration) -> io::Result<RunOutput> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd.process_group(0);
    let start = Instant::now();
    let mut child = cmd.spawn()?;
    let out = drain(child.stdout.take());
    let err = drain(child.stderr.take());
    let status = wait_until(&mut child, start + deadline)?;
    if status.is_none() {
        kill_group(&mut child)?;
    }
    Ok(RunOutput {
        status,
        stdout: out.join().unwrap_or_default(),
        stderr: err.join().unwrap_or_default(),
        elapsed: start.elapsed(),
    })
}

/// Waits until the child exits or `deadline` passes (`Ok(None)`).
fn wait_until(child: &mut Child, deadline: Instant) -> io::Result<Option<ExitStatus>> {
    loop {
        if let Some(st) = child.try_wait()? {
            return Ok(Some(st));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        thread::sleep(Duration::from_millis(10));
    }
}

fn kill_group(child: &mut Child) -> io::Result<()> {
    let pgid = Pid::from_raw(child.id() as i32);
    // The group may already be empty if everything exited since the last check.
    let _ = killpg(pgid, Signal::SIGKILL);
    child.wait()?; // reap the leader; SIGKILL cannot be ignored, so this returns promptly
    Ok(())
}

/// Reads a pipe to the end on its own thread, so a chatty child never blocks on a full pipe.
fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(mut p) = pipe {
            let _ = p.read_to_end(&mut buf);
        }
        String::from_utf8_lossy(&buf).into_owned()
    })
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

    #[test]
    fn kills_an_overrunning_child_and_its_children() {
        // The shell starts a background sleeper that keeps stdout open: unless the whole
        // group is killed, reading stdout to the end would wait for the sleeper.
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "sleep 30 & echo $!; wait"]);
        let r = run_with_deadline(cmd, Duration::from_millis(300)).unwrap();
        assert!(r.timed_out());
        assert!(r.elapsed < Duration::from_secs(20), "took {:?}", r.elapsed);
        let sleeper: i32 = r.stdout.trim().parse().expect("the sleeper's pid");
        // Killed and, its parent shell being gone, reaped by init: give it a moment.
        let gone = (0..200).any(|_| {
            thread::sleep(Duration::from_millis(10));
            !coord_core::pid_alive(sleeper as u32)
        });
        assert!(gone, "pid {sleeper} survived the timeout");
    }
}
