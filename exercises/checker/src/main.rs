//! `coord-exercises`: list the Lecture 27 exercises, check one, show its hint, and (once
//! solved) its reference solution.

use std::process::ExitCode;

use anyhow::{Result, bail};
use clap::{Parser, Subcommand};
use coord_exercises::Options;
use coord_exercises::info::{EXERCISES, Exercise, find, fnv1a};

#[derive(Parser)]
#[command(
    name = "coord-exercises",
    about = "The Lecture 27 exercises (coordination in multiprocessing): progress, checks, hints"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the exercises with their lecture section and status (runs every check)
    List,
    /// Run one exercise's contract against your code and print a short pass/fail summary
    Check {
        /// Exercise number (1-5)
        #[arg(value_parser = clap::value_parser!(u32).range(1..=EXERCISES.len() as i64))]
        number: u32,
        /// Let the processes' own stderr through (your debug prints, panic lines)
        #[arg(long)]
        verbose: bool,
    },
    /// Print the hint of one exercise
    Hint {
        /// Exercise number (1-5)
        #[arg(value_parser = clap::value_parser!(u32).range(1..=EXERCISES.len() as i64))]
        number: u32,
    },
    /// Print the reference solution of an exercise you have solved
    Solution {
        /// Exercise number (1-5)
        #[arg(value_parser = clap::value_parser!(u32).range(1..=EXERCISES.len() as i64))]
        number: u32,
    },
    /// For maintainers: prove a contract (solution passes, every wrong implementation and the
    /// shipped stub fail); `0` proves all
    Prove {
        /// Exercise number (1-5), or 0 for all
        #[arg(value_parser = clap::value_parser!(u32).range(0..=EXERCISES.len() as i64))]
        number: u32,
    },
    /// For maintainers: print the fingerprint of each exercise file (info.rs `shipped_hash`)
    #[command(hide = true)]
    Hashes,
}

fn main() -> ExitCode {
    // `coord-exercises list | head` ends quietly instead of panicking on a closed stdout.
    lab_support::restore_default_sigpipe();
    let cli = Cli::parse();
    match run(cli.command) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn header() {
    println!("Lecture 27 exercises: coordination in multiprocessing (coord-lab)");
    if cfg!(debug_assertions) {
        println!("(dev build: optimized, overflow checks on)");
    }
}

fn exercise(n: u32) -> Result<&'static Exercise> {
    match find(n) {
        Some(e) => Ok(e),
        None => bail!("there is no exercise {n}"),
    }
}

fn run(command: Command) -> Result<bool> {
    match command {
        Command::List => {
            header();
            let quiet = Options::default();
            let rows: Vec<(&Exercise, bool)> = EXERCISES
                .iter()
                .map(|e| (e, (e.learner)(&quiet).is_ok()))
                .collect();
            let done = rows.iter().filter(|(_, ok)| *ok).count();
            println!("progress: {done} of {} done\n", rows.len());
            println!(" #  {:<24} {:<9} {:<9} file", "exercise", "section", "status");
            for (e, ok) in &rows {
                let status = match (ok, e.untouched()) {
                    (true, _) => "done",
                    (false, true) => "not yet",
                    (false, false) => "edited",
                };
                println!(
                    " {}  {:<24} {:<9} {:<9} {}",
                    e.number, e.name, e.section, status, e.file
                );
            }
            println!();
            match rows.iter().find(|(_, ok)| !ok) {
                Some((e, _)) => println!(
                    "next: exercise {} ({}): edit {}, then `cargo run -p coord-exercises -- check {}`",
                    e.number, e.topic, e.file, e.number
                ),
                None => println!("every exercise is done: compare yours with `-- solution N`"),
            }
            Ok(true)
        }
        Command::Check { number, verbose } => {
            let e = exercise(number)?;
            println!(
                "Exercise {}: {} (lecture section {}): {}",
                e.number, e.name, e.section, e.topic
            );
            println!("file: {}", e.file);
            let opts = Options {
                quiet: !verbose,
                ..Options::default()
            };
            match (e.learner)(&opts) {
                Ok(report) => {
                    println!("PASS");
                    for f in &report.facts {
                        println!("  {f}");
                    }
                    println!(
                        "solved: compare with the reference: cargo run -p coord-exercises -- solution {number}"
                    );
                    Ok(true)
                }
                Err(f) => {
                    println!("FAIL: {f}");
                    if e.untouched() {
                        println!("(the file is still the unfinished stub: replace each todo!())");
                    }
                    println!("hint: cargo run -p coord-exercises -- hint {number}");
                    Ok(false)
                }
            }
        }
        Command::Hint { number } => {
            let e = exercise(number)?;
            println!(
                "Exercise {}: {} (lecture section {})\n",
                e.number, e.name, e.section
            );
            println!("{}", e.hint);
            Ok(true)
        }
        Command::Solution { number } => {
            let e = exercise(number)?;
            if e.untouched() || (e.learner)(&Options::default()).is_err() {
                bail!(
                    "exercise {number} is not solved yet: the solution unlocks once \
                     `cargo run -p coord-exercises -- check {number}` passes"
                );
            }
            println!("Reference solution of exercise {}: {}\n", e.number, e.name);
            println!("{}", e.solution_source);
            Ok(true)
        }
        Command::Prove { number } => {
            header();
            let opts = Options::default();
            let mut all_ok = true;
            for e in EXERCISES.iter().filter(|e| number == 0 || e.number == number) {
                println!("exercise {} ({}), section {}", e.number, e.name, e.section);
                let sol = (e.solution)(&opts);
                all_ok &= sol.is_ok();
                println!("  {:<26} {}", "reference solution", verdict(&sol, true));
                for w in e.wrongs {
                    let v = (w.run)(&opts);
                    let ok = matches!(&v, Err(f) if f.message.contains(w.expect));
                    all_ok &= ok;
                    println!("  {:<26} {} [{}]", w.name, verdict(&v, false), w.mistake);
                }
                if e.untouched() {
                    let v = (e.learner)(&opts);
                    all_ok &= v.is_err();
                    println!("  {:<26} {}", "shipped stub", verdict(&v, false));
                } else {
                    println!("  {:<26} (edited: not the shipped stub)", "stub");
                }
            }
            println!(
                "{}",
                if all_ok {
                    "every contract accepts its solution and rejects every wrong implementation"
                } else {
                    "SOME CONTRACT DID NOT BEHAVE"
                }
            );
            Ok(all_ok)
        }
        Command::Hashes => {
            for e in EXERCISES {
                println!(
                    "{} {:#018x} (recorded {:#018x})",
                    e.file,
                    fnv1a(e.source),
                    e.shipped_hash
                );
            }
            Ok(true)
        }
    }
}

fn verdict(v: &coord_exercises::Verdict, should_pass: bool) -> String {
    let short = |s: &str| {
        let s: String = s.chars().take(150).collect();
        s
    };
    match (v, should_pass) {
        (Ok(_), true) => "passes (as it must)".into(),
        (Ok(_), false) => "PASSES (it must fail!)".into(),
        (Err(f), false) => format!("fails: {}", short(&f.message)),
        (Err(f), true) => format!("FAILS: {}", short(&f.message)),
    }
}
