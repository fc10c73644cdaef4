//! Contract of exercise 3: cooperative early exit (section 2.1).

use std::ops::Range;

use coord_core::{Error, Queue};
use coord_exercises_kit::ex03::{Find, Flag, Probe};

use crate::harness::{Barrier, Options, Report, Verdict, fail, run_scenario};

/// The function the exercise asks for.
pub type Ex03 = fn(usize, Range<u64>, &Flag, &Probe, &Queue<Find>) -> Result<(), Error>;

/// A range so long that walking it to the end would take hours: a worker must stop on the flag.
pub const LONG: u64 = 1 << 40;

/// One scenario: each worker's range, where the matches are, and where each worker that
/// cannot win is held until the flag is set.
pub struct Layout {
    pub name: &'static str,
    /// Per worker: (start, length).
    pub ranges: &'static [(u64, u64)],
    /// (worker, offset into its range) of each match.
    pub matches: &'static [(usize, u64)],
    /// Per worker: the test number at which it is held until the stop (0 = never).
    pub pause_at: &'static [u64],
}

/// The layouts, in order: one match; two matches found at the same moment; a single worker;
/// a worker whose range runs out before anyone finds; stops at odd and even tests.
pub const LAYOUTS: &[Layout] = &[
    Layout {
        name: "4 workers, one match",
        ranges: &[(0, LONG), (LONG, LONG), (2 * LONG, LONG), (3 * LONG, LONG)],
        matches: &[(2, 1_000)],
        pause_at: &[10, 11, 0, 12],
    },
    Layout {
        name: "3 workers, two matches found at the same moment",
        ranges: &[(5_000_000, LONG), (7 * LONG, LONG), (9 * LONG, LONG)],
        matches: &[(0, 500), (2, 700)],
        pause_at: &[0, 7, 0],
    },
    Layout {
        name: "1 worker",
        ranges: &[(123_456, 10_000)],
        matches: &[(0, 20)],
        pause_at: &[0],
    },
    Layout {
        name: "5 workers, one range runs out before the match",
        ranges: &[
            (0, LONG),
            (LONG, 40),
            (2 * LONG, LONG),
            (3 * LONG, LONG),
            (4 * LONG, LONG),
        ],
        matches: &[(4, 300)],
        pause_at: &[3, 0, 4, 1, 0],
    },
    Layout {
        name: "4 workers, three matches found at the same moment",
        ranges: &[(0, LONG), (LONG, LONG), (2 * LONG, LONG), (3 * LONG, LONG)],
        matches: &[(0, 64), (1, 3), (3, 129)],
        pause_at: &[0, 0, 2, 0],
    },
];

/// Most reads of the flag a worker may make after it was set (the one that tells it to stop,
/// and a second look under the lock).
pub const READS_AFTER_SET: u64 = 2;

/// For each layout, the workers search their ranges; the probe holds the workers that
/// cannot win inside a test until the flag is set, and releases finders only together, so
/// what each worker does after the stop is the same on every run: a correct search begins
/// no test after the flag is set and returns.
pub fn check(search: Ex03, opts: &Options) -> Verdict {
    run_scenario(opts, |scene| {
        let mut facts = Vec::new();
        for l in LAYOUTS {
            let n = l.ranges.len();
            let ranges: Vec<Range<u64>> = l.ranges.iter().map(|&(s, len)| s..s + len).collect();
            let matches: Vec<(usize, u64)> = l
                .matches
                .iter()
                .map(|&(w, off)| (w, ranges[w].start + off))
                .collect();
            let (flag, ctl) = Flag::new(n, false)?;
            let (probe, pctl) = Probe::new(&ctl, ranges.clone(), matches.clone(), l.pause_at.to_vec())?;
            let results: Queue<Find> = Queue::new()?;
            let barrier = Barrier::new(n)?;
            let workers = (0..n)
                .map(|i| {
                    let range = ranges[i].clone();
                    scene.start(|| {
                        ctl.register(i);
                        barrier.wait(scene.opts.wait);
                        let r = search(i, range, &flag, &probe, &results);
                        ctl.finished(i);
                        scene.note(i, r)
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let statuses = scene.join_all(&workers)?;
            let head = format!("{}: ", l.name);
            scene.own_panics_ok(&head, &statuses)?;
            let wasted = pctl.wasted();
            let stats = ctl.stats();
            // First: who set the flag. A worker that sets it without a find (its range ran out)
            // stops everyone, and a finder still on its way then begins tests after a set flag
            // that it could not have seen coming; that would be reported instead, on some runs.
            let finds = drain(&results);
            let finders: Vec<usize> = matches.iter().map(|&(w, _)| w).collect();
            if let Some(w) = stats.first_setter.filter(|w| !finders.contains(w)) {
                return fail(format!(
                    "{head}worker {w} set the flag without finding anything (when its range ran out?): only \
                     the finder sets it, and the others stopped for nothing ({} result(s) put)",
                    finds.len()
                ));
            }
            if let Some(w) = (0..n).find(|&w| wasted[w] > 0) {
                return fail(format!(
                    "{head}worker {w} began {} test(s) after the flag was set: look at the flag before every test \
                     and return as soon as it is set (tests begun after the stop, per worker: {wasted:?})",
                    wasted[w]
                ));
            }
            if let Some(w) = (0..n).find(|&w| stats.reads_true[w] > READS_AFTER_SET) {
                return fail(format!(
                    "{head}worker {w} read the flag {} times after it was set without returning: it stopped \
                     testing but kept looping; return as soon as the flag is set",
                    stats.reads_true[w]
                ));
            }
            if let Some((w, c)) = pctl
                .outside()
                .iter()
                .enumerate()
                .find_map(|(w, c)| c.map(|c| (w, c)))
            {
                return fail(format!(
                    "{head}worker {w} tested {c}, outside its range {:?}: test exactly the candidates of the range",
                    ranges[w]
                ));
            }
            if let Some(w) = (0..n).find(|&w| statuses[w].is_none() && ctl.is_set()) {
                return fail(format!(
                    "{head}worker {w} was still running {} s after the flag was set and had to be killed: \
                     once the flag is set, return (walking the rest of the range without testing is not returning)",
                    scene.opts.wait.as_secs()
                ));
            }
            if finds.len() > 1 {
                return fail(format!(
                    "{head}{} results were put, for one winner slot ({finds:?}): {}",
                    finds.len(),
                    why_two_claims(&stats, matches.len())
                ));
            }
            let Some(f) = finds.first() else {
                return fail(format!(
                    "{head}no result was put on the queue, though {} was found",
                    if matches.len() == 1 {
                        "a match"
                    } else {
                        "several matches"
                    }
                ));
            };
            if !matches.contains(&(f.worker, f.value)) {
                return fail(format!(
                    "{head}the result on the queue is {f:?}, but the matches were {:?} (worker, value): a Find \
                     names the worker that found it and the value it found",
                    matches
                ));
            }
            if !ctl.is_set() {
                return fail(format!(
                    "{head}worker {} found {} but the shared flag was never set, so nobody else could know to stop",
                    f.worker, f.value
                ));
            }
            scene.exits_ok(&head, &statuses)?;
            if pctl.timed_out() || stats.pause_timed_out {
                return fail(format!("{head}a worker waited in vain to be released"));
            }
            facts.push(format!(
                "{}: worker {} won with {}; tests per worker {:?}; none begun after the stop",
                l.name,
                f.worker,
                f.value,
                pctl.tests()
            ));
        }
        facts.push("every worker returned on its own once the flag was set".into());
        Ok(Report { facts })
    })
}

fn drain(results: &Queue<Find>) -> Vec<Find> {
    let mut v = Vec::new();
    while let Ok(f) = results.try_get() {
        v.push(f);
    }
    v
}

fn why_two_claims(s: &coord_exercises_kit::ex02::FlagStats, matches: usize) -> String {
    let who = |v: &[u64]| v.iter().position(|&c| c > 0);
    let together = if matches > 1 {
        "two finders found at the same moment and both claimed; "
    } else {
        ""
    };
    let why = if let Some(w) = who(&s.empty_then_unlocked) {
        format!(
            "worker {w} took the lock and released it on the same line (`let _ = found.lock();` drops the \
             guard at once); keep the guard in a named variable: `let _guard = found.get_lock().lock();`"
        )
    } else if let Some(w) = who(&s.sets_unlocked) {
        format!("worker {w} set the flag without holding the lock: lock, check, set, as in exercise 2")
    } else if let Some(w) = who(&s.unclaimed) {
        format!(
            "worker {w} checked under the lock and set under a second acquisition: lock, check, set, in one hold"
        )
    } else {
        "a finder claimed without checking the flag under the lock: lock, check, set, as in exercise 2".into()
    };
    format!("{together}{why}")
}
