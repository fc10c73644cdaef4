//! The `--json` report every concept binary prints, and the lecture's section order.

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

/// One quantitative claim of the lecture, as a concept binary measured it (the one type
/// every binary writes and this crate reads).
pub use lab_support::Claim;

/// The one JSON object a concept binary prints with `--json` (other fields are ignored here).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CrateReport {
    #[serde(rename = "crate")]
    pub crate_name: String,
    pub claims: Vec<Claim>,
}

/// Parses a concept binary's `--json` stdout: one JSON object, possibly after stray lines.
pub fn parse_report(stdout: &str) -> Result<CrateReport> {
    let text = stdout.trim();
    if text.is_empty() {
        bail!("no output (expected one JSON object with a \"claims\" array)");
    }
    match serde_json::from_str::<CrateReport>(text) {
        Ok(r) => Ok(r),
        Err(first) => {
            // Be lenient about a line printed before the object (a build note, a warning).
            let start = text.find("\n{").map(|i| i + 1);
            if let Some(start) = start
                && let Ok(r) = serde_json::from_str::<CrateReport>(&text[start..])
            {
                return Ok(r);
            }
            let shown: String = text.chars().take(160).collect();
            Err(first).with_context(|| format!("not a claims report: {shown:?}"))
        }
    }
}

/// The lecture's order: 0.1, 1.1, 2.1, Example 27.1, 3.1, 4.1, Example 27.2, 5.1, 6.1.
pub const SECTION_ORDER: [&str; 9] = ["0.1", "1.1", "2.1", "27.1", "3.1", "4.1", "27.2", "5.1", "6.1"];

/// Where a section label sorts in the lecture (unknown labels go last, in their given order).
pub fn section_rank(section: &str) -> usize {
    let s = section.trim();
    // "Example 27.1" / "Ex 27.1" / "27.1" all mean the example; a bare "4.1" means the concept.
    let key = if s.contains("27.1") {
        "27.1"
    } else if s.contains("27.2") {
        "27.2"
    } else {
        s.trim_start_matches(|c: char| !c.is_ascii_digit())
    };
    SECTION_ORDER
        .iter()
        .position(|k| key.starts_with(k))
        .unwrap_or(SECTION_ORDER.len())
}

/// Sorts claims into the lecture's order, keeping the crates' own order within a section.
pub fn sort_by_section(claims: &mut [(String, Claim)]) {
    claims.sort_by_key(|(_, c)| section_rank(&c.section));
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{"crate":"shared-state","claims":[
        {"section":"3.1","claim":"manager access vs Value access","lecture":"1,000x or more",
         "measured":"412x (manager 48.1 us, Value 117 ns)","value":412.0,"holds":false},
        {"section":"5.1","claim":"raw memory per access","lecture":"100 to 1,000x faster",
         "measured":"n/a","value":null,"holds":null}],
        "table":[{"row":"extra fields are ignored"}]}"#;

    #[test]
    fn parses_a_report_with_extra_fields_and_nulls() {
        let r = parse_report(SAMPLE).unwrap();
        assert_eq!(r.crate_name, "shared-state");
        assert_eq!(r.claims.len(), 2);
        assert_eq!(r.claims[0].value, Some(412.0));
        assert_eq!(r.claims[0].holds, Some(false));
        assert_eq!(r.claims[1].value, None);
        assert_eq!(r.claims[1].holds, None);
    }

    #[test]
    fn accepts_a_line_before_the_object() {
        let r = parse_report(&format!("(dev build)\n{SAMPLE}\n")).unwrap();
        assert_eq!(r.claims.len(), 2);
    }

    #[test]
    fn missing_fields_and_garbage_are_errors() {
        assert!(parse_report("").is_err());
        assert!(parse_report("Lecture 27, section 3.1\nnot json").is_err());
        // "claims" is required; so are a claim's text fields.
        assert!(parse_report(r#"{"crate":"x"}"#).is_err());
        assert!(parse_report(r#"{"crate":"x","claims":[{"section":"3.1"}]}"#).is_err());
        let e = parse_report("garbage").unwrap_err();
        assert!(format!("{e:#}").contains("not a claims report"), "{e:#}");
    }

    #[test]
    fn sections_sort_in_the_lecture_order() {
        let labels = [
            "6.1",
            "Example 27.2",
            "5.1",
            "4.1",
            "3.1",
            "Example 27.1",
            "2.1",
            "1.1",
            "0.1",
        ];
        let mut claims: Vec<(String, Claim)> = labels
            .iter()
            .map(|s| {
                let c = Claim {
                    section: s.to_string(),
                    claim: String::new(),
                    lecture: String::new(),
                    measured: String::new(),
                    value: None,
                    holds: None,
                };
                ("c".to_string(), c)
            })
            .collect();
        sort_by_section(&mut claims);
        let got: Vec<&str> = claims.iter().map(|(_, c)| c.section.as_str()).collect();
        assert_eq!(
            got,
            [
                "0.1",
                "1.1",
                "2.1",
                "Example 27.1",
                "3.1",
                "4.1",
                "Example 27.2",
                "5.1",
                "6.1"
            ]
        );
        assert_eq!(section_rank("Concept 3.1"), 4);
        assert_eq!(section_rank("27.2"), 6);
        assert_eq!(section_rank("appendix"), SECTION_ORDER.len());
    }
}
