//! A timeline as an SVG file: the same lanes as the text, with the exact times in tooltips.
//!
//! Each lane is a `<g class="lane" data-lane="NAME">` holding its name as text, a
//! `<rect class="span" data-kind="...">` per span, and a `<g class="mark" data-kind="...">` per
//! mark, so a test (or a curious student) can count them with any XML reader.

use std::fmt::Write;

use crate::model::{Shape, Timeline};
use crate::text::{fmt_ms, nice_step_ms};

const WIDTH: f64 = 960.0;
const LANE_H: f64 = 30.0;
const TOP: f64 = 56.0;

fn ms(ns: u64) -> f64 {
    ns as f64 / 1e6
}

/// Escapes text for an XML attribute or element.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    out
}

/// The whole SVG document, titled `title`. The same events always give the same bytes.
pub fn render(t: &Timeline, title: &str) -> String {
    let (t0, t1) = t.bounds().unwrap_or((0, 1));
    let span = (t1 - t0).max(1) as f64;
    let name_chars = t.lanes.iter().map(|l| l.name.chars().count()).max().unwrap_or(4);
    let left = 20.0 + 8.0 * name_chars as f64;
    let plot_w = WIDTH - left - 30.0;
    let x = |ns: u64| left + (ns.saturating_sub(t0)) as f64 / span * plot_w;
    let lanes_end = TOP + LANE_H * t.lanes.len() as f64;
    let legend: Vec<String> = t
        .kinds_present()
        .iter()
        .map(|k| match k.shape {
            Shape::Begin => format!("bar: {} (dark strip: the part on a CPU)", k.label),
            _ => format!("{}: {}", k.symbol, k.label),
        })
        .chain(std::iter::once(format!("dotted line: {}", t.idle_label)))
        .collect();
    let height = lanes_end + 30.0 + 16.0 * legend.len() as f64;
    let title = escape(title);

    let mut s = String::new();
    let _ = writeln!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="DejaVu Sans Mono, Menlo, monospace" font-size="12">"#
    );
    let _ = writeln!(s, "<title>{title}</title>");
    let _ = writeln!(s, r##"<rect width="100%" height="100%" fill="#ffffff"/>"##);
    let _ = writeln!(s, r#"<text x="10" y="20" font-weight="bold">{title}</text>"#);

    // Time axis: a grid line and a label per tick, in ms from the first event.
    let span_ms = span / 1e6;
    let step = nice_step_ms(span_ms, plot_w as usize, 80);
    let _ = writeln!(s, r#"<g class="axis">"#);
    let _ = writeln!(s, r#"<text x="10" y="{}">ms</text>"#, TOP - 12.0);
    let mut k = 0u64;
    while k as f64 * step <= span_ms + 1e-9 {
        let v = k as f64 * step;
        let xv = x(t0 + (v * 1e6) as u64);
        let _ = writeln!(
            s,
            r##"<line x1="{xv:.1}" y1="{:.1}" x2="{xv:.1}" y2="{lanes_end:.1}" stroke="#e0e0e0"/><text x="{xv:.1}" y="{:.1}" text-anchor="middle">{}</text>"##,
            TOP - 8.0,
            TOP - 12.0,
            fmt_ms(v, step)
        );
        k += 1;
    }
    let _ = writeln!(s, "</g>");

    for (i, lane) in t.lanes.iter().enumerate() {
        let yc = TOP + LANE_H * i as f64 + LANE_H / 2.0;
        let name = escape(&lane.name);
        let _ = writeln!(s, r#"<g class="lane" data-lane="{name}">"#);
        let _ = writeln!(
            s,
            r#"<text class="lane-name" x="10" y="{:.1}" font-weight="bold">{name}</text>"#,
            yc + 4.0
        );
        if let Some((a, b)) = lane.bounds() {
            let _ = writeln!(
                s,
                r##"<line class="alive" x1="{:.1}" y1="{yc:.1}" x2="{:.1}" y2="{yc:.1}" stroke="#9e9e9e" stroke-dasharray="2,3"/>"##,
                x(a),
                x(b)
            );
        }
        for sp in t.spans(lane) {
            let kind = t.kind(sp.begin.kind);
            let kname = kind.map_or("span", |k| k.name);
            let (x0, x1) = (x(sp.begin.t_ns), x(sp.end.t_ns));
            let w = (x1 - x0).max(1.0);
            let (fill, how) = match sp.closed {
                true => (
                    "#90caf9",
                    format!(
                        ": {:.2} ms, {:.2} ms of it on a CPU",
                        ms(sp.wall_ns()),
                        ms(sp.cpu_ns().min(sp.wall_ns()))
                    ),
                ),
                // Killed in it: no CPU reading at the end.
                false => (
                    "#ef9a9a",
                    format!(
                        ", never finished: {:.2} ms until the lane's end",
                        ms(sp.wall_ns())
                    ),
                ),
            };
            let cpu_share = match sp.wall_ns() {
                0 => 1.0,
                wall => (sp.cpu_ns() as f64 / wall as f64).min(1.0),
            };
            let _ = writeln!(
                s,
                r##"<rect class="span" data-kind="{kname}" x="{x0:.1}" y="{:.1}" width="{w:.1}" height="14" fill="{fill}" stroke="#1565c0" stroke-width="0.5"><title>{name}: {kname} {} at {:.2} ms{how}</title></rect>"##,
                yc - 7.0,
                sp.begin.arg,
                ms(sp.begin.t_ns - t0),
            );
            if w >= 2.0 && sp.closed {
                let _ = writeln!(
                    s,
                    r##"<rect class="cpu" x="{x0:.1}" y="{:.1}" width="{:.1}" height="4" fill="#0d47a1"/>"##,
                    yc + 3.0,
                    w * cpu_share
                );
            }
        }
        let marks: Vec<(f64, usize, &crate::model::Event)> = lane
            .events
            .iter()
            .filter(|e| t.kind(e.kind).is_some_and(|k| k.shape == Shape::Mark))
            .map(|e| (x(e.t_ns), t.rank(e.kind), e))
            .collect();
        for &(xe, rank, e) in &marks {
            let Some(k) = t.kind(e.kind) else { continue };
            // A letter next to a stronger mark's letter would overprint it: only the tick and
            // the tooltip then.
            let crowded = marks
                .iter()
                .any(|&(xo, ro, _)| ro < rank && (xo - xe).abs() < 9.0);
            let letter = match crowded {
                true => String::new(),
                false => format!(
                    r#"<text x="{xe:.1}" y="{:.1}" text-anchor="middle" fill="{}" font-weight="bold">{}</text>"#,
                    yc - 11.0,
                    k.color.hex(),
                    escape(&k.symbol.to_string())
                ),
            };
            let _ = writeln!(
                s,
                r#"<g class="mark" data-kind="{}"><line x1="{xe:.1}" y1="{:.1}" x2="{xe:.1}" y2="{:.1}" stroke="{}" stroke-width="2"/>{letter}<title>{name}: {} at {:.3} ms (arg {})</title></g>"#,
                k.name,
                yc - 9.0,
                yc + 9.0,
                k.color.hex(),
                escape(k.label),
                (e.t_ns - t0) as f64 / 1e6,
                e.arg,
            );
        }
        if lane.overflow > 0 {
            let _ = writeln!(
                s,
                r#"<text class="overflow" x="{:.1}" y="{:.1}">+{} not recorded</text>"#,
                WIDTH - 150.0,
                yc + 4.0,
                lane.overflow
            );
        }
        let _ = writeln!(s, "</g>");
    }

    let _ = writeln!(s, r#"<g class="legend">"#);
    for (i, item) in legend.iter().enumerate() {
        let _ = writeln!(
            s,
            r#"<text x="10" y="{:.1}">{}</text>"#,
            lanes_end + 24.0 + 16.0 * i as f64,
            escape(item)
        );
    }
    let _ = writeln!(s, "</g>");
    s.push_str("</svg>\n");
    s
}

/// What `check` (feature `check`) found in an SVG timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// Lane name, then how many spans and marks of each kind it holds (`(kind, count)`).
    pub lanes: Vec<(String, Vec<(String, usize)>)>,
}

impl Checked {
    /// How many spans or marks of `kind` lane `lane` holds (0 if none or no such lane).
    pub fn count(&self, lane: &str, kind: &str) -> usize {
        self.lanes
            .iter()
            .find(|(n, _)| n == lane)
            .and_then(|(_, ks)| ks.iter().find(|(k, _)| k == kind))
            .map_or(0, |(_, c)| *c)
    }
    pub fn names(&self) -> Vec<&str> {
        self.lanes.iter().map(|(n, _)| n.as_str()).collect()
    }
}

/// Parses `svg` with a real XML parser (roxmltree) and reads back its lanes: every lane group
/// must show its own name as text. For tests (feature `check`).
#[cfg(any(test, feature = "check"))]
pub fn check(svg: &str) -> Result<Checked, String> {
    let doc = roxmltree::Document::parse(svg).map_err(|e| format!("not well-formed XML: {e}"))?;
    let root = doc.root_element();
    if root.tag_name().name() != "svg" || root.tag_name().namespace() != Some("http://www.w3.org/2000/svg") {
        return Err(format!(
            "the root element is {:?}, not an SVG <svg>",
            root.tag_name()
        ));
    }
    let mut lanes = Vec::new();
    for g in root
        .descendants()
        .filter(|n| n.attribute("class") == Some("lane"))
    {
        let name = g
            .attribute("data-lane")
            .ok_or("a lane without data-lane")?
            .to_string();
        let shown = g
            .children()
            .find(|n| n.attribute("class") == Some("lane-name"))
            .and_then(|n| n.text());
        if shown != Some(name.as_str()) {
            return Err(format!("lane {name:?} shows the name {shown:?}"));
        }
        let mut counts: Vec<(String, usize)> = Vec::new();
        for n in g
            .children()
            .filter(|n| matches!(n.attribute("class"), Some("span" | "mark")))
        {
            let k = n
                .attribute("data-kind")
                .ok_or("a span or mark without data-kind")?;
            match counts.iter_mut().find(|(kk, _)| kk == k) {
                Some((_, c)) => *c += 1,
                None => counts.push((k.to_string(), 1)),
            }
        }
        lanes.push((name, counts));
    }
    if lanes.is_empty() {
        return Err("no lane in the SVG".into());
    }
    Ok(Checked { lanes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_data::sample;

    fn parse(svg: &str) -> Checked {
        check(svg).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_check_refuses_broken_or_unnamed_svg() {
        assert!(check("<svg xmlns=\"http://www.w3.org/2000/svg\"><g class=\"lane\"").is_err());
        assert!(check("<html/>").is_err());
        let unnamed = render(&sample(), "x").replace(">w1</text>", ">w9</text>");
        assert!(check(&unnamed).unwrap_err().contains("\"w1\""));
        assert!(
            check("<svg xmlns=\"http://www.w3.org/2000/svg\"/>").is_err(),
            "no lane"
        );
    }

    #[test]
    fn parses_and_names_every_lane_with_its_events() {
        let t = sample();
        let svg = render(&t, "sample <run> & \"more\"");
        let c = parse(&svg);
        assert_eq!(c.names(), ["parent", "w0", "w1"]);
        assert_eq!(c.count("w0", "task"), 2);
        assert_eq!(c.count("w0", "stop"), 1);
        assert_eq!(c.count("w1", "task"), 1);
        assert_eq!(c.count("w1", "kill"), 1);
        assert_eq!(c.count("parent", "joined"), 2);
        assert_eq!(c.count("w0", "done"), 0, "an End is not drawn");
        assert!(svg.contains("joined &lt;all&gt;"), "the legend is escaped");
        assert_eq!(svg, render(&t, "sample <run> & \"more\""), "deterministic");
    }

    #[test]
    fn a_span_that_never_ended_is_drawn_open() {
        let svg = render(&sample(), "x");
        assert!(
            svg.contains("task 1 at 1.00 ms, never finished: 32.00 ms"),
            "{svg}"
        );
    }
}
