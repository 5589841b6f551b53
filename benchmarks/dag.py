"""Case 4: an uneven DAG on 4 threads: makespan against the critical path and
against starting ready tasks in declared order.

A root fans out to 8 branches of 1 … 8 tasks, declared shortest first (the
order a person might write them in), which a join waits on. Every task sleeps
STEP seconds. With 4 workers, starting the long branches first is what keeps
the makespan near the critical path.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from benchmarks.declared import critical_path, longest_below, run_declared, simulate
from benchmarks.harness import Case, executing, interleaved, median
from flowweaver import Task, ThreadedExecutor, Workflow

WORKERS = 4
STEP = 0.01
BRANCHES = 8


def sleeper(seconds: float) -> Callable[[], None]:
    def task() -> None:
        time.sleep(seconds)

    return task


def uneven() -> tuple[list[str], list[list[int]]]:
    """Names and parents by position: root, branches 1…8 (branch b has b tasks), join."""
    names = ["root"]
    parents: list[list[int]] = [[]]
    ends = []
    for branch in range(1, BRANCHES + 1):
        previous = 0
        for step in range(branch):
            names.append(f"b{branch}-{step}")
            parents.append([previous])
            previous = len(names) - 1
        ends.append(previous)
    names.append("join")
    parents.append(ends)
    return names, parents


def workflow_of(
    name: str, names: list[str], parents: list[list[int]], fns: list[Callable[[], None]]
) -> Workflow:
    workflow = Workflow(name)
    for task_name, ups, fn in zip(names, parents, fns, strict=True):
        workflow.add_task(Task(task_name, fn, depends_on=[names[up] for up in ups]))
    return workflow


def run(quick: bool) -> list[Case]:
    names, parents = uneven()
    durations = [STEP] * len(names)
    fns = [sleeper(d) for d in durations]
    workflow = workflow_of("uneven", names, parents, fns)
    refs, engines = interleaved(
        lambda: run_declared(fns, parents, WORKERS),
        executing(ThreadedExecutor(WORKERS), workflow),
        5,
    )
    engine_s, reference_s = median(engines), median(refs)
    path = critical_path(durations, parents)
    best = simulate(durations, parents, WORKERS, [-b for b in longest_below(durations, parents)])
    declared = simulate(durations, parents, WORKERS, list(range(len(names))))
    return [
        Case(
            "dag",
            f"uneven, {len(names)} tasks of {STEP * 1e3:g} ms, {WORKERS} workers",
            engine_s,
            reference_s,
            "declared order",
            "≤ declared order",
            engine_s <= reference_s,
            note=(
                f"critical path {path * 1e3:.0f} ms; with no overhead, longest-path-first "
                f"takes {best * 1e3:.0f} ms and declared order {declared * 1e3:.0f} ms; "
                f"measured makespan = {engine_s / path:.2f}x the critical path "
                f"(declared order {reference_s / path:.2f}x)"
            ),
            engine_runs=tuple(engines),
            reference_runs=tuple(refs),
        )
    ]
