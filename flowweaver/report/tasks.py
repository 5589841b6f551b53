"""A report's task rows: one per task of the run, a mapped task's items folded into it.

A map item is a task record with ``parent`` set (or, in a history that does not say,
one named ``TASK[KEY]`` where ``TASK`` is a task of the run): it is not a row of its
own but one of its mapped task's ``items``, which the row counts.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import text

if TYPE_CHECKING:
    from flowweaver.history.store import AttemptRecord, TaskRecord

_ITEM = re.compile(r"(?P<task>.+?)\[(?P<key>.*)\]", re.DOTALL)

_NEVER_RAN = ("skipped", "cancelled", "pending")
"""Statuses of a task that may never have started: no attempt, no duration to show."""

_PROBLEMS = ("failed", "killed", "cancelled", "running")
"""Statuses a reader looks for first, in this order."""


@dataclass
class TaskRow:
    """What a report shows of one task (or map item)."""

    name: str
    status: str
    reason: str | None
    attempts: int
    started: float | None
    ended: float | None
    duration: float | None
    error: str | None
    cached: bool
    reused: bool
    allowed: bool
    note: str | None
    outputs: list[dict[str, Any]]
    items: list[TaskRow] = field(default_factory=list)
    runs: list[AttemptRecord] = field(default_factory=list)
    """Its attempts (a mapped task's: every item's), in the order they started."""
    log_tail: str | None = None
    critical: bool = False
    upstream: list[str] = field(default_factory=list)

    @functools.cached_property
    def label(self) -> str:
        """``completed (cached)``, ``failed (allowed)``, ``timed out`` …"""
        word = text.status_word(self.status)
        if self.cached:
            return f"{word} (cached)"
        if self.reused:
            return f"{word} (reused)"
        if self.allowed and self.status == "failed":
            return f"{word} (allowed)"
        return word

    @functools.cached_property
    def css(self) -> str:
        """The status's CSS class; an allowed failure is drawn apart from a failure."""
        if self.allowed and self.status == "failed":
            return "allowed"
        return text.status_class(self.status)

    @property
    def mapped(self) -> bool:
        return bool(self.items)

    @property
    def item_counts(self) -> str:
        """``37/120 · 2 failed`` for a mapped task; empty otherwise."""
        if not self.items:
            return ""
        counts = Counter(item.status for item in self.items)
        done = counts.pop("completed", 0)
        parts = [f"{done:,}/{len(self.items):,}"]
        parts += [f"{n:,} {text.status_word(s)}" for s, n in sorted(counts.items()) if n]
        return " · ".join(parts)

    @property
    def retries(self) -> int:
        return max(self.attempts - 1, 0)

    @property
    def problem(self) -> bool:
        """Failed, killed, cancelled or still running: what a reader looks for first."""
        return self.status in _PROBLEMS


def task_rows(records: Sequence[TaskRecord], attempts: Iterable[AttemptRecord]) -> list[TaskRow]:
    """The run's rows in its order; items and their attempts folded into their task."""
    names = {record.name for record in records}
    rows: dict[str, TaskRow] = {}
    owner: dict[str, str] = {}  # item name -> its mapped task
    for record in records:
        parent = parent_of(record, names)
        row = _row(record)
        if parent is not None:
            owner[record.name] = parent
            rows.setdefault(parent, _placeholder(parent)).items.append(row)
        elif record.name in rows:  # its items came first
            row.items = rows[record.name].items
            rows[record.name] = row
        else:
            rows[record.name] = row
    for attempt in attempts:
        row_name = owner.get(attempt.task, attempt.task)
        if row_name in rows:
            rows[row_name].runs.append(attempt)
    return list(rows.values())


def parent_of(record: TaskRecord, names: set[str]) -> str | None:
    """The mapped task ``record`` is an item of, or ``None``."""
    parent = getattr(record, "parent", None)
    if isinstance(parent, str) and parent:
        return parent
    match = _ITEM.fullmatch(record.name)
    if match is not None and match["task"] in names:
        return match["task"]
    return None


def attention_order(rows: Iterable[TaskRow]) -> list[TaskRow]:
    """Failed tasks first (not allowed ones before allowed), then killed, cancelled and
    running ones, each group in the run's order."""

    def rank(row: TaskRow) -> int:
        if row.status == "failed":
            return 1 if row.allowed else 0
        return 2 + _PROBLEMS.index(row.status) if row.status in _PROBLEMS else 9

    return sorted((row for row in rows if row.problem), key=rank)


def _row(record: TaskRecord) -> TaskRow:
    outputs = getattr(record, "outputs", None)
    return TaskRow(
        name=record.name,
        status=record.status,
        reason=record.reason,
        attempts=record.attempts,
        started=record.started,
        ended=record.ended,
        duration=None if record.status in _NEVER_RAN and not record.attempts else record.duration,
        error=record.error,
        cached=record.cached,
        reused=record.reused,
        allowed=record.allowed,
        note=record.note,
        outputs=_outputs(outputs),
    )


def _placeholder(name: str) -> TaskRow:
    """A mapped task whose own record has not been read yet."""
    return TaskRow(name, "pending", None, 0, None, None, None, None, False, False, False, None, [])


def _outputs(value: Any) -> list[dict[str, Any]]:
    """Declared outputs, whatever shape the history keeps them in: a list of paths or
    of mappings (``path``, ``size``, ``sha256``)."""
    if isinstance(value, str):
        import json

        try:
            value = json.loads(value)
        except ValueError:
            return [{"path": value}]
    if not isinstance(value, list):
        return []
    return [dict(item) if isinstance(item, dict) else {"path": str(item)} for item in value]
