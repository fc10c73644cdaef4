"""What Python's multiprocessing does in the two cases where coord-core behaves differently:
a lock whose owner died, and a queue whose producers are all gone. Standard library only.

    python3 crates/lecture-claims/python/what_python_does.py

The book's "Python -> Rust" page includes this file by its anchors and shows its output next
to the Rust example (crates/lecture-claims/examples/python_to_rust.rs).
"""

import multiprocessing
import queue
import time

ctx = multiprocessing.get_context("fork")  # as on Linux up to Python 3.13


def hold_for_a_minute(lock, holding):
    lock.acquire()
    holding.set()
    time.sleep(60)  # killed before this ends, still holding the lock


def put_one(q, i):
    q.put((i, f"hello from child {i}"))


def dead_owner():
    # ANCHOR: dead_owner
    lock = ctx.Lock()
    holding = ctx.Event()
    victim = ctx.Process(target=hold_for_a_minute, args=(lock, holding))
    victim.start()
    holding.wait(10)
    victim.kill()
    victim.join()
    print(f"  the owner was killed: exitcode {victim.exitcode}")
    start = time.perf_counter()
    got = lock.acquire(timeout=2)  # without a timeout, this would wait for ever
    waited = time.perf_counter() - start
    print(f"  lock.acquire(timeout=2) -> {got} after {waited:.1f} s: the lock is still held by a dead process")
    # ANCHOR_END: dead_owner


def producers_gone():
    # ANCHOR: queue
    q = ctx.Queue()
    producers = [ctx.Process(target=put_one, args=(q, i)) for i in range(2)]
    for p in producers:
        p.start()
    for p in producers:
        p.join()
    got = sorted(q.get(timeout=10) for _ in producers)
    print(f"  received {got}")
    start = time.perf_counter()
    try:
        q.get(timeout=2)  # every producer has exited; without a timeout, this waits for ever
    except queue.Empty:
        waited = time.perf_counter() - start
        print(f"  then: queue.Empty after {waited:.1f} s, the same as a slow producer would give")
    # ANCHOR_END: queue


if __name__ == "__main__":
    print("What Python's multiprocessing does in the same two situations")
    print("\nLock, when its owner dies")
    dead_owner()
    print("\nQueue, when every producer has exited")
    producers_gone()
