"""Rich renderables of a :class:`~flowweaver.cli.tracker.Snapshot`: pure functions.

``live_view`` is what the live table shows at each refresh; ``summary_view`` is
printed once the run is over. Both are tested by printing them to a
``Console(file=StringIO())``.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from flowweaver.task import TaskStatus

from .summary import (
    extras_line,
    failing_items,
    failure_lines,
    first_line,
    seconds,
    status_label,
    totals_line,
)
from .tracker import Snapshot, TaskRow

SPINNER = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"
SPINNER_FPS = 10
STATUS_STYLES = {
    TaskStatus.PENDING: "dim",
    TaskStatus.RUNNING: "yellow",
    TaskStatus.COMPLETED: "green",
    TaskStatus.FAILED: "bold red",
    TaskStatus.SKIPPED: "dim yellow",
    TaskStatus.CANCELLED: "magenta",
}
SUMMARY_MAX_ROWS = 200
"""Past this many tasks the final table lists only the tasks that did not complete."""


def status_cell(row: TaskRow, now: float) -> Text:
    """The coloured status, with a spinner frame (chosen by ``now``) while running."""
    label = status_label(row)
    if row.status is TaskStatus.RUNNING and row.retry_in is None:
        frame = SPINNER[int(now * SPINNER_FPS) % len(SPINNER)]
        label = f"{frame} {label}"
    return Text(label, style=STATUS_STYLES[row.status], no_wrap=True)


def task_table(rows: tuple[TaskRow, ...], now: float, *, caption: str | None = None) -> Table:
    """One row per task. The error is the column that gives way to the terminal's width:
    Rich narrows the columns that may wrap first, and only this one may, while its
    cells stay one line cut with ``…``; the name and status are never cut."""
    table = Table(box=None, pad_edge=False, caption=caption, caption_justify="left")
    table.add_column("task", no_wrap=True)
    table.add_column("status", no_wrap=True)
    table.add_column("attempt", justify="right", no_wrap=True)
    table.add_column("duration", justify="right", no_wrap=True)
    table.add_column(_one_line("error"), overflow="ellipsis", style="red")
    for row in rows:
        table.add_row(
            row.name,
            status_cell(row, now),
            str(row.attempt) if row.attempt else "",
            seconds(row.elapsed(now)),
            _one_line(_error(row)),
        )
    return table


def _error(row: TaskRow) -> str:
    """The error's first line; while a mapped task runs, its failed items by name."""
    if row.items is not None and row.items.failed and not row.status.is_final:
        return failing_items(row.items)
    return first_line(row.error)


def _one_line(text: str) -> Text:
    return Text(text, no_wrap=True, overflow="ellipsis")


def progress_line(snapshot: Snapshot) -> Table:
    """``states-etl ━━━━━╸━━━ 3/8 · 2 running · 1 failed · 37/120 items · 1.20s``."""
    grid = Table.grid(padding=(0, 1))
    grid.add_column(no_wrap=True)
    grid.add_column(width=30)
    grid.add_column(no_wrap=True)
    bar = ProgressBar(total=max(snapshot.total, 1), completed=snapshot.done, width=30)
    grid.add_row(Text(snapshot.workflow, style="bold"), bar, _progress_words(snapshot))
    return grid


def _progress_words(snapshot: Snapshot) -> Text:
    parts = [f"{snapshot.done}/{snapshot.total}"]
    for status in (TaskStatus.RUNNING, TaskStatus.FAILED, TaskStatus.SKIPPED):
        if snapshot.count(status):
            parts.append(f"{snapshot.count(status)} {status.value}")
    items = snapshot.items
    if items is not None:
        parts.append(f"{items.done}/{items.total} items")
    parts.append(seconds(snapshot.elapsed))
    return Text(" · ".join(parts))


def hidden_caption(snapshot: Snapshot) -> str | None:
    """What a truncated table leaves out."""
    if not snapshot.truncated:
        return None
    hidden = snapshot.total - len(snapshot.rows)
    return f"… and {hidden} more tasks (showing running and failed tasks only)"


def live_view(snapshot: Snapshot) -> RenderableType:
    """One frame of the live display: the task table, then the progress line."""
    table = task_table(snapshot.rows, snapshot.now, caption=hidden_caption(snapshot))
    return Group(table, Text(""), progress_line(snapshot))


def summary_rows(snapshot: Snapshot, limit: int = SUMMARY_MAX_ROWS) -> tuple[TaskRow, ...]:
    """Every task, or past ``limit`` tasks only those that did not complete."""
    if len(snapshot.rows) <= limit:
        return snapshot.rows
    return tuple(row for row in snapshot.rows if row.status is not TaskStatus.COMPLETED)


def summary_view(snapshot: Snapshot, limit: int = SUMMARY_MAX_ROWS) -> RenderableType:
    """The final table of the tasks, each failed task with its whole error (as the plain
    summary says it), the extras line and the totals line."""
    rows = summary_rows(snapshot, limit)
    left_out = len(snapshot.rows) - len(rows)
    caption = f"… and {left_out} completed tasks" if left_out else None
    parts: list[RenderableType] = [task_table(rows, snapshot.now, caption=caption)]
    if not rows:
        parts = [Text(f"all {left_out} tasks completed")]
    parts.extend(Text(line) for line in failure_lines(snapshot))
    extras = extras_line(snapshot)
    if extras:
        parts.append(Text(extras))
    parts.append(Text(totals_line(snapshot), style=_totals_style(snapshot)))
    return Group(*parts)


def _totals_style(snapshot: Snapshot) -> str:
    if snapshot.count(TaskStatus.FAILED):
        return "bold red"
    if snapshot.count(TaskStatus.CANCELLED) or snapshot.count(TaskStatus.SKIPPED):
        return "bold yellow"
    return "bold green"
