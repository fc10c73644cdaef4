//! Checks the book's `{{#include}}`s and internal links, because mdBook does not:
//! mdBook 0.5.4 exits 0 when an included file is missing (it only logs an error) and
//! silently renders nothing when the anchor does not exist.
//!
//! A problem is reported for:
//! - an include whose file does not exist;
//! - an include by anchor where `ANCHOR: name` or `ANCHOR_END: name` is missing, or the end
//!   comes before the start, or nothing lies between them;
//! - an include by line numbers past the end of the file;
//! - a link to a page that does not exist, or exists but is not listed in `SUMMARY.md`
//!   (mdBook renders only listed pages), or lies outside the book's `src/`;
//! - a link `page.md#part` (or `#part`) where the page has no heading with that id.
//!
//! Anchors work the same in every language mdBook can include (`// ANCHOR: x` in Rust,
//! `# ANCHOR: x` in Python): only the marker and the name count. The checker also measures
//! each include, in lines shown, and lists those longer than [`MAX_INCLUDE_LINES`] in
//! [`Report::long_includes`]: a slide cannot hold more.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};

/// One broken include or link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    pub line: usize,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
    }
}

/// The longest excerpt a page should include, in lines shown.
pub const MAX_INCLUDE_LINES: usize = 45;

/// What was checked, and what is wrong.
#[derive(Debug, Default)]
pub struct Report {
    pub pages: usize,
    pub includes: usize,
    pub links: usize,
    pub problems: Vec<Problem>,
    /// Includes that show more than [`MAX_INCLUDE_LINES`] lines (the message says how many
    /// and of which file).
    pub long_includes: Vec<Problem>,
}

/// Checks the book in `book_dir` (the directory holding `book.toml`, pages under `src/`).
pub fn check_book(book_dir: &Path) -> io::Result<Report> {
    let src = book_dir.join("src");
    let summary_path = src.join("SUMMARY.md");
    let summary = fs::read_to_string(&summary_path)
        .map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", summary_path.display())))?;
    let listed: Vec<PathBuf> = links_in(&summary)
        .into_iter()
        .filter_map(|(_, target)| page_of(&target))
        .map(|p| normalize(&src.join(p)))
        .collect();

    let mut report = Report::default();
    let mut pages = Vec::new();
    collect_md(&src, &mut pages)?;
    pages.sort();
    for page in &pages {
        let text = fs::read_to_string(page)?;
        report.pages += 1;
        let dir = page.parent().unwrap_or(&src);
        for (line, arg) in includes_in(&text) {
            report.includes += 1;
            match check_include(dir, &arg) {
                Err(message) => report.problems.push(Problem {
                    file: page.clone(),
                    line,
                    message,
                }),
                Ok(shown) if shown > MAX_INCLUDE_LINES => report.long_includes.push(Problem {
                    file: page.clone(),
                    line,
                    message: format!("include `{arg}` shows {shown} lines (more than {MAX_INCLUDE_LINES})"),
                }),
                Ok(_) => {}
            }
        }
        for (line, target) in links_in(&text) {
            let fragment = target.split_once('#').map(|(_, f)| f.to_string());
            let resolved = match page_of(&target) {
                Some(p) => normalize(&dir.join(p)),
                // A same-page link `#part`: its fragment is checked against this page.
                None if target.starts_with('#') && target.len() > 1 => normalize(page),
                None => continue,
            };
            report.links += 1;
            let has_heading = |f: &str| {
                let text = fs::read_to_string(&resolved).unwrap_or_default();
                heading_ids(&text).iter().any(|id| id == f)
            };
            let message = if !resolved.starts_with(normalize(&src)) {
                format!("link `{target}` leaves the book's src/: it cannot work in the rendered book")
            } else if !resolved.is_file() {
                format!("link `{target}`: no page {}", resolved.display())
            } else if resolved.extension().is_some_and(|e| e == "md") && !listed.contains(&resolved) {
                format!(
                    "link `{target}`: the page exists but SUMMARY.md does not list it, so it is not rendered"
                )
            } else if let Some(f) = fragment.as_deref().filter(|f| !f.is_empty() && !has_heading(f)) {
                format!("link `{target}`: no heading with id `{f}` on that page")
            } else {
                continue;
            };
            report.problems.push(Problem {
                file: page.clone(),
                line,
                message,
            });
        }
    }
    Ok(report)
}

fn collect_md(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_md(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "md") {
            out.push(path);
        }
    }
    Ok(())
}

/// `{{#include ...}}` and `{{#rustdoc_include ...}}` arguments with their line numbers
/// (1-based). An escaped `\{{#include}}` is shown literally by mdBook and is skipped.
pub fn includes_in(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut rest = line;
        let mut offset = 0;
        while let Some(pos) = rest.find("{{#") {
            let abs = offset + pos;
            let after = &rest[pos + 3..];
            let escaped = abs > 0 && line.as_bytes()[abs - 1] == b'\\';
            let directive = ["include", "rustdoc_include"]
                .into_iter()
                .find(|d| after.starts_with(d) && after[d.len()..].starts_with(|c: char| c.is_whitespace()));
            if let (Some(d), false) = (directive, escaped)
                && let Some(end) = after.find("}}")
            {
                out.push((i + 1, after[d.len()..end].trim().to_string()));
            }
            offset = abs + 3;
            rest = &line[offset..];
        }
    }
    out
}

/// Checks one include argument (`path`, `path:anchor`, `path:from:to`), relative to `dir`;
/// `Ok` holds how many lines the include shows (mdBook leaves out `ANCHOR` marker lines).
pub fn check_include(dir: &Path, arg: &str) -> Result<usize, String> {
    let (path, selector) = match arg.split_once(':') {
        Some((p, s)) => (p.trim(), Some(s.trim())),
        None => (arg.trim(), None),
    };
    let file = dir.join(path);
    let text = fs::read_to_string(&file).map_err(|e| format!("include `{arg}`: cannot read {path}: {e}"))?;
    let all: Vec<&str> = text.lines().collect();
    let shown = |from: usize, to: usize| {
        all[from.min(all.len())..to.min(all.len())]
            .iter()
            .filter(|l| !l.contains("ANCHOR:") && !l.contains("ANCHOR_END:"))
            .count()
    };
    let Some(sel) = selector.filter(|s| !s.is_empty()) else {
        return Ok(shown(0, all.len()));
    };
    if sel.split(':').all(|p| p.is_empty() || p.parse::<usize>().is_ok()) {
        let parts: Vec<Option<usize>> = sel.split(':').map(|p| p.parse::<usize>().ok()).collect();
        let first = parts[0].unwrap_or(1).max(1);
        // mdBook: `N` is line N alone, `N:` from N to the end, `:M` up to M, `N:M` both.
        let last = match parts.get(1) {
            None => first,
            Some(m) => m.unwrap_or(all.len()),
        };
        let lines = all.len();
        return if first > lines {
            Err(format!("include `{arg}`: {path} has only {lines} lines"))
        } else {
            Ok(shown(first - 1, last))
        };
    }
    let start = anchor_line(&text, "ANCHOR:", sel);
    let end = anchor_line(&text, "ANCHOR_END:", sel);
    match (start, end) {
        (None, _) => Err(format!("include `{arg}`: no `ANCHOR: {sel}` in {path}")),
        (Some(_), None) => Err(format!(
            "include `{arg}`: `ANCHOR: {sel}` has no `ANCHOR_END: {sel}` in {path}"
        )),
        (Some(s), Some(e)) if e <= s => Err(format!(
            "include `{arg}`: `ANCHOR_END: {sel}` comes before `ANCHOR: {sel}` in {path}"
        )),
        (Some(s), Some(e)) if e == s + 1 => {
            Err(format!("include `{arg}`: anchor `{sel}` in {path} is empty"))
        }
        (Some(s), Some(e)) => Ok(shown(s + 1, e)),
    }
}

/// The line index of `marker name` (mdBook: the marker, optional spaces, the exact name).
fn anchor_line(text: &str, marker: &str, name: &str) -> Option<usize> {
    text.lines().position(|l| {
        l.match_indices(marker).any(|(i, _)| {
            let rest = l[i + marker.len()..].trim_start();
            rest.strip_prefix(name).is_some_and(|after| {
                !after.starts_with(|c: char| c.is_alphanumeric() || c == '_' || c == '-')
            })
        })
    })
}

/// The ids mdBook gives a page's headings: the text, lower-cased, spaces to `-`, other
/// punctuation dropped; a repeated id gets `-1`, `-2`, ...
pub fn heading_ids(text: &str) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    let mut fence = false;
    for line in text.lines() {
        let t = line.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            fence = !fence;
            continue;
        }
        if fence || !t.starts_with('#') {
            continue;
        }
        let title = t.trim_start_matches('#');
        if !title.starts_with(' ') {
            continue; // `#hashtag`, not a heading
        }
        // Link text stays, link targets go: "[1.1](x.md)" reads as "1.1".
        let mut plain = String::new();
        let mut rest = title.trim();
        while let Some(open) = rest.find("](") {
            plain.push_str(&rest[..open]);
            rest = rest[open..]
                .find(')')
                .map_or("", |close| &rest[open + close + 1..]);
        }
        plain.push_str(rest);
        let base: String = plain
            .trim()
            .chars()
            .filter_map(|c| {
                if c.is_alphanumeric() || c == '_' || c == '-' {
                    Some(c.to_lowercase().next().unwrap_or(c))
                } else if c.is_whitespace() {
                    Some('-')
                } else {
                    None
                }
            })
            .collect();
        let mut id = base.clone();
        let mut n = 1;
        while ids.contains(&id) {
            id = format!("{base}-{n}");
            n += 1;
        }
        ids.push(id);
    }
    ids
}

/// Markdown link targets `[text](target)` outside code, with their line numbers.
pub fn links_in(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut fence: Option<&str> = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if let Some(f) = fence {
            if t.starts_with(f) {
                fence = None;
            }
            continue;
        }
        if t.starts_with("```") || t.starts_with("~~~") {
            fence = Some(&t[..3]);
            continue;
        }
        let plain = strip_inline_code(line);
        let mut rest = plain.as_str();
        while let Some(pos) = rest.find("](") {
            let after = &rest[pos + 2..];
            let Some(end) = after.find(')') else { break };
            let target = after[..end]
                .split_whitespace()
                .next()
                .unwrap_or("")
                .trim_matches(['<', '>']);
            out.push((i + 1, target.to_string()));
            rest = &after[end..];
        }
    }
    out
}

fn strip_inline_code(line: &str) -> String {
    let mut out = String::new();
    let mut in_code = false;
    for c in line.chars() {
        if c == '`' {
            in_code = !in_code;
        } else if !in_code {
            out.push(c);
        }
    }
    out
}

/// The local page a link target points at (`None` for web links and same-page anchors).
fn page_of(target: &str) -> Option<String> {
    if target.is_empty() || target.starts_with('#') || target.contains("://") || target.starts_with("mailto:")
    {
        return None;
    }
    let path = target.split('#').next().unwrap_or(target);
    // The rendered book links to page.html; the source is page.md.
    Some(match path.strip_suffix(".html") {
        Some(stem) => format!("{stem}.md"),
        None => path.to_string(),
    })
}

/// Removes `.` and `..` components without touching the file system.
fn normalize(p: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A throw-away book: `files` are (path under the book dir, contents).
    struct TempBook(PathBuf);

    impl TempBook {
        fn new(name: &str, files: &[(&str, &str)]) -> TempBook {
            let dir = std::env::temp_dir().join(format!("lecture-claims-book-{}-{name}", std::process::id()));
            let _ = fs::remove_dir_all(&dir);
            for (path, text) in files {
                let p = dir.join(path);
                fs::create_dir_all(p.parent().unwrap()).unwrap();
                fs::write(p, text).unwrap();
            }
            TempBook(dir)
        }
        fn problems(&self) -> Vec<String> {
            check_book(&self.0)
                .unwrap()
                .problems
                .iter()
                .map(|p| p.message.clone())
                .collect()
        }
    }

    impl Drop for TempBook {
        fn drop(&mut self) {
            let _ = fs::remove_dir_all(&self.0);
        }
    }

    const CODE: &str = "fn a() {}\n// ANCHOR: good\nfn b() {}\n// ANCHOR_END: good\n\
                        // ANCHOR: empty\n// ANCHOR_END: empty\n// ANCHOR: open\nfn c() {}\n";

    fn book_with_page(name: &str, page: &str) -> TempBook {
        TempBook::new(
            name,
            &[
                (
                    "src/SUMMARY.md",
                    "# Summary\n\n- [One](one.md)\n- [Two](sub/two.md)\n",
                ),
                ("src/one.md", page),
                ("src/sub/two.md", "# Two\n[back](../one.md)\n"),
                ("src/orphan.md", "# not listed\n"),
                ("code/lib.rs", CODE),
            ],
        )
    }

    #[test]
    fn a_good_book_has_no_problems() {
        let b = book_with_page(
            "good",
            "# One\n{{#include ../code/lib.rs:good}}\n{{#include ../code/lib.rs}}\n\
             {{#include ../code/lib.rs:2:3}}\n[two](sub/two.md#two) [web](https://example.com) [here](#one)\n\
             \\{{#include ../code/missing.rs}} is escaped\n```text\n[not a link](nowhere.md)\n```\n\
             `[code](nowhere.md)`\n",
        );
        let r = check_book(&b.0).unwrap();
        assert_eq!(r.problems, vec![], "{:?}", r.problems);
        // Pages: SUMMARY, one, orphan, sub/two; links: 2 in SUMMARY, 2 in one, 1 in two.
        assert_eq!((r.pages, r.includes, r.links), (4, 3, 5));
    }

    #[test]
    fn a_missing_file_is_reported() {
        let b = book_with_page("nofile", "{{#include ../code/gone.rs:good}}\n");
        let p = b.problems();
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("cannot read ../code/gone.rs"), "{p:?}");
    }

    #[test]
    fn missing_broken_or_empty_anchors_are_reported() {
        let b = book_with_page(
            "anchors",
            "{{#include ../code/lib.rs:nope}}\n{{#include ../code/lib.rs:open}}\n\
             {{#include ../code/lib.rs:empty}}\n{{#include ../code/lib.rs:goo}}\n{{#include ../code/lib.rs:99}}\n",
        );
        let p = b.problems();
        assert_eq!(p.len(), 5, "{p:?}");
        assert!(p[0].contains("no `ANCHOR: nope`"), "{p:?}");
        assert!(p[1].contains("no `ANCHOR_END: open`"), "{p:?}");
        assert!(p[2].contains("is empty"), "{p:?}");
        // A prefix of an existing anchor's name is not that anchor.
        assert!(p[3].contains("no `ANCHOR: goo`"), "{p:?}");
        assert!(p[4].contains("has only 8 lines"), "{p:?}");
    }

    #[test]
    fn broken_links_are_reported() {
        let b = book_with_page(
            "links",
            "[a](missing.md) [b](orphan.md) [c](../../outside.md) [d](sub/two.html) [e](missing.html#x)\n",
        );
        let p = b.problems();
        assert_eq!(p.len(), 4, "{p:?}");
        assert!(p[0].contains("no page"), "{p:?}");
        assert!(p[1].contains("does not list it"), "{p:?}");
        assert!(p[2].contains("leaves the book's src/"), "{p:?}");
        assert!(p[3].contains("`missing.html#x`: no page"), "{p:?}");
    }

    #[test]
    fn fragments_must_name_a_heading() {
        let b = book_with_page(
            "fragments",
            "# One\n## Example 27.1's ranges, `start` [here](sub/two.md)\n## What to notice\n## What to notice\n\
             [a](#example-271s-ranges-start-here) [b](#what-to-notice-1) [c](#nope) [d](sub/two.md#two) \
             [e](sub/two.md#three)\n",
        );
        let p = b.problems();
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("`#nope`: no heading with id `nope`"), "{p:?}");
        assert!(p[1].contains("`sub/two.md#three`"), "{p:?}");
    }

    #[test]
    fn python_anchors_work_like_rust_ones_and_long_includes_are_counted() {
        let py = "import math\n# ANCHOR: worker\ndef f(n):\n    # ANCHOR: inner\n    return n\n    # ANCHOR_END: inner\n\
                  # ANCHOR_END: worker\n# ANCHOR: gone\n";
        let long: String = (0..60).map(|i| format!("x = {i}\n")).collect();
        let b = TempBook::new(
            "python",
            &[
                ("src/SUMMARY.md", "# Summary\n\n- [One](one.md)\n"),
                (
                    "src/one.md",
                    "{{#include ../code/w.py:worker}}\n{{#include ../code/w.py:gone}}\n\
                     {{#include ../code/w.py:nope}}\n{{#include ../code/long.py}}\n{{#include ../code/long.py:5:9}}\n",
                ),
                ("code/w.py", py),
                ("code/long.py", &long),
            ],
        );
        // The nested anchor's markers are not shown: 2 lines of code in `worker`.
        assert_eq!(check_include(&b.0.join("src"), "../code/w.py:worker"), Ok(2));
        assert_eq!(check_include(&b.0.join("src"), "../code/w.py:inner"), Ok(1));
        assert_eq!(check_include(&b.0.join("src"), "../code/long.py:5:9"), Ok(5));
        let r = check_book(&b.0).unwrap();
        let p: Vec<&str> = r.problems.iter().map(|p| p.message.as_str()).collect();
        assert_eq!(p.len(), 2, "{p:?}");
        assert!(p[0].contains("no `ANCHOR_END: gone`"), "{p:?}");
        assert!(p[1].contains("no `ANCHOR: nope`"), "{p:?}");
        assert_eq!(r.long_includes.len(), 1, "{:?}", r.long_includes);
        assert!(
            r.long_includes[0].message.contains("shows 60 lines"),
            "{:?}",
            r.long_includes
        );
    }

    #[test]
    fn summary_links_are_checked_too() {
        let b = TempBook::new(
            "summary",
            &[("src/SUMMARY.md", "# Summary\n\n- [Gone](gone.md)\n")],
        );
        let p = b.problems();
        assert_eq!(p.len(), 1, "{p:?}");
        assert!(p[0].contains("`gone.md`: no page"), "{p:?}");
    }
}
