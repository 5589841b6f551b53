"""Pools: at no moment does a pool run more attempts than its size, whatever ends them,
and every task ends; priorities order the ready tasks; host pools are shared."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowweaver import (
    Map,
    Pool,
    SequentialExecutor,
    Task,
    TaskStatus,
    ThreadedExecutor,
    Workflow,
    WorkflowError,
)


class Spans:
    """Every attempt's pool, start and end, kept as they happen."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: dict[str, int] = defaultdict(int)
        self.most: dict[str, int] = defaultdict(int)

    def task(self, pool: str | None, seconds: float, fails: int) -> Any:
        tries = [0]

        def run(item: Any = None) -> str:
            with self.lock:
                if pool is not None:
                    self.running[pool] += 1
                    self.most[pool] = max(self.most[pool], self.running[pool])
                tries[0] += 1
                failing = tries[0] <= fails
            try:
                time.sleep(seconds)
                if failing:
                    raise RuntimeError("failed on purpose")
                return "ok"
            finally:
                with self.lock:
                    if pool is not None:
                        self.running[pool] -= 1

        return run


@st.composite
def pooled_dags(draw: st.DrawFn) -> dict[str, Any]:
    sizes = draw(st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(1, 3), min_size=1))
    count = draw(st.integers(1, 12))
    tasks = []
    for i in range(count):
        tasks.append(
            {
                "ups": draw(st.lists(st.integers(0, i - 1), unique=True, max_size=2)) if i else [],
                "pool": draw(st.sampled_from([None, *sizes])),
                "seconds": draw(st.sampled_from([0.0, 0.001, 0.003])),
                "fails": draw(st.integers(0, 2)),
                "retries": draw(st.integers(0, 2)),
                "items": draw(st.one_of(st.none(), st.integers(0, 3))),
                "priority": draw(st.integers(-1, 1)),
            }
        )
    return {"sizes": sizes, "tasks": tasks, "workers": draw(st.integers(1, 6))}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pooled_dags())
def test_a_pool_never_runs_more_attempts_than_its_size(case: dict[str, Any]) -> None:
    spans = Spans()
    wf = Workflow("pooled", pools=case["sizes"])
    for i, spec in enumerate(case["tasks"]):
        mapped = Map(over=list(range(spec["items"]))) if spec["items"] is not None else None
        wf.add_task(
            Task(
                f"t{i}",
                spans.task(spec["pool"], spec["seconds"], spec["fails"]),
                retries=spec["retries"],
                pool=spec["pool"],
                priority=spec["priority"],
                map=mapped,
                depends_on=[f"t{up}" for up in spec["ups"]],
                run_if="done",
            )
        )
    with contextlib.suppress(WorkflowError):
        ThreadedExecutor(case["workers"]).execute(wf)
    for name, size in case["sizes"].items():
        assert spans.most[name] <= size
    assert all(task.status.is_final for task in wf.get_all_tasks().values())


def test_a_slot_is_given_back_whatever_ends_the_attempt() -> None:
    # a timeout, a failure with retries and a success share one slot, in turn
    wf = Workflow("one", pools={"db": 1})
    wf.add_task(Task("slow", lambda: time.sleep(5), timeout=0.05, pool="db"))
    wf.add_task(Task("flaky", lambda: 1 / 0, retries=2, pool="db"))
    wf.add_task(Task("fine", lambda: "ok", pool="db"))
    with pytest.raises(WorkflowError):
        ThreadedExecutor(4).execute(wf)
    assert wf.get_task_result("fine") == "ok"
    assert wf.get_task("flaky").attempts == 3  # type: ignore[union-attr]


def test_higher_priority_starts_first_among_tasks_waiting_for_a_pool() -> None:
    order: list[str] = []
    wf = Workflow("prio", pools={"db": 1})
    for name, priority in [("low", 0), ("high", 10), ("mid", 5)]:
        wf.add_task(Task(name, lambda name=name: order.append(name), pool="db", priority=priority))
    SequentialExecutor().execute(wf)
    assert order == ["high", "mid", "low"]


def test_a_task_waiting_for_a_pool_says_so_once() -> None:
    wf = Workflow("waits", pools={"db": 1})
    wf.add_task(Task("first", lambda: time.sleep(0.05), pool="db"))
    wf.add_task(Task("second", lambda: None, pool="db"))
    waits: list[tuple[str, str | None]] = []
    wf.subscribe(
        lambda e: waits.append((e.task, e.reason)) if e.status is TaskStatus.PENDING else None
    )
    ThreadedExecutor(2).execute(wf)
    assert waits == [("second", "waiting for pool db (1/1)")]


def test_an_unknown_pool_is_refused_when_the_task_is_added() -> None:
    wf = Workflow("unknown", pools={"db": 2})
    with pytest.raises(ValueError, match=r"task 'x' names pool 'dbb'.*its pools: db"):
        wf.add_task(Task("x", lambda: None, pool="dbb"))


def test_two_runs_share_a_host_pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWWEAVER_POOLS", str(tmp_path / "pools"))
    spans = Spans()

    def workflow(name: str) -> Workflow:
        wf = Workflow(name, pools={"gpu": Pool(1, scope="host")})
        for i in range(3):
            wf.add_task(Task(f"t{i}", spans.task("gpu", 0.02, 0), pool="gpu"))
        return wf

    runs = [threading.Thread(target=ThreadedExecutor(3).execute, args=(workflow(n),)) for n in "ab"]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=30)
    assert spans.most["gpu"] == 1
    assert sorted(p.name for p in (tmp_path / "pools" / "gpu").iterdir()) == ["0.lock"]
