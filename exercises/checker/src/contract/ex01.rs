//! Contract of exercise 1: the poison pill (section 1.1).

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use coord_core::{Error, ExitStatus, Process, Queue, RawValue};
use coord_exercises_kit::ex01::{Done, Job, Recorder, process};

use crate::harness::{
    Options, Report, Scene, Verdict, fail, proc_state, run_scenario, waits_without_deadline,
};

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

/// One run of the pool: how many workers, how many tasks, and whether the queue stays empty
/// for a while before the producer starts.
pub struct Config {
    pub workers: usize,
    pub tasks: usize,
    pub empty_first: bool,
}

/// The runs, in order: an odd pool that first waits on an empty queue, a single worker, a
/// larger odd pool. The task counts fit no batch size a worker might guess.
pub const CONFIGS: &[Config] = &[
    Config {
        workers: 3,
        tasks: 101,
        empty_first: true,
    },
    Config {
        workers: 1,
        tasks: 37,
        empty_first: false,
    },
    Config {
        workers: 5,
        tasks: 203,
        empty_first: false,
    },
];

/// How long the queue stays empty before the producer starts when some worker waits with a
/// timeout: a worker that leaves on a timeout shorter than this is caught every time.
pub const EMPTY_QUEUE: Duration = Duration::from_secs(3);

/// The tasks of run `c`: numbers whose smallest prime factor takes a little work to find.
pub fn tasks(c: usize) -> Vec<u64> {
    let base = 1_000_003 + 10_000 * c as u64;
    (0..CONFIGS[c].tasks as u64).map(|k| base + 2 * k).collect()
}

/// For each run: the workers start first; in the first run the queue then stays empty until
/// every worker is blocked waiting (longer if one waits with a timeout), so a worker that
/// leaves on an empty queue or a timeout is caught. Then a producer runs `submit` and stays
/// alive until the end (so the queue never disconnects: only the pills can end the workers).
/// The parent collects the answers, waits for the workers to leave, and checks exactly-once,
/// who did each task, exit codes and the queue's bookkeeping.
pub fn check(imp: Ex01, opts: &Options) -> Verdict {
    run_scenario(opts, |scene| {
        let mut facts = Vec::new();
        for (c, config) in CONFIGS.iter().enumerate() {
            facts.extend(run_pool(scene, imp, c, config)?);
        }
        Ok(Report { facts })
    })
}

fn run_pool(scene: &Scene, imp: Ex01, c: usize, config: &Config) -> Result<Vec<String>, crate::Failure> {
    let n = config.workers;
    let t = config.tasks;
    let head = format!("with {n} worker{} and {t} tasks: ", if n == 1 { "" } else { "s" });
    let jobs: Queue<Job> = Queue::new()?;
    let done: Queue<Done> = Queue::new()?;
    let release = RawValue::new(false)?;
    let tasks = tasks(c);
    let wait = scene.opts.wait;
    let recorder = Recorder::install(n, &tasks)?;

    let workers = (0..n)
        .map(|i| {
            scene.start(|| {
                recorder.register(i);
                let r = (imp.worker)(i, &jobs, &done);
                recorder.finished(i);
                scene.note(i, r)
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    if config.empty_first {
        if let Some(i) = left_on_empty_queue(&workers, wait) {
            for w in &workers {
                if w.is_alive() {
                    let _ = w.kill();
                }
            }
            let statuses = scene.join_all(&workers)?;
            if !matches!(statuses[i], Some(ExitStatus::Exited(0))) {
                // It did not return: it panicked or failed; say that instead.
                let only: Vec<_> = (0..n)
                    .map(|j| {
                        if j == i {
                            statuses[i].clone()
                        } else {
                            Some(ExitStatus::Exited(0))
                        }
                    })
                    .collect();
                scene.exits_ok(&head, &only)?;
            }
            return fail(format!(
                "{head}worker {i} returned before any job was put, while the producer had not even started: \
                 a worker leaves on its pill only; an empty queue or a timeout is not the signal"
            ));
        }
    }
    let producer = scene.start(|| {
        let r = (imp.submit)(&jobs, &tasks, n);
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
    while answers.len() < t {
        match done.get_timeout(Duration::from_millis(20)) {
            Ok(d) => {
                answers.push(d);
                last = Instant::now();
            }
            Err(Error::Timeout) => {
                if workers.iter().all(|w| !w.is_alive()) {
                    break;
                }
                if last.elapsed() >= wait {
                    break;
                }
            }
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
    let pills = stats.messages_put.saturating_sub(t as u64);
    let left = stats.messages_put - stats.messages_got;

    // 1. The producer.
    match &producer_status {
        Some(ExitStatus::Exited(0)) => {}
        Some(ExitStatus::Panicked(m)) => return fail(format!("{head}submit() panicked: {m}")),
        Some(ExitStatus::Exited(_)) => return fail(format!("{head}submit() returned an error")),
        other => return fail(format!("{head}the producer ended badly: {other:?}")),
    }
    // 2. Every worker leaves on its own.
    if statuses
        .iter()
        .any(|s| matches!(s, Some(ExitStatus::Panicked(_))))
    {
        scene.exits_ok(&head, &statuses)?;
    }
    let stuck = statuses.iter().filter(|s| s.is_none()).count();
    if stuck > 0 {
        return fail(format!(
            "{head}{stuck} of {n} workers were still waiting for a job {} s after the last answer and had to be killed; \
             the queue carried {pills} pill(s) for {n} workers",
            wait.as_secs()
        ));
    }
    scene.exits_ok(&head, &statuses)?;
    // 3. Every task exactly once, with the right answer.
    let mut seen: BTreeMap<u64, u32> = BTreeMap::new();
    for d in &answers {
        *seen.entry(d.task).or_default() += 1;
        if d.answer != process_quietly(d.task) {
            return fail(format!(
                "{head}task {} was answered {} but process({}) = {}",
                d.task,
                d.answer,
                d.task,
                process_quietly(d.task)
            ));
        }
    }
    if let Some((t, k)) = seen.iter().find(|&(_, &k)| k > 1) {
        return fail(format!(
            "{head}task {t} was answered {k} times (each task must be processed exactly once)"
        ));
    }
    if let Some(t) = seen.keys().find(|t| !tasks.contains(t)) {
        return fail(format!("{head}task {t} was never submitted"));
    }
    let missing = tasks.iter().filter(|t| !seen.contains_key(t)).count();
    if missing > 0 {
        return fail(if left == 0 {
            format!(
                "{head}{missing} of {t} tasks were taken from the queue but never answered: every answer must be \
                 put on `done` before the worker leaves (answers held back, in a batch say, are lost when the pill comes)"
            )
        } else {
            format!(
                "{head}{missing} of {t} tasks were never processed, yet every worker had left \
                 ({left} of {} job messages were still on the queue)",
                stats.messages_put
            )
        });
    }
    // 4. Each answer names the worker that did the work.
    for d in &answers {
        match recorder.processed_by(d.task) {
            Some(w) if w == d.worker => {}
            Some(w) => {
                return fail(format!(
                    "{head}task {} was processed by worker {w} (it called process({})), but its Done names worker {}: \
                     a worker puts its own number, `me`",
                    d.task, d.task, d.worker
                ));
            }
            None => {
                return fail(format!(
                    "{head}task {} was answered without calling process({}) in a worker",
                    d.task, d.task
                ));
            }
        }
    }
    // 5. One pill per worker, and the queue drained.
    if pills != n as u64 {
        return fail(format!(
            "{head}{pills} pills were put for {n} workers: the pattern is one per worker (`workers` says how many)"
        ));
    }
    if left != 0 {
        return fail(format!("{head}{left} messages were left on the job queue"));
    }
    let mut per_worker = vec![0usize; n];
    for d in &answers {
        per_worker[d.worker] += 1;
    }
    Ok(vec![
        format!(
            "{head}each task processed exactly once, by the worker its answer names; tasks per worker {per_worker:?}"
        ),
        format!(
            "{head}{n} pills, every worker left on its own (exit code 0); job queue empty ({} put, {} taken)",
            stats.messages_put, stats.messages_got
        ),
    ])
}

/// The expected answer, computed here in the checker (not recorded as anyone's work).
fn process_quietly(n: u64) -> u64 {
    // The checker process is no worker, so `process` records nothing here.
    process(n)
}

/// Waits until every worker is blocked waiting for a job (or gone), keeping the queue empty,
/// and longer if one of them waits with a timeout; returns a worker that left meanwhile.
fn left_on_empty_queue(workers: &[Process], wait: Duration) -> Option<usize> {
    let gone = |i: usize| !workers[i].is_alive();
    let asleep = |i: usize| gone(i) || proc_state(workers[i].pid()) == Some('S');
    let deadline = Instant::now() + wait;
    // Settled: every worker asleep on two looks 20 ms apart (or the deadline passed).
    loop {
        if (0..workers.len()).all(asleep) {
            std::thread::sleep(Duration::from_millis(20));
            if (0..workers.len()).all(asleep) {
                break;
            }
        }
        if Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let patient = (0..workers.len()).all(|i| gone(i) || waits_without_deadline(workers[i].pid()));
    let until = Instant::now()
        + if patient {
            Duration::from_millis(20)
        } else {
            EMPTY_QUEUE
        };
    while Instant::now() < until && !(0..workers.len()).any(gone) {
        std::thread::sleep(Duration::from_millis(5));
    }
    (0..workers.len()).find(|&i| gone(i))
}
