"""Lecture 27's workloads in Python, timed on this machine (standard library only).

The Rust side of every figure is measured by `cargo run -p lecture-claims`, which runs this
script too and prints the two side by side. Run it alone with:

    python3 crates/lecture-claims/python/workloads.py [--quick]

It prints ONE JSON object: {"language": "python", "version": ..., "figures": {id: value}}.
Each id names the same workload as the Rust side (crates/lecture-claims/src/workloads.rs).
Times are medians over several repetitions.

The book shows the lecture's code from this file, next to the Rust that does the same,
between mdBook's anchor comments (the word ANCHOR, then a colon and a name; ANCHOR_END the
same). The code between the anchors keeps the lecture's names and lines (isPrime,
searchForPrimes, foundFlag, ...), so what the reader sees is the lecture's code and the code
that ran; what differs is said in a comment.
"""

import json
import math
import multiprocessing
import platform
import statistics
import sys
import time


# ANCHOR: ex27_1_worker
# Example 27.1, the worker, as the lecture wrote it.
def isPrime(n):
    if n < 2: return False
    for i in range(2, int(math.sqrt(n)) + 1):
        if n % i == 0: return False
    return True


def searchForPrimes(workerId, searchRange, foundFlag, resultQueue):
    for n in searchRange:
        if foundFlag.value:  # a LOCKED read: Value(...) has lock=True by default
            return
        if isPrime(n):
            with foundFlag.get_lock():
                if not foundFlag.value:
                    foundFlag.value = True
                    resultQueue.put((workerId, n))
            return
# ANCHOR_END: ex27_1_worker


# ANCHOR: ex27_1_main
def example_27_1():
    # The lecture's `if __name__ == "__main__":` block, as a function that can be timed.
    foundFlag = multiprocessing.Value('b', False)  # 'b' is a signed char: reads back 0 or 1
    resultQueue = multiprocessing.Queue()
    ranges = [range(i * 100000, (i+1) * 100000) for i in range(4)]
    workers = [
        multiprocessing.Process(target=searchForPrimes, args=(i, ranges[i], foundFlag, resultQueue))
        for i in range(4)
    ]
    start = time.perf_counter()
    for w in workers: w.start()
    for w in workers: w.join()  # joins before draining the queue: fine for one small item
    elapsed = time.perf_counter() - start
    if not resultQueue.empty():
        workerId, prime = resultQueue.get()  # the lecture prints these and elapsed
    # ANCHOR_END: ex27_1_main
    else:
        raise SystemExit("Example 27.1: no worker put a result on the queue")
    return elapsed


# ANCHOR: ex27_2_workers
# Example 27.2, the two workers, as the lecture wrote them. `count` is the number of primes
# found so far, not the loop counter (see the book's errata).
def workerWithFrequentCheck(taskId, limit, sharedFlag):
    count = 0
    for n in range(2, limit):
        if count % 10 == 0 and sharedFlag.value:  # check every 10 iterations
            return count
        if all(n % i != 0 for i in range(2, int(math.sqrt(n)) + 1)):
            count += 1
    return count


def workerWithRareCheck(taskId, limit, sharedFlag):
    count = 0
    for n in range(2, limit):
        if count % 1000 == 0 and sharedFlag.value:  # check every 1000 iterations
            return count
        if all(n % i != 0 for i in range(2, int(math.sqrt(n)) + 1)):
            count += 1
    return count
# ANCHOR_END: ex27_2_workers


# ANCHOR: ex27_2_main
def example_27_2(workerFn):
    # The body of the lecture's loop over the two workers, for one of them.
    sharedFlag = multiprocessing.Value('b', False)  # never set: only the checks' cost shows
    tasks = [(i, 20000, sharedFlag) for i in range(4)]
    workers = [multiprocessing.Process(target=workerFn, args=t) for t in tasks]
    start = time.perf_counter()
    for w in workers: w.start()
    for w in workers: w.join()
    elapsed = time.perf_counter() - start
    # ANCHOR_END: ex27_2_main
    return elapsed


# --- Per-access costs (Concepts 3.1, 4.1 and 5.1), in the parent process. Each loop is
# written out (no helper call per access), so the figure is the access plus the loop's own
# ~13 ns of interpreter time.

# ANCHOR: value_access
def value_read(n):
    flag = multiprocessing.Value('b', False)  # lock=True: every .value takes the lock
    start = time.perf_counter()
    for _ in range(n):
        flag.value
    return (time.perf_counter() - start) / n


def raw_read(n):
    flag = multiprocessing.RawValue('b', False)  # no lock, and NOT atomic: a plain C char
    start = time.perf_counter()
    for _ in range(n):
        flag.value
    return (time.perf_counter() - start) / n
# ANCHOR_END: value_access


# ANCHOR: manager_access
def manager_read(n):
    with multiprocessing.Manager() as manager:  # starts the manager's server process
        v = manager.Value('i', 0)  # a proxy: every .value is a round trip to the server
        start = time.perf_counter()
        for _ in range(n):
            v.value
        return (time.perf_counter() - start) / n
# ANCHOR_END: manager_access


# ANCHOR: lock_check_set
def lock_check_set(n):
    # Example 27.1's critical section, on a flag that is already set (what a loser does).
    flag = multiprocessing.Value('b', True)
    start = time.perf_counter()
    for _ in range(n):
        with flag.get_lock():
            if not flag.value:
                flag.value = True
    return (time.perf_counter() - start) / n
# ANCHOR_END: lock_check_set


# ANCHOR: manager_bottleneck
# Concept 3.1's "single-threaded in effect": workers that do nothing but call the manager.
# Each read is one round trip (a proxy has no `add`: `v.value += 1` would be two, and racy).
def callManager(v, n):
    for _ in range(n):
        v.value


def manager_calls_per_second(workers, n):
    with multiprocessing.Manager() as manager:
        v = manager.Value('i', 0)
        procs = [multiprocessing.Process(target=callManager, args=(v, n)) for _ in range(workers)]
        start = time.perf_counter()
        for p in procs: p.start()
        for p in procs: p.join()
        elapsed = time.perf_counter() - start
    for p in procs:
        if p.exitcode != 0:
            raise SystemExit(f"a manager worker failed: exit code {p.exitcode}")
    return workers * n / elapsed
# ANCHOR_END: manager_bottleneck


# ANCHOR: counter_locked
# Concept 5.1: 4 processes increment one Value, the read and the write under ONE lock.
def increment(counter, n):
    for _ in range(n):
        with counter.get_lock():
            counter.value += 1
# ANCHOR_END: counter_locked


def counter_4x(n):
    counter = multiprocessing.Value('q', 0)
    workers = [multiprocessing.Process(target=increment, args=(counter, n)) for _ in range(4)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    if counter.value != 4 * n:
        raise SystemExit(f"counter is {counter.value}, expected {4 * n}")
    return elapsed / (4 * n)


# ANCHOR: poison_pill
# Concept 1.1: one None per worker, put behind the tasks on the same queue.
def consume(taskQueue, resultQueue):
    while True:
        task = taskQueue.get()
        if task is None:  # the poison pill: no flag, no lock, no polling
            return
        resultQueue.put(task * task)


def poison_pill(tasks, nworkers=4):
    taskQueue = multiprocessing.Queue()
    resultQueue = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=consume, args=(taskQueue, resultQueue))
               for _ in range(nworkers)]
    start = time.perf_counter()
    for w in workers: w.start()
    for t in range(tasks): taskQueue.put(t)
    for _ in workers: taskQueue.put(None)  # one pill per worker, after the last task
    results = [resultQueue.get(timeout=30) for _ in range(tasks)]  # drain BEFORE join
    for w in workers: w.join()
    elapsed = time.perf_counter() - start
    # ANCHOR_END: poison_pill
    if sorted(results) != [t * t for t in range(tasks)]:
        raise SystemExit("poison pill: a task was lost or done twice")
    if any(w.exitcode != 0 for w in workers):
        raise SystemExit("poison pill: a worker did not exit cleanly")
    return elapsed


def median_of(reps, f):
    return statistics.median(f() for _ in range(reps))


def iqr(xs):
    # The spread of a few runs, as check-frequency computes it for Rust: upper minus lower
    # quartile (inclusive method: defined from 2 values on).
    q = statistics.quantiles(xs, n=4, method="inclusive")
    return q[2] - q[0]


def main():
    # Every start method but fork would re-import this file in each child; the lecture
    # assumes Linux's fork (the default up to Python 3.13; 3.14 changed it), so ask for it.
    multiprocessing.set_start_method("fork")
    quick = "--quick" in sys.argv[1:]
    reps = 3 if quick else 5
    scale = 1 if quick else 4

    n_local = 50000 * scale
    n_mgr = 250 * scale

    figures = {
        "poison_pill_ms": median_of(reps, lambda: poison_pill(200 * scale)) * 1e3,
        "ex27_1_ms": median_of(reps, example_27_1) * 1e3,
        "lock_check_set_ns": median_of(reps, lambda: lock_check_set(n_local)) * 1e9,
        "manager_get_ns": median_of(reps, lambda: manager_read(n_mgr)) * 1e9,
        "value_get_ns": median_of(reps, lambda: value_read(n_local)) * 1e9,
        "raw_get_ns": median_of(reps, lambda: raw_read(n_local)) * 1e9,
        "manager_4_over_1": median_of(
            reps,
            lambda: manager_calls_per_second(4, n_mgr) / manager_calls_per_second(1, n_mgr),
        ),
        "counter_4x_ns": median_of(reps, lambda: counter_4x(5000 * scale)) * 1e9,
    }
    # Example 27.2: the two variants alternate, round by round, so both see the same load.
    every10, every1000 = [], []
    for _ in range(reps):
        every10.append(example_27_2(workerWithFrequentCheck) * 1e3)
        every1000.append(example_27_2(workerWithRareCheck) * 1e3)
    figures["ex27_2_every10_ms"] = statistics.median(every10)
    figures["ex27_2_every1000_ms"] = statistics.median(every1000)
    figures["ex27_2_spread_ms"] = max(iqr(every10), iqr(every1000))
    print(json.dumps({"language": "python", "version": platform.python_version(), "figures": figures}))


if __name__ == "__main__":
    main()
