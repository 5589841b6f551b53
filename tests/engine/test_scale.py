"""Scale: a 100,000-task run, and proof that the engine's work grows linearly in N.

Timing can't tell O(N) from O(N²) on a shared machine; counting can. The
Python lines the engine executes to build, plan, run and summarise a chain of N
tasks are counted with ``sys.settrace`` at N, 2N and 4N: linear work adds the
same count for each N more tasks (the counts are exact: 2N more tasks run twice
the lines N more do). A quadratic loop in C (``x in some_list`` per task) runs no
Python lines; at 100,000 tasks it would be ~10^10 steps, which the loose ceiling
on the big run catches. The ceiling catches nothing subtler: ``make bench``
measures speed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from functools import partial
from types import FrameType
from typing import Any

from flowweaver import SequentialExecutor, Task, TaskEvent, TaskStatus, Workflow

BIG = 100_000
CEILING_SECONDS = 20.0


def _noop() -> None:
    return None


def _chain(count: int) -> Workflow:
    workflow = Workflow(f"chain-{count}")
    previous: list[str] = []
    for i in range(count):
        workflow.add_task(Task(f"t{i}", _noop), depends_on=previous)
        previous = [f"t{i}"]
    return workflow


def _build_and_run(count: int) -> tuple[Workflow, list[TaskEvent]]:
    workflow = _chain(count)
    events: list[TaskEvent] = []
    workflow.subscribe(events.append)
    workflow.get_execution_plan()
    SequentialExecutor().execute(workflow)
    workflow.get_workflow_stats()
    return workflow, events


def _lines_executed(fn: Callable[[], object]) -> int:
    """How many Python lines run on this thread while ``fn()`` runs."""
    count = 0

    def trace(frame: FrameType, event: str, arg: Any) -> Callable[..., Any] | None:
        nonlocal count
        if event == "line":
            count += 1
        return trace

    sys.settrace(trace)
    try:
        fn()
    finally:
        sys.settrace(None)
    return count


def test_100k_chain_runs_and_work_per_task_is_constant() -> None:
    start = time.perf_counter()
    workflow, events = _build_and_run(BIG)
    elapsed = time.perf_counter() - start

    assert elapsed < CEILING_SECONDS, f"{BIG:,} tasks took {elapsed:.1f} s"
    stats = workflow.get_workflow_stats()
    assert stats["completed"] == stats["total_tasks"] == BIG
    assert len(events) == 2 * BIG  # running + completed, nothing else
    assert events[-1].task == f"t{BIG - 1}" and events[-1].status is TaskStatus.COMPLETED

    n = 500
    lines = [_lines_executed(partial(_build_and_run, size)) for size in (n, 2 * n, 4 * n)]
    first, second = lines[1] - lines[0], lines[2] - lines[1]  # work for n, then 2n, more tasks
    assert abs(second - 2 * first) <= 0.02 * second, f"lines run at N, 2N, 4N: {lines}"
