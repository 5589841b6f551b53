"""``runs``, ``show`` and ``cache clear``: reading the run history."""

from __future__ import annotations

import datetime
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import CliError, ExitCode
from .options import ShowFormat, did_you_mean
from .store import open_store
from .summary import first_line, seconds

PIPE_WIDTH = 1000

if TYPE_CHECKING:
    from rich.console import RenderableType

    from flowweaver.history import RunRecord, TaskRecord
    from flowweaver.history.store import AttemptRecord


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


def show_task(state_dir: Path | None, run_id: str, task: str, output: ShowFormat) -> int:
    """One task of a run: its record, each attempt, and each failed attempt's
    traceback; an unknown task is an error (exit 2) with a did-you-mean."""
    store = open_store(state_dir)
    record = store.run(run_id)
    found = next((t for t in record.tasks if t.name == task), None)
    if found is None:
        names = [t.name for t in record.tasks]
        hint = did_you_mean(task, names)
        raise CliError(
            f"run {record.id} has no task {task!r}" + (f" ({hint})" if hint else ""),
            hint=f"see its tasks with: flowweaver show {record.id}",
        )
    attempts = [a for a in store.attempts(record.id) if a.task == task]
    if output is ShowFormat.JSON:
        data = found.to_dict() | {"run_id": record.id, "attempts": [a.to_dict() for a in attempts]}
        sys.stdout.write(json.dumps(data, default=str) + "\n")
        return ExitCode.OK
    sys.stdout.write("".join(f"{line}\n" for line in task_lines(record, found, attempts)))
    return ExitCode.OK


def task_lines(run: RunRecord, task: TaskRecord, attempts: list[AttemptRecord]) -> list[str]:
    """``show RUN TASK`` as text: the task, its attempts, the tracebacks."""
    lines = [f"task {task.name} of run {run.id} ({run.workflow}): {task_status(task)}"]
    if task.error:
        lines.append(f"error: {task.error.strip()}".replace("\n", "\n  "))
    if task.reason:
        lines.append(f"reason: {task.reason}")
    for attempt in attempts:
        took = seconds(attempt.ended - attempt.started) if attempt.ended is not None else ""
        line = f"attempt {attempt.attempt}: {attempt.status}, started {when(attempt.started)}"
        lines.append(f"{line}, took {took}" if took else line)
        if attempt.traceback:
            lines.extend(f"  {text}" for text in attempt.traceback.rstrip("\n").split("\n"))
        elif attempt.error:
            lines.append(f"  {first_line(attempt.error)}")
    if task.traceback and not any(a.traceback for a in attempts):
        lines.extend(task.traceback.rstrip("\n").split("\n"))
    lines.append(f"output: flowweaver logs {run.id} {task.name}")
    return lines


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

    title = f"run {record.id} of {record.workflow}: {record.status}, started {when(record.started)}"
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
    return Group(Text(title), table, Text(_counts(record)))


def task_status(task: TaskRecord) -> str:
    mark = " (cached)" if task.cached else " (reused)" if task.reused else ""
    return f"{task.status}{mark}"


def when(epoch: float | None) -> str:
    """Local ``YYYY-MM-DD HH:MM:SS``; empty for ``None``."""
    if epoch is None:
        return ""
    return datetime.datetime.fromtimestamp(epoch).strftime("%Y-%m-%d %H:%M:%S")


def _counts(record: RunRecord) -> str:
    return ", ".join(f"{n} {status}" for status, n in sorted(record.counts.items()))


def _print(renderable: RenderableType) -> None:
    """On a terminal, as wide as it is; in a pipe or a file, never cut."""
    from rich.console import Console

    width = None if sys.stdout.isatty() else PIPE_WIDTH
    Console(highlight=False, width=width).print(renderable)
