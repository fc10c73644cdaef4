//! Running a contract: the whole scenario in its own process, every wait bounded, nothing
//! left behind.
//!
//! The learner's code never runs in the calling process. [`run_scenario`] forks one
//! *scenario* process that builds the shared objects, forks the workers (which run the code
//! under test) and judges what happened; it sends its verdict back over a queue. A panic
//! anywhere (a `todo!()`) becomes a failure with the panic's message; a hang is stopped at a
//! deadline and reported; afterwards every process the scenario started is checked to be gone.

use std::fmt;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::time::{Duration, Instant};

use coord_core::{Error, ExitStatus, Process, Queue, RawArray, RawValue};
use serde::{Deserialize, Serialize};

/// What a passing run showed: one line per fact, for the learner's summary.
#[derive(Serialize, Deserialize, Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    pub facts: Vec<String>,
}

/// Why a run failed, in one or two sentences a learner can act on.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// The outcome of a contract run.
pub type Verdict = Result<Report, Failure>;

/// A failure with this message.
pub fn fail<T>(message: impl Into<String>) -> Result<T, Failure> {
    Err(Failure {
        message: message.into(),
    })
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure {
            message: format!("the checker itself hit an error: {e}"),
        }
    }
}

/// How a contract runs.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Send the processes' stderr to /dev/null (a panic's message still reaches the verdict).
    pub quiet: bool,
    /// How long any single wait inside the scenario may last (a deadlock detector only: a
    /// correct solution never comes close).
    pub wait: Duration,
    /// The whole scenario's deadline.
    pub deadline: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            quiet: true,
            wait: Duration::from_secs(5),
            deadline: Duration::from_secs(60),
        }
    }
}

/// What the scenario's body gets: its options and a way to start tracked processes.
pub struct Scene {
    pub opts: Options,
    pids: RawArray<i32>,
    next: RawValue<u32>,
    errors: Queue<(usize, String)>,
}

/// At most this many processes per scenario are tracked (and checked to be gone).
const MAX_TRACKED: usize = 256;

impl Scene {
    /// Starts a process running `f` and remembers its pid.
    pub fn start<F, R>(&self, f: F) -> Result<Process, Failure>
    where
        F: FnOnce() -> R,
        R: coord_core::ChildResult,
    {
        let p = Process::start(f)?;
        self.track(p.pid());
        Ok(p)
    }

    /// Remembers a pid started some other way (the manager's server).
    pub fn track(&self, pid: u32) {
        let i = self.next.fetch_add(1) as usize;
        let _ = self.pids.set(i.min(MAX_TRACKED - 1), pid as i32);
    }

    /// Passes `r` through; an error is also sent to the scenario, so the learner sees its text
    /// (a worker's stderr may be silenced).
    pub fn note<T>(&self, worker: usize, r: Result<T, Error>) -> Result<T, Error> {
        if let Err(e) = &r {
            let _ = self.errors.put(&(worker, e.to_string()));
        }
        r
    }

    /// `Ok` if every worker exited with code 0; else what happened to the first one that did
    /// not, in words (`statuses[i]` is worker `i`'s, `None` = killed at the deadline).
    pub fn exits_ok(&self, prefix: &str, statuses: &[Option<ExitStatus>]) -> Result<(), Failure> {
        let mut errors = std::collections::BTreeMap::new();
        while let Ok((i, e)) = self.errors.try_get() {
            errors.entry(i).or_insert(e);
        }
        for (i, status) in statuses.iter().enumerate() {
            let who = format!("{prefix}worker {i}");
            let why = match status {
                Some(ExitStatus::Exited(0)) => continue,
                Some(ExitStatus::Panicked(m)) => format!("{who} panicked: {m}"),
                Some(ExitStatus::Exited(c)) => match errors.get(&i) {
                    Some(e) => format!("{who} returned an error: {e}"),
                    None => format!("{who} exited with code {c}"),
                },
                Some(ExitStatus::Signaled(s)) => format!("{who} was killed by {s}"),
                None => format!(
                    "{who} was still running {} s later and had to be killed (waiting for something that never came?)",
                    self.opts.wait.as_secs()
                ),
            };
            return fail(why);
        }
        Ok(())
    }

    /// Like [`exits_ok`](Scene::exits_ok), but only for panics of the code under test: a worker
    /// the instruments stopped (its message ends with `kit::STOPPED`) is judged by its counts.
    pub fn own_panics_ok(&self, prefix: &str, statuses: &[Option<ExitStatus>]) -> Result<(), Failure> {
        let own = |s: &Option<ExitStatus>| matches!(s, Some(ExitStatus::Panicked(m)) if !m.contains(coord_exercises_kit::STOPPED));
        if statuses.iter().any(own) {
            let only: Vec<Option<ExitStatus>> = statuses
                .iter()
                .map(|s| {
                    if own(s) {
                        s.clone()
                    } else {
                        Some(ExitStatus::Exited(0))
                    }
                })
                .collect();
            return self.exits_ok(prefix, &only);
        }
        Ok(())
    }

    /// Joins every process within `opts.wait` in all; the ones still running then are killed
    /// and come back as `None`.
    pub fn join_all(&self, procs: &[Process]) -> Result<Vec<Option<ExitStatus>>, Failure> {
        Ok(coord_core::join_all(procs, self.opts.wait)?)
    }
}

/// Runs `body` in its own process and returns its verdict (see the module doc).
pub fn run_scenario<F>(opts: &Options, body: F) -> Verdict
where
    F: FnOnce(&Scene) -> Verdict,
{
    let scene = Scene {
        opts: *opts,
        pids: RawArray::new(MAX_TRACKED, 0)?,
        next: RawValue::new(0)?,
        errors: Queue::new()?,
    };
    let out: Queue<Verdict> = Queue::new()?;
    let devnull = File::options()
        .write(true)
        .open("/dev/null")
        .map_err(|e| Failure {
            message: format!("cannot open /dev/null: {e}"),
        })?;
    let quiet = opts.quiet;
    let child = Process::start(|| -> Result<(), Error> {
        if quiet {
            // SAFETY: both descriptors are open in this process (devnull was opened before the
            // fork); dup2 only makes fd 2 another name for /dev/null.
            unsafe { libc::dup2(devnull.as_raw_fd(), 2) };
        }
        let verdict = body(&scene);
        out.put(&verdict)
    })?;
    drop(devnull);

    let started = Instant::now();
    let verdict = loop {
        match out.get_timeout(Duration::from_millis(20)) {
            Ok(v) => break v,
            // Disconnected: the scenario process has exited; its status says why, below.
            Err(Error::Timeout) | Err(Error::Disconnected) => {}
            Err(e) => break fail(format!("the checker could not read the verdict: {e}")),
        }
        if let Some(status) = child.exit_status() {
            // Its last put, if any, finished before it exited.
            break match out.try_get() {
                Ok(v) => v,
                Err(_) => fail(died(&status)),
            };
        }
        if started.elapsed() >= opts.deadline {
            let _ = child.kill();
            break fail(format!(
                "the exercise did not finish within {} s and was stopped (a deadlock, or a loop that never ends?)",
                opts.deadline.as_secs()
            ));
        }
    };
    if child.join_timeout(opts.wait)?.is_none() {
        child.kill()?;
        child.join()?;
    }
    verdict.and_then(|r| leftovers(&scene).map(|()| r))
}

fn died(status: &ExitStatus) -> String {
    match status {
        ExitStatus::Panicked(m) => format!("your code panicked: {m}"),
        other => format!("the scenario process {other} before giving a verdict"),
    }
}

/// Every process the scenario started must be gone (waits a moment for the kernel to deliver
/// the parent-death signal to a worker whose scenario process was killed).
fn leftovers(scene: &Scene) -> Result<(), Failure> {
    let n = (scene.next.get() as usize).min(MAX_TRACKED);
    let pids: Vec<i32> = (0..n)
        .filter_map(|i| scene.pids.get(i).ok())
        .filter(|&p| p > 0)
        .collect();
    let deadline = Instant::now() + Duration::from_secs(2);
    loop {
        let alive: Vec<i32> = pids
            .iter()
            .copied()
            .filter(|&p| coord_core::pid_alive(p as u32))
            .collect();
        if alive.is_empty() {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return fail(format!("processes left running after the exercise: {alive:?}"));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A start barrier: `n` processes arrive, none leaves before all have arrived.
pub struct Barrier {
    n: u32,
    arrived: RawValue<u32>,
}

impl Barrier {
    pub fn new(n: usize) -> Result<Barrier, Failure> {
        Ok(Barrier {
            n: n as u32,
            arrived: RawValue::new(0)?,
        })
    }

    /// Arrive and wait for the others (yielding the CPU); gives up after `patience`.
    pub fn wait(&self, patience: Duration) {
        self.arrived.fetch_add(1);
        let deadline = Instant::now() + patience;
        while self.arrived.get() < self.n && Instant::now() < deadline {
            std::thread::yield_now();
        }
    }
}

/// The scheduler state of a process (`R` running, `S` sleeping, `Z` zombie...), from
/// `/proc/<pid>/stat`; `None` if it is gone.
pub fn proc_state(pid: u32) -> Option<char> {
    lab_support::procfs::stat(pid).map(|s| s.state)
}

/// Whether a sleeping process waits with no deadline: blocked in `read`, in `poll`/`ppoll`
/// without a timeout, or in a futex wait without a timeout (a blocked `get()` does one of
/// these; a `get_timeout()` or a `sleep` does not). Read from `/proc/<pid>/syscall`, which a
/// parent may read for its children; `false` whenever it cannot tell.
pub fn waits_without_deadline(pid: u32) -> bool {
    let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/syscall")) else {
        return false;
    };
    let f: Vec<u64> = text
        .split_whitespace()
        .map(|w| {
            u64::from_str_radix(
                w.trim_start_matches("0x"),
                if w.starts_with("0x") { 16 } else { 10 },
            )
            .unwrap_or(1)
        })
        .collect();
    if f.len() < 7 || !cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        return false;
    }
    match f[0] {
        0 => true,              // read
        7 => (f[3] as i32) < 0, // poll(fds, n, timeout_ms)
        271 => f[3] == 0,       // ppoll(fds, n, timespec, ...)
        270 => f[5] == 0,       // pselect6(n, r, w, e, timespec, ...)
        202 => f[4] == 0,       // futex(addr, op, val, timeout)
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick() -> Options {
        Options {
            quiet: true,
            wait: Duration::from_secs(2),
            deadline: Duration::from_secs(1),
        }
    }

    #[test]
    fn a_passing_body_passes_its_report_through() {
        let v = run_scenario(&quick(), |_| {
            Ok(Report {
                facts: vec!["seen".into()],
            })
        });
        assert_eq!(v.unwrap().facts, vec!["seen".to_string()]);
    }

    #[test]
    fn a_panic_in_the_scenario_becomes_a_failure_with_its_message() {
        let v = run_scenario(&quick(), |_| -> Verdict {
            panic!("not yet implemented: the thing")
        });
        let f = v.unwrap_err();
        assert!(
            f.message
                .starts_with("your code panicked: not yet implemented: the thing"),
            "{f}"
        );
    }

    #[test]
    fn a_hung_scenario_is_stopped_at_its_deadline() {
        let v = run_scenario(&quick(), |_| -> Verdict {
            loop {
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        assert!(v.unwrap_err().message.contains("did not finish within 1 s"));
    }

    #[test]
    fn a_worker_killed_at_the_deadline_is_reported_and_gone() {
        let v = run_scenario(
            &Options {
                wait: Duration::from_secs(1),
                deadline: Duration::from_secs(20),
                quiet: true,
            },
            |scene| {
                let p = scene.start(|| -> i32 {
                    loop {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                })?;
                let statuses = scene.join_all(std::slice::from_ref(&p))?;
                scene.exits_ok("", &statuses)?;
                Ok(Report::default())
            },
        );
        assert!(
            v.unwrap_err()
                .message
                .contains("worker 0 was still running 1 s later")
        );
    }

    #[test]
    fn a_process_left_running_fails_the_verdict() {
        // A process the scenario did not start and cannot kill: the check must notice it.
        let outsider = Process::start(|| std::thread::sleep(Duration::from_secs(10))).unwrap();
        let v = run_scenario(&quick(), |scene| {
            scene.track(outsider.pid());
            Ok(Report::default())
        });
        outsider.kill().unwrap();
        assert!(outsider.join_timeout(Duration::from_secs(5)).unwrap().is_some());
        let f = v.unwrap_err();
        assert!(
            f.message.contains("left running") && f.message.contains(&outsider.pid().to_string()),
            "{f}"
        );
    }
}
