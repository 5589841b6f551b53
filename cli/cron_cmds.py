"""``cron install``, ``cron remove`` and ``cron status``: the schedules of specs in the
user's crontab, and a dead-man view of what ran and what was missed (SPEC section 13).

Cron stays the scheduler: these commands only write the crontab block (``crontab.py``,
``cron_block.py``) and read the run history.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowweaver.errors import Problem, SpecError

from . import crontab
from .cron_block import Entry, block_lines, interpreter, read_block
from .errors import CliError, ExitCode
from .options import ShowFormat
from .runs_cmds import PIPE_WIDTH, when
from .store import open_store

if TYPE_CHECKING:
    from rich.console import RenderableType

    from flowweaver.history import RunRecord

FAILED = frozenset({"failed", "interrupted", "timed_out", "killed"})
"""Run statuses that make ``cron status`` exit 1: the run did not complete."""


def install(specs: Sequence[Path], state_dir: Path | None, *, print_only: bool) -> int:
    """Write one crontab line per spec into FlowWeaver's block (replacing it whole)."""
    from flowweaver.history.statedir import prepare_state_dir, resolve_state_dir

    folder = os.path.abspath(resolve_state_dir(state_dir))
    entries = _entries(specs, folder)
    lines = block_lines(entries, interpreter(), time.time())
    if print_only:
        sys.stdout.write("".join(f"{line}\n" for line in [crontab.BEGIN, *lines, crontab.END]))
        return ExitCode.OK
    prepare_state_dir(folder)
    text = crontab.read()
    before = crontab.find_block(text)
    crontab.write(crontab.with_block(text, lines))
    _say_installed(entries, read_block(before)[1] if before is not None else [])
    return ExitCode.OK


def remove() -> int:
    """Remove FlowWeaver's block from the crontab; nothing else changes."""
    text = crontab.read()
    block = crontab.find_block(text)
    if block is None:
        sys.stdout.write("no flowweaver block in the crontab: nothing to remove\n")
        return ExitCode.OK
    crontab.write(crontab.without_block(text))
    names = ", ".join(entry.workflow for entry in read_block(block)[1]) or "no workflows"
    sys.stdout.write(f"removed the flowweaver block from the crontab ({names})\n")
    return ExitCode.OK


def status(state_dir: Path | None, output: ShowFormat) -> int:
    """Each installed workflow's schedule, last run, next due time and whether a run was
    missed; exit 1 when one was missed or its last run did not complete."""
    block = crontab.find_block(crontab.read())
    if block is None:
        raise CliError(
            "no flowweaver block in the crontab", hint="flowweaver cron install SPEC… adds one"
        )
    installed, entries = read_block(block)
    now = time.time()
    rows = [_status_of(entry, installed, now, state_dir) for entry in entries]
    if output is ShowFormat.JSON:
        document = {
            "installed": _iso(installed),
            "ok": all(row.ok for row in rows),
            "workflows": [row.to_dict() for row in rows],
        }
        sys.stdout.write(json.dumps(document) + "\n")
    else:
        _print(_status_view(installed, rows))
    return ExitCode.OK if all(row.ok for row in rows) else ExitCode.TASK_FAILED


# -- install ----------------------------------------------------------------------------


def _entries(specs: Sequence[Path], state_dir: str) -> list[Entry]:
    """An entry per spec (each file once); every spec problem, a spec without a
    schedule or two specs of one workflow are errors, and nothing is installed."""
    from flowweaver.spec import load_workflow

    problems: list[Problem] = []
    entries: dict[str, Entry] = {}
    unscheduled: list[str] = []
    for spec in specs:
        try:
            workflow = load_workflow(spec, check_imports=False)
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        info = workflow.spec
        assert info is not None  # a workflow loaded from a file knows it
        if info.schedule is None:
            unscheduled.append(os.fspath(spec))
            continue
        entry = Entry(workflow.name, info.schedule, info.path, state_dir)
        _check_names(entries.values(), entry)
        entries[info.path] = entry
    if problems:
        raise SpecError(problems)
    if unscheduled:
        raise CliError(
            f"no schedule in {', '.join(unscheduled)}: nothing was installed",
            hint="add one to the spec, e.g. schedule: '0 2 * * *' (see docs/scheduling.md)",
        )
    return list(entries.values())


def _check_names(known: Iterable[Entry], entry: Entry) -> None:
    for other in known:
        if other.workflow == entry.workflow and other.spec != entry.spec:
            raise CliError(
                f"{other.spec} and {entry.spec} are both workflow {entry.workflow!r}: "
                "their runs would share one history and one lock",
                hint="give one of them a name: of its own",
            )


def _say_installed(entries: list[Entry], before: list[Entry]) -> None:
    now = time.time()
    lines = [f"installed {_count(len(entries), 'scheduled workflow')} into the crontab:"]
    width = max(len(entry.workflow) for entry in entries)
    for entry in entries:
        due = _next_due(entry.schedule, now)
        lines.append(f"  {entry.workflow:<{width}}  {entry.schedule}  next due {_minute(due)}")
    dropped = sorted({e.workflow for e in before} - {e.workflow for e in entries})
    if dropped:
        lines.append(f"no longer scheduled: {', '.join(dropped)}")
    sys.stdout.write("".join(f"{line}\n" for line in lines))


# -- status -----------------------------------------------------------------------------


@dataclass(frozen=True)
class WorkflowStatus:
    """How one scheduled workflow stands."""

    entry: Entry
    history: str
    last_run: RunRecord | None
    next_due: float | None
    missed: float | None

    @property
    def failed(self) -> bool:
        return self.last_run is not None and self.last_run.status.value in FAILED

    @property
    def ok(self) -> bool:
        return self.missed is None and not self.failed

    @property
    def state(self) -> str:
        """In words: ``ok``, ``missed (due …)``, ``last run failed`` …"""
        words = []
        if self.missed is not None:
            words.append(f"missed (due {_minute(self.missed)}, no run since)")
        if self.failed and self.last_run is not None:
            words.append(f"last run {self.last_run.status.value}")
        return "; ".join(words) or "ok"

    def to_dict(self) -> dict[str, Any]:
        last = self.last_run
        return {
            "workflow": self.entry.workflow,
            "schedule": self.entry.schedule,
            "spec": self.entry.spec,
            "state_dir": self.history,
            "last_run": None
            if last is None
            else {"id": last.id, "status": last.status.value, "started": _iso(last.started)},
            "next_due": _iso(self.next_due),
            "missed": self.missed is not None,
            "missed_due": _iso(self.missed),
            "failed": self.failed,
            "ok": self.ok,
            "state": self.state,
        }


def _status_of(
    entry: Entry, installed: float | None, now: float, state_dir: Path | None
) -> WorkflowStatus:
    from flowweaver.spec.schedules import missed_due, parse_schedule

    try:
        schedule = parse_schedule(entry.schedule)
    except ValueError as exc:
        raise CliError(f"the crontab's line for {entry.workflow}: {exc}") from None
    history = os.fspath(state_dir) if state_dir is not None else entry.state_dir
    runs = open_store(Path(history)).runs(limit=1, workflow=entry.workflow)
    last = runs[0] if runs else None
    missed = None
    if installed is not None:
        missed = missed_due(schedule, installed, now, last.started if last else None)
    upcoming = schedule.due_after(now, 1)
    return WorkflowStatus(entry, history, last, upcoming[0] if upcoming else None, missed)


def _status_view(installed: float | None, rows: list[WorkflowStatus]) -> RenderableType:
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False)
    for column in ("workflow", "schedule", "last run", "next due", "state"):
        table.add_column(column, no_wrap=True)
    for row in rows:
        last = row.last_run
        table.add_row(
            row.entry.workflow,
            row.entry.schedule,
            f"{last.status.value} {when(last.started)}" if last else "never",
            _minute(row.next_due),
            row.state,
        )
    since = when(installed) if installed is not None else "at an unknown time"
    return Group(Text(f"crontab block installed {since}"), table)


# -- words and times --------------------------------------------------------------------


def _next_due(schedule: str, now: float) -> float | None:
    from flowweaver.spec.schedules import parse_schedule

    upcoming = parse_schedule(schedule).due_after(now, 1)
    return upcoming[0] if upcoming else None


def _minute(epoch: float | None) -> str:
    """Local ``YYYY-MM-DD HH:MM``; ``never`` for ``None``."""
    from flowweaver.spec.schedules import local_minute

    return "never" if epoch is None else local_minute(epoch)


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="seconds")


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _print(renderable: RenderableType) -> None:
    """On a terminal, as wide as it is; in a pipe or a file, never cut."""
    from rich.console import Console

    width = None if sys.stdout.isatty() else PIPE_WIDTH
    Console(highlight=False, width=width).print(renderable)
