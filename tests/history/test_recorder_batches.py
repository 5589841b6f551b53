"""The recorder's batches: records kept as rows and written a statement per kind, and
a task's ``running`` record dropped when it ends in the same batch, leave the history
exactly as writing every event at once does (the general path)."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowweaver import RunStore, Task, Workflow
from flowweaver.events import TaskEvent
from flowweaver.executors.contract import Failure
from flowweaver.history import RunStatus
from flowweaver.history import recorder as recorder_module
from flowweaver.task import TaskStatus

NAMES = ("a", "b", "c", "d")
FINAL = (TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED, TaskStatus.SKIPPED)


def noop() -> int:
    return 1


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[str, Any]]:
    """Steps of a run: each task's events in order (attempts, retries, an end), the
    tasks interleaved, and commits anywhere; results and tracebacks as the engine
    tells them."""
    lives: list[list[tuple[str, Any]]] = []
    clock = iter(range(1, 1000))
    for name in NAMES:
        steps: list[tuple[str, Any]] = []
        attempts = draw(st.integers(0, 3))  # 0: it never starts (skipped, cancelled)
        first = None
        for attempt in range(1, attempts + 1):
            now = float(next(clock))
            first = first if first is not None else now
            steps.append(("event", TaskEvent(name, TaskStatus.RUNNING, attempt, now)))
            if attempt < attempts:
                error = f"E{attempt}: {name}"
                steps.append(("failure", (name, attempt, Failure(error, f"tb {attempt}"))))
                event = TaskEvent(name, TaskStatus.RUNNING, attempt, now + 0.5, error, None, 1.0)
                steps.append(("event", event))
        status = draw(st.sampled_from(FINAL[:3] if attempts else FINAL[2:]))
        now = float(next(clock))
        error = None if status is TaskStatus.COMPLETED else f"{status.value}: {name}"
        if status is TaskStatus.COMPLETED:
            steps.append(("result", (name, draw(st.integers()))))
        if status is TaskStatus.FAILED:
            steps.append(("failure", (name, attempts, Failure(error or "", "tb last"))))
        duration = None if first is None else now - first
        reason = "upstream failed" if status is TaskStatus.SKIPPED else None
        end = TaskEvent(name, status, attempts, now, error, duration, reason=reason)
        steps.append(("event", end))
        lives.append(steps)
    merged: list[tuple[str, Any]] = []
    while any(lives):
        life = draw(st.sampled_from([life for life in lives if life]))
        merged.append(life.pop(0))
        if draw(st.booleans()):
            merged.append(("commit", None))
    return merged


class Recording:
    """A run of the four tasks being recorded."""

    def __init__(self, store: RunStore, name: str) -> None:
        self.workflow = Workflow(name)
        for task in NAMES:
            self.workflow.add_task(Task(task, noop))
        self.recorder = store.open_run(self.workflow)
        tasks = list(self.workflow.get_all_tasks().values())
        self.recorder.begin(tasks, [[] for _ in tasks])

    def take(self, kind: str, value: Any) -> None:
        if kind == "event":
            self.recorder.record_event(value)
        elif kind == "failure":
            self.recorder.record_failure(*value)
        elif kind == "result":
            name, result = value
            task = self.workflow.get_all_tasks()[name]
            self.recorder.record_result(name, task, {}, result)


def rows(path: Path, run_id: str) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    with sqlite3.connect(path) as conn:
        tasks = conn.execute(
            "SELECT name, position, status, attempts, started, ended, duration, error, cached, "
            "reused, fingerprint, result, result_state, note, reason, allowed, traceback "
            "FROM tasks WHERE run_id=? ORDER BY name",
            (run_id,),
        ).fetchall()
        attempts = conn.execute(
            "SELECT task, attempt, started, ended, status, error, traceback FROM attempts "
            "WHERE run_id=? ORDER BY task, attempt",
            (run_id,),
        ).fetchall()
    return tasks, attempts


@pytest.fixture(autouse=True)
def commits_write_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every commit writes its batch at once (no writer thread): the batches are the
    steps' own."""
    monkeypatch.setattr(recorder_module, "BATCH_SECONDS", 0.0)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(histories())
def test_batched_records_leave_the_history_that_one_event_a_batch_leaves(
    tmp_path: Path, steps: list[tuple[str, Any]]
) -> None:
    """Both record the same steps; the general one commits after each step, the
    batched one where the steps say: after each of its commits, and at the end, both
    histories hold the same rows (what a run killed then would leave)."""
    store = RunStore(tmp_path / "state")
    database = tmp_path / "state" / "runs.db"
    try:
        general, batched = Recording(store, "general"), Recording(store, "batched")
        for kind, value in steps:
            general.take(kind, value)
            general.recorder.commit()
            batched.take(kind, value)
            if kind == "commit":
                batched.recorder.commit()
                assert rows(database, batched.recorder.run_id) == rows(
                    database, general.recorder.run_id
                )
        for recording in (general, batched):
            recording.recorder.end(RunStatus.FAILED, 1.0, 1)
        assert rows(database, batched.recorder.run_id) == rows(database, general.recorder.run_id)
    finally:
        store.close()
