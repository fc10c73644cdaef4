//! `--class`: 3.1's bottleneck, live in front of a room. Before each reveal, a one-line
//! question; then Enter shows what happened (no pause when stdin is not a terminal, so the
//! whole thing can be captured or tested).
//!
//! Nothing here can be seeded: every figure is a rate, and rates depend on how this machine
//! schedules the processes. So each step runs [`RUNS`] times and shows the spread.

use std::fmt::Write;
use std::time::Duration;

use crate::lanes::{self, Trace};
use crate::render::{fmt_ratio, group};
use crate::scenarios::Spread;
use crate::scenarios::counter::{CounterRun, Method, Work, run_counter_traced};

/// Runs per step: enough to show a spread, few enough to stay in seconds.
pub const RUNS: usize = 3;
/// Manager increments in all, in every manager step (split between the workers).
pub const TOTAL: u64 = 4_000;
const DEADLINE: Duration = Duration::from_secs(60);

/// `RUNS` runs of one method; the first one records into `trace` if given.
fn runs(
    method: Method,
    workers: usize,
    per_worker: u64,
    trace: Option<&Trace>,
) -> anyhow::Result<Vec<CounterRun>> {
    (0..RUNS)
        .map(|k| {
            let tr = trace.filter(|_| k == 0);
            run_counter_traced(method, workers, Work::Count(per_worker), DEADLINE, tr)
        })
        .collect()
}

fn rates(runs: &[CounterRun]) -> Spread {
    Spread::of(&runs.iter().map(|r| r.increments_per_sec).collect::<Vec<_>>())
}

fn line(rate: Spread) -> String {
    format!(
        "{}/s (median of {RUNS} runs; {} to {} /s: timing-dependent)",
        group(rate.median as u64),
        group(rate.min as u64),
        group(rate.max as u64)
    )
}

/// Runs the class scenario with `workers` workers in steps 2 and 3. `say` prints, `pause`
/// waits for Enter (or does nothing).
pub fn run(
    workers: usize,
    width: usize,
    color: bool,
    say: &mut dyn FnMut(&str),
    pause: &mut dyn FnMut(),
) -> anyhow::Result<()> {
    let per = TOTAL / workers as u64;
    say(&format!(
        "Lecture 27, Concept 3.1, class mode (Rust, real processes, a real manager process)\n\
         A counter lives in a manager process; `counter.add(1)` is one request and one answer.\n\
         {} increments in all, each step run {RUNS} times. No seed: rates are the machine's.\n",
        group(per * workers as u64)
    ));

    say(&format!(
        "\nStep 1 of 3: one worker makes all {} requests.\n",
        group(per * workers as u64)
    ));
    say("Question for the room: how many increments per second will it get?\n");
    pause();
    let one = rates(&runs(Method::ManagerAdd, 1, per * workers as u64, None)?);
    say(&format!("\nAnswer: {}.\n", line(one)));

    say(&format!(
        "\nStep 2 of 3: {workers} workers, {} requests each (the same {} in all).\n",
        group(per),
        group(per * workers as u64)
    ));
    say(&format!(
        "Question for the room: with {workers} workers instead of 1, how much faster will the counter go?\n"
    ));
    pause();
    let trace = Trace::new(workers, per)?;
    let many = rates(&runs(Method::ManagerAdd, workers, per, Some(&trace))?);
    let t = trace.collect();
    let mut s = format!("\n{}", timeline::text::chart(&t, width, color));
    s.push_str(&lanes::summary(&t, trace.every));
    for l in lanes::what_it_shows(&t, trace.every).iter().take(1) {
        let _ = writeln!(s, "{l}");
    }
    let _ = writeln!(
        s,
        "Answer: {},\n{} the speed of 1 worker. One manager process answers one request at a\n\
         time: more workers only queue up for it.",
        line(many),
        fmt_ratio(many.median / one.median)
    );
    say(&s);

    let shm = per * 1000;
    say(&format!(
        "\nStep 3 of 3: the same {workers} workers, each adds {} times to a RawValue (fetch_add),\n\
         in memory every process has mapped: no manager, no request.\n",
        group(shm)
    ));
    say("Question for the room: how many times faster than through the manager?\n");
    pause();
    let atomic = rates(&runs(Method::AtomicFetchAdd, workers, shm, None)?);
    say(&format!(
        "\nAnswer: {},\n{} the manager's rate with {workers} workers.\n\
         \nTake away: a manager object is one process serving everyone in turn. For a hot counter,\n\
         use shared memory (Value/RawValue), or count locally and merge once.\n",
        line(atomic),
        fmt_ratio(atomic.median / many.median)
    ));
    Ok(())
}

/// `--class`: the steps print as they go, with Enter between them only when stdin is a
/// terminal (so a captured or tested run never waits).
pub fn in_class(workers: usize) -> anyhow::Result<()> {
    let (width, color) = (timeline::term_width(), timeline::color_wanted());
    let pause = &mut timeline::class::reveal_pause();
    run(workers, width, color, &mut |s| timeline::class::emit(s), pause)
}
