"""The cost ladder's rungs that Python has, timed on this machine (standard library only).

`cargo run -p lecture-claims -- --ladder` runs this script next to the Rust ladder and prints
both. Run it alone with:

    python3 crates/lecture-claims/python/ladder.py [--quick]

It prints ONE JSON object: {"language": "python", "version": ..., "figures": {id: ns}}.
Placement as on the Rust side: this process on CPU 0, the other process (echo, manager
server) on CPU 1 when there are two CPUs. Times are medians over several repetitions.
"""

import json
import multiprocessing
import os
import platform
import statistics
import sys
import time

mp = multiprocessing.get_context("fork")
TWO_CPUS = (os.cpu_count() or 1) >= 2


def pin(pid, cpu):
    if TWO_CPUS:
        os.sched_setaffinity(pid, {cpu})


def raw_read(n):
    v = mp.RawValue("q", 7)
    start = time.perf_counter()
    for _ in range(n):
        v.value
    return (time.perf_counter() - start) / n


def locked_read(n):
    v = mp.Value("q", 7)
    start = time.perf_counter()
    for _ in range(n):
        v.value
    return (time.perf_counter() - start) / n


def echo(inq, outq):
    pin(0, 1)
    while True:
        x = inq.get()
        if x is None:
            return
        outq.put(x)


def queue_round_trip(n):
    a, b = mp.Queue(), mp.Queue()
    p = mp.Process(target=echo, args=(a, b))
    p.start()
    a.put(0)
    b.get(timeout=30)  # both feeder threads are running now
    start = time.perf_counter()
    for i in range(n):
        a.put(i)
        b.get()
    took = (time.perf_counter() - start) / n
    a.put(None)
    p.join(30)
    return took


def pin_all_threads(pid, cpu):
    # sched_setaffinity(pid) moves only the process's main thread. The manager server answers
    # each connection in a thread of its own, started by its accepting thread, which was not
    # moved: pin every thread it has once the connection exists, or the answering thread may
    # run on the client's CPU and the rung would be measured on one CPU, not two.
    if TWO_CPUS:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                os.sched_setaffinity(int(tid), {cpu})
            except ProcessLookupError:
                pass  # a thread that served an earlier, short connection has just ended


def manager_round_trip(n):
    with mp.Manager() as m:
        pin(m._process.pid, 1)
        v = m.Value("i", 0)
        v.value
        pin_all_threads(m._process.pid, 1)
        start = time.perf_counter()
        for _ in range(n):
            v.value
        return (time.perf_counter() - start) / n


def main():
    quick = "--quick" in sys.argv[1:]
    reps = 3 if quick else 7
    scale = 1 if quick else 4
    pin(0, 0)
    rungs = {
        "atomic_read_ns": lambda: raw_read(50000 * scale),
        "locked_read_ns": lambda: locked_read(50000 * scale),
        "queue_rt_ns": lambda: queue_round_trip(250 * scale),
        "manager_rt_ns": lambda: manager_round_trip(250 * scale),
    }
    samples = {k: [] for k in rungs}
    for r in range(reps):  # interleaved, as on the Rust side
        for k, f in rungs.items():
            samples[k].append(f())
    figures = {k: statistics.median(v) * 1e9 for k, v in samples.items()}
    print(json.dumps({"language": "python", "version": platform.python_version(), "figures": figures}))


if __name__ == "__main__":
    main()
