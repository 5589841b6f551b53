"""Everything a report shows of one run, read from the history: :class:`Report`.

:func:`build_report` does the reading (the run, its attempts, its task graph, the
workflow's last runs, the log tails); the sections are pure functions of what it
read (:mod:`.tasks`, :mod:`.timeline`, :mod:`.dag`, :mod:`.trends`). The HTML and the
Markdown writers only lay out a :class:`Report`.
"""

from __future__ import annotations

import os
import shlex
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from . import logs
from .dag import DagChart, dag_chart, run_edges
from .tasks import TaskRow, attention_order, task_rows
from .timeline import Timeline, critical_path, timeline
from .trends import History, history

if TYPE_CHECKING:
    from flowweaver.history import RunStore
    from flowweaver.history.store import RunRecord

HISTORY_RUNS = 10
FAILURE_TAIL = 30  # lines of log shown under a failure
TABLE_TAIL = 15  # lines of log shown in the task table
LOG_BUDGET = 1_000_000  # characters of log tails in one report, at most
MAX_FAILURES = 50
MAX_FAILED_ITEMS = 20  # per mapped task
RESUMABLE = ("failed", "interrupted", "killed", "timed_out")


@dataclass(frozen=True)
class Report:
    """One run's report: what the HTML page and the Markdown text are made of."""

    run: RunRecord
    rows: tuple[TaskRow, ...]
    failures: tuple[TaskRow, ...]
    more_failures: int
    timeline: Timeline
    graph: DagChart
    history: History | None
    critical: tuple[str, ...]
    resume: str | None
    """The command that resumes the run, when it can be resumed."""
    end: float
    """When the run ended (or now, while it runs): the right edge of the timeline."""
    generated: float
    logs_left_out: int
    """How many tasks' log tails were left out to keep the report small."""

    @property
    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for row in self.rows:
            key = "failed (allowed)" if row.css == "allowed" else row.status
            counts[key] = counts.get(key, 0) + 1
        return counts

    @property
    def running(self) -> bool:
        return self.run.status == "running"

    @property
    def elapsed(self) -> float:
        return self.run.elapsed if self.run.elapsed is not None else self.end - self.run.started


def build_report(
    store: RunStore,
    run_id: str = "latest",
    *,
    history_runs: int = HISTORY_RUNS,
    now: float | None = None,
) -> Report:
    """Read run ``run_id`` (an id, a unique prefix, or ``latest``) and what its report
    shows; ``history_runs``: how many of the workflow's runs the history grid shows
    (0: no grid). Raises :class:`~flowweaver.UnknownRunError` for an unknown run."""
    record = store.run(run_id)
    rows = task_rows(record.tasks, store.attempts(record.id))
    now = time.time() if now is None else now
    end = _end(record, rows, now)
    edges, why = run_edges(record, store.dag(record.id))
    critical = critical_path(rows, edges)
    on_path = set(critical)
    for row in rows:
        row.critical = row.name in on_path
        row.upstream = list((edges or {}).get(row.name, ()))
    failures, more = _failures(rows)
    left_out = _add_log_tails(store, record.id, failures, rows)
    outlines = store.outlines(history_runs, until=record.id, tasks=True) if history_runs > 0 else []
    return Report(
        run=record,
        rows=tuple(rows),
        failures=tuple(failures),
        more_failures=more,
        timeline=timeline(rows, record.started, end),
        graph=dag_chart(rows, edges, critical, why),
        history=history(outlines, rows) if outlines else None,
        critical=tuple(critical),
        resume=resume_command(record, store.path),
        end=end,
        generated=now,
        logs_left_out=left_out,
    )


def resume_command(record: RunRecord, state_dir: Path) -> str | None:
    """``flowweaver run SPEC --resume`` (with ``--state-dir`` unless it is the default
    one here) for a run that did not complete; ``None`` otherwise or without a spec."""
    if record.status not in RESUMABLE or not record.spec_path:
        return None
    spec = Path(record.spec_path)
    here = Path.cwd()
    shown = spec.relative_to(here) if spec.is_relative_to(here) else spec
    words = ["flowweaver", "run", str(shown), "--resume"]
    default = Path(os.environ.get("FLOWWEAVER_HOME") or ".flowweaver")
    if Path(state_dir).resolve() != default.resolve():
        words += ["--state-dir", str(state_dir)]
    return shlex.join(words)


def _end(record: RunRecord, rows: list[TaskRow], now: float) -> float:
    if record.ended is not None:
        return record.ended
    if record.status == "running":
        return now
    known = [record.started]  # killed: the last moment the history knows of
    for row in rows:
        known += [t for t in (row.started, row.ended) if t is not None]
        known += [a.ended or a.started for a in row.runs]
    return max(known)


def _failures(rows: list[TaskRow]) -> tuple[list[TaskRow], int]:
    """Failed and killed tasks, a mapped task followed by its failed items."""
    found: list[TaskRow] = []
    for row in attention_order(rows):
        if row.status not in ("failed", "killed"):
            continue
        found.append(row)
        found += [item for item in row.items if item.status == "failed"][:MAX_FAILED_ITEMS]
    return found[:MAX_FAILURES], max(len(found) - MAX_FAILURES, 0)


def _add_log_tails(
    store: RunStore, run_id: str, failures: list[TaskRow], rows: list[TaskRow]
) -> int:
    """Read log tails, failures first, until the budget is spent; how many were left out."""
    logged = logs.logged_tasks(store, run_id)
    if not logged:
        return 0
    budget = LOG_BUDGET
    for row in failures:
        if row.name in logged:
            row.log_tail = logs.log_tail(store, run_id, row.name, FAILURE_TAIL)
            budget -= len(row.log_tail or "")
    left_out = 0
    for row in rows:
        if row.log_tail is not None or row.name not in logged:
            continue
        if budget <= 0:
            left_out += 1
            continue
        row.log_tail = logs.log_tail(store, run_id, row.name, TABLE_TAIL)
        budget -= len(row.log_tail or "")
    return left_out
