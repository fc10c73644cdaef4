//! One claim, one verdict, one source.
//!
//! The concept binaries judge the lecture's claims on Rust's figures, each in its own crate,
//! and report the verdict in `--json`. This module judges the same claims on **Python's**
//! figures (python/workloads.py), and it is the only place that does: one threshold per
//! claim, written once in [`COMPARISONS`]. It never judges a Rust figure again: the Rust
//! verdict it prints next to the Python one is the binary's own [`Claim`], found by crate
//! and claim text. So the claims table (part 1), the comparison (part 3) and the summary
//! of one run all show the same verdict for the same claim and language.

use std::collections::BTreeMap;

use crate::claims::Claim;
use crate::table::figure;

/// How a comparison's figure reads.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Unit {
    /// `760×`
    Times,
    /// `19.2%`
    Percent,
    /// `0 tasks lost`
    TasksLost,
}

impl Unit {
    pub fn show(self, v: f64) -> String {
        match self {
            Unit::Times => format!("{}×", figure(v)),
            Unit::Percent => format!("{v:.1}%"),
            Unit::TasksLost => format!("{v:.0} tasks lost"),
        }
    }
}

/// What Python's figures say about one claim: the figure, how it was obtained, the verdict.
pub struct PythonJudgement {
    pub value: f64,
    pub how: String,
    pub holds: Option<bool>,
}

/// A claim of the lecture measured in both languages.
pub struct Comparison {
    pub section: &'static str,
    /// The concept crate that judges it on Rust's figures, and its claim's exact text there.
    pub rust_crate: &'static str,
    pub rust_claim: &'static str,
    pub lecture: &'static str,
    pub unit: Unit,
    /// The rule for Python, in words (printed with the verdict).
    pub python_rule: &'static str,
    /// Python's figure and verdict from python/workloads.py's figures; `None` if missing.
    pub judge_python: fn(&BTreeMap<String, f64>) -> Option<PythonJudgement>,
}

fn get(py: &BTreeMap<String, f64>, id: &str) -> Option<f64> {
    py.get(id).copied().filter(|v| v.is_finite())
}

/// Python's manager read over its synchronized Value read: the one ratio that 3.1 and 5.1
/// judge, each against its own threshold (`holds`).
fn manager_over_value(py: &BTreeMap<String, f64>, holds: fn(f64) -> bool) -> Option<PythonJudgement> {
    let (m, v) = (get(py, "manager_get_ns")?, get(py, "value_get_ns")?);
    let r = m / v;
    Some(PythonJudgement {
        value: r,
        how: format!(
            "manager read {} ns / synchronized Value read {} ns",
            figure(m),
            figure(v)
        ),
        holds: Some(holds(r)),
    })
}

/// The thresholds the Python side is judged by. Each is the one the concept crate applies
/// to Rust's figure, so a claim means the same thing in both languages.
pub const MANAGER_OVER_VALUE: f64 = 1000.0;
pub const SHARED_MEMORY_RANGE: (f64, f64) = (100.0, 1000.0);
pub const SINGLE_THREADED_BELOW: f64 = 1.5;
pub const COMPARABLE_PERCENT: f64 = 10.0;

/// Every claim judged in both languages, in the lecture's order.
pub const COMPARISONS: [Comparison; 6] = [
    Comparison {
        section: "1.1",
        rust_crate: "poison-pill",
        rust_claim: "one sentinel per worker, behind the tasks on the same queue: no task is lost and every worker exits on its own",
        lecture: "nothing is lost",
        unit: Unit::TasksLost,
        python_rule: "holds when every task comes back once and every worker exits 0",
        judge_python: |py| {
            // The Python workload fails the whole run if a task is lost or doubled, or a
            // worker exits non-zero: a figure here means all of it was checked and held.
            let ms = get(py, "poison_pill_ms")?;
            Some(PythonJudgement {
                value: 0.0,
                how: format!(
                    "4 workers, one None each behind the tasks: every result back once, every worker exited 0, {} ms",
                    figure(ms)
                ),
                holds: Some(true),
            })
        },
    },
    Comparison {
        section: "3.1",
        rust_crate: "shared-state",
        rust_claim: "a manager access costs far more than a Value access",
        lecture: "1,000x or more",
        unit: Unit::Times,
        python_rule: "holds at 1,000x or more",
        judge_python: |py| manager_over_value(py, |r| r >= MANAGER_OVER_VALUE),
    },
    Comparison {
        section: "3.1",
        rust_crate: "shared-state",
        rust_claim: "through the manager, more workers do not add throughput",
        lecture: "single-threaded in effect",
        unit: Unit::Times,
        python_rule: "holds below 1.5x",
        judge_python: |py| {
            let r = get(py, "manager_4_over_1")?;
            Some(PythonJudgement {
                value: r,
                how: "manager calls per second, 4 workers over 1 worker".into(),
                holds: Some(r < SINGLE_THREADED_BELOW),
            })
        },
    },
    Comparison {
        section: "4.1",
        rust_crate: "check-frequency",
        rust_claim: "in a tight loop, a locked check every iteration costs about as much as the work",
        lecture: "comparable to 1 µs of work",
        unit: Unit::Percent,
        python_rule: "holds at 10% or more",
        judge_python: |py| {
            let v = get(py, "value_get_ns")?;
            let pct = v / 1000.0 * 100.0;
            Some(PythonJudgement {
                value: pct,
                how: format!("one locked read, {} ns, over a 1 µs iteration", figure(v)),
                holds: Some(pct >= COMPARABLE_PERCENT),
            })
        },
    },
    Comparison {
        section: "Example 27.2",
        rust_crate: "check-frequency",
        rust_claim: "Example 27.2: checking every 10 vs every 1000 shows a measurable difference in elapsed time",
        lecture: "the frequent checker is slower",
        unit: Unit::Times,
        python_rule: "holds if `% 10` is slower by more than the spread (IQR) of the runs",
        judge_python: |py| {
            let (f, r) = (get(py, "ex27_2_every10_ms")?, get(py, "ex27_2_every1000_ms")?);
            let spread = get(py, "ex27_2_spread_ms")?;
            Some(PythonJudgement {
                value: f / r,
                how: format!(
                    "`% 10` {} ms over `% 1000` {} ms, spread {} ms",
                    figure(f),
                    figure(r),
                    figure(spread)
                ),
                holds: Some(f - r > spread),
            })
        },
    },
    Comparison {
        section: "5.1",
        rust_crate: "shared-state",
        rust_claim: "shared memory is faster per access than a manager object",
        lecture: "100 to 1,000 times faster",
        unit: Unit::Times,
        python_rule: "holds from 100x to 1,000x",
        judge_python: |py| {
            manager_over_value(py, |r| {
                (SHARED_MEMORY_RANGE.0..=SHARED_MEMORY_RANGE.1).contains(&r)
            })
        },
    },
];

/// The binary's own claim for a comparison, from part 1 (`None` if that crate did not run).
pub fn rust_claim<'a>(c: &Comparison, claims: &'a [(String, Claim)]) -> Option<&'a Claim> {
    claims
        .iter()
        .find(|(krate, claim)| krate == c.rust_crate && claim.claim == c.rust_claim)
        .map(|(_, claim)| claim)
}

/// The Python verdicts of this run as claims, in [`COMPARISONS`]' order (only those Python
/// measured), so they can be counted and printed like the Rust ones.
pub fn python_claims(python: Option<&BTreeMap<String, f64>>) -> Vec<(String, Claim)> {
    let Some(py) = python else { return vec![] };
    COMPARISONS
        .iter()
        .filter_map(|c| {
            let j = (c.judge_python)(py)?;
            let claim = Claim::new(c.section, c.rust_claim, c.lecture)
                .measured(format!("Python {} ({})", c.unit.show(j.value), j.how), j.value)
                .holds(j.holds);
            Some(("lecture-claims".to_string(), claim))
        })
        .collect()
}

/// Part 3 of the report: each claim, the Rust verdict (the binary's, quoted) and the Python
/// verdict (judged here), one line each, so the verdict is the text after the last `: `.
pub fn comparison_lines(
    rust: &[(String, Claim)],
    python: Option<&BTreeMap<String, f64>>,
    why_no_rust: &str,
    why_no_python: &str,
) -> Vec<String> {
    let py_claims = python_claims(python);
    let mut out = Vec::new();
    for c in &COMPARISONS {
        out.push(format!(
            "{:<13} {} (lecture: {})",
            c.section, c.rust_claim, c.lecture
        ));
        out.push(match rust_claim(c, rust) {
            Some(claim) => format!(
                "              Rust:   {} ({}, part 1): {}",
                claim.value.map_or("no figure".to_string(), |v| c.unit.show(v)),
                c.rust_crate,
                claim.verdict()
            ),
            None => format!(
                "              Rust:   (not judged in this run: {} {why_no_rust})",
                c.rust_crate
            ),
        });
        out.push(
            match py_claims
                .iter()
                .find(|(_, p)| p.claim == c.rust_claim && p.section == c.section)
            {
                Some((_, p)) => format!(
                    "              Python: {}, {}: {}",
                    p.measured.trim_start_matches("Python "),
                    c.python_rule,
                    p.verdict()
                ),
                None => format!("              Python: (not judged in this run: {why_no_python})"),
            },
        );
    }
    out
}

/// `N claims (LANGUAGE, from WHERE): A hold, B do not, C cannot tell`.
pub fn summary(claims: &[(String, Claim)], whose: &str) -> String {
    let count = |h: Option<bool>| claims.iter().filter(|(_, c)| c.holds == h).count();
    format!(
        "{} claims ({whose}): {} hold, {} do not, {} cannot tell",
        claims.len(),
        count(Some(true)),
        count(Some(false)),
        count(None)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    fn rust(krate: &str, claim: &str, value: f64, holds: bool) -> (String, Claim) {
        let c = Claim::new("3.1", claim, "x").measured("Rust", value).holds(holds);
        (krate.to_string(), c)
    }

    #[test]
    fn the_rust_verdict_is_the_binarys_never_recomputed() {
        // A binary that said "holds" for 1.9: part 3 must say "holds" too, whatever a
        // threshold here would have said about that figure.
        let claims = vec![rust("check-frequency", COMPARISONS[3].rust_claim, 1.9, true)];
        let lines = comparison_lines(&claims, None, "", "no python");
        let i = lines
            .iter()
            .position(|l| l.contains(COMPARISONS[3].rust_claim))
            .unwrap();
        assert!(
            lines[i + 1].ends_with("Rust:   1.9% (check-frequency, part 1): holds"),
            "{}",
            lines[i + 1]
        );
        assert!(lines[i + 2].contains("not judged"), "{}", lines[i + 2]);
    }

    #[test]
    fn python_is_judged_by_one_threshold_per_claim() {
        let py = figures(&[
            ("manager_get_ns", 44_000.0),
            ("value_get_ns", 192.0),
            ("manager_4_over_1", 1.6),
            ("poison_pill_ms", 50.0),
            ("ex27_2_every10_ms", 80.0),
            ("ex27_2_every1000_ms", 79.0),
            ("ex27_2_spread_ms", 3.0),
        ]);
        let got: Vec<(String, Option<bool>)> = python_claims(Some(&py))
            .into_iter()
            .map(|(_, c)| (c.lecture, c.holds))
            .collect();
        let want = [
            ("nothing is lost", Some(true)),
            ("1,000x or more", Some(false)),                 // 229x
            ("single-threaded in effect", Some(false)),      // 1.6x is not below 1.5x
            ("comparable to 1 µs of work", Some(true)),      // 19.2%
            ("the frequent checker is slower", Some(false)), // 1 ms inside a 3 ms spread
            ("100 to 1,000 times faster", Some(true)),       // 229x
        ];
        let want: Vec<(String, Option<bool>)> = want.iter().map(|(l, h)| (l.to_string(), *h)).collect();
        assert_eq!(got, want);
        // The same figure, the same verdict, wherever it is printed.
        let lines = comparison_lines(&[], Some(&py), "(--skip-crates)", "");
        assert!(
            lines
                .iter()
                .any(|l| l.contains("Python: 229×") && l.ends_with(": does NOT hold")),
            "{lines:?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.contains("Python: 19.2%") && l.ends_with(": holds")),
            "{lines:?}"
        );
        assert_eq!(
            summary(&python_claims(Some(&py)), "Python"),
            "6 claims (Python): 3 hold, 3 do not, 0 cannot tell"
        );
    }

    #[test]
    fn a_missing_python_figure_is_not_judged() {
        let py = figures(&[("value_get_ns", 192.0)]);
        let got = python_claims(Some(&py));
        assert_eq!(got.len(), 1, "only 4.1 can be judged from the Value read alone");
        assert!(python_claims(None).is_empty());
    }
}
