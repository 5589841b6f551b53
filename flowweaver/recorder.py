"""What a run tells its history, and asks of it: the seam between engine and store.

The engine calls these methods from its loop thread, in this order:
``begin`` once, then ``lookup``/``record_result``/``record_event``/``commit`` as
tasks run, then ``end`` once, even when the run was interrupted.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

from flowweaver.events import TaskEvent
from flowweaver.task import Task


class Recorder(Protocol):
    def begin(
        self, tasks: Sequence[Task], parents: Sequence[Sequence[int]]
    ) -> tuple[dict[str, Any], dict[str, float]]:
        """Start recording. Returns the results a resumed run reuses, by task name,
        and past durations in seconds by task name (for ready-queue priorities)."""
        ...

    def lookup(self, task: Task, kwargs: dict[str, Any]) -> tuple[bool, Any]:
        """A cached result for ``task`` called with ``kwargs``: ``(hit, value)``."""
        ...

    def record_result(self, task: Task, kwargs: dict[str, Any], value: Any) -> None:
        """``task`` returned ``value`` when called with ``kwargs``."""
        ...

    def record_event(self, event: TaskEvent) -> None: ...

    def commit(self) -> None:
        """Make the events recorded so far durable. The engine calls it after each batch
        of events, before it starts another task or waits."""
        ...

    def end(self, status: str, elapsed: float) -> None:
        """The run is over: ``completed``, ``failed`` or ``interrupted``."""
        ...


class Store(Protocol):
    """Anything that can open a :class:`Recorder` for a run of a workflow."""

    def open_run(self, workflow: Any, *, resume: bool = False, wait: bool = False) -> Recorder:
        """A recorder for a new run; takes the workflow's lock (waits for it if ``wait``)."""
        ...
