"""``--output plain``: one timestamped line per task event, then the totals line.

No colour, no cursor movement: readable in a cron mail and a CI log. Each line is
flushed as it is written, so a reader of the pipe sees it at once.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from flowweaver.events import TaskEvent
from flowweaver.task import TaskStatus

from .pipe import Lines
from .reporter import RunHeader, RunOutcome
from .store import resume_lines
from .summary import extras_line, failure_lines, first_line, seconds, totals_line
from .tracker import Snapshot


def timestamp(epoch: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def format_event(event: TaskEvent) -> str:
    """``2026-11-26 02:00:01 extract completed in 0.52s (cached)``."""
    return f"{timestamp(event.time)} {event.task} {_what(event)}"


def _what(event: TaskEvent) -> str:
    status = event.status
    error = first_line(event.error)
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
        if not event.attempt:  # a mapped task (its items had the attempts)
            return f"failed in {took}: {error}"
        tries = f"{event.attempt} attempt{'s' if event.attempt != 1 else ''}"
        return f"failed after {tries} in {took}: {error}"
    return f"{status.value}: {error}" if error else status.value


def format_header(header: RunHeader, now: float) -> list[str]:
    run = f"run {header.run_id} of " if header.run_id else ""
    noun = "task" if header.tasks == 1 else "tasks"
    first = f"{run}{header.workflow}: {header.tasks} {noun} on {header.executor}"
    return [f"{timestamp(now)} {line}" for line in [first, *resume_lines(header.resume)]]


def format_summary(snapshot: Snapshot) -> list[str]:
    """The failed tasks with their whole error, the extras and the totals line."""
    lines = failure_lines(snapshot)
    extras = extras_line(snapshot)
    if extras:
        lines.append(extras)
    lines.append(totals_line(snapshot))
    return lines


class PlainReporter:
    """Writes :func:`format_event` lines to ``out``."""

    def __init__(self, out: TextIO | None = None) -> None:
        self._out = Lines(out if out is not None else sys.stdout)

    def start(self, header: RunHeader) -> None:
        self._write(format_header(header, time.time()))

    def event(self, event: TaskEvent) -> None:
        self._write([format_event(event)])

    def finish(self, snapshot: Snapshot, outcome: RunOutcome) -> None:
        self._write(format_summary(snapshot))

    def close(self) -> None:
        self._out.flush()

    def _write(self, lines: list[str]) -> None:
        self._out.write("".join(f"{line}\n" for line in lines))
