"""Pools: at no moment does a pool run more attempts than its size, whatever ends them,
and every task ends; priorities order the ready tasks; host pools are shared."""

from __future__ import annotations

import contextlib
import fcntl
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
    RunStore,
    SequentialExecutor,
    Task,
    TaskStatus,
    ThreadedExecutor,
    Workflow,
    WorkflowError,
)
from flowweaver.engine import Engine


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


# -- the engine, driven by hand ---------------------------------------------------------


def _noop() -> None:
    return None


def _engine(
    tasks: list[Task], parents: list[list[int]], **options: Any
) -> tuple[Engine, list[Any]]:
    events: list[Any] = []
    order = [(-task.priority, position) for position, task in enumerate(tasks)]
    engine = Engine(tasks, parents, order, outbox=(events, []), **options)
    return engine, events


def test_a_task_waiting_for_a_slot_starts_when_those_before_it_in_the_queue_are_cancelled() -> None:
    # b and c wait for db behind a; fail-fast cancels b (not c, run_if failure): when a
    # ends, its slot goes to c, not to the cancelled b (the run would wait forever)
    tasks = [
        Task("a", _noop, pool="db"),
        Task("b", _noop, pool="db"),
        Task("x", _noop),
        Task("c", _noop, pool="db", run_if="failure"),
    ]
    engine, _ = _engine(tasks, [[], [], [], [2]], fail_fast=True, pools={"db": Pool(1)})
    assert [engine.start_next(0), engine.start_next(0), engine.start_next(0)] == [0, 2, -1]
    engine.fail(2, 1, "boom", False)
    assert engine.start_next(1) == -1  # c waits for the slot a holds
    engine.succeed(0, 2)
    assert engine.start_next(3) == 3
    engine.succeed(3, 4)
    assert engine.finished
    assert [t.status for t in tasks] == [
        TaskStatus.COMPLETED,
        TaskStatus.CANCELLED,
        TaskStatus.FAILED,
        TaskStatus.COMPLETED,
    ]


def test_a_task_that_waits_for_a_slot_again_says_so_once() -> None:
    # a frees db as c (higher priority) becomes ready: c takes the slot, b waits on
    tasks = [Task("a", _noop, pool="db"), Task("b", _noop, pool="db"), Task("y", _noop)]
    tasks.append(Task("c", _noop, pool="db", priority=10, depends_on=["y"]))
    engine, events = _engine(tasks, [[], [], [], [2]], pools={"db": Pool(1)})
    assert [engine.start_next(0) for _ in range(3)] == [0, 2, -1]
    engine.succeed(2, 1)
    engine.succeed(0, 1)
    assert [engine.start_next(1) for _ in range(2)] == [3, -1]
    waits = [(e.task, e.attempt) for e in events if e.status is TaskStatus.PENDING]
    assert waits == [("b", 1)]


# -- what a wait for a slot is, and is not ----------------------------------------------


def _busy_pool(pools: dict[str, Any], store: RunStore | None = None) -> tuple[Workflow, list[Any]]:
    """``first`` holds the one slot of ``db`` while ``second`` waits for it."""
    statuses: list[Any] = []
    wf = Workflow("busy", pools=pools)
    wf.add_task(Task("first", lambda: time.sleep(0.2), pool="db"))
    wf.add_task(
        Task(
            "second",
            lambda: None,
            pool="db",
            on_status_change=lambda _name, status: statuses.append(status),
        )
    )
    ThreadedExecutor(2).execute(wf, store=store)
    return wf, statuses


def test_waiting_for_a_slot_is_no_change_of_status() -> None:
    _, statuses = _busy_pool({"db": 1})
    assert statuses == [TaskStatus.RUNNING, TaskStatus.COMPLETED]


def test_the_history_shows_a_task_waiting_for_a_slot_as_pending(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "state")
    go, waited = threading.Event(), threading.Event()
    wf = Workflow("busy", pools={"db": 1})
    wf.add_task(Task("first", lambda: go.wait(10), pool="db"))
    wf.add_task(Task("second", lambda: None, pool="db"))
    recorder = store.open_run(wf)
    commit, seen = recorder.commit, []
    wf.subscribe(lambda e: seen.append(e) if e.status is TaskStatus.PENDING else None)

    def committed() -> None:  # the batch with the wait is in the history
        commit()
        if seen:
            waited.set()

    recorder.commit = committed  # type: ignore[method-assign]
    run = threading.Thread(
        target=ThreadedExecutor(2).execute, args=(wf,), kwargs={"recorder": recorder}
    )
    run.start()
    try:
        assert waited.wait(10)
        second = {t.name: t for t in store.run("latest").tasks}["second"]
        assert (second.status, second.started, second.attempts) == ("pending", None, 0)
    finally:
        go.set()
        run.join(timeout=10)
    tasks = {t.name: t for t in store.run("latest").tasks}
    assert tasks["second"].started >= tasks["first"].ended  # type: ignore[operator]


def test_a_task_says_it_waits_for_a_host_pool_only_when_the_machine_has_no_free_slot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWWEAVER_POOLS", str(tmp_path / "pools"))
    waits: list[tuple[str, str | None]] = []

    def workflow(name: str, *tasks: str) -> Workflow:
        wf = Workflow(name, pools={"db": Pool(1, scope="host")})
        for task in tasks:
            wf.add_task(Task(task, lambda: time.sleep(0.05), pool="db"))
        wf.subscribe(
            lambda e: waits.append((e.task, e.reason)) if e.status is TaskStatus.PENDING else None
        )
        return wf

    ThreadedExecutor(2).execute(workflow("alone", "only"))
    assert waits == []  # the slot was free: no wait said
    ThreadedExecutor(2).execute(workflow("two", "first", "second"))
    assert waits == [("second", "waiting for pool db (1/1 on this machine)")]
    waits.clear()
    folder = tmp_path / "pools" / "db"
    with open(folder / "0.lock", "a+b") as held:  # another process holds the slot
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        run = threading.Thread(target=ThreadedExecutor(2).execute, args=(workflow("x", "t"),))
        run.start()
        while not waits:
            time.sleep(0.01)  # (the test waits for the run's event to hold the slot longer)
        assert waits == [("t", "waiting for pool db (1/1 on this machine)")]
        assert run.is_alive()
    run.join(timeout=10)
    assert not run.is_alive()
