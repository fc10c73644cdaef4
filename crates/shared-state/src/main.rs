//! `cargo run -p shared-state [-- --quick | --iterations N | --json | --timeline | --class]`

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use shared_state::cli::Args;
use shared_state::lanes::{self, Trace};
use shared_state::scenarios;
use shared_state::{claims, claims::Report, class, render};

fn run(a: &Args) -> anyhow::Result<()> {
    if a.class {
        return class::in_class(a.workers as usize);
    }
    let cfg = a.config();
    let mut out = std::io::stdout().lock();
    // In text mode each section is printed as soon as it is measured.
    let mut show = |text: String| -> std::io::Result<()> {
        if !a.json {
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
        Ok(())
    };
    show(render::header(&cfg))?;
    let latency = scenarios::latency::latency_table(&cfg)?;
    show(render::latency(&latency) + &render::claims(&claims::latency_claims(&latency)))?;
    // The timeline is recorded by the bottleneck's own first run of (a) with several workers.
    let trace = match a.timeline || a.timeline_svg.is_some() {
        true => Some(Trace::new(cfg.workers, cfg.iterations)?),
        false => None,
    };
    let bottleneck = scenarios::bottleneck::bottleneck_traced(&cfg, trace.as_ref())?;
    show(render::bottleneck(&bottleneck) + &render::claims(&claims::bottleneck_claims(&bottleneck)))?;
    let drawn = trace.as_ref().map(|tr| (tr.collect(), tr.every));
    if let Some((t, every)) = &drawn {
        if a.timeline {
            let (w, c) = (timeline::term_width(), timeline::color_wanted());
            show(format!("\n{}\n", lanes::text(t, *every, w, c)))?;
        }
        if let Some(path) = &a.timeline_svg {
            std::fs::write(path, lanes::svg(t, *every))
                .with_context(|| format!("writing the timeline SVG to {}", path.display()))?;
            show(format!("    (timeline written to {})\n\n", path.display()))?;
        }
    }
    let lost = scenarios::lost_updates::lost_updates(&cfg)?;
    show(render::lost_updates(&lost) + &render::claims(&claims::lost_update_claims(&lost)))?;
    let fixed = scenarios::fixed::fixed_capacity(8, 10)?;
    show(render::fixed_capacity(&fixed) + &render::notice(&latency, &bottleneck))?;
    if a.json {
        let report = Report {
            crate_name: "shared-state",
            claims: claims::claims(&latency, &bottleneck, &lost),
            config: cfg,
            latency,
            bottleneck,
            lost_updates: lost,
            fixed_capacity: fixed,
            timeline: drawn.map(|(t, every)| lanes::report(&t, every)),
        };
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
    }
    Ok(())
}

fn main() -> ExitCode {
    // First thing, before any thread or child exists: `shared-state | head -3` then ends
    // quietly instead of failing on "Broken pipe".
    // Our worker processes and the manager server die with us (PR_SET_PDEATHSIG).
    lab_support::restore_default_sigpipe();
    let args = Args::parse();
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
