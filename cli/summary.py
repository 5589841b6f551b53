"""Words for a run's outcome, shared by every output mode (no Rich here)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flowweaver.handlers import HandlerOutcome
from flowweaver.task import TaskStatus

from .tracker import ItemCounts, Snapshot, TaskRow

FAILED_ITEMS_LISTED = 10
"""How many failed items of a mapped task a summary lists, each with its error."""

FAILING_ITEMS_SHOWN = 3
"""How many failed items the live table's row of a running mapped task names."""

FINAL_COUNTS = (
    TaskStatus.COMPLETED,
    TaskStatus.FAILED,
    TaskStatus.SKIPPED,
    TaskStatus.CANCELLED,
)


def totals_line(snapshot: Snapshot) -> str:
    """``8 tasks: 7 completed, 1 failed, 0 skipped, 0 cancelled in 2.41s``; failed
    tasks that were allowed to fail are among the failed, and said apart:
    ``1 failed (1 allowed)``; a run with mapped tasks adds their items:
    ``… in 2.41s (120 items: 118 completed, 2 failed)``."""
    noun = "task" if snapshot.total == 1 else "tasks"
    counts = ", ".join(_count(snapshot, s) for s in FINAL_COUNTS)
    line = f"{snapshot.total} {noun}: {counts} in {snapshot.elapsed:.2f}s"
    if snapshot.items is not None:
        line += f" ({items_words(snapshot.items)})"
    return line


def items_words(items: ItemCounts) -> str:
    """``120 items: 118 completed, 2 failed`` (completed always; other statuses when
    some items have them; ``pending`` for those that never ran)."""
    noun = "item" if items.total == 1 else "items"
    pending = items.total - items.done - items.running
    counts = [
        (items.completed, "completed"),
        (items.failed, "failed"),
        (items.cancelled, "cancelled"),
        (items.running, "running"),
        (pending, "pending"),
    ]
    shown = [f"{n} {word}" for n, word in counts if n or word == "completed"]
    return f"{items.total} {noun}: {', '.join(shown)}"


def items_progress(items: ItemCounts) -> str:
    """``37/120 · 2 failed``: a mapped task's items done, and those that failed or were
    cancelled."""
    text = f"{items.done}/{items.total}"
    if items.failed:
        text += f" · {items.failed} failed"
    if items.cancelled:
        text += f" · {items.cancelled} cancelled"
    return text


def failing_items(items: ItemCounts, limit: int = FAILING_ITEMS_SHOWN) -> str:
    """``load[b.csv]: ValueError: bad; load[c.csv]: …`` (the first failed items, named)."""
    named = [f"{name}: {first_line(error)}" for name, error in items.failures[:limit]]
    more = items.failed - len(named)
    return "; ".join(named) + (f"; and {more} more" if more > 0 else "")


def _count(snapshot: Snapshot, status: TaskStatus) -> str:
    words = f"{snapshot.count(status)} {status.value}"
    if status is TaskStatus.FAILED and snapshot.allowed:
        words += f" ({snapshot.allowed} allowed)"
    return words


def failure_lines(
    snapshot: Snapshot,
    where: Mapping[str, str] | None = None,
    notes: Mapping[str, list[str]] | None = None,
) -> list[str]:
    """``failed: load: ValueError: …`` for each failed task (``failed (allowed): …`` for
    one allowed to fail), with its whole error (its further lines indented): what every
    summary says, however narrow the table.
    ``where`` adds the place its error was raised to the first line (``(etl.py:42)``),
    ``notes`` lines under it (the last lines of its output). A mapped task's failed
    items follow it, each with its error."""
    lines: list[str] = []
    for row in snapshot.rows:
        if row.status is not TaskStatus.FAILED or not row.error:
            continue
        first, *rest = row.error.strip().split("\n")
        place = (where or {}).get(row.name)
        text = "\n".join([f"{first} ({place})" if place else first, *rest])
        failed = "failed (allowed)" if row.allowed else "failed"
        lines.append(f"{failed}: {row.name}: {text}".replace("\n", "\n  "))
        lines.extend(f"  {line}" for line in (notes or {}).get(row.name, ()))
        if row.items is not None and row.items.failed:
            lines.extend(_failed_items(row.name, row.items))
    return lines


def _failed_items(name: str, items: ItemCounts) -> list[str]:
    listed = items.failures[:FAILED_ITEMS_LISTED]
    lines = [f"  {item}: {error.strip()}".replace("\n", "\n    ") for item, error in listed]
    more = items.failed - len(listed)
    if more > 0:
        lines.append(f"  … and {more} more failed items of {name} (flowweaver show lists them)")
    return lines


def handler_words(handler: HandlerOutcome) -> str:
    """``on_failure completed in 0.05s``, ``on_exit failed in 0.10s: exit code 3``."""
    words = f"{handler.name} {handler.status} in {seconds(handler.duration)}"
    if handler.status != TaskStatus.COMPLETED.value and handler.error:
        words += f": {first_line(handler.error)}"
    return words


def handlers_line(handlers: Sequence[HandlerOutcome]) -> str | None:
    """``handlers: on_failure completed in 0.05s, on_exit completed in 0.01s``, or ``None``."""
    if not handlers:
        return None
    return "handlers: " + ", ".join(handler_words(handler) for handler in handlers)


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


def stats(snapshot: Snapshot) -> dict[str, Any]:
    """The counts of ``Workflow.get_workflow_stats()``, and the cached and reused ones."""
    counts = {status.value: snapshot.count(status) for status in TaskStatus}
    result: dict[str, Any] = {
        "total_tasks": snapshot.total,
        **counts,
        "allowed_failures": snapshot.allowed,
        "retries": snapshot.retries,
        "cached": snapshot.cached,
        "reused": snapshot.reused,
        "total_time_seconds": round(snapshot.elapsed, 6),
    }
    if snapshot.items is not None:
        result["items"] = item_stats(snapshot.items)
    return result


def item_stats(items: ItemCounts) -> dict[str, int]:
    """A mapped task's (or a run's) item counts, JSON-ready."""
    return {
        "total": items.total,
        "completed": items.completed,
        "failed": items.failed,
        "cancelled": items.cancelled,
        "running": items.running,
    }


def status_label(row: TaskRow) -> str:
    """``running``, ``retrying in 0.50s``, ``waiting for pool db (2/2)``,
    ``completed (cached)``, ``failed``, ``failed (allowed)`` …"""
    if row.waiting is not None:
        return row.waiting
    if row.retry_in is not None and row.status is TaskStatus.RUNNING:
        return f"retrying in {row.retry_in:.2f}s"
    status = row.status.value
    if row.allowed and row.status is TaskStatus.FAILED:
        status = "failed (allowed)"
    if row.items is not None:
        return f"{status} {items_progress(row.items)}"
    if row.allowed:
        return status
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
