"""``logs`` and ``prune``: reading a run's task logs, removing old runs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from flowweaver.history import RunRecord
from flowweaver.logs import last_lines, log_file_name, read_log, sections

from .errors import CliError, ExitCode
from .store import open_store


def show_logs(
    state_dir: Path | None,
    run_id: str,
    task: str | None,
    *,
    attempt: int | None = None,
    tail: int | None = None,
) -> int:
    """One task's log, or every task's under a ``==> TASK <==`` header."""
    store = open_store(state_dir)
    run = store.run(run_id)
    if task is not None:
        text = store.log(run.id, task)
        text = _attempt_part(run, task, text, attempt)
        if not text:
            sys.stderr.write(_nothing(run, task, attempt) + "\n")
            return ExitCode.OK
        sys.stdout.write(_cut(text, tail))
        return ExitCode.OK
    parts = []
    folder = store.log_dir(run.id)
    try:
        present = {entry.name for entry in os.scandir(folder)}
    except OSError:  # no task printed anything
        present = set()
    for record in run.tasks:  # (one look at the folder, however many tasks and items)
        name = log_file_name(record.name)
        if name not in present:
            continue
        text = _attempt_part(run, record.name, read_log(folder / name), attempt, strict=False)
        if text:
            parts.append(f"==> {record.name} <==\n{_cut(text, tail)}")
    if not parts:
        sys.stderr.write(f"no task printed anything in run {run.id}\n")
        return ExitCode.OK
    sys.stdout.write("\n".join(parts))
    return ExitCode.OK


def _attempt_part(
    run: RunRecord, task: str, text: str, attempt: int | None, *, strict: bool = True
) -> str:
    if attempt is None:
        return text
    made = next((record.attempts for record in run.tasks if record.name == task), 0)
    if strict and attempt > made:
        tries = f"{made} attempt{'s' if made != 1 else ''}"
        raise CliError(f"task {task!r} has no attempt {attempt} in run {run.id} (it made {tries})")
    return "".join(part.text for part in sections(text) if part.attempt == attempt)


def _cut(text: str, tail: int | None) -> str:
    text = text if tail is None else last_lines(text, tail)
    return text if not text or text.endswith("\n") else f"{text}\n"


def _nothing(run: RunRecord, task: str, attempt: int | None) -> str:
    which = f"attempt {attempt} of task {task!r}" if attempt is not None else f"task {task!r}"
    return f"{which} printed nothing in run {run.id}"


def prune_runs(
    state_dir: Path | None,
    *,
    keep: int | None,
    older_than: str | None,
    workflow: str | None,
) -> int:
    """Remove old runs with their stored results and logs; say what went."""
    if keep is None and older_than is None:
        raise CliError(
            "say which runs to remove: --keep N, --older-than AGE, or both",
            hint="e.g. flowweaver prune --keep 50, or flowweaver prune --older-than 30d",
        )
    age = None if older_than is None else _age(older_than)
    store = open_store(state_dir)
    if workflow is not None and workflow not in store.workflows():
        from .runs_cmds import no_runs

        raise CliError(no_runs(workflow, store.workflows()))
    removed = store.prune(keep=keep, older_than=age, workflow=workflow)
    if not removed:
        sys.stdout.write("nothing to prune\n")
        return ExitCode.OK
    by_workflow: dict[str, int] = {}
    for run in removed:
        by_workflow[run.workflow] = by_workflow.get(run.workflow, 0) + 1
    listing = ", ".join(f"{count} of {name}" for name, count in sorted(by_workflow.items()))
    noun = "run" if len(removed) == 1 else "runs"
    sys.stdout.write(f"pruned {len(removed)} {noun} ({listing}): records, results and logs\n")
    return ExitCode.OK


def _age(text: str) -> float:
    from flowweaver.spec.durations import HINT, parse_duration

    try:
        return parse_duration(text)
    except ValueError:
        raise CliError(f"--older-than {text!r} is not an age", hint=f"use {HINT}") from None
