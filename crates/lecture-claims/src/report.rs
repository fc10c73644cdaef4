//! The two tables the binary prints: the concept crates' claims, and Rust's workload figures
//! next to Python's (figures only: the verdicts are the binaries' and [`crate::verdicts`]').

use std::collections::BTreeMap;

use crate::claims::Claim;
use crate::table::{figure, render};
use crate::workloads::WORKLOADS;

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
                c.verdict().to_string(),
                krate.clone(),
            ]
        })
        .collect();
    render(
        &[
            "section",
            "claim",
            "lecture says",
            "measured here (Rust)",
            "verdict",
            "from",
        ],
        &rows,
        &[12, 32, 18, 34, 13, 0],
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
    }

    #[test]
    fn tiny_ratios_read_as_fractions() {
        assert_eq!(ratio(0.002), "1/500");
        assert_eq!(ratio(0.5), "0.500");
        assert_eq!(ratio(3.0), "3.00");
    }
}
