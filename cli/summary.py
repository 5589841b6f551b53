"""Words for a run's outcome, shared by every output mode (no Rich here)."""

from __future__ import annotations

from flowweaver.task import TaskStatus

from .tracker import Snapshot, TaskRow

FINAL_COUNTS = (
    TaskStatus.COMPLETED,
    TaskStatus.FAILED,
    TaskStatus.SKIPPED,
    TaskStatus.CANCELLED,
)


def totals_line(snapshot: Snapshot) -> str:
    """``8 tasks: 7 completed, 1 failed, 0 skipped, 0 cancelled in 2.41s``."""
    noun = "task" if snapshot.total == 1 else "tasks"
    counts = ", ".join(f"{snapshot.count(s)} {s.value}" for s in FINAL_COUNTS)
    return f"{snapshot.total} {noun}: {counts} in {snapshot.elapsed:.2f}s"


def failure_lines(snapshot: Snapshot) -> list[str]:
    """``failed: load: ValueError: …`` for each failed task, with its whole error (its
    further lines indented): what every summary says, however narrow the table."""
    return [
        f"failed: {row.name}: {row.error.strip()}".replace("\n", "\n  ")
        for row in snapshot.rows
        if row.status is TaskStatus.FAILED and row.error
    ]


def extras_line(snapshot: Snapshot) -> str | None:
    """``2 cached, 3 reused, 1 retry``, or ``None`` when there is none of these."""
    parts = []
    if snapshot.cached:
        parts.append(f"{snapshot.cached} cached")
    if snapshot.reused:
        parts.append(f"{snapshot.reused} reused from the resumed run")
    if snapshot.retries:
        parts.append(f"{snapshot.retries} {'retry' if snapshot.retries == 1 else 'retries'}")
    return ", ".join(parts) or None


def stats(snapshot: Snapshot) -> dict[str, float | int]:
    """The counts of ``Workflow.get_workflow_stats()``, and the cached and reused ones."""
    counts = {status.value: snapshot.count(status) for status in TaskStatus}
    return {
        "total_tasks": snapshot.total,
        **counts,
        "retries": snapshot.retries,
        "cached": snapshot.cached,
        "reused": snapshot.reused,
        "total_time_seconds": round(snapshot.elapsed, 6),
    }


def status_label(row: TaskRow) -> str:
    """``running``, ``retrying in 0.50s``, ``waiting for pool db (2/2)``,
    ``completed (cached)``, ``failed`` …"""
    if row.waiting is not None:
        return row.waiting
    if row.retry_in is not None and row.status is TaskStatus.RUNNING:
        return f"retrying in {row.retry_in:.2f}s"
    if row.cached:
        return f"{row.status.value} (cached)"
    if row.reused:
        return f"{row.status.value} (reused)"
    return row.status.value


def first_line(text: str | None) -> str:
    if not text:
        return ""
    return text.strip().split("\n", 1)[0]


def seconds(value: float | None) -> str:
    """``0.52s``, ``1m05s``; empty for ``None``."""
    if value is None:
        return ""
    if value < 60:
        return f"{value:.2f}s"
    minutes, rest = divmod(int(value), 60)
    return f"{minutes}m{rest:02d}s"
