//! `cargo run -p early-exit`: Lecture 27, Concept 2.1 and Example 27.1, run for real.
//! Parses arguments, runs the plan of sections, prints tables (or one JSON object).

use anyhow::Result;
use clap::Parser;
use early_exit::cli::Args;
use early_exit::scenarios::plan::{self, Plan};
use early_exit::{claims, lanes, render};

fn main() {
    // First, before any thread or child exists: `early-exit | head -3` then ends quietly
    // instead of failing on "Broken pipe". Workers die with us (PR_SET_PDEATHSIG).
    lab_support::restore_default_sigpipe();
    if let Err(e) = run(&Args::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(a: &Args) -> Result<()> {
    if a.class {
        let code = early_exit::class::in_class(a.workers as usize, a.seed)?;
        std::process::exit(code);
    }
    let (workers, focused) = (a.workers as usize, a.no_early_exit || a.smallest || a.unsafe_set);
    early_exit::check_shape(workers, a.range)?;
    if let Some(n) = a.needle {
        early_exit::check_needle(workers, a.range, n)?;
    }
    let p = Plan {
        example: !focused,
        compare: !focused || a.no_early_exit,
        flag_cost: !focused,
        race: !focused || a.unsafe_set,
        smallest: !focused || a.smallest,
        workers,
        range_len: a.range,
        targets: plan::targets(a.needle, a.density, workers, a.range),
        smallest_density: a.density.unwrap_or(25_000),
        work: a.work,
        flag: a.flag,
        runs: if a.quick { a.runs.min(50) } else { a.runs } as usize,
        reps: if a.quick { a.reps.min(3) } else { a.reps } as usize,
        trace: a.timeline || a.timeline_svg.is_some(),
    };
    let results = plan::run_plan(&p)?;
    match a.json {
        true => println!(
            "{}",
            serde_json::to_string_pretty(&claims::to_json(&p, &results))?
        ),
        false => print!("{}", render::render(&p, &results)),
    }
    if a.timeline && results.compare.is_empty() {
        println!("\n(--timeline draws the searches of the early-exit comparison; this run has none)");
    }
    for (i, c) in results.compare.iter().enumerate() {
        let (Some(t), run) = (&c.timeline, &c.shown.with_early_exit) else {
            continue;
        };
        if a.timeline {
            let (w, color) = (timeline::term_width(), timeline::color_wanted());
            println!(
                "\n  Timeline, search {} ({:?}):\n{}",
                i + 1,
                c.target,
                lanes::text(t, run, w, color)
            );
        }
        if let (0, Some(path)) = (i, &a.timeline_svg) {
            std::fs::write(path, lanes::svg(t, run))
                .map_err(|e| anyhow::anyhow!("writing the timeline SVG to {}: {e}", path.display()))?;
        }
    }
    Ok(())
}
