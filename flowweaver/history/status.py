"""How a run stands: :class:`RunStatus`."""

from __future__ import annotations

import enum


class RunStatus(str, enum.Enum):
    """A run's status: ``running`` until it ends ``completed``, ``failed``,
    ``interrupted`` (a signal) or ``timed_out`` (its deadline, the spec's top-level
    ``timeout``); a run that died before it could say so reads back ``killed``.

    A ``str`` whose value (and ``str()``) is the lowercase word, as users see it in
    ``runs``, ``show``, JSON output and ``runs.db``.
    """

    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    INTERRUPTED = "interrupted"
    TIMED_OUT = "timed_out"
    KILLED = "killed"

    def __str__(self) -> str:
        return self.value
