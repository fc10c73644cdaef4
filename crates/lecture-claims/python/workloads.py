"""Lecture 27's workloads in Python, timed on this machine (standard library only).

The Rust side of every figure is measured by `cargo run -p lecture-claims`, which runs this
script too and prints the two side by side. Run it alone with:

    python3 crates/lecture-claims/python/workloads.py [--quick]

It prints ONE JSON object: {"language": "python", "version": ..., "figures": {id: value}}.
Each id names the same workload as the Rust side (crates/lecture-claims/src/workloads.rs).
Times are medians over several repetitions.
"""

import json
import math
import multiprocessing
import platform
import statistics
import sys
import time

# Every start method but fork would re-import this file in each child; the lecture
# assumes Linux's fork (the default up to Python 3.13; 3.14 changed it), so ask for it.
mp = multiprocessing.get_context("fork")


# --- Example 27.1: first prime in each of 4 ranges, a shared flag checked every iteration.
def is_prime(n):
    if n < 2:
        return False
    for i in range(2, int(math.sqrt(n)) + 1):
        if n % i == 0:
            return False
    return True


def search(worker_id, numbers, found, results):
    for n in numbers:
        if found.value:  # the locked read: Value's default is lock=True
            return
        if is_prime(n):
            with found.get_lock():
                if not found.value:
                    found.value = True
                    results.put((worker_id, n))
            return


def example_27_1():
    found = mp.Value("b", False)
    results = mp.Queue()
    ranges = [range(i * 100000, (i + 1) * 100000) for i in range(4)]
    workers = [mp.Process(target=search, args=(i, ranges[i], found, results)) for i in range(4)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    results.get(timeout=10)
    return elapsed


# --- Example 27.2: count primes below 20,000 in 4 processes; the flag is never set.
def count_primes(limit, flag, every):
    count = 0
    for n in range(2, limit):
        if count % every == 0 and flag.value:  # as written: count is primes found so far
            return count
        if all(n % i != 0 for i in range(2, int(math.sqrt(n)) + 1)):
            count += 1
    return count


def example_27_2(every):
    flag = mp.Value("b", False)
    workers = [mp.Process(target=count_primes, args=(20000, flag, every)) for _ in range(4)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    return time.perf_counter() - start


# --- Per-access costs (Concepts 3.1 and 5.1), in the parent process. Each loop is written
# out (no helper call per access), so the figure is the access plus the loop's own ~13 ns.
def value_read(n):
    flag = mp.Value("b", False)
    start = time.perf_counter()
    for _ in range(n):
        flag.value
    return (time.perf_counter() - start) / n


def raw_read(n):
    flag = mp.RawValue("b", False)
    start = time.perf_counter()
    for _ in range(n):
        flag.value
    return (time.perf_counter() - start) / n


def lock_check_set(n):
    # Example 27.1's critical section, on a flag that is already set (what a loser does).
    flag = mp.Value("b", True)
    start = time.perf_counter()
    for _ in range(n):
        with flag.get_lock():
            if not flag.value:
                flag.value = True
    return (time.perf_counter() - start) / n


def manager_read(n):
    with mp.Manager() as manager:
        v = manager.Value("i", 0)
        start = time.perf_counter()
        for _ in range(n):
            v.value
        return (time.perf_counter() - start) / n


# --- 4 processes increment one counter under its lock (the correct way with a Value).
def increment(counter, n):
    for _ in range(n):
        with counter.get_lock():
            counter.value += 1


def counter_4x(n):
    counter = mp.Value("q", 0)
    workers = [mp.Process(target=increment, args=(counter, n)) for _ in range(4)]
    start = time.perf_counter()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    elapsed = time.perf_counter() - start
    if counter.value != 4 * n:
        raise SystemExit(f"counter is {counter.value}, expected {4 * n}")
    return elapsed / (4 * n)


def median_of(reps, f):
    return statistics.median(f() for _ in range(reps))


def main():
    quick = "--quick" in sys.argv[1:]
    reps = 3 if quick else 5
    scale = 1 if quick else 4

    n_local = 50000 * scale

    figures = {
        "ex27_1_ms": median_of(reps, example_27_1) * 1e3,
        "ex27_2_every10_ms": median_of(reps, lambda: example_27_2(10)) * 1e3,
        "ex27_2_every1000_ms": median_of(reps, lambda: example_27_2(1000)) * 1e3,
        "manager_get_ns": median_of(reps, lambda: manager_read(250 * scale)) * 1e9,
        "value_get_ns": median_of(reps, lambda: value_read(n_local)) * 1e9,
        "raw_get_ns": median_of(reps, lambda: raw_read(n_local)) * 1e9,
        "lock_check_set_ns": median_of(reps, lambda: lock_check_set(n_local)) * 1e9,
        "counter_4x_ns": median_of(reps, lambda: counter_4x(5000 * scale)) * 1e9,
    }
    print(json.dumps({"language": "python", "version": platform.python_version(), "figures": figures}))


if __name__ == "__main__":
    main()
