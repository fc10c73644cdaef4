//! `cargo run -p poison-pill`: Lecture 27, Concept 1.1. Thin: parse, run the scenarios in the
//! library, print.

use std::io::Write;

use clap::{Parser, ValueEnum};
use poison_pill::{Config, JsonOut, RunReport, SECTION, Shutdown, claim, render};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// One Stop message per worker on the task queue, after the last task (the pattern)
    Pill,
    /// No Stop: terminate() every worker once the task queue looks empty
    Terminate,
    /// No Stop at all: join gives up after --join-wait-ms, then cleanup
    None,
    /// A shared stop flag, set right after the last put, instead of a message
    SideChannel,
    /// Every mode in turn, in detail, then the side-by-side table
    All,
}

/// Lecture 27, Concept 1.1: a pool of worker processes stopped through its own task queue
/// (one Stop message per worker), and what goes wrong with the alternatives.
///
/// Without --shutdown: the pill run in detail, then one line for each other way of stopping.
#[derive(Debug, Parser)]
#[command(name = "poison-pill", version)]
struct Args {
    /// Worker processes in the pool
    #[arg(long, default_value_t = 4, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=poison_pill::MAX_WORKERS as i64))]
    workers: u32,
    /// Tasks the parent puts on the queue
    #[arg(long, default_value_t = 200, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=poison_pill::MAX_TASKS as i64))]
    tasks: u32,
    /// Work per task, in microseconds of CPU time (0: no work, only the coordination)
    #[arg(long, default_value_t = 1000, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(0..=poison_pill::MAX_TASK_US as i64))]
    task_us: u32,
    /// How the parent stops the workers [default: pill, followed by a one-line contrast of the others]
    #[arg(long, value_enum)]
    shutdown: Option<Mode>,
    /// For --shutdown none: how long join waits for the workers before the parent gives up
    #[arg(long, default_value_t = 500, allow_negative_numbers = true, value_parser = clap::value_parser!(u32).range(1..=60_000))]
    join_wait_ms: u32,
    /// Print one JSON object (claims, per-run figures) instead of the tables
    #[arg(long)]
    json: bool,
    /// A smaller run for CI and the claims checker: 80 tasks of 500 µs, a 200 ms join wait
    #[arg(long, conflicts_with_all = ["tasks", "task_us", "join_wait_ms"])]
    quick: bool,
}

fn main() {
    let args = Args::parse();
    match run(&args) {
        Ok(code) => std::process::exit(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
}

fn run(args: &Args) -> anyhow::Result<i32> {
    let cfg = if args.quick {
        Config {
            workers: args.workers,
            tasks: 80,
            task_us: 500,
            join_wait_ms: 200,
        }
    } else {
        Config {
            workers: args.workers,
            tasks: args.tasks,
            task_us: args.task_us,
            join_wait_ms: args.join_wait_ms,
        }
    };
    cfg.validate()?;
    let (modes, detailed): (Vec<Shutdown>, usize) = match args.shutdown {
        Option::None => (Shutdown::ALL.to_vec(), 1),
        Some(Mode::All) => (Shutdown::ALL.to_vec(), 4),
        Some(Mode::Pill) => (vec![Shutdown::Pill], 1),
        Some(Mode::Terminate) => (vec![Shutdown::Terminate], 1),
        Some(Mode::None) => (vec![Shutdown::None], 1),
        Some(Mode::SideChannel) => (vec![Shutdown::SideChannel], 1),
    };
    if !args.json {
        emit(&render::header());
    }
    let mut runs: Vec<RunReport> = Vec::new();
    for (i, mode) in modes.iter().enumerate() {
        let r = poison_pill::run(&cfg, *mode)?;
        if !args.json && i < detailed {
            emit(&format!("\n{}", render::details(&r)));
        }
        runs.push(r);
    }
    let children_left: Vec<u32> = poison_pill::children_of(std::process::id())
        .into_iter()
        .map(|(pid, _)| pid)
        .collect();
    let ok = runs
        .iter()
        .all(|r| r.processes_left.is_empty() && (r.mode != Shutdown::Pill || r.pill_ok()))
        && children_left.is_empty();
    if args.json {
        let out = JsonOut {
            krate: "poison-pill",
            section: SECTION,
            claims: runs.iter().map(claim).collect(),
            runs: &runs,
            children_left,
        };
        emit(&format!("{}\n", serde_json::to_string_pretty(&out)?));
    } else {
        if runs.len() > 1 {
            emit(&format!("\n{}", render::contrast_table(&runs)));
        }
        if !children_left.is_empty() {
            emit(&format!(
                "\nPROCESSES LEFT BEHIND (children of this program): {children_left:?}\n"
            ));
        }
        let last = match args.shutdown {
            Some(Mode::All) => Some(Shutdown::SideChannel),
            Some(_) => modes.first().copied(),
            Option::None => Option::None,
        };
        emit(&format!("\n{}", render::next_hint(last)));
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
