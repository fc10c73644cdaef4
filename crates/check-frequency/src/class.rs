//! `--class`: Example 27.2 for a room, in three steps. Before each reveal, a one-line question;
//! Enter shows the answer (no pause when stdin is not a terminal, so the whole thing can be
//! captured or tested). Each step runs a few times, so the room sees which figures are fixed
//! by the primes and which depend on how the processes were scheduled.

use std::fmt::Write;

use crate::lanes;
use crate::render::emit;
use crate::scenarios::example::{Check, simulate_lecture_reads};
use crate::scenarios::stop_run::{StopConfig, StopRun, run_stop};

/// Runs per step: enough to show a spread, few enough to stay in seconds.
pub const RUNS: usize = 3;

/// How many numbers w0 tests after raising the flag, up to and including the read that saw
/// it, from its own lane (`None`: it never read the flag again).
pub fn w0_after_raise(r: &StopRun) -> Option<u32> {
    let l = r.lanes.lanes.first()?;
    let raise = l.of(lanes::code::RAISE).next()?.arg;
    Some(l.of(lanes::code::SAW).next()?.arg - raise + 1)
}

fn list<T: ToString>(v: &[T]) -> String {
    v.iter().map(T::to_string).collect::<Vec<_>>().join(", ")
}

fn runs(cfg: &StopConfig) -> anyhow::Result<Vec<StopRun>> {
    (0..RUNS).map(|_| run_stop(cfg)).collect()
}

/// The class scenario; `say` prints, `pause` waits for Enter (or does nothing).
pub fn run(
    workers: usize,
    limit: u64,
    width: usize,
    say: &mut dyn FnMut(&str),
    pause: &mut dyn FnMut(),
) -> anyhow::Result<()> {
    let raise_at = limit / 2;
    say(&format!(
        "Lecture 27, Example 27.2, class mode (Rust, real processes)\n\
         {workers} worker processes each count the primes in 2..{limit}; w0 raises the shared flag when it\n\
         reaches {raise_at}. Each step runs {RUNS} times; the primes are always the same, the schedule is not.\n"
    ));
    let sim = simulate_lecture_reads(limit, 10);
    let steps = [
        (
            Check::Lecture(10),
            "the lecture's check, `if count % 10 == 0 and flag`",
            "With `count % 10`, how many numbers does a worker test between two reads of the flag, at most?",
        ),
        (
            Check::Corrected(10),
            "corrected, `if i % 10 == 0 and flag` (i counts the numbers)",
            "And with `i % 10`? And how many numbers does w0 test after it raised the flag?",
        ),
    ];
    for (n, (check, title, question)) in steps.iter().enumerate() {
        say(&format!(
            "\nStep {} of 3: {title}\nQuestion for the room: {question}\n",
            n + 1
        ));
        pause();
        let cfg = StopConfig {
            workers,
            limit,
            check: *check,
            raise_at,
        };
        let rs = runs(&cfg)?;
        let mut s = String::from("\n");
        s.push_str(&timeline::text::chart(&rs[0].lanes, width, false));
        for line in lanes::what_it_shows(&rs[0]) {
            let _ = writeln!(s, "{line}");
        }
        let gaps: Vec<u64> = rs
            .iter()
            .map(|r| {
                r.workers
                    .iter()
                    .map(|w| w.longest_without_read)
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let after: Vec<String> = rs
            .iter()
            .map(|r| w0_after_raise(r).map_or("never".into(), |n| n.to_string()))
            .collect();
        let whole = match check {
            Check::Lecture(_) => sim.longest_without_read,
            _ => 10,
        };
        let _ = writeln!(
            s,
            "Answer: up to {whole} numbers between reads over all of 2..{limit} (fixed by where the primes fall);\n\
             most seen per run: {} (a worker that stopped early covered less). w0 after raising: {} numbers.",
            list(&gaps),
            after.join(", ")
        );
        say(&s);
    }
    say(&format!(
        "\nStep 3 of 3: {workers} workers, {} CPU(s), nobody stopped early (the flag goes up at the last number)\n\
         Question for the room: each worker needs a few ms of CPU; how long does each take from start to return?\n",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    ));
    pause();
    let cfg = StopConfig {
        workers,
        limit: limit * 4,
        check: Check::Corrected(1000),
        raise_at: limit * 4, // past the range: nobody raises it
    };
    let rs = runs(&cfg)?;
    let mut s = String::from("\n");
    s.push_str(&timeline::text::render(&rs[0].lanes, width, false));
    let ratio: Vec<String> = rs
        .iter()
        .map(|r| {
            let (wall, cpu): (f64, f64) = r
                .workers
                .iter()
                .fold((0.0, 0.0), |(a, b), w| (a + w.wall_ms, b + w.cpu_ms));
            format!("{:.2}", wall / cpu.max(1e-9))
        })
        .collect();
    let _ = writeln!(
        s,
        "Answer: wall time over CPU time, all workers, per run: {} (timing-dependent). Above 1 is time\n\
         spent runnable but waiting for a core: more workers than cores share them, whatever the check.",
        ratio.join(", ")
    );
    say(&s);
    say("\nTake away: `count % 10` counts primes, not iterations; test the loop index to read every K.\n");
    Ok(())
}

/// `--class`: the steps print as they go, with Enter between them only when stdin is a terminal.
pub fn in_class(workers: usize, limit: u64) -> anyhow::Result<()> {
    let pause = &mut timeline::class::reveal_pause();
    run(workers, limit, timeline::term_width(), &mut |s| emit(s), pause)
}
