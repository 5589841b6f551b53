"""A task waiting for a pool's slot in the run's model and its views: still pending (or,
before a retry, still running), its status cell saying why it waits."""

from __future__ import annotations

import io

from rich.console import Console

from flowweaver import TaskEvent, TaskStatus
from flowweaver.cli.plain import format_event
from flowweaver.cli.tables import live_view
from flowweaver.cli.tracker import RunTracker

T0 = 1_700_000_000.0
PENDING, RUNNING, COMPLETED = TaskStatus.PENDING, TaskStatus.RUNNING, TaskStatus.COMPLETED
WAIT = "waiting for pool db (2/2)"


def ev(task: str, status: TaskStatus, attempt: int = 1, **extra: object) -> TaskEvent:
    return TaskEvent(task, status, attempt, T0, **extra)  # type: ignore[arg-type]


def tracker(*events: TaskEvent) -> RunTracker:
    state = RunTracker("pooled", ("a", "b", "c"))
    for event in events:
        state.apply(event)
    return state


def rows_of(state: RunTracker) -> dict[str, list[str]]:
    console = Console(file=io.StringIO(), width=100, color_system=None)
    console.print(live_view(state.snapshot()))
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    return {line.split()[0]: line.split()[1:] for line in lines[1:4]}


def test_a_task_waiting_for_a_slot_is_pending_and_says_why() -> None:
    state = tracker(ev("a", RUNNING), ev("b", PENDING, reason=WAIT))
    snap = state.snapshot()
    assert (snap.count(RUNNING), snap.count(PENDING)) == (1, 2)
    row = snap.rows[1]
    assert (row.status, row.waiting, row.started) == (PENDING, WAIT, None)
    assert " ".join(rows_of(state)["b"]) == WAIT
    state.apply(ev("b", RUNNING))
    assert state.snapshot().rows[1].waiting is None
    assert rows_of(state)["b"][1] == "running"  # (after the spinner's frame)
    assert (state.snapshot().count(RUNNING), state.snapshot().count(PENDING)) == (2, 1)


def test_a_retry_waiting_for_a_slot_stays_running() -> None:
    state = tracker(
        ev("b", RUNNING),
        ev("b", RUNNING, error="E: x", retry_in=0.0),
        ev("b", PENDING, 2, reason=WAIT),
    )
    snap = state.snapshot()
    assert (snap.count(RUNNING), snap.count(PENDING), snap.retries) == (1, 2, 1)
    assert snap.rows[1].status is RUNNING
    assert " ".join(rows_of(state)["b"][:5]) == WAIT
    state.apply(ev("b", RUNNING, 2))
    state.apply(ev("b", COMPLETED, 2, duration=1.0))
    assert state.snapshot().rows[1].waiting is None
    assert state.snapshot().count(COMPLETED) == 1


def test_the_plain_line_of_a_wait() -> None:
    assert format_event(ev("b", PENDING, reason=WAIT)).endswith(f" b {WAIT}")
