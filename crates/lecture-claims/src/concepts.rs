//! Building and running the concept binaries with `--json`, each under a deadline.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::claims::{CrateReport, parse_report};
use crate::runner::run_with_deadline;

/// The concept crates, in the lecture's order; each has a binary of the same name.
pub const CONCEPT_CRATES: [&str; 4] = ["poison-pill", "early-exit", "shared-state", "check-frequency"];

/// What happened to one concept crate.
#[derive(Debug)]
pub enum Outcome {
    /// The crate is not in this checkout (`crates/<name>/Cargo.toml` is missing).
    NotInCheckout,
    /// Its binary could not be built, run, or read; the reason, in one line.
    Failed(String),
    Measured {
        report: CrateReport,
        seconds: f64,
        args: Vec<String>,
    },
}

/// The crates of [`CONCEPT_CRATES`] that exist under `root/crates/`.
pub fn present(root: &Path) -> Vec<&'static str> {
    CONCEPT_CRATES
        .into_iter()
        .filter(|c| root.join("crates").join(c).join("Cargo.toml").is_file())
        .collect()
}

/// The cargo profile the current executable was built with, from its directory name
/// (`target/debug` is the dev profile, `target/release` the release one).
fn profile_args(bin_dir: &Path) -> Vec<String> {
    match bin_dir.file_name().and_then(|n| n.to_str()) {
        Some("debug") | None => vec![],
        Some("release") => vec!["--release".into()],
        Some(other) => vec!["--profile".into(), other.into()],
    }
}

/// Builds `crates` with cargo, in the profile and target directory of this executable, so
/// their binaries land next to it. `Err` carries the build's last error lines.
pub fn build(
    cargo: &Path,
    root: &Path,
    bin_dir: &Path,
    crates: &[&str],
    deadline: Duration,
) -> Result<(), String> {
    if crates.is_empty() {
        return Ok(());
    }
    let mut cmd = Command::new(cargo);
    cmd.current_dir(root).arg("build").arg("--quiet");
    cmd.args(profile_args(bin_dir));
    // target/<profile>/ → target/: build into the directory this binary came from.
    if let Some(target_dir) = bin_dir.parent() {
        cmd.arg("--target-dir").arg(target_dir);
    }
    for c in crates {
        cmd.args(["-p", c]);
    }
    let out = run_with_deadline(cmd, deadline).map_err(|e| format!("cannot run {}: {e}", cargo.display()))?;
    if out.timed_out() {
        return Err(format!("cargo build did not finish within {deadline:?}"));
    }
    if !out.success() {
        let tail: Vec<&str> = out.stderr.lines().rev().take(15).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        return Err(format!("cargo build failed:\n{}", tail.join("\n")));
    }
    Ok(())
}

/// Runs `bin_dir/<name> [--quick] --json` and reads its claims. A binary that does not know
/// `--quick` (clap's usage error) is run again without it.
pub fn run(bin_dir: &Path, name: &str, quick: bool, deadline: Duration) -> Outcome {
    let exe: PathBuf = bin_dir.join(name);
    if !exe.is_file() {
        return Outcome::Failed(format!("{} was not built", exe.display()));
    }
    let mut tries: Vec<Vec<String>> = vec![];
    if quick {
        tries.push(vec!["--quick".into(), "--json".into()]);
    }
    tries.push(vec!["--json".into()]);
    let mut last = String::new();
    for args in tries {
        let mut cmd = Command::new(&exe);
        cmd.args(&args);
        let out = match run_with_deadline(cmd, deadline) {
            Ok(o) => o,
            Err(e) => return Outcome::Failed(format!("cannot run {}: {e}", exe.display())),
        };
        if out.timed_out() {
            return Outcome::Failed(format!(
                "`{name} {}` did not finish within {deadline:?}",
                args.join(" ")
            ));
        }
        let usage_error = out.status.and_then(|s| s.code()) == Some(2) && out.stderr.contains("--quick");
        if usage_error && args.contains(&"--quick".to_string()) {
            last = out.last_error_line().to_string();
            continue;
        }
        if !out.success() {
            return Outcome::Failed(format!(
                "`{name} {}` failed ({}): {}",
                args.join(" "),
                out.status.map_or("killed".to_string(), |s| s.to_string()),
                out.last_error_line()
            ));
        }
        return match parse_report(&out.stdout) {
            Ok(report) => Outcome::Measured {
                report,
                seconds: out.elapsed.as_secs_f64(),
                args,
            },
            Err(e) => Outcome::Failed(format!("`{name} {}`: {e:#}", args.join(" "))),
        };
    }
    Outcome::Failed(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profile_follows_the_binarys_directory() {
        assert!(profile_args(Path::new("/t/debug")).is_empty());
        assert_eq!(profile_args(Path::new("/t/release")), ["--release"]);
        assert_eq!(profile_args(Path::new("/t/bench")), ["--profile", "bench"]);
    }

    #[test]
    fn a_binary_that_was_not_built_is_a_clear_failure() {
        let dir = std::env::temp_dir();
        match run(&dir, "no-such-concept-binary", true, Duration::from_secs(5)) {
            Outcome::Failed(msg) => assert!(msg.contains("was not built"), "{msg}"),
            other => panic!("expected Failed, got {other:?}"),
        }
    }

    #[test]
    fn a_binary_that_prints_a_report_is_measured() {
        // A stand-in concept binary: a shell script that answers --json like the real ones.
        let dir = std::env::temp_dir().join(format!("lecture-claims-fake-bin-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let script = dir.join("fake-concept");
        std::fs::write(
            &script,
            "#!/bin/sh\ncase \"$*\" in *--quick*) echo \"error: unexpected argument '--quick'\" >&2; exit 2;; esac\n\
             echo '{\"crate\":\"fake-concept\",\"claims\":[{\"section\":\"1.1\",\"claim\":\"c\",\
             \"lecture\":\"l\",\"measured\":\"m\",\"value\":1,\"holds\":true}]}'\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Another test thread may fork while this file is open for writing; the copy of the
        // descriptor in that child makes exec fail with ETXTBSY until the child exits.
        let mut got = run(&dir, "fake-concept", true, Duration::from_secs(20));
        for _ in 0..100 {
            match &got {
                Outcome::Failed(m) if m.contains("busy") => {
                    std::thread::sleep(Duration::from_millis(50));
                    got = run(&dir, "fake-concept", true, Duration::from_secs(20));
                }
                _ => break,
            }
        }
        std::fs::remove_dir_all(&dir).unwrap();
        match got {
            Outcome::Measured { report, args, .. } => {
                assert_eq!(report.crate_name, "fake-concept");
                assert_eq!(report.claims[0].holds, Some(true));
                assert_eq!(args, ["--json"], "retried without --quick");
            }
            other => panic!("expected Measured, got {other:?}"),
        }
    }
}
