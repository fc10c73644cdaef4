//! The book in docs/ must not show code or outputs that no longer exist, and its links must
//! lead somewhere: mdBook does not check this itself (see docs_check's module comment).

use lecture_claims::docs_check::check_book;
use lecture_claims::workspace_root;

#[test]
fn every_include_and_internal_link_of_the_book_resolves() {
    let book = workspace_root().join("docs");
    let report = check_book(&book).expect("docs/src/SUMMARY.md should be readable");
    let problems: Vec<String> = report.problems.iter().map(|p| p.to_string()).collect();
    assert!(
        problems.is_empty(),
        "{} broken include(s)/link(s) in the book:\n{}",
        problems.len(),
        problems.join("\n")
    );
    // The book has one page per lecture section plus the reference pages, and they include
    // real code: a checker that found nothing to check would prove nothing.
    assert!(report.pages >= 13, "only {} pages found", report.pages);
    assert!(report.includes >= 20, "only {} includes found", report.includes);
}

/// The lecture's Python, as the project runs it, is what the pages show beside the Rust:
/// every anchor in python/*.py must open and close, hold code, and fit on a slide.
#[test]
fn every_python_anchor_is_includable_and_short() {
    use lecture_claims::docs_check::{MAX_INCLUDE_LINES, check_include};
    let dir = workspace_root().join("crates/lecture-claims/python");
    let mut names = vec![];
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "py") {
            continue;
        }
        let text = std::fs::read_to_string(&path).unwrap();
        let file = path.file_name().unwrap().to_str().unwrap().to_string();
        for line in text.lines() {
            let Some(rest) = line.trim_start().strip_prefix("# ANCHOR: ") else {
                continue;
            };
            let name = rest.trim();
            match check_include(&dir, &format!("{file}:{name}")) {
                Ok(n) => assert!(
                    n <= MAX_INCLUDE_LINES,
                    "{file}:{name} shows {n} lines, more than {MAX_INCLUDE_LINES}"
                ),
                Err(e) => panic!("{e}"),
            }
            names.push(format!("{file}:{name}"));
        }
    }
    // The sections the pages need: Example 27.1, Example 27.2, the manager against Value
    // access, and the poison pill.
    for want in [
        "workloads.py:ex27_1_worker",
        "workloads.py:ex27_1_main",
        "workloads.py:ex27_2_workers",
        "workloads.py:ex27_2_main",
        "workloads.py:manager_access",
        "workloads.py:value_access",
        "workloads.py:poison_pill",
        "workloads.py:manager_bottleneck",
    ] {
        assert!(names.iter().any(|n| n == want), "no anchor {want}: {names:?}");
    }
}

/// No include may show more than a slide holds ([`MAX_INCLUDE_LINES`] lines): a long capture
/// is cut into the parts a page discusses with `docs/capture.sh`'s `extract`, and the page
/// gives the command that prints the whole output.
///
/// [`MAX_INCLUDE_LINES`]: lecture_claims::docs_check::MAX_INCLUDE_LINES
#[test]
fn no_include_is_longer_than_a_slide() {
    let report = check_book(&workspace_root().join("docs")).unwrap();
    let long: Vec<String> = report.long_includes.iter().map(|p| p.to_string()).collect();
    assert!(
        long.is_empty(),
        "{} include(s) longer than a slide:\n{}",
        long.len(),
        long.join("\n")
    );
}

/// Every section page with code shows the lecture's Python beside the Rust, included by
/// anchor from the file `lecture-claims` runs, and a figure measured in Python by that run
/// (a capture of `lecture-claims`, which labels each figure with its language).
#[test]
fn every_section_page_shows_python_from_the_file_that_runs() {
    let src = workspace_root().join("docs/src");
    for page in [
        "s1-1-poison-pill.md",
        "s2-1-early-exit.md",
        "example-27-1.md",
        "s3-1-shared-state-cost.md",
        "s4-1-check-frequency.md",
        "example-27-2.md",
        "s5-1-manager-or-shared-memory.md",
    ] {
        let text = std::fs::read_to_string(src.join(page)).unwrap();
        let includes = lecture_claims::docs_check::includes_in(&text);
        let has = |what: &str| includes.iter().any(|(_, arg)| arg.contains(what));
        assert!(
            has("python/workloads.py:"),
            "{page} includes no Python from workloads.py"
        );
        assert!(
            has("captured/lecture_claims_"),
            "{page} shows no figure from a lecture-claims run (Python's beside Rust's)"
        );
    }
}
