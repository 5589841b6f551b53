"""``--output json``: one JSON object per line for each event, then a summary object.

Standard output carries nothing else: for the run, what tasks print is sent to
standard error (:class:`~flowweaver.cli.stdio.StdoutToStderr`).
"""

from __future__ import annotations

import json
from typing import Any

from flowweaver.events import TaskEvent

from .pipe import Lines
from .reporter import RunHeader, RunOutcome
from .stdio import StdoutToStderr
from .summary import item_stats, stats
from .tracker import Snapshot, TaskRow


def start_record(header: RunHeader) -> dict[str, Any]:
    return {
        "type": "start",
        "workflow": header.workflow,
        "run_id": header.run_id,
        "tasks": header.tasks,
        "executor": header.executor,
        "resume": header.resume or None,
    }


def event_record(event: TaskEvent) -> dict[str, Any]:
    return {"type": "task", **event.to_dict()}


def summary_record(snapshot: Snapshot, outcome: RunOutcome, run_id: str | None) -> dict[str, Any]:
    return {
        "type": "summary",
        "workflow": snapshot.workflow,
        "run_id": run_id,
        "status": outcome.status.value,
        "exit_code": outcome.exit_code,
        "stats": stats(snapshot),
        "tasks": {row.name: task_record(row) for row in snapshot.rows},
    }


def task_record(row: TaskRow) -> dict[str, Any]:
    record: dict[str, Any] = {
        "status": row.status.value,
        "attempts": row.attempt,
        "duration": row.duration,
        "error": row.error,
        "cached": row.cached,
        "reused": row.reused,
    }
    if row.items is not None:  # a mapped task: its items' counts, the failed ones named
        record["items"] = item_stats(row.items)
        record["failed_items"] = dict(row.items.failures)
    return record


_ENCODER = json.JSONEncoder(ensure_ascii=False, default=str)  # made once, not per line


def dumps(record: dict[str, Any]) -> str:
    return _ENCODER.encode(record)


class JsonReporter:
    """Writes JSON lines to the real standard output, and sends task output to stderr."""

    def __init__(self) -> None:
        self._redirect = StdoutToStderr()
        self._out: Lines | None = None
        self._run_id: str | None = None

    def start(self, header: RunHeader) -> None:
        self._out = Lines(self._redirect.__enter__())
        self._run_id = header.run_id
        self._write(start_record(header))

    def event(self, event: TaskEvent) -> None:
        self._write(event_record(event))

    def finish(self, snapshot: Snapshot, outcome: RunOutcome) -> None:
        self._write(summary_record(snapshot, outcome, self._run_id))

    def close(self) -> None:
        if self._out is not None:
            self._out = None
            self._redirect.__exit__(None, None, None)

    def _write(self, record: dict[str, Any]) -> None:
        if self._out is not None:
            self._out.write(dumps(record) + "\n")
