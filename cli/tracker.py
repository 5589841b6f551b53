"""The one model every output mode reads: the run's tasks, fed by task events.

:class:`RunTracker` is the workflow's subscriber. It keeps each task's latest row and
the counts per status incrementally (O(1) per event, so a 10,000-task run isn't
slowed), and hands out immutable :class:`Snapshot` values that the views render as
pure functions. It is thread-safe: events arrive on the engine's loop thread while
the live table reads snapshots on Rich's refresh thread.

The items of a mapped task (events with a ``parent``) get no row of their own: they
are counted for their mapped task, whose row in a snapshot carries the counts
(:class:`ItemCounts`) and the first failed items with their errors.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Mapping
from typing import NamedTuple

from flowweaver.events import TaskEvent
from flowweaver.task import TaskStatus

FAILED_ITEMS_KEPT = 20
"""How many failed items of a mapped task the tracker keeps by name, with their errors."""


class ItemCounts(NamedTuple):
    """A mapped task's items: how many, how many in each status, and the first failed
    ones with their errors (``(name, error)``, at most :data:`FAILED_ITEMS_KEPT`)."""

    total: int = 0
    running: int = 0
    completed: int = 0
    failed: int = 0
    cancelled: int = 0
    failures: tuple[tuple[str, str], ...] = ()

    @property
    def done(self) -> int:
        return self.completed + self.failed + self.cancelled


def all_items(counts: list[ItemCounts]) -> ItemCounts:
    """Several mapped tasks' counts added up (their failures aside)."""
    return ItemCounts(
        total=sum(c.total for c in counts),
        running=sum(c.running for c in counts),
        completed=sum(c.completed for c in counts),
        failed=sum(c.failed for c in counts),
        cancelled=sum(c.cancelled for c in counts),
    )


_PENDING, _RUNNING, _FAILED = TaskStatus.PENDING, TaskStatus.RUNNING, TaskStatus.FAILED

_SLOT = {
    TaskStatus.RUNNING: 0,
    TaskStatus.COMPLETED: 1,
    TaskStatus.FAILED: 2,
    TaskStatus.CANCELLED: 3,
}
"""Where an item in each status is counted in :class:`_Items` (pending: nowhere)."""


class _Items:
    """A mapped task's items as events come: counts by status (running, completed,
    failed, cancelled) and the first failed items; made :class:`ItemCounts` when a
    snapshot is taken, so an item's event costs a few list updates."""

    __slots__ = ("counts", "failures", "total")

    def __init__(self, total: int) -> None:
        self.total = total
        self.counts = [0, 0, 0, 0]
        self.failures: list[tuple[str, str]] = []

    def as_counts(self) -> ItemCounts:
        running, completed, failed, cancelled = self.counts
        return ItemCounts(self.total, running, completed, failed, cancelled, tuple(self.failures))


class TaskRow(NamedTuple):
    """What a view shows of one task (``items``: of a mapped task, once it runs them)."""

    name: str
    status: TaskStatus = TaskStatus.PENDING
    attempt: int = 0
    started: float | None = None
    duration: float | None = None
    error: str | None = None
    retry_in: float | None = None
    cached: bool = False
    reused: bool = False
    reason: str | None = None
    """Why a skipped task did not run (``upstream failed``, ``condition false`` …)."""
    allowed: bool = False
    """A failed task that may fail without failing the run (``allow_failure``)."""
    items: ItemCounts | None = None
    waiting: str | None = None
    """Why its next attempt waits (``waiting for pool db (2/2)``), until it starts."""

    def elapsed(self, now: float) -> float | None:
        """Its final duration, or the seconds since it started while it runs."""
        if self.duration is not None:
            return self.duration
        return None if self.started is None else max(now - self.started, 0.0)


class Snapshot(NamedTuple):
    """The run at one moment. ``rows`` are every task in plan order, or, when
    ``truncated``, only the running and failed ones."""

    workflow: str
    total: int
    counts: Mapping[TaskStatus, int]
    rows: tuple[TaskRow, ...]
    truncated: bool
    now: float
    elapsed: float
    retries: int
    cached: int
    reused: int
    finished: bool
    allowed: int = 0
    """Failed tasks that were allowed to fail (counted in ``FAILED`` too)."""
    items: ItemCounts | None = None
    """The items of every mapped task, counted together (``None``: no mapped task ran)."""

    def count(self, status: TaskStatus) -> int:
        return self.counts.get(status, 0)

    @property
    def done(self) -> int:
        """Tasks in a final state."""
        return sum(n for status, n in self.counts.items() if status.is_final)


class RunTracker:
    """Rows and counts of a run, updated by :meth:`apply` (the workflow observer)."""

    def __init__(self, workflow: str, task_names: Iterable[str]) -> None:
        self.workflow = workflow
        self._rows = {name: TaskRow(name) for name in task_names}
        self._counts = dict.fromkeys(TaskStatus, 0)
        self._counts[TaskStatus.PENDING] = len(self._rows)
        self._running: dict[str, None] = {}
        self._failed: dict[str, None] = {}
        self._retries = self._cached = self._reused = self._allowed = 0
        self._items: dict[str, TaskStatus] = {}  # each item's status, by its name
        self._mapped: dict[str, _Items] = {}  # the mapped tasks that have run items
        self._started: float | None = None
        self._ended: float | None = None
        self._lock = threading.Lock()

    def begin(self) -> None:
        self._started = time.monotonic()

    def end(self) -> None:
        self._ended = time.monotonic()

    def apply(self, event: TaskEvent) -> None:
        """Take one task event into account. O(1)."""
        (name, status, attempt, at, error, duration, retry_in, cached, reused, reason,
         allowed, parent, items) = event  # fmt: skip
        with self._lock:
            if parent is not None:
                self._apply_item(event)
                return
            rows = self._rows
            old = rows.get(name)
            if old is None:
                return
            if status is _PENDING:  # it waits for a pool: status unchanged
                rows[name] = old._replace(waiting=event.reason)
                return
            # the running and failed tasks, and the next row (by position, not keywords)
            started = old[3]
            if status is _RUNNING:
                if started is None:
                    started = at
                if error is None:
                    error = old[5]  # a new attempt shows the last one's error until it ends
                self._running[old[0]] = None
            else:
                self._running.pop(old[0], None)
                if status is _FAILED:
                    self._failed[old[0]] = None
            rows[name] = _new_row(
                TaskRow,
                (
                    old[0],
                    status,
                    attempt or old[2],
                    started,
                    duration,
                    error,
                    retry_in,
                    cached,
                    reused,
                    reason,
                    allowed,
                    old[11],  # items
                    None,  # no longer waiting for a pool
                ),
            )
            if items is not None:
                self._mapped[name] = _Items(items)
            # the counts
            counts = self._counts
            counts[old[1]] -= 1
            counts[status] += 1
            if retry_in is not None or cached or reused or allowed or old[10]:
                self._count_more(old, event)

    def _count_more(self, old: TaskRow, event: TaskEvent) -> None:
        """A retry, a result from the cache or a resumed run, an allowed failure."""
        self._retries += event.retry_in is not None
        self._cached += bool(event.cached and not old.cached)
        self._reused += bool(event.reused and not old.reused)
        self._allowed += event.allowed - old.allowed

    def _apply_item(self, event: TaskEvent) -> None:
        """An item's event: counted for its mapped task. O(1)."""
        items = self._mapped.get(event.parent)  # type: ignore[arg-type]
        if items is None:
            return
        status = event.status
        old = self._items.get(event.task)
        self._items[event.task] = status
        counts = items.counts
        if old is not None and old in _SLOT:
            counts[_SLOT[old]] -= 1
        if status in _SLOT:
            counts[_SLOT[status]] += 1
        if status is TaskStatus.FAILED and len(items.failures) < FAILED_ITEMS_KEPT:
            items.failures.append((event.task, event.error or ""))
        if event.retry_in is not None:
            self._retries += 1
        elif status is TaskStatus.COMPLETED:
            self._cached += event.cached
            self._reused += event.reused

    def cancel_unfinished(self, reason: str) -> None:
        """Mark what never got its final event as cancelled (a second Ctrl-C)."""
        for row in list(self._rows.values()):
            if not row.status.is_final:
                self.apply(TaskEvent(row.name, TaskStatus.CANCELLED, row.attempt, 0.0, reason))

    def snapshot(self, max_rows: int | None = None) -> Snapshot:
        """The run now; with ``max_rows``, a bigger run lists only its running and
        failed tasks (at most ``max_rows`` of them)."""
        now = time.time()
        with self._lock:
            for name, items in self._mapped.items():
                self._rows[name] = self._rows[name]._replace(items=items.as_counts())
            truncated = max_rows is not None and len(self._rows) > max_rows
            rows = self._busy_rows(max_rows or 0) if truncated else tuple(self._rows.values())
            return Snapshot(
                workflow=self.workflow,
                total=len(self._rows),
                counts=dict(self._counts),
                rows=rows,
                truncated=truncated,
                now=now,
                elapsed=self._elapsed(),
                retries=self._retries,
                cached=self._cached,
                reused=self._reused,
                finished=self._ended is not None,
                allowed=self._allowed,
                items=self._all_items(),
            )

    def _all_items(self) -> ItemCounts | None:
        if not self._mapped:
            return None
        return all_items([items.as_counts() for items in self._mapped.values()])

    def _busy_rows(self, limit: int) -> tuple[TaskRow, ...]:
        names = [*self._running, *self._failed][: max(limit, 0)]
        return tuple(self._rows[name] for name in names)

    def _elapsed(self) -> float:
        if self._started is None:
            return 0.0
        end = self._ended if self._ended is not None else time.monotonic()
        return end - self._started


_new_row = tuple.__new__
