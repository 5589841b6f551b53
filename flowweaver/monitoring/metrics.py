"""The Prometheus textfile of a run: what the node exporter's textfile collector reads.

:class:`RunMetrics` is an observer of the run's event stream: it keeps each task's
duration and attempts from its final event (a mapped task's attempts are its items'),
and at the run's end writes, in the text exposition format, with ``prometheus_client``:

    flowweaver_run_last_start_timestamp_seconds{workflow}
    flowweaver_run_last_success_timestamp_seconds{workflow}
    flowweaver_run_duration_seconds{workflow}
    flowweaver_run_status{workflow,status}         1 for this run's status, 0 for the others
    flowweaver_task_duration_seconds{workflow,task}
    flowweaver_task_attempts{workflow,task}

No sample has a timestamp (the node exporter refuses them). The last success is the
end of the workflow's last completed run in the history (this run's, when it
completed); without a history, this run's end when it completed, else what the file
said before; 0 when it never succeeded. The file is replaced
atomically: written beside it under a name of its own, then renamed over it, so a
reader (or another run writing it at the same time) never sees half a file.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable
from pathlib import Path

from flowweaver.events import TaskEvent
from flowweaver.task import TaskStatus

STATUSES = ("completed", "failed", "interrupted", "timed_out")
"""The values of ``flowweaver_run_status``'s ``status`` label."""

LAST_SUCCESS = "flowweaver_run_last_success_timestamp_seconds"

_RUNNING, _PENDING = TaskStatus.RUNNING, TaskStatus.PENDING


class RunMetrics:
    """The metrics of one run of ``workflow``, to be written to ``path``. ``mask`` is
    applied to every label value (the workflow's secrets)."""

    def __init__(self, path: str | os.PathLike[str], workflow: str, mask: Callable[[str], str]):
        self.path = Path(path)
        self.workflow = workflow
        self._mask = mask
        self.durations: dict[str, float] = {}  # task -> seconds from its first start to its end
        self.attempts: dict[str, int] = {}
        self._item_attempts: dict[str, int] = {}  # mapped task -> its items' attempts

    def event(self, event: TaskEvent) -> None:
        """An observer: a task's (or item's) final event."""
        status = event.status
        if status is _RUNNING or status is _PENDING:
            return
        if event.parent is not None:  # an item: counted into its mapped task
            items = self._item_attempts
            items[event.parent] = items.get(event.parent, 0) + event.attempt
            return
        self.durations[event.task] = event.duration or 0.0
        self.attempts[event.task] = event.attempt or self._item_attempts.get(event.task, 0)

    def write(self, status: str, start: float, end: float, last_success: float | None) -> None:
        """Write the file: the run began at ``start`` and ended at ``end`` (seconds since
        the epoch) with ``status``; ``last_success`` is when the workflow's last
        successful run ended, by its history (``None``: no history to ask; then ``end``
        when this run completed, else what the file said before)."""
        from prometheus_client import CollectorRegistry, Gauge, write_to_textfile

        if last_success is None and status == "completed":
            last_success = end
        elif last_success is None:
            last_success = previous_success(self.path, self._mask(self.workflow))
        registry = CollectorRegistry()
        workflow = self._mask(self.workflow)

        def gauge(name: str, text: str, labels: Iterable[str] = ()) -> Gauge:
            return Gauge(name, text, ["workflow", *labels], registry=registry)

        gauge(
            "flowweaver_run_last_start_timestamp_seconds", "When the workflow's last run started."
        ).labels(workflow).set(start)
        gauge(LAST_SUCCESS, "When the workflow's last successful run ended (0: never).").labels(
            workflow
        ).set(last_success or 0.0)
        gauge("flowweaver_run_duration_seconds", "How long the last run took.").labels(
            workflow
        ).set(max(end - start, 0.0))
        run_status = gauge("flowweaver_run_status", "1 for the last run's status.", ["status"])
        for value in (*STATUSES, *(() if status in STATUSES else (status,))):
            run_status.labels(workflow, value).set(1.0 if value == status else 0.0)
        self._task_gauges(gauge, workflow)
        write_to_textfile(str(self.path), registry)

    def _task_gauges(self, gauge: Callable[..., object], workflow: str) -> None:
        durations = gauge(
            "flowweaver_task_duration_seconds",
            "How long each task of the last run took, retries included.",
            ["task"],
        )
        attempts = gauge(
            "flowweaver_task_attempts",
            "How many attempts each task of the last run made.",
            ["task"],
        )
        for task, seconds in self.durations.items():
            name = self._mask(task)
            durations.labels(workflow, name).set(seconds)  # type: ignore[attr-defined]
            attempts.labels(workflow, name).set(self.attempts[task])  # type: ignore[attr-defined]


def previous_success(path: Path, workflow: str) -> float | None:
    """The last-success timestamp the file at ``path`` holds for ``workflow``, if any."""
    from prometheus_client.parser import text_string_to_metric_families

    with contextlib.suppress(OSError, ValueError, UnicodeDecodeError):
        text = path.read_text(encoding="utf-8")
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == LAST_SUCCESS and sample.labels.get("workflow") == workflow:
                    return sample.value or None
    return None


def check_path(path: Path) -> str | None:
    """Why a metrics file can't be written at ``path`` (its folder is missing or not
    writable, it is a folder), else ``None``: checked before the run starts."""
    folder = path.parent
    if path.is_dir():
        return f"{path} is a folder"
    if not folder.is_dir():
        return f"folder {folder} does not exist"
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"folder {folder} is not writable"
    return None
