//! # lecture-claims: the lecture's quantitative claims, measured on this machine
//!
//! `cargo run -p lecture-claims` builds and runs a short version of each concept binary with
//! `--json`, collects the claims they checked, and prints them in the lecture's order next
//! to what this machine measured. When `python3` is present it also runs the lecture's
//! workloads in Python (python/workloads.py) and the same workloads in Rust
//! ([`workloads`]), and prints the two side by side with their ratio. Each claim that both
//! languages measure is judged on Python's figures in one place, [`verdicts`], next to the
//! verdict the concept binary gave on Rust's (never judged a second time).
//!
//! The crate also holds the book's include and link checker ([`docs_check`]), which the
//! test suite runs on `docs/` so that `cargo test --workspace` fails on a broken include.

pub mod claims;
pub mod concepts;
pub mod docs_check;
pub mod ladder;
pub mod machine;
pub mod python;
pub mod report;
pub mod runner;
pub mod table;
pub mod verdicts;
pub mod workloads;

use std::path::PathBuf;

/// The workspace root, as known when this crate was compiled.
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.parent()
        .and_then(|p| p.parent())
        .map(PathBuf::from)
        .unwrap_or(here)
}
