//! Every `multiprocessing` name Lecture 27 uses, next to its coord-core equivalent, run for
//! real: `cargo run -p lecture-claims --example python_to_rust`. The book's "Python → Rust"
//! page includes each function below by its anchor and shows this program's output.

use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use coord_core::{
    Array, Error, Lock, LockResultExt, Manager, Process, Queue, RawValue, Value, join_all, start_all,
};

/// One step of the tour: a name from the lecture and the function that shows it.
type Step = (&'static str, fn() -> Result<()>);

fn main() {
    println!("Lecture 27 - Python's multiprocessing names in coord-core, one at a time");
    let steps: [Step; 8] = [
        ("Process, start, join", process_and_join),
        ("terminate", terminate),
        ("Value, get_lock", value_and_get_lock),
        ("RawValue", raw_value),
        ("Array", array),
        ("Queue", queue),
        ("Lock, when its owner dies", lock_with_dead_owner),
        ("Manager", manager),
    ];
    for (name, step) in steps {
        println!("\n{name}");
        if let Err(e) = step() {
            eprintln!("error: {e:#}");
            std::process::exit(1);
        }
    }
    println!(
        "\nwhat to notice: the same names do the same jobs; the differences are in what happens when things go wrong."
    );
}

fn process_and_join() -> Result<()> {
    // ANCHOR: process
    // Python: p = Process(target=f); p.start(); p.join(); p.exitcode
    let p = Process::start(|| 3)?; // forks now; the closure's return value is the exit code
    let status = p.join()?;
    println!("  child {} ended: {status} (exitcode {})", p.pid(), status.code());

    // A Python child that raises prints a traceback and exits 1; here join says why.
    let bad = Process::start(|| -> i32 { panic!("no work for me") })?;
    println!("  a panicking child: {}", bad.join()?);
    // ANCHOR_END: process
    Ok(())
}

fn terminate() -> Result<()> {
    // ANCHOR: terminate
    // Python: p.terminate(); p.join(); p.exitcode == -15
    let p = Process::start(|| {
        for _ in 0..6000 {
            std::thread::sleep(Duration::from_millis(10)); // a worker waiting for a minute
        }
    })?;
    p.terminate()?; // SIGTERM, as in Python: whatever the child was doing is lost
    let status = p.join()?;
    println!("  terminated child: {status} (exitcode {})", status.code());
    // ANCHOR_END: terminate
    Ok(())
}

fn value_and_get_lock() -> Result<()> {
    // ANCHOR: value
    // Python: counter = Value('q', 0)
    //         with counter.get_lock(): counter.value += 1
    let counter = Value::new(0i64)?;
    let workers = start_all(4, |_| {
        for _ in 0..10_000 {
            let _held = counter.get_lock().lock().recover(); // re-entrant, like Python's RLock
            counter.set(counter.get() + 1); // get and set take it again inside: allowed
        }
    })?;
    join_all(&workers, Duration::from_secs(60))?;
    println!("  4 processes x 10,000 locked increments = {}", counter.get());
    // ANCHOR_END: value
    Ok(())
}

fn raw_value() -> Result<()> {
    // ANCHOR: raw_value
    // Python: hits = RawValue('q', 0) has no lock, and `hits.value += 1` loses updates.
    // Here a RawValue is an atomic: fetch_add is one indivisible instruction.
    let hits = RawValue::new(0u64)?;
    let workers = start_all(4, |_| {
        for _ in 0..10_000 {
            hits.fetch_add(1);
        }
    })?;
    join_all(&workers, Duration::from_secs(60))?;
    println!("  4 processes x 10,000 fetch_add = {}", hits.get());
    // ANCHOR_END: raw_value
    Ok(())
}

fn array() -> Result<()> {
    // ANCHOR: array
    // Python: a = Array('d', 4); a[i] = x in each child; a[4] raises IndexError.
    let a = Array::new(4, 0.0f64)?;
    let workers = start_all(4, |i| a.set(i, i as f64 * 1.5))?;
    join_all(&workers, Duration::from_secs(60))?;
    println!("  written by 4 children: {:?}", a.to_vec());
    match a.set(4, 9.0) {
        Err(e) => println!("  a.set(4, ..) on a length-4 array: {e}"),
        Ok(()) => bail!("an out-of-bounds write was accepted"),
    }
    // ANCHOR_END: array
    Ok(())
}

fn queue() -> Result<()> {
    // ANCHOR: queue
    // Python: q = Queue(); q.put(obj) in children; q.get() in the parent.
    // Here the queue is typed, and there is no feeder thread: put writes to the pipe itself.
    let q: Queue<(u32, String)> = Queue::new()?;
    let producers = start_all(2, |i| q.put(&(i as u32, format!("hello from child {i}"))))?;
    join_all(&producers, Duration::from_secs(60))?;
    let mut got = Vec::new();
    let end = loop {
        match q.get_timeout(Duration::from_secs(10)) {
            Ok(msg) => got.push(msg),
            // Python's get() would block for ever here; every producer is gone and the
            // queue is empty, so coord-core says so.
            Err(Error::Disconnected) => break Error::Disconnected,
            Err(e) => return Err(e.into()),
        }
    };
    got.sort();
    println!("  received {got:?}");
    println!("  then: {end}");
    // ANCHOR_END: queue
    Ok(())
}

fn lock_with_dead_owner() -> Result<()> {
    // ANCHOR: dead_owner
    // Python: a worker killed inside `with lock:` leaves the lock held for ever; the next
    // `lock.acquire()` in any process waits for ever.
    let lock = Lock::new()?;
    let holding = RawValue::new(false)?;
    let victim = Process::start(|| {
        let _held = lock.lock().recover();
        holding.set(true);
        for _ in 0..6000 {
            std::thread::sleep(Duration::from_millis(10)); // killed while holding the lock
        }
    })?;
    let start = Instant::now();
    while !holding.get() {
        if start.elapsed() > Duration::from_secs(10) {
            bail!("the child never took the lock");
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    victim.kill()?;
    println!("  the owner was killed: {}", victim.join()?);
    match lock.lock_timeout(Duration::from_secs(5)) {
        Some(Ok(_guard)) => println!("  the lock was free"),
        Some(Err(died)) => println!("  next lock(): Err(OwnerDied): {died}"),
        None => bail!("the lock stayed held: the deadlock Python would have"),
    }
    // ANCHOR_END: dead_owner
    Ok(())
}

fn manager() -> Result<()> {
    // ANCHOR: manager
    // Python: m = Manager(); v = m.Value('i', 0); l = m.list(); proxies passed to children.
    let m = Manager::start()?; // a real server process
    let (total, items) = (m.value(), m.list());
    // Proxies made in the parent: each child opens its own connection on first use.
    let workers = start_all(3, |i| -> Result<(), Error> {
        items.append(i as i64)?; // one round trip
        total.add(10)?; // one round trip; `add` runs in the server, so no update is lost
        Ok(())
    })?;
    join_all(&workers, Duration::from_secs(60))?;
    let mut list = items.to_vec()?;
    list.sort();
    println!("  total = {}, list = {list:?}", total.get()?);
    println!(
        "  server {} executed {} calls, each a round trip",
        m.pid(),
        m.stats()?.calls
    );
    m.shutdown()?;
    // ANCHOR_END: manager
    Ok(())
}
