//! The Rust side of "the same workload in Rust and in Python": each function here does what
//! the function of the same name in python/workloads.py does, with coord-core's real
//! processes and shared memory, so the two figures can be divided.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail, ensure};
use coord_core::{LockResultExt, Manager, Process, Queue, RawValue, Value, join_all};

/// One figure measured in both languages.
#[derive(Debug, Clone, Copy)]
pub struct Workload {
    /// The key in both languages' figure maps.
    pub id: &'static str,
    pub section: &'static str,
    pub what: &'static str,
    pub unit: &'static str,
}

/// Every workload, in the lecture's order.
pub const WORKLOADS: [Workload; 10] = [
    Workload {
        id: "poison_pill_ms",
        section: "1.1",
        what: "4 processes square 200 tasks, one None pill each",
        unit: "ms",
    },
    Workload {
        id: "lock_check_set_ns",
        section: "2.1",
        what: "lock-check-set on a flag already set (a loser's path)",
        unit: "ns/op",
    },
    Workload {
        id: "ex27_1_ms",
        section: "Example 27.1",
        what: "4 processes find a prime, as written: start..join",
        unit: "ms",
    },
    Workload {
        id: "manager_get_ns",
        section: "3.1",
        what: "manager value read (a round trip)",
        unit: "ns/op",
    },
    Workload {
        id: "value_get_ns",
        section: "3.1",
        what: "synchronized Value read (lock per read)",
        unit: "ns/op",
    },
    Workload {
        id: "raw_get_ns",
        section: "3.1",
        what: "raw value read (no lock)",
        unit: "ns/op",
    },
    Workload {
        id: "manager_4_over_1",
        section: "3.1",
        what: "manager calls/s, 4 workers over 1 worker",
        unit: "x",
    },
    Workload {
        id: "ex27_2_every10_ms",
        section: "Example 27.2",
        what: "4 processes count primes < 20,000, `count % 10`",
        unit: "ms",
    },
    Workload {
        id: "ex27_2_every1000_ms",
        section: "Example 27.2",
        what: "the same with `count % 1000`",
        unit: "ms",
    },
    Workload {
        id: "counter_4x_ns",
        section: "5.1",
        what: "4 processes increment one Value under its lock",
        unit: "ns/incr",
    },
];

/// How long any group of workers may take before it is killed and reported.
const JOIN_DEADLINE: Duration = Duration::from_secs(60);

pub use lab_support::is_prime;

fn join_or_fail(workers: &[Process]) -> Result<()> {
    for (i, st) in join_all(workers, JOIN_DEADLINE)?.into_iter().enumerate() {
        match st {
            None => bail!("worker {i} was still running after {JOIN_DEADLINE:?} (killed)"),
            Some(st) if !st.success() => bail!("worker {i} failed: {st}"),
            Some(_) => {}
        }
    }
    Ok(())
}

/// Example 27.1 as the lecture wrote it: returns the elapsed start..join and the winner.
pub fn example_27_1() -> Result<(Duration, (usize, u64))> {
    let found = Value::new(false)?;
    let results: Queue<(usize, u64)> = Queue::new()?;
    let search = |id: usize| -> Result<(), coord_core::Error> {
        for n in id as u64 * 100_000..(id as u64 + 1) * 100_000 {
            if found.get() {
                return Ok(()); // someone else won: stop
            }
            if is_prime(n) {
                let _held = found.get_lock().lock().recover();
                if !found.get() {
                    found.set(true);
                    results.put(&(id, n))?;
                }
                return Ok(());
            }
        }
        Ok(())
    };
    let start = Instant::now();
    let workers = (0..4)
        .map(|i| Process::start(move || search(i)))
        .collect::<Result<Vec<_>, _>>()?;
    join_or_fail(&workers)?;
    let elapsed = start.elapsed();
    let winner = results
        .get_timeout(Duration::from_secs(10))
        .context("no winner on the queue")?;
    Ok((elapsed, winner))
}

/// Example 27.2's worker as written: `count` is the number of primes found so far.
fn count_primes(limit: u64, flag: &Value<bool>, every: u64) -> u64 {
    let mut count = 0;
    for n in 2..limit {
        if count % every == 0 && flag.get() {
            return count;
        }
        if is_prime(n) {
            count += 1;
        }
    }
    count
}

/// Example 27.2: 4 processes count the primes below 20,000; the flag is never set.
pub fn example_27_2(every: u64) -> Result<Duration> {
    let flag = Value::new(false)?;
    let start = Instant::now();
    let workers = (0..4)
        .map(|_| {
            Process::start(|| {
                black_box(count_primes(20_000, &flag, every));
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    join_or_fail(&workers)?;
    Ok(start.elapsed())
}

/// Nanoseconds per operation of `f`, which does `n` operations (a float: a raw read takes
/// less than a nanosecond, below what a `Duration` can hold).
fn per_op(n: u64, f: impl FnOnce()) -> f64 {
    let start = Instant::now();
    f();
    ns_per(start.elapsed(), n)
}

fn ns_per(d: Duration, n: u64) -> f64 {
    d.as_secs_f64() * 1e9 / n as f64
}

pub fn value_read(n: u64) -> Result<f64> {
    let flag = Value::new(false)?;
    Ok(per_op(n, || {
        for _ in 0..n {
            black_box(flag.get());
        }
    }))
}

pub fn raw_read(n: u64) -> Result<f64> {
    let flag = RawValue::new(false)?;
    Ok(per_op(n, || {
        for _ in 0..n {
            black_box(flag.get());
        }
    }))
}

/// Example 27.1's critical section on a flag already set, structured as Python's: take the
/// lock, then read (re-entering it), as `with flag.get_lock(): if not flag.value` does.
pub fn lock_check_set(n: u64) -> Result<f64> {
    let flag = Value::new(true)?;
    Ok(per_op(n, || {
        for _ in 0..n {
            let _held = flag.get_lock().lock().recover();
            if !flag.get() {
                flag.set(true);
            }
        }
    }))
}

pub fn manager_read(n: u64) -> Result<f64> {
    let manager = Manager::start()?;
    let v = manager.value();
    let start = Instant::now();
    for _ in 0..n {
        black_box(v.get()?);
    }
    let per = ns_per(start.elapsed(), n);
    manager.shutdown()?;
    Ok(per)
}

/// 4 processes each add 1 to one shared counter `n` times, under its lock.
pub fn counter_4x(n: u64) -> Result<f64> {
    let counter = Value::new(0i64)?;
    let start = Instant::now();
    let workers = (0..4)
        .map(|_| {
            Process::start(|| {
                for _ in 0..n {
                    let _held = counter.get_lock().lock().recover();
                    counter.set(counter.get() + 1);
                }
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    join_or_fail(&workers)?;
    let elapsed = start.elapsed();
    ensure!(
        counter.get() == 4 * n as i64,
        "counter is {}, expected {}",
        counter.get(),
        4 * n
    );
    Ok(ns_per(elapsed, 4 * n))
}

/// Concept 1.1: `tasks` numbers go on one queue, then one `None` (the pill) per worker;
/// 4 workers square them until they take a pill. Checks every result came back once.
pub fn poison_pill(tasks: u64) -> Result<Duration> {
    let task_queue: Queue<Option<u64>> = Queue::new()?;
    let result_queue: Queue<u64> = Queue::new()?;
    let consume = || -> Result<(), coord_core::Error> {
        while let Some(task) = task_queue.get()? {
            result_queue.put(&(task * task))?;
        }
        Ok(()) // took a pill
    };
    let start = Instant::now();
    let workers = (0..4)
        .map(|_| Process::start(consume))
        .collect::<Result<Vec<_>, _>>()?;
    for t in 0..tasks {
        task_queue.put(&Some(t))?;
    }
    for _ in &workers {
        task_queue.put(&None)?;
    }
    // Drain before joining, as Python's documentation asks.
    let mut results = (0..tasks)
        .map(|_| result_queue.get_timeout(Duration::from_secs(30)))
        .collect::<Result<Vec<_>, _>>()?;
    join_or_fail(&workers)?;
    let elapsed = start.elapsed();
    results.sort_unstable();
    ensure!(
        results.iter().copied().eq((0..tasks).map(|t| t * t)),
        "a task was lost or done twice"
    );
    Ok(elapsed)
}

/// Concept 3.1's "single-threaded in effect": `workers` processes each make `n` manager
/// reads (one round trip each, as in the Python workload); returns calls per second.
pub fn manager_calls_per_second(workers: usize, n: u64) -> Result<f64> {
    let manager = Manager::start()?;
    let v = manager.value();
    let call = || -> Result<(), coord_core::Error> {
        for _ in 0..n {
            black_box(v.get()?);
        }
        Ok(())
    };
    let start = Instant::now();
    let procs = (0..workers)
        .map(|_| Process::start(call))
        .collect::<Result<Vec<_>, _>>()?;
    join_or_fail(&procs)?;
    let elapsed = start.elapsed();
    manager.shutdown()?;
    Ok((workers as u64 * n) as f64 / elapsed.as_secs_f64())
}

/// The median of `reps` results of `f`.
fn median_of(reps: usize, mut f: impl FnMut() -> Result<f64>) -> Result<f64> {
    let mut v = (0..reps).map(|_| f()).collect::<Result<Vec<_>>>()?;
    v.sort_by(f64::total_cmp);
    Ok(v[v.len() / 2])
}

/// Runs every workload; values in each workload's unit (medians).
pub fn run_all(quick: bool) -> Result<BTreeMap<String, f64>> {
    let reps = if quick { 3 } else { 5 };
    let scale = if quick { 1 } else { 4 };
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let mut f = BTreeMap::new();
    f.insert(
        "poison_pill_ms".into(),
        median_of(reps, || Ok(ms(poison_pill(200 * scale)?)))?,
    );
    f.insert("ex27_1_ms".into(), median_of(reps, || Ok(ms(example_27_1()?.0)))?);
    f.insert(
        "ex27_2_every10_ms".into(),
        median_of(reps, || Ok(ms(example_27_2(10)?)))?,
    );
    f.insert(
        "ex27_2_every1000_ms".into(),
        median_of(reps, || Ok(ms(example_27_2(1000)?)))?,
    );
    f.insert(
        "manager_get_ns".into(),
        median_of(reps, || manager_read(500 * scale))?,
    );
    f.insert(
        "value_get_ns".into(),
        median_of(reps, || value_read(500_000 * scale))?,
    );
    f.insert(
        "raw_get_ns".into(),
        median_of(reps, || raw_read(5_000_000 * scale))?,
    );
    f.insert(
        "lock_check_set_ns".into(),
        median_of(reps, || lock_check_set(500_000 * scale))?,
    );
    f.insert(
        "manager_4_over_1".into(),
        median_of(reps, || {
            Ok(manager_calls_per_second(4, 500 * scale)? / manager_calls_per_second(1, 500 * scale)?)
        })?,
    );
    f.insert(
        "counter_4x_ns".into(),
        median_of(reps, || counter_4x(20_000 * scale))?,
    );
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_prime_agrees_with_known_primes() {
        let small: Vec<u64> = (0..30).filter(|&n| is_prime(n)).collect();
        assert_eq!(small, [2, 3, 5, 7, 11, 13, 17, 19, 23, 29]);
        // The lecture's 20,000 limit: 2262 primes below it.
        assert_eq!((2..20_000).filter(|&n| is_prime(n)).count(), 2262);
    }

    #[test]
    fn example_27_1_has_one_winner_and_it_is_a_prime_in_its_range() {
        let (_, (id, n)) = example_27_1().unwrap();
        assert!(id < 4);
        assert!(is_prime(n));
        assert!((id as u64 * 100_000..(id as u64 + 1) * 100_000).contains(&n));
    }

    #[test]
    fn the_counter_is_exact() {
        // counter_4x checks the final count itself and fails if an update was lost.
        counter_4x(2_000).unwrap();
    }

    #[test]
    fn the_poison_pill_loses_nothing_and_every_worker_exits() {
        // poison_pill checks every square came back exactly once and joins every worker.
        poison_pill(50).unwrap();
    }

    #[test]
    fn manager_workers_all_finish() {
        assert!(manager_calls_per_second(2, 20).unwrap() > 0.0);
    }

    #[test]
    fn every_workload_is_measured() {
        // The Rust side must produce a figure for each id the table prints.
        let ids: Vec<&str> = WORKLOADS.iter().map(|w| w.id).collect();
        let py = crate::python::WORKLOADS_PY;
        for id in &ids {
            assert!(
                py.contains(&format!("\"{id}\"")),
                "python/workloads.py does not measure {id}"
            );
        }
    }
}
