//! `cargo run -p lecture-claims [-- --quick]`: Lecture 27's quantitative claims, measured here.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;

use lecture_claims::claims::{Claim, sort_by_section};
use lecture_claims::concepts::{self, CONCEPT_CRATES, Outcome};
use lecture_claims::python::{self, PythonLookup};
use lecture_claims::{machine, report, verdicts, workloads, workspace_root};

/// Lecture 27: each quantitative claim of the lecture next to what this machine measures,
/// from short runs of the concept crates, plus the lecture's workloads in Rust and Python.
#[derive(Parser)]
#[command(name = "lecture-claims")]
struct Args {
    /// Shorter runs of every concept binary and workload (a smoke test; what CI uses)
    #[arg(long)]
    quick: bool,
    /// Do not build or run the concept crates; only the Rust and Python workloads
    #[arg(long)]
    skip_crates: bool,
    /// Do not run Python even when python3 is present (or set LECTURE_CLAIMS_PYTHON=none)
    #[arg(long)]
    skip_python: bool,
    /// Seconds a concept binary or the Python script may run before it is killed
    #[arg(long, default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    timeout: u64,
    /// Print only the cost ladder (atomic read, locked read, ShmQueue, Queue, manager), Rust and Python
    #[arg(long)]
    ladder: bool,
}

fn main() -> ExitCode {
    // First thing, before any thread or child exists: `lecture-claims | head -3` then ends
    // quietly instead of failing on "Broken pipe".
    lab_support::restore_default_sigpipe();
    let args = Args::parse();
    match run(&args) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Prints the report; `Ok(false)` when a concept crate present in the checkout failed.
fn run(args: &Args) -> Result<bool> {
    let deadline = Duration::from_secs(args.timeout);
    if args.ladder {
        let python = if args.skip_python {
            PythonLookup::Absent {
                reason: "--skip-python".into(),
            }
        } else {
            python::find_python()
        };
        lecture_claims::ladder::run(args.quick, &python, deadline)?;
        return Ok(true);
    }
    println!("Lecture 27 - the lecture's quantitative claims, measured on this machine");
    println!("machine: {}", machine::describe());
    if let Some(note) = lab_support::dev_build_note("lecture-claims") {
        println!("{note}");
    }

    let mut all_ok = true;
    let mut rust_claims: Vec<(String, Claim)> = Vec::new();
    let why_no_rust = if args.skip_crates {
        println!("\n1. Concept crates: skipped (--skip-crates)");
        "did not run (--skip-crates)"
    } else {
        all_ok = concept_claims(args.quick, deadline, &mut rust_claims)?;
        "did not report this claim (see part 1)"
    };

    println!("\n2. The lecture's workloads in Rust and in Python, on this machine, in this run");
    let lookup = if args.skip_python {
        PythonLookup::Absent {
            reason: "--skip-python".into(),
        }
    } else {
        python::find_python()
    };
    print!(
        "   Rust: running the workloads{} ... ",
        if args.quick { " (--quick)" } else { "" }
    );
    std::io::stdout().flush()?;
    let rust = workloads::run_all(args.quick).context("the Rust workloads")?;
    println!("done");
    let mut why_no_python = "python/workloads.py gave no figure for it".to_string();
    let py = match &lookup {
        PythonLookup::Found { path, version } => {
            print!(
                "   Python {version} ({}): running python/workloads.py ... ",
                path.display()
            );
            std::io::stdout().flush()?;
            match python::run_workloads(path, args.quick, deadline) {
                Ok(f) => {
                    println!("done");
                    Some(f.figures)
                }
                Err(e) => {
                    println!("failed: {e:#}; the Python column is skipped");
                    why_no_python = "the Python workloads failed".into();
                    None
                }
            }
        }
        PythonLookup::Absent { reason } => {
            println!("   python3 not available ({reason}): the Python column is skipped");
            why_no_python = format!("python3 not available ({reason})");
            None
        }
    };
    println!();
    print!("{}", report::workloads_table(&rust, py.as_ref()));
    println!(
        "   (figures only: each claim is judged once per language, in part 1 for Rust and in part 3 for Python)"
    );

    println!(
        "\n3. The claims measured in both languages: Rust's verdict is the concept crate's (part 1, \
         quoted), Python's is judged here on Python's own figures (part 2)"
    );
    for line in verdicts::comparison_lines(&rust_claims, py.as_ref(), why_no_rust, &why_no_python) {
        println!("{line}");
    }
    let python_claims = verdicts::python_claims(py.as_ref());
    println!("\nSummary of this run");
    println!("{}", verdicts::summary(&rust_claims, RUST_CLAIMS));
    println!("{}", verdicts::summary(&python_claims, PYTHON_CLAIMS));
    println!(
        "\nwhat to notice: Python is slowest, next to Rust, on pure computation (Example 27.2); a manager \
         round trip is slow in both, and slower in Python, whose manager is itself a Python program. A \
         claim about Python is judged on Python's figure, never on Rust's. \"does NOT hold\" is a finding, \
         not a failure: the book's errata page explains each one."
    );
    Ok(all_ok)
}

/// Whose verdicts the two summary lines count.
const RUST_CLAIMS: &str = "Rust, judged by the concept crates";
const PYTHON_CLAIMS: &str = "Python, judged by lecture-claims";

/// Part 1: build, run and tabulate the concept crates. `Ok(false)` if one present failed.
fn concept_claims(quick: bool, deadline: Duration, claims: &mut Vec<(String, Claim)>) -> Result<bool> {
    println!(
        "\n1. The concept crates' own checks (each binary run with{} --json)",
        if quick { " --quick" } else { "" }
    );
    let root = workspace_root();
    let present = concepts::present(&root);
    let missing: Vec<&str> = CONCEPT_CRATES
        .into_iter()
        .filter(|c| !present.contains(c))
        .collect();
    if !missing.is_empty() {
        println!("   not in this checkout: {}", missing.join(", "));
    }
    let exe = std::env::current_exe().context("locating this executable")?;
    let bin_dir = exe
        .parent()
        .context("this executable has no directory")?
        .to_path_buf();
    let cargo = std::env::var_os("CARGO").map_or_else(|| PathBuf::from("cargo"), PathBuf::from);
    let mut all_ok = true;
    if !present.is_empty() {
        println!("   building: cargo build -p {}", present.join(" -p "));
        if let Err(e) = concepts::build(&cargo, &root, &bin_dir, &present, Duration::from_secs(1200)) {
            // Binaries built earlier may still be there; run what exists and report the rest.
            println!("   {e}");
            all_ok = false;
        }
    }
    for name in &present {
        print!("   running {name} ... ");
        std::io::stdout().flush()?;
        match concepts::run(&bin_dir, name, quick, deadline) {
            Outcome::Measured {
                report,
                seconds,
                args,
            } => {
                println!(
                    "{} claims in {seconds:.1} s ({name} {})",
                    report.claims.len(),
                    args.join(" ")
                );
                claims.extend(report.claims.into_iter().map(|c| (name.to_string(), c)));
            }
            Outcome::Failed(why) => {
                println!("FAILED: {why}");
                all_ok = false;
            }
            Outcome::NotInCheckout => println!("not in this checkout"),
        }
    }
    sort_by_section(claims);
    if !claims.is_empty() {
        println!();
        print!("{}", report::claims_table(claims));
        println!("{}", verdicts::summary(claims, RUST_CLAIMS));
    }
    Ok(all_ok)
}
