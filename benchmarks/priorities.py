"""Case 5: priorities. 8 independent branches, branch i sleeping i x 50 ms, then a
join, on 4 workers. Declared order (branch 1 first) takes 0.60 s; longest first
takes 0.45 s. On a first run every branch has the same task count below it, so
the engine can't tell them apart; on the second run with the same ``RunStore``
it knows their durations from the history.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable

from benchmarks.dag import sleeper, workflow_of
from benchmarks.declared import longest_below, run_declared, simulate
from benchmarks.harness import Case, median
from flowweaver import RunStore, ThreadedExecutor, Workflow

WORKERS = 4
UNIT = 0.05
BRANCHES = 8
TOLERANCE = 0.05  # the second run within 5% of the ideal


def branches() -> tuple[list[str], list[list[int]], list[float]]:
    names = [f"branch-{i}" for i in range(1, BRANCHES + 1)] + ["join"]
    parents: list[list[int]] = [[] for _ in range(BRANCHES)] + [list(range(BRANCHES))]
    durations = [i * UNIT for i in range(1, BRANCHES + 1)] + [0.0]
    return names, parents, durations


def timed_execute(workflow: Workflow, store: RunStore) -> float:
    start = time.perf_counter()
    ThreadedExecutor(WORKERS).execute(workflow, store=store)
    return time.perf_counter() - start


def run(quick: bool) -> list[Case]:
    names, parents, durations = branches()
    fns: list[Callable[[], None]] = [sleeper(d) for d in durations]
    ideal = simulate(durations, parents, WORKERS, [-b for b in longest_below(durations, parents)])
    declared_ideal = simulate(durations, parents, WORKERS, list(range(len(names))))
    declared: list[float] = []
    first: list[float] = []
    second: list[float] = []
    for _ in range(3 if quick else 5):
        declared.append(run_declared(fns, parents, WORKERS))
        with tempfile.TemporaryDirectory() as folder, RunStore(folder) as store:
            workflow = workflow_of("priorities", names, parents, fns)
            first.append(timed_execute(workflow, store))
            second.append(timed_execute(workflow, store))
    reference = median(declared)
    limit = ideal * (1 + TOLERANCE)
    shape = f"8 branches of i x {UNIT * 1e3:g} ms, {WORKERS} workers"
    return [
        Case(
            "priorities",
            f"{shape}, first run",
            median(first),
            reference,
            "declared order",
            "≤ declared order",
            median(first) <= reference * (1 + TOLERANCE),
            note="task-count priorities: every branch ties, so declared order is expected",
            engine_runs=tuple(first),
            reference_runs=tuple(declared),
        ),
        Case(
            "priorities",
            f"{shape}, 2nd run (history)",
            median(second),
            reference,
            "declared order",
            f"≤ {limit:.3f} s (ideal {ideal:.2f} s + 5%)",
            median(second) <= limit,
            note=(
                f"with no overhead: longest first {ideal:.2f} s, declared order "
                f"{declared_ideal:.2f} s; second run = {median(second) / ideal:.3f}x the ideal"
            ),
            engine_runs=tuple(second),
            reference_runs=tuple(declared),
        ),
    ]
