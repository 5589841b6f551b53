"""Pools: what a pool costs a run. 100,000 no-op tasks on the sequential executor, in
process, every task in one pool of size 4, against the same run without the pool.

Two shapes: a chain (one task ready at a time) and 100,000 independent tasks (a ready
queue of them all). The sequential executor runs one attempt at a time, so the pool
is never full: the figure is the price of taking and giving back a slot.

The full pool's price is measured on the engine alone, driven by hand as the loop
drives it (8 attempts may run, the pool lets 4): every start finds the pool full,
parks the ready tasks in the pool's queue, and each end hands the next one its slot.
The reference is the same engine with 4 slots and no pool (the same 4 at once). A
threaded run with a contended pool (size 1 of 4 workers) is shown too; these two have
no target.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from benchmarks.chain import functions
from benchmarks.harness import Case, Timed, executing, interleaved, median
from flowweaver import Pool, SequentialExecutor, Task, ThreadedExecutor, Workflow
from flowweaver.engine import Engine

SIZE = 100_000
CONTENDED = 10_000
POOL = 4
TARGET_US = 2.0  # extra cost per task of the pooled run, at 100,000


def workflow(fns: list[Callable[[], None]], *, chain: bool, pool: int | None) -> Workflow:
    """Tasks ``t0 …``, each after the one before (``chain``) or all independent, in
    pool ``db`` of size ``pool`` (none: no pool)."""
    name = f"{'chain' if chain else 'wide'}-{len(fns)}"
    flow = Workflow(name, pools={"db": pool} if pool is not None else None)
    previous: list[str] = []
    for i, fn in enumerate(fns):
        task = f"t{i}"
        flow.add_task(Task(task, fn, pool="db" if pool is not None else None), previous)
        previous = [task] if chain else []
    return flow


def by_hand(fns: list[Callable[[], None]], pool: int | None) -> Timed:
    """A timed run of the engine alone over independent tasks, each attempt ended in
    the order it started: ``2 * pool`` slots and pool ``db`` of size ``pool`` on every
    task, or (``None``) ``POOL`` slots and no pool."""
    tasks = [Task(f"t{i}", fn, pool=None if pool is None else "db") for i, fn in enumerate(fns)]
    parents: list[list[int]] = [[] for _ in tasks]
    order = [0] * len(tasks)
    slots = POOL if pool is None else 2 * pool
    pools = None if pool is None else {"db": Pool(pool)}

    def run() -> float:
        start = time.perf_counter()
        engine = Engine(tasks, parents, order, slots=slots, pools=pools)
        running: deque[int] = deque()
        while not engine.finished:
            node = engine.start_next(0.0)
            while node >= 0:
                running.append(node)
                node = engine.start_next(0.0)
            engine.succeed(running.popleft(), 0.0)
        return time.perf_counter() - start

    return run


def paired(
    name: str,
    make: Callable[[int | None], Timed],
    size: int,
    runs: int,
    target: bool,
    pool: int = POOL,
) -> Case:
    """The pair, interleaved: ``make(None)`` without the pool, ``make(pool)`` with it."""
    refs, engines = interleaved(make(None), make(pool), runs)
    case = Case(
        "pools",
        name,
        median(engines),
        median(refs),
        "no pool",
        f"≤ {TARGET_US:g} µs/task" if target else "",
        None,
        tasks=size,
        engine_runs=tuple(engines),
        reference_runs=tuple(refs),
    )
    if target:
        extra = case.extra_us_per_task
        assert extra is not None
        case.passed = extra <= TARGET_US
    return case


def run(quick: bool) -> list[Case]:
    runs = 3 if quick else 5
    fns = functions(SIZE)
    cases = [
        paired(
            f"sequential chain, N={SIZE:,}, pool of {POOL}",
            lambda pool: executing(SequentialExecutor(), workflow(fns, chain=True, pool=pool)),
            SIZE,
            runs,
            True,
        ),
        paired(
            f"sequential, {SIZE:,} independent, pool of {POOL}",
            lambda pool: executing(SequentialExecutor(), workflow(fns, chain=False, pool=pool)),
            SIZE,
            runs,
            True,
        ),
    ]
    full = paired(
        f"engine by hand, {SIZE:,} independent, pool of {POOL} always full",
        lambda pool: by_hand(fns, pool),
        SIZE,
        runs,
        False,
    )
    full.note = "each task is parked once in the pool's queue and handed its slot: two heap moves"
    cases.append(full)
    few = fns[:CONTENDED]
    contended = paired(
        f"threaded(4), {CONTENDED:,} independent, pool of 1",
        lambda pool: executing(ThreadedExecutor(4), workflow(few, chain=False, pool=pool)),
        CONTENDED,
        runs,
        False,
        pool=1,
    )
    contended.note = "each task waits for the one slot: one at a time, as if sequential"
    cases.append(contended)
    return cases
