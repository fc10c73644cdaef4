//! Finding `python3` and running the lecture's workloads in it (python/workloads.py).

use std::collections::BTreeMap;
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::runner::run_with_deadline;

/// The Python script, built into the binary so it runs from anywhere.
pub const WORKLOADS_PY: &str = include_str!("../python/workloads.py");

/// Set this to a python executable to use it, or to a path that does not exist (or to
/// `none`) to run without Python.
pub const PYTHON_ENV: &str = "LECTURE_CLAIMS_PYTHON";

/// Whether a Python interpreter can be used, and why not.
#[derive(Debug, Clone, PartialEq)]
pub enum PythonLookup {
    Found { path: PathBuf, version: String },
    Absent { reason: String },
}

/// Looks for Python the way the binary does: `$LECTURE_CLAIMS_PYTHON`, else `python3` on `$PATH`.
pub fn find_python() -> PythonLookup {
    find_python_with(std::env::var_os(PYTHON_ENV), std::env::var_os("PATH"))
}

/// [`find_python`] with the environment passed in (tests use this instead of changing it).
pub fn find_python_with(override_: Option<OsString>, path_var: Option<OsString>) -> PythonLookup {
    let candidate = match override_ {
        Some(o) if o.is_empty() || o == OsStr::new("none") => {
            return PythonLookup::Absent {
                reason: format!("{PYTHON_ENV} is set to {o:?}"),
            };
        }
        Some(o) => {
            let p = PathBuf::from(&o);
            if !p.is_file() {
                return PythonLookup::Absent {
                    reason: format!("{PYTHON_ENV}={} does not exist", p.display()),
                };
            }
            p
        }
        None => match search_path(path_var.as_deref(), "python3") {
            Some(p) => p,
            None => {
                return PythonLookup::Absent {
                    reason: "no python3 on PATH".to_string(),
                };
            }
        },
    };
    let mut cmd = Command::new(&candidate);
    cmd.arg("--version");
    match run_with_deadline(cmd, Duration::from_secs(20)) {
        Ok(out) if out.success() => {
            // Python 3 prints "Python 3.x.y" on stdout (Python 2 printed it on stderr).
            let text = format!("{}{}", out.stdout, out.stderr);
            let version = text.trim().trim_start_matches("Python ").to_string();
            if version.starts_with('3') {
                PythonLookup::Found {
                    path: candidate,
                    version,
                }
            } else {
                PythonLookup::Absent {
                    reason: format!("{} is Python {version}, not Python 3", candidate.display()),
                }
            }
        }
        Ok(out) => PythonLookup::Absent {
            reason: format!(
                "{} --version failed: {}",
                candidate.display(),
                out.last_error_line()
            ),
        },
        Err(e) => PythonLookup::Absent {
            reason: format!("cannot run {}: {e}", candidate.display()),
        },
    }
}

fn search_path(path_var: Option<&OsStr>, name: &str) -> Option<PathBuf> {
    std::env::split_paths(path_var?)
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// What python/workloads.py prints.
#[derive(Debug, Clone, Deserialize)]
pub struct PythonFigures {
    pub version: String,
    pub figures: BTreeMap<String, f64>,
}

/// Runs the workloads in `python` (killed after `deadline`) and parses its one JSON line.
pub fn run_workloads(python: &Path, quick: bool, deadline: Duration) -> Result<PythonFigures> {
    let mut cmd = Command::new(python);
    cmd.arg("-c").arg(WORKLOADS_PY);
    if quick {
        cmd.arg("--quick");
    }
    let out = run_with_deadline(cmd, deadline).with_context(|| format!("running {}", python.display()))?;
    if out.timed_out() {
        bail!("the Python workloads did not finish within {deadline:?} (killed)");
    }
    if !out.success() {
        bail!("the Python workloads failed: {}", out.last_error_line());
    }
    serde_json::from_str(out.stdout.trim()).context("reading the Python workloads' JSON")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_override_that_does_not_exist_means_absent() {
        let got = find_python_with(Some("/nonexistent/python3".into()), None);
        let PythonLookup::Absent { reason } = got else {
            panic!("expected Absent, got {got:?}")
        };
        assert!(reason.contains("/nonexistent/python3"), "{reason}");
        assert!(matches!(
            find_python_with(Some("none".into()), None),
            PythonLookup::Absent { .. }
        ));
    }

    #[test]
    fn a_path_without_python3_means_absent() {
        let empty = std::env::temp_dir().join(format!("lecture-claims-empty-path-{}", std::process::id()));
        std::fs::create_dir_all(&empty).unwrap();
        let got = find_python_with(None, Some(empty.clone().into_os_string()));
        std::fs::remove_dir_all(&empty).unwrap();
        assert_eq!(
            got,
            PythonLookup::Absent {
                reason: "no python3 on PATH".into()
            }
        );
        assert!(matches!(
            find_python_with(None, None),
            PythonLookup::Absent { .. }
        ));
    }

    #[test]
    fn a_program_that_is_not_python_is_refused() {
        // /bin/true exits 0 but prints no version.
        let got = find_python_with(Some("/bin/true".into()), None);
        assert!(matches!(got, PythonLookup::Absent { .. }), "{got:?}");
    }
}
