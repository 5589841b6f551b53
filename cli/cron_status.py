"""``cron status``: for each workflow of the crontab block, its schedule, last run and
next due time, and whether a run was missed (SPEC section 13): a dead-man view that
exits 1 when something is wrong, so that it can itself be a check.
"""

from __future__ import annotations

import datetime
import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowweaver.history.status import RunStatus

from . import crontab
from .cron_block import Entry, read_block
from .errors import CliError, ExitCode
from .options import ShowFormat
from .runs_cmds import PIPE_WIDTH, when
from .store import open_store

if TYPE_CHECKING:
    from rich.console import RenderableType

    from flowweaver.history import RunRecord

FAILED = frozenset({RunStatus.FAILED, RunStatus.INTERRUPTED, RunStatus.TIMED_OUT, RunStatus.KILLED})
"""Run statuses that make ``cron status`` exit 1: the run did not complete."""


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
        return self.last_run is not None and self.last_run.status in FAILED

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
    return WorkflowStatus(entry, history, last, schedule.next_due(now), missed)


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


def _minute(moment: float | None) -> str:
    from flowweaver.spec.schedules import local_minute

    return local_minute(moment)


def _iso(epoch: float | None) -> str | None:
    if epoch is None:
        return None
    return datetime.datetime.fromtimestamp(epoch).astimezone().isoformat(timespec="seconds")


def _print(renderable: RenderableType) -> None:
    """On a terminal, as wide as it is; in a pipe or a file, never cut."""
    from rich.console import Console

    width = None if sys.stdout.isatty() else PIPE_WIDTH
    Console(highlight=False, width=width).print(renderable)
