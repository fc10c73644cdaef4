//! One quantitative claim of the lecture next to what a run measured: the one type every
//! concept binary puts in its `--json` report and `lecture-claims` reads back.

use serde::{Deserialize, Serialize};

/// One quantitative claim of the lecture, as a run measured it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    /// The lecture section, e.g. `"3.1"` or `"Example 27.2"`.
    pub section: String,
    /// A short paraphrase of the claim (never the lecture's own sentence).
    pub claim: String,
    /// What the lecture says, e.g. `"1,000x or more"`.
    pub lecture: String,
    /// What this run measured, as text, naming the language it comes from.
    pub measured: String,
    /// The measured figure as a number, when there is one.
    #[serde(default)]
    pub value: Option<f64>,
    /// Whether the claim holds on this machine; `None` when the run cannot decide.
    #[serde(default)]
    pub holds: Option<bool>,
}

impl Claim {
    /// A claim with its section, paraphrase and the lecture's figure; fill in the rest with
    /// [`measured`](Claim::measured) and [`holds`](Claim::holds).
    pub fn new(section: impl Into<String>, claim: impl Into<String>, lecture: impl Into<String>) -> Claim {
        Claim {
            section: section.into(),
            claim: claim.into(),
            lecture: lecture.into(),
            measured: String::new(),
            value: None,
            holds: None,
        }
    }

    /// What was measured: as text, and as a number when there is one (NaN counts as none).
    pub fn measured(mut self, text: impl Into<String>, value: impl Into<Option<f64>>) -> Claim {
        self.measured = text.into();
        self.value = value.into().filter(|v| !v.is_nan());
        self
    }

    /// The verdict: `Some(true)` holds, `Some(false)` does not, `None` cannot tell.
    pub fn holds(mut self, holds: impl Into<Option<bool>>) -> Claim {
        self.holds = holds.into();
        self
    }

    /// The verdict in words, the same everywhere a claim is printed.
    pub fn verdict(&self) -> &'static str {
        match self.holds {
            Some(true) => "holds",
            Some(false) => "does NOT hold",
            None => "cannot tell",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_and_round_trips_through_json() {
        let c = Claim::new("3.1", "manager vs Value", "1,000x or more")
            .measured("Rust 904x", 904.0)
            .holds(false);
        assert_eq!(c.verdict(), "does NOT hold");
        let back: Claim = serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        // A report without the optional fields still reads.
        let c: Claim =
            serde_json::from_str(r#"{"section":"1.1","claim":"c","lecture":"l","measured":"m"}"#).unwrap();
        assert_eq!((c.value, c.holds, c.verdict()), (None, None, "cannot tell"));
        assert_eq!(Claim::new("a", "b", "c").measured("x", f64::NAN).value, None);
    }
}
