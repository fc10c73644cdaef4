//! `cargo run -p poison-pill`: Lecture 27, Concept 1.1. Thin: parse, run the scenarios in the
//! library, print.

use std::io::{IsTerminal, Write};

use anyhow::Context;
use clap::Parser;
use poison_pill::config::{Choice, Config, MAX_TASK_US, MAX_TASKS, MAX_WORKERS};
use poison_pill::{claims, lanes, render, scenarios};

/// Lecture 27, Concept 1.1: a pool of worker processes stopped through its own task queue
/// (one Stop message per worker), and what goes wrong with the alternatives.
///
/// Without --shutdown: the pill run in detail, then one line for each other way of stopping.
#[derive(Debug, Parser)]
#[command(name = "poison-pill", version)]
struct Args {
    /// Worker processes in the pool
    #[arg(long, default_value_t = Config::DEFAULT.workers, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=MAX_WORKERS as i64))]
    workers: u32,
    /// Tasks the parent puts on the queue
    #[arg(long, default_value_t = Config::DEFAULT.tasks, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=MAX_TASKS as i64))]
    tasks: u32,
    /// Work per task, in microseconds of CPU time (0: no work, only the coordination)
    #[arg(long, default_value_t = Config::DEFAULT.task_us, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(0..=MAX_TASK_US as i64))]
    task_us: u32,
    /// How the parent stops the workers [default: pill, followed by a one-line contrast of the others]
    #[arg(long, value_enum)]
    shutdown: Option<Choice>,
    /// For --shutdown none: how long join waits for the workers before the parent gives up
    #[arg(long, default_value_t = Config::DEFAULT.join_wait_ms, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=60_000))]
    join_wait_ms: u32,
    /// Print one JSON object (claims, per-run figures) instead of the tables
    #[arg(long)]
    json: bool,
    /// A smaller run for CI and the claims checker: 80 tasks of 500 µs, a 200 ms join wait
    #[arg(long, conflicts_with_all = ["tasks", "task_us", "join_wait_ms"])]
    quick: bool,
    /// After each run shown in detail, draw it: one lane per process, time left to right
    /// (width from $COLUMNS or the terminal, else 100; colour only on a terminal)
    #[arg(long, conflicts_with = "json")]
    timeline: bool,
    /// Write the first run's timeline as an SVG file (every lane named, exact times in tooltips)
    #[arg(long, value_name = "FILE")]
    timeline_svg: Option<std::path::PathBuf>,
    /// Class mode: one small scenario in three steps, a question for the room before each
    /// answer; Enter reveals it (no pause when stdin is not a terminal)
    #[arg(long, conflicts_with_all = ["tasks", "task_us", "shutdown", "json", "quick", "timeline_svg", "join_wait_ms"])]
    class: bool,
    /// Class mode: the seed of the task sizes (the same seed, the same workload; the schedule
    /// is the machine's)
    #[arg(long, default_value_t = 1, requires = "class")]
    seed: u64,
}

fn main() {
    let code = run(&Args::parse()).unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        1
    });
    std::process::exit(code);
}

fn run(a: &Args) -> anyhow::Result<i32> {
    if a.class {
        return class(a);
    }
    let cfg = match a.quick {
        true => Config::quick(a.workers),
        false => Config::new(a.workers, a.tasks, a.task_us, a.join_wait_ms),
    };
    cfg.validate()?;
    let (modes, detailed) = Choice::plan(a.shutdown);
    if !a.json {
        emit(&render::header());
    }
    let mut runs = Vec::new();
    for (i, mode) in modes.iter().enumerate() {
        let r = scenarios::run(&cfg, *mode)?;
        if !a.json && i < detailed {
            emit(&format!("\n{}", render::details(&r)));
            if a.timeline {
                let width = timeline::term_width();
                emit(&format!("\n{}", lanes::text(&r, width, timeline::color_wanted())));
            }
        }
        if i == 0
            && let Some(path) = &a.timeline_svg
        {
            std::fs::write(path, lanes::svg(&r))
                .with_context(|| format!("writing the timeline SVG to {}", path.display()))?;
            if !a.json {
                emit(&format!(
                    "\n    (timeline of this run written to {})\n",
                    path.display()
                ));
            }
        }
        runs.push(r);
    }
    let children_left = scenarios::children_left();
    let ok = runs.iter().all(|r| r.ok()) && children_left.is_empty();
    if a.json {
        emit(&claims::json(&runs, children_left)?);
    } else {
        emit(&render::footer(
            &runs,
            &children_left,
            Choice::last_shown(a.shutdown),
        ));
    }
    Ok(if ok { 0 } else { 1 })
}

/// Writes to stdout, ignoring a closed pipe (`| head`): the runs still finish and clean up
/// their workers instead of panicking half-way.
fn emit(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.flush();
}

/// `--class`: the steps print as they go; Enter between them only on a terminal.
fn class(a: &Args) -> anyhow::Result<i32> {
    let interactive = std::io::stdin().is_terminal();
    let mut pause = || {
        if interactive {
            emit("[Enter to reveal] ");
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
        }
    };
    let width = timeline::term_width();
    let kept = poison_pill::class::run(
        a.workers,
        a.seed,
        width,
        timeline::color_wanted(),
        &mut |s| emit(s),
        &mut pause,
    )?;
    let left = scenarios::children_left();
    if !left.is_empty() {
        emit(&format!("processes left behind: {left:?}\n"));
    }
    Ok(if kept && left.is_empty() { 0 } else { 1 })
}
