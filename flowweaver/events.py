"""Task events: the one stream every view (table, plain lines, JSON, history) reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from flowweaver.task import TaskStatus


class TaskEvent(NamedTuple):
    """Something happened to a task. Immutable; cheap to make.

    - ``status`` is the task's status after the event. A failed attempt that will
      be retried is a ``RUNNING`` event whose ``error`` is set and whose
      ``retry_in`` says how many seconds until the next attempt.
    - ``time`` is wall-clock seconds since the epoch; ``duration`` (final events)
      is the seconds from the task's first start to its end.
    - ``cached``: the result came from the cache; ``reused``: from a resumed run.
    """

    task: str
    status: TaskStatus
    attempt: int
    time: float
    error: str | None = None
    duration: float | None = None
    retry_in: float | None = None
    cached: bool = False
    reused: bool = False

    @property
    def is_retry(self) -> bool:
        return self.retry_in is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (status as its lowercase value)."""
        data = self._asdict()
        data["status"] = self.status.value
        return data


Observer = Callable[[TaskEvent], object]
