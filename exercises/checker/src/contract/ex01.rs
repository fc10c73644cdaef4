//! Contract of exercise 1: the poison pill (section 1.1).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use coord_core::{Error, ExitStatus, Queue, RawValue};
use coord_exercises_kit::ex01::{Done, Job, process};
use coord_exercises_kit::set_worker_index;

use crate::harness::{Options, Report, Verdict, fail, run_scenario};

/// `submit(jobs, tasks, workers)`
pub type SubmitFn = fn(&Queue<Job>, &[u64], usize) -> Result<(), Error>;
/// `worker(me, jobs, done)`
pub type WorkerFn = fn(usize, &Queue<Job>, &Queue<Done>) -> Result<(), Error>;

/// The two functions the exercise asks for.
#[derive(Clone, Copy)]
pub struct Ex01 {
    pub submit: SubmitFn,
    pub worker: WorkerFn,
}

pub const WORKERS: usize = 4;
pub const TASKS: usize = 200;

/// The tasks: numbers whose smallest prime factor takes a little work to find.
pub fn tasks() -> Vec<u64> {
    (0..TASKS as u64).map(|k| 1_000_003 + 2 * k).collect()
}

/// Four workers start first, then a producer runs `submit` and stays alive until the end (so
/// the queue never disconnects: only the pills can end the workers). The parent collects the
/// answers, waits for the workers to leave, and checks exactly-once, exit codes and the
/// queue's bookkeeping.
pub fn check(imp: Ex01, opts: &Options) -> Verdict {
    run_scenario(opts, |scene| {
        let jobs: Queue<Job> = Queue::new()?;
        let done: Queue<Done> = Queue::new()?;
        let release = RawValue::new(false)?;
        let tasks = tasks();
        let wait = scene.opts.wait;

        let workers = (0..WORKERS)
            .map(|i| {
                scene.start(|| {
                    set_worker_index(i);
                    scene.note(i, (imp.worker)(i, &jobs, &done))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let producer = scene.start(|| {
            let r = (imp.submit)(&jobs, &tasks, WORKERS);
            // Stay a live producer until the checker is done.
            let deadline = Instant::now() + wait * 4;
            while !release.get() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(1));
            }
            r
        })?;

        // Collect answers until all are in, or every worker has left, or nothing came for `wait`.
        let mut answers: Vec<Done> = Vec::new();
        let mut last = Instant::now();
        while answers.len() < TASKS {
            match done.get_timeout(Duration::from_millis(20)) {
                Ok(d) => {
                    answers.push(d);
                    last = Instant::now();
                }
                Err(Error::Timeout) => {
                    if workers.iter().all(|w| !w.is_alive()) {
                        while let Ok(d) = done.try_get() {
                            answers.push(d);
                        }
                        break;
                    }
                    if last.elapsed() >= wait {
                        break;
                    }
                }
                // Every process that ever answered has left and all answers are read
                // (a worker that did all the work may have taken the only pill).
                Err(Error::Disconnected) => break,
                Err(e) => return fail(format!("reading the answers failed: {e}")),
            }
        }
        let statuses = scene.join_all(&workers)?;
        while let Ok(d) = done.try_get() {
            answers.push(d);
        }
        release.set(true);
        let producer_status = producer.join_timeout(wait)?;
        let stats = jobs.stats();
        let pills = stats.messages_put.saturating_sub(TASKS as u64);

        // 1. The producer.
        match &producer_status {
            Some(ExitStatus::Exited(0)) => {}
            Some(ExitStatus::Panicked(m)) => return fail(format!("submit() panicked: {m}")),
            Some(ExitStatus::Exited(_)) => return fail("submit() returned an error"),
            other => return fail(format!("the producer ended badly: {other:?}")),
        }
        // 2. Every worker leaves on its own.
        if statuses
            .iter()
            .any(|s| matches!(s, Some(ExitStatus::Panicked(_))))
        {
            scene.exits_ok("", &statuses)?;
        }
        let stuck = statuses.iter().filter(|s| s.is_none()).count();
        if stuck > 0 {
            return fail(format!(
                "{stuck} of {WORKERS} workers were still waiting for a job {} s after the last answer and had to be killed; \
                 the queue carried {pills} pill(s) for {WORKERS} workers",
                wait.as_secs()
            ));
        }
        scene.exits_ok("", &statuses)?;
        // 3. Every task exactly once, with the right answer.
        let mut seen: BTreeMap<u64, u32> = BTreeMap::new();
        for d in &answers {
            *seen.entry(d.task).or_default() += 1;
            if d.answer != process(d.task) {
                return fail(format!(
                    "task {} was answered {} but process({}) = {}",
                    d.task,
                    d.answer,
                    d.task,
                    process(d.task)
                ));
            }
            if d.worker >= WORKERS {
                return fail(format!(
                    "an answer names worker {}, but there are only {WORKERS}",
                    d.worker
                ));
            }
        }
        if let Some((t, n)) = seen.iter().find(|&(_, &n)| n > 1) {
            return fail(format!(
                "task {t} was processed {n} times (each task must be processed exactly once)"
            ));
        }
        let missing = tasks.iter().filter(|t| !seen.contains_key(t)).count();
        if missing > 0 {
            return fail(format!(
                "{missing} of {TASKS} tasks were never processed, yet every worker had left \
                 ({} of {} job messages were still on the queue)",
                stats.messages_put - stats.messages_got,
                stats.messages_put
            ));
        }
        if let Some(t) = seen.keys().find(|t| !tasks.contains(t)) {
            return fail(format!("task {t} was never submitted"));
        }
        // 4. One pill per worker, and the queue drained.
        if pills != WORKERS as u64 {
            return fail(format!(
                "{pills} pills were put for {WORKERS} workers: the pattern is one per worker"
            ));
        }
        if stats.messages_got != stats.messages_put {
            return fail(format!(
                "{} messages were left on the job queue",
                stats.messages_put - stats.messages_got
            ));
        }
        let mut per_worker = [0usize; WORKERS];
        for d in &answers {
            per_worker[d.worker] += 1;
        }
        Ok(Report {
            facts: vec![
                format!("{TASKS} tasks, each processed exactly once, with the right answer"),
                format!("tasks per worker: {per_worker:?}"),
                format!("{WORKERS} pills for {WORKERS} workers; every worker left on its own (exit code 0)"),
                format!(
                    "the job queue is empty: {} messages put, {} taken",
                    stats.messages_put, stats.messages_got
                ),
            ],
        })
    })
}
