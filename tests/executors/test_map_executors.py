"""A mapped task on every executor: items run where the executor runs tasks, each with
its own attempts, and the list comes back in item order."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path

import _map_tasks as m
import pytest

from flowweaver import ItemFailed, Map, Task, TaskStatus, Workflow, WorkflowError
from flowweaver.executors.base import Executor

Make = Callable[..., Executor]


def test_items_run_and_come_back_in_order(make: Make) -> None:
    wf = Workflow("map")
    wf.add_task(Task("names", m.names))
    wf.add_task(Task("load", m.fails_on_c, map=Map(over="names")))
    wf.add_task(Task("all", m.collect, depends_on=["load"], run_if="done"))
    with pytest.raises(WorkflowError, match=r"load: 1 of 5 items failed: load\[c\]: ValueError"):
        make().execute(wf)
    assert wf.get_task_status("load") is TaskStatus.FAILED
    assert wf.get_task_result("all") == [
        "A",
        "B",
        ItemFailed("c", "c", "ValueError: bad c"),
        "D",
        "E",
    ]


def test_each_item_retries_on_its_own(make: Make, tmp_path: Path) -> None:
    log = str(tmp_path / "calls")
    wf = Workflow("retries")
    counted = functools.partial(m.counted, log, fail_first=1)
    wf.add_task(Task("each", counted, map=Map(over=[1, 2, 3]), retries=1))
    make().execute(wf)
    assert wf.get_task_result("each") == [1, 2, 3]
    assert sorted(Path(log).read_text().split()) == ["1", "1", "2", "2", "3", "3"]


def test_items_run_on_the_executors_workers(make: Make) -> None:
    wf = Workflow("where")
    wf.add_task(Task("each", m.where, map=Map(over=list(range(4)))))
    executor = make()
    executor.execute(wf)
    pids = {pid for pid, _ in wf.get_task_result("each")}
    kind = type(executor).__name__
    if kind in ("ProcessExecutor", "DaskExecutor"):
        assert os.getpid() not in pids
    else:
        assert pids == {os.getpid()}


def test_max_parallel_on_every_executor(make: Make, tmp_path: Path) -> None:
    log = tmp_path / "spans"
    wf = Workflow("bounded")
    wf.add_task(
        Task(
            "each",
            functools.partial(m.span, str(log)),
            map=Map(over=list(range(6)), max_parallel=1),
        )
    )
    make().execute(wf)
    assert wf.get_task_result("each") == list(range(6))
    lines = [line.split() for line in log.read_text().splitlines()]
    running = most = 0
    for kind, _, _ in sorted(lines, key=lambda line: float(line[2])):
        running += 1 if kind == "start" else -1
        most = max(most, running)
    assert most == 1


def test_an_item_that_cannot_reach_a_process_worker_fails_alone() -> None:
    """On the process executor an item is pickled to its worker: one that can't be
    fails with a clear error, and the others run."""
    from flowweaver.executors.process import ProcessExecutor

    wf = Workflow("unpicklable")
    items = ["a", (lambda: None), "b"]
    wf.add_task(
        Task("each", m.upper, map=Map(over=items, key=lambda i: i if isinstance(i, str) else "fn"))
    )
    with pytest.raises(WorkflowError):
        ProcessExecutor(2).execute(wf)
    task = wf.get_task("each")
    assert task is not None and task.error is not None
    assert task.error.startswith("1 of 3 items failed: each[fn]: TypeError: can't send")
    events = wf.get_workflow_stats()
    assert events["failed"] == 1
