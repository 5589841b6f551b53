"""Case 1: a linear chain of N no-op tasks, sequential, against a plain loop over them."""

from __future__ import annotations

import graphlib
import time
from collections import Counter
from collections.abc import Callable

from benchmarks.harness import Case, executing, interleaved, median
from flowweaver import SequentialExecutor, Task, TaskStatus, Workflow

SIZES = (100, 10_000, 100_000)
TARGET_US = 3.0  # engine cost per task beyond the loop, at 100,000
GROWTH_LIMIT = 1.5  # per-task cost at 100,000 over the one at 10,000: linear growth
READY_LOOP_SIZE = 100_000
READY_LOOP_TARGET = 1.0  # the whole run against a graphlib ready-loop making the same calls


def functions(count: int) -> list[Callable[[], None]]:
    """``count`` distinct no-op functions (distinct objects, as real tasks are)."""
    return [_fresh() for _ in range(count)]


def _fresh() -> Callable[[], None]:
    def task() -> None:
        return None

    return task


def chain(fns: list[Callable[[], None]]) -> Workflow:
    """Task ``i`` depends on task ``i - 1``."""
    workflow = Workflow(f"chain-{len(fns)}")
    previous: list[str] = []
    for i, fn in enumerate(fns):
        name = f"t{i}"
        workflow.add_task(Task(name, fn), depends_on=previous)
        previous = [name]
    return workflow


def loop_reference(fns: list[Callable[[], None]]) -> Callable[[], float]:
    def run() -> float:
        start = time.perf_counter()
        for fn in fns:
            fn()
        return time.perf_counter() - start

    return run


def ready_loop_reference(fns: list[Callable[[], None]]) -> Callable[[], float]:
    """The smallest scheduler that respects the chain: ``graphlib``'s ready-loop."""
    graph = {i: (i - 1,) if i else () for i in range(len(fns))}

    def run() -> float:
        start = time.perf_counter()
        sorter = graphlib.TopologicalSorter(graph)
        sorter.prepare()
        while sorter.is_active():
            for node in sorter.get_ready():
                fns[node]()
                sorter.done(node)
        return time.perf_counter() - start

    return run


def ready_loop(size: int, runs: int) -> Case:
    """The whole sequential run of the chain against a graphlib ready-loop making the
    same calls (graph prepared inside the timing in both)."""
    fns = functions(size)
    workflow = chain(fns)
    refs, engines = interleaved(
        ready_loop_reference(fns), executing(SequentialExecutor(), workflow), runs
    )
    engine_s, reference_s = median(engines), median(refs)
    return Case(
        "chain",
        f"sequential, N={size:,}, total",
        engine_s,
        reference_s,
        "graphlib ready-loop",
        f"≤ {READY_LOOP_TARGET:g}x",
        engine_s <= READY_LOOP_TARGET * reference_s,
        tasks=size,
        engine_runs=tuple(engines),
        reference_runs=tuple(refs),
    )


def observed(size: int, runs: int) -> Case:
    """The same chain with one subscriber: what the two events per task cost (a run
    nobody observes makes none). No target: the command line always observes."""
    fns = functions(size)
    workflow = chain(fns)
    seen = Counter[TaskStatus]()
    workflow.subscribe(lambda event: seen.update((event.status,)))
    refs, engines = interleaved(
        loop_reference(fns), executing(SequentialExecutor(), workflow), runs
    )
    assert seen[TaskStatus.COMPLETED] == size * runs
    return Case(
        "chain",
        f"sequential, N={size:,}, one observer",
        median(engines),
        median(refs),
        "plain loop",
        "",
        None,
        tasks=size,
        engine_runs=tuple(engines),
        reference_runs=tuple(refs),
        note="the observer counts the events by status",
    )


def run(quick: bool) -> list[Case]:
    cases: list[Case] = []
    per_task: dict[int, float] = {}
    for size in SIZES:
        runs = 3 if quick and size >= 100_000 else 5
        fns = functions(size)
        workflow = chain(fns)
        refs, engines = interleaved(
            loop_reference(fns), executing(SequentialExecutor(), workflow), runs
        )
        case = Case(
            "chain",
            f"sequential, N={size:,}",
            median(engines),
            median(refs),
            "plain loop",
            f"≤ {TARGET_US:g} µs/task" if size == SIZES[-1] else "",
            None,
            tasks=size,
            engine_runs=tuple(engines),
            reference_runs=tuple(refs),
        )
        extra = case.extra_us_per_task
        assert extra is not None
        per_task[size] = extra
        if size == SIZES[-1]:
            case.passed = extra <= TARGET_US
        cases.append(case)
        del workflow, fns
    cases.append(observed(SIZES[-1], 3 if quick else 5))
    cases.append(ready_loop(READY_LOOP_SIZE, 3 if quick else 5))
    growth = per_task[SIZES[-1]] / per_task[SIZES[-2]]
    cases.append(
        Case(
            "chain",
            "growth: µs/task at 100,000 ÷ at 10,000",
            None,
            None,
            "—",
            f"≤ {GROWTH_LIMIT:g} (linear)",
            growth <= GROWTH_LIMIT,
            note=f"{growth:.2f}; µs/task extra by N: "
            + ", ".join(f"{n:,}: {v:.2f}" for n, v in per_task.items()),
        )
    )
    return cases
