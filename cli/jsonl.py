"""``--output json``: one JSON object per line for each event, then a summary object.

Task events' lines are written directly (:func:`task_line`), and reach standard output
within :data:`~flowweaver.cli.pipe.FLUSH_SECONDS` of their event: lines of events that
come in quick succession share one flush.

Standard output carries nothing else: for the run, what tasks print is sent to
standard error (:class:`~flowweaver.cli.stdio.StdoutToStderr`), each line after its
task's name, as ``plain`` does; with ``--log-lines`` each line is also a
``{"type": "log", "task": …, "attempt": …, "line": …}`` object on standard output.
"""

from __future__ import annotations

import json
import math
import sys
import threading
from collections.abc import Callable
from json.encoder import encode_basestring
from typing import Any

from flowweaver.events import TaskEvent
from flowweaver.logs import OutputItem, TaskOutput
from flowweaver.task import TaskStatus

from .pipe import BatchedLines, Lines
from .plain import format_output
from .reporter import RunHeader, RunOutcome
from .stdio import StdoutToStderr
from .summary import item_stats, stats
from .tasklogs import TaskLogs
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
        "message": outcome.message,
        "stats": stats(snapshot),
        "tasks": {row.name: task_record(row) for row in snapshot.rows},
        "handlers": [handler.to_dict() for handler in outcome.handlers],
    }


def task_record(row: TaskRow) -> dict[str, Any]:
    record: dict[str, Any] = {
        "status": row.status.value,
        "attempts": row.attempt,
        "duration": row.duration,
        "error": row.error,
        "reason": row.reason,
        "allowed": row.allowed,
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


def _float(value: float) -> str:
    """A float as ``json`` writes it (``NaN``, ``Infinity`` and ``-Infinity`` allowed)."""
    if math.isfinite(value):
        return float.__repr__(value)
    return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"


_VALUE: dict[type, Callable[[Any], str]] = {
    str: encode_basestring,  # the function json's own encoder uses with ensure_ascii=False
    int: int.__repr__,
    float: _float,
    bool: {True: "true", False: "false"}.__getitem__,
    type(None): "null".format,  # (C calls all: no Python frame for a field)
}
"""How ``json`` writes a value of each of these exact types (a subclass is not here)."""

_STATUS = {status: encode_basestring(status.value) for status in TaskStatus}

_TASK_LINE = '{"type": "task", ' + ", ".join(f"{json.dumps(key)}: %s" for key in TaskEvent._fields)
"""A task event's line up to its last field, its values left as ``%s``."""


_AFTER_TIME = ', "error": null, "duration": '
_AFTER_DURATION = (
    ', "retry_in": null, "cached": false, "reused": false, "reason": null, '
    '"allowed": false, "parent": null, "items": null}\n'
)
"""The text of a task's usual ``running`` and ``completed`` events after ``time``."""


def task_line(event: TaskEvent, where: str | None = None) -> str:
    """The JSON line of a task event (``where``: where its error was raised), written
    field by field: the same text as :func:`dumps` of its :func:`event_record` (plus
    ``where``), without making the record. A field of a type the direct path doesn't
    know (``json`` would call ``str`` of it, or look into it) takes the general path.

    A task's usual events (it started; it ended with no error, not cached, nothing
    else to say) have only their name, status, attempt, time and duration to write."""
    (task, status, attempt, time, error, duration, retry_in, cached, reused, reason, allowed,
     parent, items) = event  # fmt: skip
    if (
        error is None
        and retry_in is None
        and cached is False
        and reused is False
        and reason is None
        and allowed is False
        and parent is None
        and items is None
        and where is None
        and attempt.__class__ is int
        and time.__class__ is float
        and time - time == 0.0  # finite (json writes inf and nan as words)
        and task.__class__ is str
        and status in _STATUS
    ):
        if duration is not None and (duration.__class__ is not float or duration - duration != 0.0):
            return _task_line(event, where)
        # (an int's and a float's format is their repr, as json writes them)
        return (
            f'{{"type": "task", "task": {encode_basestring(task)}, "status": '
            f'{_STATUS[status]}, "attempt": {attempt}, "time": {time}{_AFTER_TIME}'
            f"{'null' if duration is None else duration}{_AFTER_DURATION}"
        )
    return _task_line(event, where)


def _task_line(event: TaskEvent, where: str | None) -> str:
    """:func:`task_line` of any event."""
    try:
        task = _VALUE[event[0].__class__](event[0])
        status = _STATUS[event[1]]
        line = _TASK_LINE % (task, status, *[_VALUE[v.__class__](v) for v in event[2:]])
        if where is None:
            return line + "}\n"
        return f'{line}, "where": {_VALUE[where.__class__](where)}}}\n'
    except (KeyError, TypeError):
        record = event_record(event)
        if where is not None:
            record["where"] = where
        return dumps(record) + "\n"


def log_records(item: TaskOutput) -> list[dict[str, Any]]:
    return [
        {"type": "log", "task": item.task, "attempt": item.attempt, "line": line}
        for line in item.lines
    ]


class JsonReporter:
    """Writes JSON lines to the real standard output, and sends task output to stderr
    (and, with ``log_lines``, to standard output as ``log`` records)."""

    def __init__(self, logs: TaskLogs | None = None, *, log_lines: bool = False) -> None:
        self._redirect = StdoutToStderr()
        self._out: BatchedLines | None = None
        self._err = Lines(sys.stderr)
        self._run_id: str | None = None
        self._logs = logs
        self._log_lines = log_lines
        self._lock = threading.Lock()  # task output comes from any thread

    def start(self, header: RunHeader) -> None:
        self._out = BatchedLines(self._redirect.__enter__())
        self._run_id = header.run_id
        self._write(start_record(header))

    def event(self, event: TaskEvent) -> None:
        where = None
        if event.error is not None and self._logs is not None:
            where = self._logs.where(event.task)
        out = self._out
        if out is not None:  # (its writes are thread-safe; once closed, they are dropped)
            out.write(task_line(event, where))

    def output(self, item: OutputItem) -> None:
        if not isinstance(item, TaskOutput):
            return
        text = format_output(item)
        with self._lock:
            self._err.write(text)
            if self._log_lines and self._out is not None:
                self._out.write("".join(dumps(r) + "\n" for r in log_records(item)))

    def finish(self, snapshot: Snapshot, outcome: RunOutcome) -> None:
        self._write(summary_record(snapshot, outcome, self._run_id))

    def close(self) -> None:
        with self._lock:
            out, self._out = self._out, None
        if out is not None:
            out.close()
            self._redirect.__exit__(None, None, None)

    def _write(self, record: dict[str, Any]) -> None:
        with self._lock:
            if self._out is not None:
                self._out.write(dumps(record) + "\n")
