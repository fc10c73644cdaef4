//! A timeline as plain text: one row per lane, time left to right, scaled to a width.
//!
//! Readable without colour (every mark is a letter); colour is added only when asked for,
//! which the binaries do only when stdout is a terminal ([`color_wanted`]).

use std::fmt::Write;
use std::io::IsTerminal;

use crate::model::{Color, Shape, Timeline};

/// The width to draw for: `$COLUMNS` if set, else the terminal's width (`TIOCGWINSZ` on
/// stdout), else 100. Kept between 40 and 400.
pub fn term_width() -> usize {
    let from_env = std::env::var("COLUMNS").ok().and_then(|c| c.trim().parse().ok());
    from_env.or_else(ioctl_width).unwrap_or(100).clamp(40, 400)
}

fn ioctl_width() -> Option<usize> {
    let mut ws = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ only writes one `winsize` through the pointer, and `ws` is a live,
    // properly aligned `winsize` on our stack. On a pipe or a file it fails with ENOTTY and
    // writes nothing. (nix has no wrapper for this request.)
    let r = unsafe { libc::ioctl(libc::STDOUT_FILENO, libc::TIOCGWINSZ, &mut ws) };
    (r == 0 && ws.ws_col > 0).then_some(ws.ws_col as usize)
}

/// Colour only on a terminal, and never when `NO_COLOR` is set.
pub fn color_wanted() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// The symbol of the time between a lane's first and last event, outside any span.
pub const IDLE: char = '.';

/// "1,2,5 × 10^k": a step that puts a tick about every `min_cols` columns.
pub(crate) fn nice_step_ms(span_ms: f64, cols: usize, min_cols: usize) -> f64 {
    let ticks = (cols / min_cols).max(1) as f64;
    let raw = (span_ms / ticks).max(1e-6);
    let mag = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag)
}

/// A time in ms with as many decimals as the step needs.
pub(crate) fn fmt_ms(v: f64, step: f64) -> String {
    let decimals = if step >= 1.0 {
        0
    } else {
        (-step.log10()).ceil() as usize
    };
    format!("{v:.decimals$}")
}

/// Draws `t` in `width` columns (names included): the [`chart`], then per lane its counts and
/// its time in finished spans ("busy") split into CPU time and waiting for a core. The same events
/// always give the same text.
pub fn render(t: &Timeline, width: usize, color: bool) -> String {
    let mut s = chart(t, width, color);
    if t.bounds().is_some() {
        s.push_str(&summary(t));
    }
    s
}

/// The picture alone: an axis in ms from the first event, one row per lane, the legend.
pub fn chart(t: &Timeline, width: usize, color: bool) -> String {
    let mut s = String::new();
    let Some((t0, t1)) = t.bounds() else {
        return "(no events recorded)\n".into();
    };
    let name_w = t
        .lanes
        .iter()
        .map(|l| l.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(6)
        + 2;
    let cols = width.saturating_sub(name_w + 1).max(20);
    let span = (t1 - t0).max(1);
    let col = |ns: u64| ((ns - t0) as u128 * (cols as u128 - 1) / span as u128) as usize;
    let span_ms = span as f64 / 1e6;

    // Axis: tick labels, then a ruler.
    let step = nice_step_ms(span_ms, cols, 10);
    let mut labels = vec![' '; cols + 12];
    let mut ruler = vec!['-'; cols];
    let mut free_from = 0;
    let mut k = 0u64;
    loop {
        let v = k as f64 * step;
        if v > span_ms + 1e-9 {
            break;
        }
        let c = col(t0 + (v * 1e6) as u64);
        ruler[c] = '+';
        let text = fmt_ms(v, step);
        if c >= free_from && c + text.len() <= labels.len() {
            for (i, ch) in text.chars().enumerate() {
                labels[c + i] = ch;
            }
            free_from = c + text.len() + 1;
        }
        k += 1;
    }
    let labels: String = labels.into_iter().collect();
    let _ = writeln!(s, "{:<name_w$}{}", "ms", labels.trim_end());
    let _ = writeln!(s, "{:<name_w$}{}", "", ruler.into_iter().collect::<String>());

    // Lanes. `drawn`: the kinds that show somewhere, for the legend (a mark hidden under a
    // stronger one in the same column is not listed).
    let mut drawn: Vec<u8> = Vec::new();
    for lane in &t.lanes {
        let mut cells: Vec<(char, Option<Color>, usize)> = vec![(' ', None, usize::MAX); cols];
        if let Some((a, b)) = lane.bounds() {
            for c in &mut cells[col(a)..=col(b)] {
                c.0 = IDLE;
            }
        }
        for sp in t.spans(lane) {
            drawn.push(sp.begin.kind);
            let sym = t.kind(sp.begin.kind).map_or('=', |k| k.symbol);
            for c in &mut cells[col(sp.begin.t_ns)..=col(sp.end.t_ns)] {
                c.0 = sym;
            }
        }
        for e in &lane.events {
            let Some(k) = t.kind(e.kind) else { continue };
            if k.shape != Shape::Mark {
                continue;
            }
            let rank = t.rank(k.code);
            let cell = &mut cells[col(e.t_ns)];
            if cell.1.is_none() || rank < cell.2 {
                *cell = (k.symbol, Some(k.color), rank);
            }
        }
        drawn.extend(cells.iter().filter(|c| c.1.is_some()).map(|c| t.kinds[c.2].code));
        let mut row = format!("{:<name_w$}", lane.name);
        for (ch, c, _) in cells {
            match c {
                Some(c) if color && c != Color::Plain => {
                    let _ = write!(row, "{}{ch}\x1b[0m", c.ansi());
                }
                _ => row.push(ch),
            }
        }
        let _ = writeln!(s, "{}", row.trim_end());
    }

    // Legend, wrapped to the width.
    let mut items = Vec::new();
    for k in t.kinds_present().iter().filter(|k| drawn.contains(&k.code)) {
        items.push(format!("{} {}", k.symbol, k.label));
    }
    items.push(format!("{IDLE} {}", t.idle_label));
    let mut line = String::from("legend:");
    for it in items {
        if line.chars().count() + 3 + it.chars().count() > width && line != "legend:" {
            let _ = writeln!(s, "{line}");
            line = " ".repeat(7);
        }
        line.push_str("   ");
        line.push_str(&it);
    }
    let _ = writeln!(s, "{line}");
    s
}

/// Per lane: its counts, then the time in finished spans as CPU time and waiting for a core.
pub fn summary(t: &Timeline) -> String {
    let mut s = String::new();
    let name_w = t
        .lanes
        .iter()
        .map(|l| l.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(6)
        + 2;
    for lane in &t.lanes {
        // Spans first ("task 59", with how many never finished), then the marks.
        let spans = t.spans(lane);
        let mut counts: Vec<String> = Vec::new();
        for k in t.kinds.iter().filter(|k| k.shape == Shape::Begin) {
            let of_kind = || spans.iter().filter(|s| s.begin.kind == k.code);
            let (n, open) = (of_kind().count(), of_kind().filter(|s| !s.closed).count());
            match (n, open) {
                (0, _) => {}
                (n, 0) => counts.push(format!("{} {n}", k.name)),
                (n, u) => counts.push(format!("{} {n} ({u} never finished)", k.name)),
            }
        }
        for k in t.kinds.iter().filter(|k| k.shape == Shape::Mark) {
            match lane.of(k.code).count() {
                0 => {}
                n => counts.push(format!("{} {n}", k.name)),
            }
        }
        let mut row = format!("{:<name_w$}{}", lane.name, counts.join(", "));
        // A span that never ended (killed) has no CPU reading at its end: left out.
        let closed: Vec<_> = spans.iter().filter(|s| s.closed).collect();
        if !closed.is_empty() {
            let wall: u64 = closed.iter().map(|s| s.wall_ns()).sum();
            let cpu: u64 = closed.iter().map(|s| s.cpu_ns()).sum::<u64>().min(wall);
            let waiting = if wall > 0 {
                100.0 * (wall - cpu) as f64 / wall as f64
            } else {
                0.0
            };
            let _ = write!(
                row,
                " | busy {:.1} ms, on a CPU {:.1} ms: {waiting:.0}% waiting for a core",
                wall as f64 / 1e6,
                cpu as f64 / 1e6
            );
        }
        if lane.overflow > 0 {
            let _ = write!(
                row,
                " ({} more events not recorded: the log was full)",
                lane.overflow
            );
        }
        let _ = writeln!(s, "{row}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_data::sample;

    #[test]
    fn the_same_events_give_the_same_text() {
        // 60 columns: names take 8, the chart 51, so one column is one ms of the sample.
        let got = render(&sample(), 60, false);
        let want = "\
ms      0         10        20        30        40        50
        +---------+---------+---------+---------+---------+
parent  j.............S...................................j
w0       ======================P
w1       ================================K
legend:   P read its Stop   K killed   S Stops sent
          j joined <all>   = working on a task   . waiting
parent  sent 1, joined 2
w0      task 2, stop 1 | busy 20.0 ms, on a CPU 10.0 ms: 50% waiting for a core
w1      task 1 (1 never finished), kill 1
";
        assert_eq!(got, want, "\n{got}");
        assert_eq!(got, render(&sample(), 60, false));
    }

    #[test]
    fn no_colour_unless_asked_and_the_letters_stay() {
        let t = sample();
        let plain = render(&t, 80, false);
        assert!(!plain.contains('\x1b'));
        let coloured = render(&t, 80, true);
        assert!(coloured.contains("\x1b[31;1mP\x1b[0m"));
        let stripped = coloured
            .replace("\x1b[31;1m", "")
            .replace("\x1b[35;1m", "")
            .replace("\x1b[0m", "");
        assert_eq!(stripped, plain);
    }

    #[test]
    fn every_row_fits_the_width() {
        let t = sample();
        for w in [40, 60, 100, 200] {
            for l in render(&t, w, false).lines().take(5) {
                assert!(l.chars().count() <= w, "{w}: {l:?}");
            }
        }
    }

    #[test]
    fn nice_steps() {
        assert_eq!(nice_step_ms(50.0, 50, 10), 10.0);
        assert_eq!(nice_step_ms(52.3, 100, 10), 10.0);
        assert_eq!(nice_step_ms(7.0, 100, 10), 1.0);
        assert_eq!(fmt_ms(0.5, 0.5), "0.5");
    }
}
