"""Which handlers run, in which order, for each way a run can end (``handlers.due``),
and how handlers are given (``Workflow(handlers=...)``)."""

from __future__ import annotations

import pytest

from flowweaver import Task, Workflow
from flowweaver.handlers import due, handler_tasks


def ok() -> str:
    return "ok"


ALL = handler_tasks(dict.fromkeys(("on_failure", "on_success", "on_recovery", "on_exit"), ok))


@pytest.mark.parametrize(
    ("status", "previous", "names"),
    [
        ("completed", None, ["on_success", "on_exit"]),  # a first run never recovers
        ("completed", "completed", ["on_success", "on_exit"]),
        ("completed", "failed", ["on_success", "on_recovery", "on_exit"]),
        ("completed", "interrupted", ["on_success", "on_recovery", "on_exit"]),
        ("completed", "timed_out", ["on_success", "on_recovery", "on_exit"]),
        ("completed", "killed", ["on_success", "on_recovery", "on_exit"]),
        ("failed", "failed", ["on_failure", "on_exit"]),
        ("interrupted", None, ["on_failure", "on_exit"]),
        ("timed_out", "completed", ["on_failure", "on_exit"]),
    ],
)
def test_which_handlers_run(status: str, previous: str | None, names: list[str]) -> None:
    assert [task.name for task in due(ALL, status, previous)] == names


def test_handlers_are_named_by_their_key_and_checked() -> None:
    workflow = Workflow(
        "w", handlers={"on_exit": Task("anything", ok, retries=2), "on_failure": ok}
    )
    assert {name: task.name for name, task in workflow.handlers.items()} == {
        "on_exit": "on_exit",
        "on_failure": "on_failure",
    }
    assert workflow.handlers["on_exit"].retries == 2
    with pytest.raises(ValueError, match="unknown handler 'on_fail': handlers are on_failure"):
        Workflow("w", handlers={"on_fail": ok})
    with pytest.raises(TypeError, match="must be a callable or a Task"):
        Workflow("w", handlers={"on_exit": 3})  # type: ignore[dict-item]
