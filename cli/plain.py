"""``--output plain``: one timestamped line per task event, then the totals line.

No colour, no cursor movement: readable in a cron mail and a CI log. Each line is
flushed as it is written, so a reader of the pipe sees it at once.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Sequence
from typing import TextIO

from flowweaver.events import TaskEvent
from flowweaver.handlers import HandlerOutcome
from flowweaver.logs import OutputItem, TaskOutput
from flowweaver.task import TaskStatus

from .pipe import Lines
from .reporter import RunHeader, RunOutcome
from .store import resume_lines
from .summary import (
    extras_line,
    failure_lines,
    first_line,
    handler_words,
    seconds,
    totals_line,
)
from .tasklogs import TaskLogs
from .tracker import Snapshot


def timestamp(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def format_event(event: TaskEvent, where: str | None = None) -> str:
    """``2026-11-26 02:00:01 extract completed in 0.52s (cached)``; a failure names
    ``where`` its error was raised (``… failed …: ValueError: bad row (etl.py:42)``)."""
    return f"{timestamp(event.time)} {event.task} {_what(event, where)}"


def format_output(item: TaskOutput) -> str:
    """``load | 1200 rows``: the lines a task printed, each after its name."""
    prefix = f"{item.task} | "
    return "".join(f"{prefix}{line}\n" for line in item.lines)


def _what(event: TaskEvent, where: str | None = None) -> str:
    status = event.status
    error = first_line(event.error)
    if where and error:
        error = f"{error} ({where})"
    if event.retry_in is not None:
        return f"attempt {event.attempt} failed, retrying in {event.retry_in:.2f}s: {error}"
    if status is TaskStatus.PENDING and event.reason:
        return event.reason  # waiting for pool db (2/2)
    if status is TaskStatus.RUNNING:
        if event.items is not None:  # a mapped task starts its items
            return f"running {event.items} item{'s' if event.items != 1 else ''}"
        return "running" if event.attempt <= 1 else f"running (attempt {event.attempt})"
    if status is TaskStatus.COMPLETED:
        mark = " (cached)" if event.cached else " (reused)" if event.reused else ""
        return f"completed in {seconds(event.duration or 0.0)}{mark}"
    if status is TaskStatus.FAILED:
        took = seconds(event.duration or 0.0)
        failed = "failed (allowed)" if event.allowed else "failed"
        if not event.attempt:  # a mapped task (its items had the attempts)
            return f"{failed} in {took}: {error}"
        tries = f"{event.attempt} attempt{'s' if event.attempt != 1 else ''}"
        return f"{failed} after {tries} in {took}: {error}"
    return f"{status.value}: {error}" if error else status.value


def format_header(header: RunHeader, now: float) -> list[str]:
    run = f"run {header.run_id} of " if header.run_id else ""
    noun = "task" if header.tasks == 1 else "tasks"
    first = f"{run}{header.workflow}: {header.tasks} {noun} on {header.executor}"
    return [f"{timestamp(now)} {line}" for line in [first, *resume_lines(header.resume)]]


def format_handlers(handlers: Sequence[HandlerOutcome], now: float) -> list[str]:
    """``2026-11-26 02:00:09 handler on_failure completed in 0.05s``, one per handler."""
    return [f"{timestamp(now)} handler {handler_words(handler)}" for handler in handlers]


def format_summary(
    snapshot: Snapshot, outcome: RunOutcome | None = None, logs: TaskLogs | None = None
) -> list[str]:
    """The failed tasks with their whole error (and, from ``logs``, where it was raised
    and the last lines they printed), the extras, why the run ended when the tasks
    don't say it (a timeout), and the totals line."""
    where, notes = (None, None) if logs is None else (logs.places(), logs.notes())
    lines = failure_lines(snapshot, where, notes)
    extras = extras_line(snapshot)
    if extras:
        lines.append(extras)
    if outcome is not None and outcome.message:
        lines.append(outcome.message)
    lines.append(totals_line(snapshot))
    return lines


class PlainReporter:
    """Writes :func:`format_event` lines to ``out``, and what tasks print, each line
    after its task's name (:func:`format_output`), to ``err``."""

    def __init__(
        self, out: TextIO | None = None, err: TextIO | None = None, logs: TaskLogs | None = None
    ) -> None:
        self._out = Lines(out if out is not None else sys.stdout)
        self._err = Lines(err if err is not None else sys.stderr)
        self._err_lock = threading.Lock()
        self._logs = logs

    def start(self, header: RunHeader) -> None:
        self._write(format_header(header, time.time()))

    def event(self, event: TaskEvent) -> None:
        where = None
        if event.error is not None and self._logs is not None:
            where = self._logs.where(event.task)
        self._write([format_event(event, where)])

    def output(self, item: OutputItem) -> None:
        if isinstance(item, TaskOutput):
            text = format_output(item)
            with self._err_lock:
                self._err.write(text)

    def finish(self, snapshot: Snapshot, outcome: RunOutcome) -> None:
        handlers = format_handlers(outcome.handlers, time.time())
        self._write(handlers + format_summary(snapshot, outcome, self._logs))

    def close(self) -> None:
        self._out.flush()

    def _write(self, lines: list[str]) -> None:
        self._out.write("".join(f"{line}\n" for line in lines))
