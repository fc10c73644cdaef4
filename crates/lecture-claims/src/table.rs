//! Aligned plain-text tables whose long cells wrap onto extra lines.

/// Renders `rows` under `headers`; column `i` is at most `widths[i]` wide (0 = no limit) and
/// wraps at spaces beyond that. Columns are separated by two spaces; the header is underlined.
pub fn render(headers: &[&str], rows: &[Vec<String>], widths: &[usize]) -> String {
    let n = headers.len();
    let limit = |i: usize| widths.get(i).copied().filter(|&w| w > 0).unwrap_or(usize::MAX);
    // Each row becomes several physical lines.
    let mut cells: Vec<Vec<Vec<String>>> = Vec::new();
    cells.push(headers.iter().map(|h| vec![h.to_string()]).collect());
    for r in rows {
        cells.push(
            (0..n)
                .map(|i| wrap(r.get(i).map_or("", |s| s), limit(i)))
                .collect(),
        );
    }
    let mut col = vec![0; n];
    for row in &cells {
        for (i, lines) in row.iter().enumerate() {
            for l in lines {
                col[i] = col[i].max(l.chars().count());
            }
        }
    }
    let mut out = String::new();
    for (k, row) in cells.iter().enumerate() {
        let height = row.iter().map(Vec::len).max().unwrap_or(1);
        for h in 0..height {
            let mut line = String::new();
            for (i, lines) in row.iter().enumerate() {
                let text = lines.get(h).map_or("", |s| s);
                line.push_str(text);
                if i + 1 < n {
                    line.push_str(&" ".repeat(col[i] - text.chars().count() + 2));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        if k == 0 {
            let total: usize = col.iter().sum::<usize>() + 2 * (n - 1);
            out.push_str(&"-".repeat(total));
            out.push('\n');
        }
    }
    out
}

/// Splits `text` into lines of at most `width` characters, at spaces (a longer word stays whole).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let last = lines.last_mut().expect("never empty");
        if last.is_empty() {
            last.push_str(word);
        } else if last.chars().count() + 1 + word.chars().count() <= width {
            last.push(' ');
            last.push_str(word);
        } else {
            lines.push(word.to_string());
        }
    }
    lines
}

/// A figure with 3 significant digits and thousands separators: 0.312, 41.2, 1,234, 52,480.
pub fn figure(v: f64) -> String {
    if !v.is_finite() {
        return "n/a".to_string();
    }
    let a = v.abs();
    if a >= 100.0 {
        let s = format!("{:.0}", v.round());
        let (sign, digits) = s.split_at(usize::from(s.starts_with('-')));
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        format!("{sign}{grouped}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else if a >= 1.0 {
        format!("{v:.2}")
    } else {
        format!("{v:.3}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn figures_are_readable() {
        assert_eq!(figure(52_480.4), "52,480");
        assert_eq!(figure(1_234_567.0), "1,234,567");
        assert_eq!(figure(412.0), "412");
        assert_eq!(figure(41.23), "41.2");
        assert_eq!(figure(2.345), "2.35");
        assert_eq!(figure(0.3121), "0.312");
        assert_eq!(figure(-1500.0), "-1,500");
        assert_eq!(figure(f64::NAN), "n/a");
    }

    #[test]
    fn columns_align_and_long_cells_wrap() {
        let rows = vec![vec![
            "1.1".to_string(),
            "one two three four".to_string(),
            "x".to_string(),
        ]];
        let t = render(&["sec", "claim", "ok"], &rows, &[0, 9, 0]);
        // "three four" is 10 characters, one more than the limit: it splits.
        assert_eq!(
            t,
            "sec  claim    ok\n----------------\n1.1  one two  x\n     three\n     four\n"
        );
    }
}
