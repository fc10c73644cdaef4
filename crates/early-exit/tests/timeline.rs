//! `--timeline`: the lanes of a search are the run's own, event for event. Each check compares
//! the timeline with the same run's report (iterations, wasted items, how each worker ended),
//! for the library call and for the binary's `--json` with `--timeline-svg`.

use std::process::Command;
use std::time::Duration;

use early_exit::lanes::{self, RING, code};
use early_exit::{FlagKind, SearchConfig, SetMode, Target, WorkerReport, search_traced};
use lab_support::cli_test::run_in_group;

/// A worker's line in the report, as the JSON carries it.
struct Line {
    id: u64,
    iterations: u64,
    after_set: u64,
    exit: String,
}

impl Line {
    fn of(w: &WorkerReport) -> Line {
        Line::from_json(&serde_json::to_value(w).unwrap())
    }
    fn from_json(v: &serde_json::Value) -> Line {
        Line {
            id: v["id"].as_u64().unwrap(),
            iterations: v["iterations"].as_u64().unwrap(),
            after_set: v["after_set"].as_u64().unwrap(),
            exit: v["exit"].as_str().unwrap().to_string(),
        }
    }
}

/// What a worker's lane must hold, given its line in the report: `count(kind)` per kind.
fn expect_lane(w: &Line, count: &dyn Fn(&str) -> usize) {
    let name = format!("w{}", w.id);
    let kept = (w.iterations as usize).min(RING);
    assert_eq!(count("search"), 1, "{name}: one search span");
    assert_eq!(
        count("flag_read") + count("wasted"),
        kept,
        "{name}: the last {RING} reads"
    );
    // A worker that ended without seeing the flag has no final read to count its wasted reads
    // from: for it, only "no flag event" is checked.
    let (raised, seen, wasted) = match w.exit.as_str() {
        "won" => (1, 0, Some(0)),
        "saw_flag" => (0, 1, Some((w.after_set as usize).min(RING))),
        _ => (0, 0, None),
    };
    assert_eq!(count("flag_raised"), raised, "{name}: {:?}", w.exit);
    assert_eq!(count("flag_seen"), seen, "{name}: {:?}", w.exit);
    if let Some(wasted) = wasted {
        assert_eq!(count("wasted"), wasted, "{name}: after_set {}", w.after_set);
    }
}

#[test]
fn the_lanes_match_the_search_they_drew() {
    // Two shapes, the needle in a different lane each time: nothing to hard-code.
    for (workers, needle) in [(3usize, 150_000u64), (4, 330_000)] {
        let cfg = SearchConfig {
            workers,
            range_len: 100_000,
            target: Target::Needle(needle),
            work: 16,
            flag: FlagKind::Atomic,
            early_exit: true,
            set_mode: SetMode::LockCheckSet,
        };
        let (run, t) = search_traced(&cfg, true).unwrap();
        let t = t.expect("a timeline when asked");
        let names: Vec<&str> = t.lanes.iter().map(|l| l.name.as_str()).collect();
        assert_eq!(names, lanes::names(workers));
        assert_eq!(run.winners, vec![((needle / 100_000) as u32, needle)]);
        assert_eq!(
            (
                t.count(&t.lanes[0], "gate_opened"),
                t.count(&t.lanes[0], "joined")
            ),
            (1, 1)
        );
        for (w, lane) in run.workers.iter().zip(&t.lanes[1..]) {
            expect_lane(&Line::of(w), &|k| t.count(lane, k));
            assert_eq!(lane.overflow, 0);
            // The marks carry item numbers: the raise its find, the seen read the next item.
            if let Some(r) = lane.of(code::RAISED).next() {
                assert_eq!(Some(r.arg as u64), w.found);
            }
            if let Some(f) = lane.of(code::SEEN).next() {
                assert_eq!(f.arg as u64, w.range.0 + w.iterations, "w{}", w.id);
            }
        }
        let svg = lanes::svg(&t, &run);
        let c = timeline::svg::check(&svg).unwrap();
        assert_eq!(c.names(), names);
    }
    // Asked for nothing, it records nothing.
    let cfg = SearchConfig {
        workers: 2,
        range_len: 1000,
        target: Target::Needle(1500),
        work: 1,
        flag: FlagKind::Locked,
        early_exit: true,
        set_mode: SetMode::LockCheckSet,
    };
    assert!(search_traced(&cfg, false).unwrap().1.is_none());
}

#[test]
fn the_svg_matches_the_same_runs_json() {
    let svg_path = std::env::temp_dir().join(format!("early-exit-tl-{}.svg", std::process::id()));
    let r = run_in_group(
        Command::new(env!("CARGO_BIN_EXE_early-exit"))
            .args([
                "--no-early-exit",
                "--workers",
                "3",
                "--range",
                "100000",
                "--needle",
                "250000",
                "--reps",
                "1",
                "--json",
                "--timeline-svg",
            ])
            .arg(&svg_path),
        Duration::from_secs(60),
    );
    assert_eq!(r.status.code(), Some(0), "{}", r.stderr);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let svg = std::fs::read_to_string(&svg_path).unwrap();
    let _ = std::fs::remove_file(&svg_path);
    let c = timeline::svg::check(&svg).unwrap();
    assert_eq!(c.names(), ["parent", "w0", "w1", "w2"]);
    assert_eq!(
        (c.count("parent", "gate_opened"), c.count("parent", "joined")),
        (1, 1)
    );
    let run = &json["results"]["compare"][0]["shown"]["with_early_exit"];
    let workers: Vec<Line> = run["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(Line::from_json)
        .collect();
    assert_eq!(workers.len(), 3);
    for w in &workers {
        expect_lane(w, &|k| c.count(&format!("w{}", w.id), k));
    }
    assert_eq!(workers.iter().filter(|w| w.exit == "won").count(), 1);
    // The JSON's own per-lane counts are the SVG's, kind for kind (spans' ends are not drawn).
    let lanes = json["results"]["compare"][0]["timeline"].as_array().unwrap();
    assert_eq!(lanes.len(), 4);
    for l in lanes {
        let name = l["lane"].as_str().unwrap();
        for (kind, n) in l["counts"].as_object().unwrap() {
            if kind != "search_end" {
                assert_eq!(c.count(name, kind) as u64, n.as_u64().unwrap(), "{name} {kind}");
            }
        }
        assert_eq!(l["overflow"], 0, "{name}");
    }
}

/// The SVG timeline the book shows (docs/capture.sh writes it from a real run): it must parse
/// and name every lane, one worker raised the flag and every other one saw it.
#[test]
fn the_books_timeline_svg_is_valid_and_names_every_lane() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/src/timelines/early_exit.svg");
    let svg = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let c = timeline::svg::check(&svg).unwrap();
    assert_eq!(c.names(), ["parent", "w0", "w1", "w2", "w3"]);
    for w in &c.names()[1..] {
        assert_eq!(c.count(w, "flag_raised") + c.count(w, "flag_seen"), 1, "lane {w}");
        assert_eq!(c.count(w, "search"), 1, "lane {w}");
    }
    let raised: usize = c.names()[1..].iter().map(|w| c.count(w, "flag_raised")).sum();
    assert_eq!(raised, 1);
}
