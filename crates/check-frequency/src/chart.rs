//! A small terminal chart: values against check intervals on a log-scale x axis, with a
//! separate "never" column at the right.

/// One line of points, one value (or none) per x position.
pub struct Series {
    pub name: String,
    pub mark: char,
    pub points: Vec<Option<f64>>,
}

/// How the y axis is scaled and labelled.
pub struct YAxis {
    /// Label of the axis, with its unit, e.g. "overhead (%)".
    pub title: String,
    pub log: bool,
    /// Formats a tick value.
    pub fmt: fn(f64) -> String,
}

const PLOT_WIDTH: usize = 56;
const LABEL_WIDTH: usize = 10;

/// Draws `series` against `xs` (check intervals; `None` = never) and returns the lines.
pub fn render(title: &str, xs: &[Option<u64>], series: &[Series], y: &YAxis, height: usize) -> String {
    let height = height.max(3);
    // x positions: log10 of the interval across the log part, "never" after a gap.
    let logs: Vec<f64> = xs.iter().flatten().map(|&k| (k.max(1) as f64).log10()).collect();
    let (lmin, lmax) = logs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    let log_width = PLOT_WIDTH - 8;
    let col = |x: Option<u64>| -> usize {
        match x {
            Some(k) if lmax > lmin => {
                (((k.max(1) as f64).log10() - lmin) / (lmax - lmin) * (log_width - 1) as f64).round() as usize
            }
            Some(_) => 0,
            None => PLOT_WIDTH - 2,
        }
    };
    // y range.
    let vals: Vec<f64> = series
        .iter()
        .flat_map(|s| s.points.iter().flatten().copied())
        .filter(|v| v.is_finite() && (!y.log || *v > 0.0))
        .collect();
    let (mut ymin, mut ymax) = vals
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &v| {
            (a.min(v), b.max(v))
        });
    if vals.is_empty() {
        (ymin, ymax) = (0.0, 1.0);
    }
    let tr = |v: f64| if y.log { v.log10() } else { v };
    let (mut lo, mut hi) = if y.log {
        (ymin.log10().floor(), ymax.log10().ceil())
    } else {
        (ymin.min(0.0), ymax.max(0.0))
    };
    if hi - lo < 1e-12 {
        hi = lo + 1.0;
    }
    if !y.log {
        // A round step per row, and the bottom on a multiple of it, so that 0 falls on a row.
        let mut step = nice_step((hi - lo) / (height - 1) as f64);
        loop {
            let bottom = (lo / step).floor() * step;
            if bottom + step * (height - 1) as f64 >= hi - 1e-12 {
                lo = bottom;
                hi = bottom + step * (height - 1) as f64;
                break;
            }
            step = nice_step(step * 1.001);
        }
    }
    let row_of = |v: f64| -> usize {
        let f = (hi - tr(v)) / (hi - lo);
        ((f * (height - 1) as f64).round().clamp(0.0, (height - 1) as f64)) as usize
    };
    let value_of_row = |r: usize| -> f64 {
        let t = hi - (hi - lo) * r as f64 / (height - 1) as f64;
        if y.log { 10f64.powf(t) } else { t }
    };

    let mut grid = vec![vec![' '; PLOT_WIDTH]; height];
    if !y.log && lo < 0.0 && hi > 0.0 {
        let zr = row_of(0.0);
        for c in grid[zr].iter_mut() {
            *c = '.';
        }
    }
    for s in series {
        for (x, p) in xs.iter().zip(&s.points) {
            let Some(v) = p else { continue };
            if !v.is_finite() {
                continue;
            }
            let r = if y.log && *v <= 0.0 {
                height - 1
            } else {
                row_of(*v)
            };
            let c = col(*x);
            let cell = &mut grid[r][c];
            *cell = if *cell == ' ' || *cell == '.' || *cell == s.mark {
                s.mark
            } else {
                '*'
            };
        }
    }

    let mut out = String::new();
    out.push_str(&format!("  {title}\n"));
    out.push_str(&format!(
        "  y: {}{}\n",
        y.title,
        if y.log { ", log scale" } else { "" }
    ));
    let label_rows: Vec<usize> = (0..height)
        .filter(|&r| r % 2 == 0 || r == height - 1 || (!y.log && value_of_row(r).abs() < 1e-9))
        .collect();
    for (r, line) in grid.iter().enumerate() {
        let label = if label_rows.contains(&r) {
            (y.fmt)(value_of_row(r))
        } else {
            String::new()
        };
        let body: String = line.iter().collect();
        out.push_str(&format!("{label:>LABEL_WIDTH$} |{}\n", body.trim_end()));
    }
    // x axis with the interval labels under their columns.
    let mut axis = vec!['-'; PLOT_WIDTH];
    let mut labels = vec![' '; PLOT_WIDTH + 8];
    let mut next_free = 0usize;
    for &x in xs {
        let c = col(x);
        axis[c] = '+';
        let text = match x {
            Some(k) => short_count(k),
            None => "never".to_string(),
        };
        let start = c.saturating_sub(text.len() / 2);
        if start >= next_free && start + text.len() <= labels.len() {
            for (i, ch) in text.chars().enumerate() {
                labels[start + i] = ch;
            }
            next_free = start + text.len() + 1;
        }
    }
    if xs.iter().any(|x| x.is_none()) {
        axis[log_width + 2] = '/';
        axis[log_width + 3] = '/';
    }
    out.push_str(&format!(
        "{:>LABEL_WIDTH$} +{}\n",
        "",
        axis.iter().collect::<String>()
    ));
    out.push_str(&format!(
        "{:>LABEL_WIDTH$}  {}\n",
        "",
        labels.iter().collect::<String>().trim_end()
    ));
    out.push_str(&format!(
        "{:>LABEL_WIDTH$}  x: check interval K (iterations between flag reads), log scale\n",
        ""
    ));
    let legend: Vec<String> = series
        .iter()
        .map(|s| format!("{} = {}", s.mark, s.name))
        .collect();
    out.push_str(&format!(
        "{:>LABEL_WIDTH$}  {}, * = both\n",
        "",
        legend.join(", ")
    ));
    out
}

/// The smallest of 1, 2, 2.5, 5 times a power of ten that is at least `x`.
fn nice_step(x: f64) -> f64 {
    let e = 10f64.powf(x.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * e)
        .find(|&v| v >= x * (1.0 - 1e-9))
        .unwrap_or(10.0 * e)
}

/// 1 -> "1", 10000 -> "10k", 2500000 -> "2.5M".
pub fn short_count(k: u64) -> String {
    if k >= 1_000_000 && k % 100_000 == 0 {
        trim(format!("{:.1}", k as f64 / 1e6)) + "M"
    } else if k >= 1_000 && k % 100 == 0 {
        trim(format!("{:.1}", k as f64 / 1e3)) + "k"
    } else {
        k.to_string()
    }
}

fn trim(s: String) -> String {
    s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
}
