"""``runs``, ``show``, ``cache list`` and ``cache clear``: reading the run history."""

from __future__ import annotations

import datetime
import json
import sys
from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import ExitCode, write_warning
from .options import ShowFormat, did_you_mean
from .store import open_store
from .summary import first_line, seconds

PIPE_WIDTH = 1000
SHOWN_ITEMS = 100
"""Past this many items, ``show`` lists a mapped task's items that did not complete."""

if TYPE_CHECKING:
    from rich.console import RenderableType

    from flowweaver.history import CacheEntry, RunRecord, TaskRecord


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


def clear_cache(
    state_dir: Path | None, *, task: str | None, workflow: str | None, files: bool
) -> int:
    """Clear all the cache, or a task's (of a workflow's); ``files``: the file hashes too.
    Nothing to clear is no error, but a task name that looks mistyped gets a hint."""
    store = open_store(state_dir)
    known = store.cache_entries(workflow)
    removed = store.clear_cache(task, workflow=workflow)
    line = f"cache cleared: {_entries(removed)}"
    if task is not None:
        line += f" of task {task!r}"
    if workflow is not None:
        line += f" of workflow {workflow!r}"
    if files:
        line += f"; {store.clear_file_hashes()} file hashes forgotten"
    sys.stdout.write(line + "\n")
    if task is not None and removed == 0:
        hint = did_you_mean(task, sorted({entry.task for entry in known}))
        if hint:
            write_warning(f"no cached results of task {task!r} ({hint})")
    return ExitCode.OK


def list_cache(state_dir: Path | None, *, workflow: str | None, output: ShowFormat) -> int:
    """One line per cached result: workflow, task, key (short), age, size."""
    store = open_store(state_dir)
    entries = store.cache_entries(workflow)
    now = store.clock()
    if output is ShowFormat.JSON:
        rows = [
            {**entry.to_dict(), "age_seconds": round(now - entry.created, 3)} for entry in entries
        ]
        sys.stdout.write(json.dumps(rows) + "\n")
        return ExitCode.OK
    if not entries:
        sys.stderr.write(
            "the cache is empty\n"
            if workflow is None
            else f"no cached results of workflow {workflow!r}\n"
        )
        return ExitCode.OK
    _print(cache_table(entries, now))
    return ExitCode.OK


def cache_table(entries: list[CacheEntry], now: float) -> RenderableType:
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False)
    for column in ("workflow", "task", "key", "age", "size"):
        table.add_column(
            column, no_wrap=True, justify="right" if column in ("age", "size") else "left"
        )
    for entry in entries:
        table.add_row(
            entry.workflow or "-",
            Text(entry.task),  # an item's name (load[b.csv]) is not markup
            entry.key[:12],
            age(now - entry.created),
            size(entry.size),
        )
    return table


def age(seconds: float) -> str:
    """``45s``, ``12m``, ``3h``, ``2d``: the largest whole unit."""
    for unit, length in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= length:
            return f"{int(seconds // length)}{unit}"
    return f"{max(int(seconds), 0)}s"


def size(count: int) -> str:
    """``512 B``, ``1.2 kB``, ``3.4 MB``, ``1.0 GB`` (powers of 1000)."""
    value = float(count)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def _entries(count: int) -> str:
    return f"{count} {'entry' if count == 1 else 'entries'}"


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

    title = f"run {record.id} of {record.workflow}: {record.status}, started {when(record.started)}"
    if record.resumed_from:
        title += f", resumed from {record.resumed_from}"
    table = Table(box=None, pad_edge=False)
    for column in ("task", "status", "attempts", "duration", "error"):
        table.add_column(column, no_wrap=True, overflow="ellipsis")
    for task, hidden in shown_tasks(record.tasks):  # (Text: an item key is not markup)
        if hidden:
            table.add_row(Text(f"  … {hidden} completed items of {task.parent}"))
            continue
        table.add_row(
            Text(task.name if task.parent is None else f"  {task.name}"),
            task_status(task),
            str(task.attempts or ""),
            seconds(task.duration),
            Text(first_line(task.error)),
        )
    outputs = [
        f"{task.name} wrote {output.path} ({size(output.size)}, sha256 {output.sha256[:12]})"
        for task in record.tasks
        for output in task.outputs
    ]
    return Group(Text(title), table, Text(_counts(record)), *map(Text, outputs))


def shown_tasks(tasks: tuple[TaskRecord, ...]) -> list[tuple[TaskRecord, int]]:
    """The rows ``show`` lists, as ``(record, 0)``: every task, each mapped task's items
    under it; of a task with more than ``SHOWN_ITEMS`` items only those that did not
    complete, then ``(its last item, how many completed ones are not shown)``."""
    per_task = Counter(task.parent for task in tasks if task.parent is not None)
    rows: list[tuple[TaskRecord, int]] = []
    hidden = 0
    for position, task in enumerate(tasks):
        parent = task.parent
        if parent is not None and per_task[parent] > SHOWN_ITEMS and task.status == "completed":
            hidden += 1
        else:
            rows.append((task, 0))
        following = tasks[position + 1] if position + 1 < len(tasks) else None
        if hidden and (following is None or following.parent != parent):
            rows.append((task, hidden))
            hidden = 0
    return rows


def task_status(task: TaskRecord) -> str:
    mark = " (cached)" if task.cached else " (reused)" if task.reused else ""
    return f"{task.status}{mark}"


def when(epoch: float | None) -> str:
    """Local ``YYYY-MM-DD HH:MM:SS``; empty for ``None``."""
    if epoch is None:
        return ""
    return datetime.datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")


def _counts(record: RunRecord) -> str:
    """``2 completed, 1 failed``, then the items': ``; items: 118 completed, 2 failed``."""
    text = ", ".join(f"{n} {status}" for status, n in sorted(record.counts.items()))
    items = record.item_counts
    if items:
        text += "; items: " + ", ".join(f"{n} {status}" for status, n in sorted(items.items()))
    return text


def _print(renderable: RenderableType) -> None:
    """On a terminal, as wide as it is; in a pipe or a file, never cut."""
    from rich.console import Console

    width = None if sys.stdout.isatty() else PIPE_WIDTH
    Console(highlight=False, width=width).print(renderable)
