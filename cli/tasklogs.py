"""What the output modes know of the tasks' output: fed by the run's output stream.

:class:`TaskLogs` keeps, for each task, the last lines its latest attempt printed and
where its latest failure was raised, for the failure line (``(etl.py:42)``) and the
summary (``last lines of its output``). Shell tasks are left out of the tails: their
error already holds the last lines of their standard error.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable

from flowweaver.logs import AttemptFailure, OutputItem, TaskOutput

TAIL_LINES = 10
"""How many last lines of a failed task's output the summary shows."""


class TaskLogs:
    """Tails and failure places, by task; thread-safe (output comes from any thread)."""

    def __init__(self, run_id: str | None = None, no_tails: Iterable[str] = ()) -> None:
        self.run_id = run_id
        self._no_tails = frozenset(no_tails)
        self._tails: dict[str, tuple[int, deque[str]]] = {}
        self._where: dict[str, str] = {}
        self._lock = threading.Lock()

    def take(self, item: OutputItem) -> None:
        """An item of the run's output stream (a workflow output listener)."""
        with self._lock:
            if isinstance(item, TaskOutput):
                if item.task in self._no_tails:
                    return
                kept = self._tails.get(item.task)
                if kept is None or kept[0] != item.attempt:
                    kept = (item.attempt, deque(maxlen=TAIL_LINES))
                    self._tails[item.task] = kept
                kept[1].extend(item.lines)
            elif isinstance(item, AttemptFailure):
                if item.where is None:
                    self._where.pop(item.task, None)
                else:
                    self._where[item.task] = item.where

    def where(self, task: str) -> str | None:
        """Where the task's latest failed attempt raised its error (``etl.py:42``)."""
        with self._lock:
            return self._where.get(task)

    def places(self) -> dict[str, str]:
        with self._lock:
            return dict(self._where)

    def notes(self) -> dict[str, list[str]]:
        """For each task that printed something: the summary's lines under its failure
        (the last lines of its latest attempt's output, and how to see them all)."""
        with self._lock:
            tails = {name: list(lines) for name, (_, lines) in self._tails.items() if lines}
        notes = {}
        for name, lines in tails.items():
            how = f" (flowweaver logs {self.run_id} {name})" if self.run_id else ""
            notes[name] = [f"last lines of its output{how}:", *(f"  {line}" for line in lines)]
        return notes
