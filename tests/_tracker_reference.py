"""The run tracker's ``apply`` as it was before it was made one inline pass, kept as the
reference the fast one is checked against (tests/cli/test_tracker_model.py)."""

from __future__ import annotations

from flowweaver.cli.tracker import RunTracker, TaskRow, _Items
from flowweaver.events import TaskEvent
from flowweaver.task import TaskStatus


class ReferenceTracker(RunTracker):
    def apply(self, event: TaskEvent) -> None:
        with self._lock:
            if event.parent is not None:
                self._apply_item(event)
                return
            old = self._rows.get(event.task)
            if old is None:
                return
            if event.status is TaskStatus.PENDING:  # it waits for a pool: status unchanged
                self._rows[event.task] = old._replace(waiting=event.reason)
                return
            new = _next_row(old, event)
            if event.items is not None:
                self._mapped[event.task] = _Items(event.items)
            self._rows[event.task] = new
            self._count(old, new, event)

    def _count(self, old: TaskRow, new: TaskRow, event: TaskEvent) -> None:
        self._counts[old.status] -= 1
        self._counts[new.status] += 1
        name = new.name
        if new.status is TaskStatus.RUNNING:
            self._running[name] = None
        else:
            self._running.pop(name, None)
        if new.status is TaskStatus.FAILED:
            self._failed[name] = None
        self._retries += event.retry_in is not None
        self._cached += new.cached and not old.cached
        self._reused += new.reused and not old.reused
        self._allowed += new.allowed - old.allowed


def _next_row(row: TaskRow, event: TaskEvent) -> TaskRow:
    status = event.status
    started = row.started
    if status is TaskStatus.RUNNING and started is None:
        started = event.time
    error = event.error
    if error is None and status is TaskStatus.RUNNING:
        error = row.error  # a new attempt keeps showing the last one's error until it ends
    return row._replace(
        status=status,
        attempt=event.attempt or row.attempt,
        started=started,
        duration=event.duration,
        error=error,
        retry_in=event.retry_in,
        cached=event.cached,
        reused=event.reused,
        reason=event.reason,
        allowed=event.allowed,
        waiting=None,
    )
