//! `cargo run -p poison-pill`: Lecture 27, Concept 1.1. Thin: parse, run the library's scenarios, print.

use clap::Parser;
use poison_pill::cli::Args;
use poison_pill::config::{Choice, Config};
use poison_pill::render::emit;
use poison_pill::{claims, class, lanes, render, scenarios};

fn main() {
    let code = run(&Args::parse()).unwrap_or_else(|e| {
        eprintln!("error: {e:#}");
        1
    });
    std::process::exit(code);
}

fn run(a: &Args) -> anyhow::Result<i32> {
    if a.class {
        return class::in_class(a.workers, a.seed);
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
                emit(&format!(
                    "\n{}",
                    lanes::text(&r, timeline::term_width(), timeline::color_wanted())
                ));
            }
        }
        if let (0, Some(path)) = (i, &a.timeline_svg) {
            lanes::write_svg(&r, path, !a.json)?;
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
