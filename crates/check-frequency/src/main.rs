//! `cargo run -p check-frequency`: Lecture 27, Concept 4.1 and Example 27.2, measured.
//! The options are `check_frequency::cli::Args`; the lecture's code is in `src/lesson.rs`.

use std::io::Write;

use anyhow::{Result, bail};
use check_frequency::cli::{Args, TimelineCheck};
use check_frequency::scenarios::stop_run::{StopConfig, run_stop};
use check_frequency::{class, lanes, render, scenarios};
use clap::Parser;

fn main() {
    // First thing, before any thread or child exists: `check-frequency | head -3` then ends
    // quietly instead of failing on "Broken pipe".
    // Our worker processes die with us (coord-core sets PR_SET_PDEATHSIG on them).
    lab_support::restore_default_sigpipe();
    let args = Args::parse();
    let res = if args.class {
        class::in_class(args.config.workers as usize, args.config.limit)
    } else if args.timeline_runs() {
        timeline_runs(&args)
    } else {
        run(&args)
    };
    if let Err(e) = res {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// `--timeline` / `--timeline-svg`: the small runs with the flag raised, and their lanes.
fn timeline_runs(a: &Args) -> Result<()> {
    let limit = a.config.limit;
    let raise_at = a.raise_at.unwrap_or(limit / 2);
    if raise_at >= limit {
        bail!("--raise-at {raise_at} is not below --limit {limit}: nobody would raise the flag");
    }
    let only = |c| a.check == Some(c);
    let mut runs = vec![];
    for check in lanes::checks(only(TimelineCheck::Corrected), only(TimelineCheck::Lecture)) {
        let cfg = StopConfig {
            workers: a.config.workers as usize,
            limit,
            check,
            raise_at,
        };
        let r = run_stop(&cfg)?;
        if !a.json {
            render::emit(&lanes::table(&r));
            if a.timeline {
                let (w, c) = (timeline::term_width(), timeline::color_wanted());
                render::emit(&format!("\n{}", lanes::text(&r, w, c)));
            }
        }
        if let (true, Some(path)) = (runs.is_empty(), &a.timeline_svg) {
            lanes::write_svg(&r, path)?;
            if !a.json {
                render::emit(&format!(
                    "\n(timeline of this run written to {})\n",
                    path.display()
                ));
            }
        }
        runs.push(r);
    }
    if a.json {
        let v = serde_json::json!({ "crate": "check-frequency", "timeline_runs": runs });
        println!("{}", serde_json::to_string_pretty(&v)?);
    }
    Ok(())
}

fn run(a: &Args) -> Result<()> {
    // The tables are printed part by part, as soon as each part is measured.
    let human = !a.json && !a.csv;
    let say = |s: String| {
        if human {
            render::emit(&s);
        }
    };
    let cpus = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    say(render::header(a.config.workers as usize, cpus));
    let out = scenarios::run(&a.config, |section| say(render::section(&section)))?;
    if a.json {
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else if a.csv {
        print!("{}", render::csv(&out.sweeps));
    } else {
        say(render::notice_text(&out));
        say(format!("(finished in {:.1} s)\n", out.elapsed_s));
    }
    let _ = std::io::stdout().flush();
    Ok(())
}
