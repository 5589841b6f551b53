"""Case 2: N independent no-op tasks on 4 threads, against ``ThreadPoolExecutor(4).map``.

Both figures include making the pool and shutting it down: the ThreadedExecutor
starts its threads for each run, so the reference does too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from benchmarks.chain import functions
from benchmarks.harness import Case, executing, paired_case
from flowweaver import Task, ThreadedExecutor, Workflow

WORKERS = 4
SIZES = (50, 1_000, 10_000)
TARGET_RATIO = 2.0  # at 10,000
FANOUT_SIZE = 1_000
FANOUT_TARGET_RATIO = 1.5  # at 1,000


def independent(fns: list[Callable[[], None]]) -> Workflow:
    workflow = Workflow(f"independent-{len(fns)}")
    for i, fn in enumerate(fns):
        workflow.add_task(Task(f"t{i}", fn))
    return workflow


def call(fn: Callable[[], None]) -> None:
    """``operator.call`` (Python 3.11+), for 3.10 too."""
    return fn()


def pool_reference(fns: list[Callable[[], None]]) -> Callable[[], float]:
    def run() -> float:
        start = time.perf_counter()
        with ThreadPoolExecutor(WORKERS) as pool:
            for _ in pool.map(call, fns):
                pass
        return time.perf_counter() - start

    return run


def run(quick: bool) -> list[Case]:
    cases = []
    for size in SIZES:
        fns = functions(size)
        last = size == SIZES[-1]
        if size == FANOUT_SIZE:
            cases.append(
                paired_case(
                    "threads",
                    f"{WORKERS} workers, N={size:,} independent (fan-out)",
                    "ThreadPoolExecutor.map",
                    pool_reference(fns),
                    executing(ThreadedExecutor(WORKERS), independent(fns)),
                    5 if quick else 9,
                    target=f"≤ {FANOUT_TARGET_RATIO:g}x",
                    check=lambda e, r: e <= FANOUT_TARGET_RATIO * r,
                    tasks=size,
                )
            )
            continue
        cases.append(
            paired_case(
                "threads",
                f"{WORKERS} workers, N={size:,} independent",
                "ThreadPoolExecutor.map",
                pool_reference(fns),
                executing(ThreadedExecutor(WORKERS), independent(fns)),
                5 if not quick or size < 10_000 else 3,
                target=f"≤ {TARGET_RATIO:g}x" if last else "",
                check=(lambda e, r: e <= TARGET_RATIO * r) if last else None,
                tasks=size,
                note="pool start and shutdown timed in both" if last else "",
            )
        )
    return cases
