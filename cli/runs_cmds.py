"""``runs``, ``show`` and ``cache clear``: reading the run history."""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import ExitCode
from .options import ShowFormat, did_you_mean
from .store import open_store
from .summary import first_line, seconds

PIPE_WIDTH = 1000

if TYPE_CHECKING:
    from rich.console import RenderableType

    from flowweaver.history import RunRecord, TaskRecord


def list_runs(state_dir: Path | None, *, limit: int, workflow: str | None) -> int:
    store = open_store(state_dir)
    records = store.runs(limit=limit, workflow=workflow)
    if not records:
        sys.stderr.write(no_runs(workflow, store.workflows()) + "\n")
        return ExitCode.OK
    _print(runs_table(records))
    return ExitCode.OK


def no_runs(workflow: str | None, known: list[str]) -> str:
    """Why ``runs`` lists nothing; a did-you-mean from ``known`` (the workflows that
    have runs) when ``--workflow`` looks mistyped."""
    if workflow is None or not known:
        return "no runs recorded yet"
    hint = did_you_mean(workflow, known)
    return f"no runs of workflow {workflow!r}" + (f" ({hint})" if hint else "")


def show_run(state_dir: Path | None, run_id: str, output: ShowFormat) -> int:
    """One run; an unknown id is a ``StateError`` (exit 2) naming it."""
    record = open_store(state_dir).run(run_id)
    if output is ShowFormat.JSON:
        sys.stdout.write(json.dumps(record.to_dict(), default=str) + "\n")
    else:
        _print(run_view(record))
    return ExitCode.OK


def clear_cache(state_dir: Path | None) -> int:
    removed = open_store(state_dir).clear_cache()
    sys.stdout.write(f"cache cleared: {removed} {'entry' if removed == 1 else 'entries'}\n")
    return ExitCode.OK


def runs_table(records: list[RunRecord]) -> RenderableType:
    from rich.table import Table

    table = Table(box=None, pad_edge=False)
    for column in ("run", "workflow", "status", "started", "duration", "tasks"):
        table.add_column(column, no_wrap=True)
    for record in records:
        table.add_row(
            record.id,
            record.workflow,
            record.status,
            when(record.started),
            seconds(record.elapsed),
            _counts(record),
        )
    return table


def run_view(record: RunRecord) -> RenderableType:
    """The run's header line, then a table of its tasks."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    title = f"run {record.id} of {record.workflow}: {record.status}"
    if record.exit_code is not None:
        title += f" (exit {record.exit_code})"
    title += f", started {when(record.started)}"
    if record.resumed_from:
        title += f", resumed from {record.resumed_from}"
    table = Table(box=None, pad_edge=False)
    for column in ("task", "status", "attempts", "duration", "error"):
        table.add_column(column, no_wrap=True, overflow="ellipsis")
    for task in record.tasks:
        table.add_row(
            task.name,
            task_status(task),
            str(task.attempts or ""),
            seconds(task.duration),
            first_line(task.error),
        )
    handlers = [Text(f"handler {handler_line(handler)}") for handler in record.handlers]
    return Group(Text(title), table, *handlers, Text(_counts(record)))


def task_status(task: TaskRecord) -> str:
    """``completed (cached)``, ``failed (allowed)`` …; a skipped task's reason is its
    error, shown beside it."""
    mark = " (cached)" if task.cached else " (reused)" if task.reused else ""
    if task.allowed and task.status == "failed":
        mark = " (allowed)"
    return f"{task.status}{mark}"


def handler_line(handler: dict[str, Any]) -> str:
    """``on_failure completed in 0.05s`` (``failed in 0.10s: exit code 3``)."""
    words = f"{handler.get('name')} {handler.get('status')}"
    if handler.get("duration") is not None:
        words += f" in {seconds(handler['duration'])}"
    if handler.get("status") != "completed" and handler.get("error"):
        words += f": {first_line(handler['error'])}"
    return words


def when(epoch: float | None) -> str:
    """Local ``YYYY-MM-DD HH:MM:SS``; empty for ``None``."""
    if epoch is None:
        return ""
    return datetime.datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")


def _counts(record: RunRecord) -> str:
    """``2 completed, 1 failed (1 allowed), 1 skipped``."""
    allowed = sum(1 for task in record.tasks if task.allowed and task.status == "failed")
    parts = []
    for status, count in sorted(record.counts.items()):
        extra = f" ({allowed} allowed)" if status == "failed" and allowed else ""
        parts.append(f"{count} {status}{extra}")
    return ", ".join(parts)


def _print(renderable: RenderableType) -> None:
    """On a terminal, as wide as it is; in a pipe or a file, never cut."""
    from rich.console import Console

    width = None if sys.stdout.isatty() else PIPE_WIDTH
    Console(highlight=False, width=width).print(renderable)
