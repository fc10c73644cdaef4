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
