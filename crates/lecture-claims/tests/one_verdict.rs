//! One claim, one verdict: run `lecture-claims --quick` once, read every place its output
//! gives a verdict (the claims table of part 1, the comparison lines of part 3, the summary
//! lines) and check that the same claim in the same language gets the same verdict in all
//! of them, and that the counts in the summaries are the counts of those verdicts.

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use lecture_claims::runner::run_with_deadline;
use lecture_claims::verdicts::COMPARISONS;

/// Building the four concept crates from scratch on 2 shared cores can take minutes.
const DEADLINE: Duration = Duration::from_secs(1500);

const VERDICTS: [&str; 3] = ["holds", "does NOT hold", "cannot tell"];

/// The claims table of part 1: (crate, claim) -> verdict, read by the header's columns
/// (the table pads by characters and wraps long cells onto the next lines).
fn part1_rows(out: &str) -> Vec<(String, String, String)> {
    let lines: Vec<&str> = out.lines().collect();
    let Some(h) = lines
        .iter()
        .position(|l| l.starts_with("section") && l.contains("verdict") && l.contains("from"))
    else {
        return vec![];
    };
    let header: Vec<char> = lines[h].chars().collect();
    let col = |name: &str| {
        let s: String = header.iter().collect();
        s.find(name).map(|b| s[..b].chars().count()).unwrap()
    };
    let (claim, lecture, verdict, from) = (col("claim"), col("lecture says"), col("verdict"), col("from"));
    let cell = |l: &[char], a: usize, b: usize| -> String {
        l.get(a.min(l.len())..b.min(l.len()))
            .map(|c| c.iter().collect::<String>())
            .unwrap_or_default()
            .trim()
            .to_string()
    };
    let mut rows: Vec<(String, String, String)> = vec![];
    for l in &lines[h + 2..] {
        if l.is_empty() || l.contains(" claims (") {
            break;
        }
        let c: Vec<char> = l.chars().collect();
        let (sec, cl, v, f) = (
            cell(&c, 0, claim),
            cell(&c, claim, lecture),
            cell(&c, verdict, from),
            cell(&c, from, usize::MAX),
        );
        if !sec.is_empty() {
            rows.push((f, cl, v));
        } else if let Some(last) = rows.last_mut() {
            if !cl.is_empty() {
                last.1 = format!("{} {cl}", last.1);
            }
            if !v.is_empty() {
                last.2 = format!("{} {v}", last.2);
            }
        }
    }
    rows
}

/// `N claims (WHOSE): A hold, B do not, C cannot tell` -> (N, A, B, C), every such line.
fn summaries(out: &str, whose: &str) -> Vec<[usize; 4]> {
    out.lines()
        .filter(|l| l.contains(&format!(" claims ({whose}")))
        .map(|l| {
            let nums: Vec<usize> = l
                .split(|c: char| !c.is_ascii_digit())
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().unwrap())
                .collect();
            [nums[0], nums[1], nums[2], nums[3]]
        })
        .collect()
}

fn counts<'a>(verdicts: impl Iterator<Item = &'a str>) -> [usize; 4] {
    let v: Vec<&str> = verdicts.collect();
    let n = |w: &str| v.iter().filter(|x| **x == w).count();
    [v.len(), n("holds"), n("does NOT hold"), n("cannot tell")]
}

/// The verdict at the end of a part-3 line (`...: holds`), or `None` for "not judged".
fn verdict_of(line: &str) -> Option<&str> {
    VERDICTS.into_iter().find(|v| line.ends_with(&format!(": {v}")))
}

#[test]
fn every_claim_has_one_verdict_per_language_in_one_run() {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lecture-claims"));
    cmd.args(["--quick", "--timeout", "600"]);
    let out = run_with_deadline(cmd, DEADLINE).unwrap();
    assert!(!out.timed_out(), "did not finish within {DEADLINE:?}");
    let text = &out.stdout;
    assert!(
        out.success(),
        "exit {:?}\nstdout:\n{text}\nstderr:\n{}",
        out.status,
        out.stderr
    );

    // Part 1: every crate ran, and no claim is listed twice with two verdicts.
    let rows = part1_rows(text);
    assert!(
        rows.len() >= 20,
        "the claims table has {} rows:\n{text}",
        rows.len()
    );
    let mut rust: BTreeMap<(String, String), String> = BTreeMap::new();
    for (krate, claim, verdict) in &rows {
        assert!(
            VERDICTS.contains(&verdict.as_str()),
            "{krate}: {claim}: verdict {verdict:?}"
        );
        if let Some(other) = rust.insert((krate.clone(), claim.clone()), verdict.clone()) {
            assert_eq!(&other, verdict, "{krate}: {claim} listed twice with two verdicts");
        }
    }

    // Part 3: the Rust verdict quoted for each comparison is part 1's, word for word.
    let lines: Vec<&str> = text.lines().collect();
    let mut python_verdicts = vec![];
    let python_ran = text.contains("running python/workloads.py ... done");
    for c in &COMPARISONS {
        let i = lines
            .iter()
            .position(|l| l.starts_with(c.section) && l.contains(c.rust_claim) && l.contains("(lecture: "))
            .unwrap_or_else(|| panic!("part 3 does not show {:?}:\n{text}", c.rust_claim));
        let (r, p) = (lines[i + 1].trim_start(), lines[i + 2].trim_start());
        assert!(r.starts_with("Rust:") && p.starts_with("Python:"), "{r}\n{p}");
        let from_part1 = rust
            .get(&(c.rust_crate.to_string(), c.rust_claim.to_string()))
            .unwrap_or_else(|| {
                panic!(
                    "{} no longer reports {:?}: rename it in verdicts::COMPARISONS too\n{text}",
                    c.rust_crate, c.rust_claim
                )
            });
        assert_eq!(
            verdict_of(r),
            Some(from_part1.as_str()),
            "part 3 quotes another Rust verdict than part 1 for {:?}:\n{r}",
            c.rust_claim
        );
        match verdict_of(p) {
            Some(v) => python_verdicts.push(v),
            None => assert!(
                !python_ran,
                "Python ran but {:?} was not judged: {p}",
                c.rust_claim
            ),
        }
    }

    // The summaries count exactly the verdicts shown.
    let rust_sums = summaries(text, "Rust");
    assert_eq!(
        rust_sums.len(),
        2,
        "a Rust summary after part 1 and one at the end:\n{text}"
    );
    let want = counts(rows.iter().map(|(_, _, v)| v.as_str()));
    assert!(rust_sums.iter().all(|s| *s == want), "{rust_sums:?} vs {want:?}");
    let py_sums = summaries(text, "Python");
    assert_eq!(py_sums, vec![counts(python_verdicts.into_iter())], "{text}");
}
