//! The two tables the binary prints: the claims, and Rust next to Python.

use std::collections::BTreeMap;

use crate::claims::Claim;
use crate::table::{figure, render};
use crate::workloads::WORKLOADS;

/// `yes`, `NO`, or `n/a` for a claim that this run cannot decide.
pub fn holds_word(h: Option<bool>) -> &'static str {
    match h {
        Some(true) => "yes",
        Some(false) => "NO",
        None => "n/a",
    }
}

/// The claims table: one row per claim, in the order given (sort them first).
pub fn claims_table(claims: &[(String, Claim)]) -> String {
    let rows: Vec<Vec<String>> = claims
        .iter()
        .map(|(krate, c)| {
            vec![
                c.section.clone(),
                c.claim.clone(),
                c.lecture.clone(),
                c.measured.clone(),
                holds_word(c.holds).to_string(),
                krate.clone(),
            ]
        })
        .collect();
    render(
        &[
            "section",
            "claim",
            "lecture says",
            "measured here",
            "holds",
            "from",
        ],
        &rows,
        &[12, 34, 18, 34, 5, 0],
    )
}

/// `A hold, B do not, C undecided` over the claims.
pub fn claims_summary(claims: &[(String, Claim)]) -> String {
    let count = |h: Option<bool>| claims.iter().filter(|(_, c)| c.holds == h).count();
    format!(
        "{} claims: {} hold on this machine, {} do not, {} cannot be decided by this run",
        claims.len(),
        count(Some(true)),
        count(Some(false)),
        count(None)
    )
}

/// Rust next to Python for every workload; without Python, the Rust column only.
pub fn workloads_table(rust: &BTreeMap<String, f64>, python: Option<&BTreeMap<String, f64>>) -> String {
    let mut rows = Vec::new();
    for w in WORKLOADS {
        let r = rust.get(w.id).copied();
        let mut row = vec![
            w.section.to_string(),
            w.what.to_string(),
            w.unit.to_string(),
            r.map_or("n/a".into(), figure),
        ];
        if let Some(py) = python {
            let p = py.get(w.id).copied();
            row.push(p.map_or("n/a".into(), figure));
            row.push(match (r, p) {
                (Some(r), Some(p)) if p > 0.0 => ratio(r / p),
                _ => "n/a".into(),
            });
        }
        rows.push(row);
    }
    if python.is_some() {
        render(
            &["section", "workload", "unit", "Rust", "Python", "Rust/Python"],
            &rows,
            &[12, 36, 0, 0, 0, 0],
        )
    } else {
        render(&["section", "workload", "unit", "Rust"], &rows, &[12, 36, 0, 0])
    }
}

/// A ratio that stays readable from 0.00003 to 50,000.
pub fn ratio(x: f64) -> String {
    if x.is_finite() && x > 0.0 && x < 0.01 {
        format!("1/{}", figure(1.0 / x))
    } else {
        figure(x)
    }
}

/// The claims both languages can check from the workloads, as lines of text.
pub fn derived_lines(rust: &BTreeMap<String, f64>, python: Option<&BTreeMap<String, f64>>) -> Vec<String> {
    let div = |m: &BTreeMap<String, f64>, a: &str, b: &str| Some(m.get(a)? / m.get(b)?);
    let both = |a: &str, b: &str, verdict: &dyn Fn(f64) -> bool| {
        let mut s = String::new();
        if let Some(r) = div(rust, a, b) {
            s += &format!(
                "Rust {}x ({})",
                figure(r),
                if verdict(r) { "holds" } else { "does NOT hold" }
            );
        }
        if let Some(p) = python.and_then(|py| div(py, a, b)) {
            s += &format!(
                ", Python {}x ({})",
                figure(p),
                if verdict(p) { "holds" } else { "does NOT hold" }
            );
        }
        s
    };
    let share_of_us = |id: &str| {
        let verdict = |ns: f64| if ns >= 100.0 { "holds" } else { "does NOT hold" };
        let mut s = rust.get(id).map_or(String::new(), |&r| {
            format!("Rust {:.1}% ({})", r / 10.0, verdict(r))
        });
        if let Some(&p) = python.and_then(|py| py.get(id)) {
            s += &format!(", Python {:.1}% ({})", p / 10.0, verdict(p));
        }
        s
    };
    let only_ratio = |a: &str, b: &str| {
        let mut s = div(rust, a, b).map_or(String::new(), |r| format!("Rust {}x", figure(r)));
        if let Some(p) = python.and_then(|py| div(py, a, b)) {
            s += &format!(", Python {}x", figure(p));
        }
        s
    };
    vec![
        format!(
            "3.1  manager read / synchronized Value read, lecture \"1,000x or more\": {}",
            both("manager_get_ns", "value_get_ns", &|x| x >= 1000.0)
        ),
        format!(
            "4.1  one locked read as a share of a 1 us iteration, lecture \"comparable to the computation\" \
             (judged, as check-frequency does, as at least 10%): {}",
            share_of_us("value_get_ns")
        ),
        format!(
            "27.2 time with `count % 10` / with `count % 1000`: {} (a few runs of a few ms decide \
             nothing here; check-frequency's sweep is the measurement)",
            only_ratio("ex27_2_every10_ms", "ex27_2_every1000_ms")
        ),
        format!(
            "5.1  manager read / synchronized Value read, lecture \"100 to 1,000x\": {}",
            both("manager_get_ns", "value_get_ns", &|x| x >= 100.0)
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(pairs: &[(&str, f64)]) -> BTreeMap<String, f64> {
        pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
    }

    #[test]
    fn without_python_the_table_has_no_python_column() {
        let rust = figures(&[("value_get_ns", 12.0)]);
        let t = workloads_table(&rust, None);
        assert!(!t.contains("Python"), "{t}");
        assert!(t.contains("12.0"), "{t}");
    }

    #[test]
    fn with_python_the_ratio_is_rust_over_python() {
        let rust = figures(&[("value_get_ns", 12.0), ("manager_get_ns", 48_000.0)]);
        let py = figures(&[("value_get_ns", 120.0), ("manager_get_ns", 48_000.0)]);
        let t = workloads_table(&rust, Some(&py));
        let row = t.lines().find(|l| l.contains("synchronized Value read")).unwrap();
        assert!(row.ends_with("0.100"), "{row}");
        let lines = derived_lines(&rust, Some(&py));
        assert!(
            lines[0].contains("Rust 4,000x (holds), Python 400x (does NOT hold)"),
            "{}",
            lines[0]
        );
        assert!(lines[3].contains("Python 400x (holds)"), "{}", lines[3]);
        // 12 ns of 1 us is 1.2%; 120 ns is 12%: the 10% yardstick separates them.
        assert!(
            lines[1].contains("Rust 1.2% (does NOT hold), Python 12.0% (holds)"),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn tiny_ratios_read_as_fractions() {
        assert_eq!(ratio(0.002), "1/500");
        assert_eq!(ratio(0.5), "0.500");
        assert_eq!(ratio(3.0), "3.00");
    }
}
