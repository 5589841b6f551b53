"""The Gantt chart of a run: one lane per task, a bar per attempt, the waits between
attempts, and the critical path, as geometry for an SVG template (no markup here).

The critical path is the chain of tasks that set the run's length: from the task
that ended last, back through the upstream task that ended last before it (the one
it waited for), to a task that waited for none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from . import text
from .tasks import TaskRow

WIDTH = 1100
LABEL_WIDTH = 200
END_SPACE = 100  # room after the chart for the last bar's duration (or item counts)
LANE_HEIGHT = 22
TOP = 26  # the axis labels
MAX_LANES = 120
MAX_BARS = 400  # per lane: a mapped task's items beyond this are drawn as one span
_STEPS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60)
_LONG_STEPS = (120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
_BAR_CSS = {"completed": "ok", "failed": "failed", "cancelled": "cancelled"}

_XOf = Callable[[float], float]  # a moment (seconds since the epoch) to an x


@dataclass(frozen=True)
class Bar:
    """A drawn interval (``width`` 0: a point mark)."""

    x: float
    width: float
    css: str
    title: str


@dataclass(frozen=True)
class Lane:
    y: float
    name: str
    label: str
    critical: bool
    bars: tuple[Bar, ...]
    waits: tuple[Bar, ...]
    marks: tuple[Bar, ...]
    end_x: float
    end_text: str


@dataclass(frozen=True)
class Timeline:
    width: int
    height: int
    left: int
    right: int
    span: float
    ticks: tuple[tuple[float, str], ...]
    lanes: tuple[Lane, ...]
    total: int
    """How many tasks could be drawn (lanes holds at most :data:`MAX_LANES`)."""
    not_started: int
    retries: int
    waits: int

    @property
    def shown(self) -> int:
        return len(self.lanes)


def critical_path(rows: Sequence[TaskRow], edges: Mapping[str, Sequence[str]] | None) -> list[str]:
    """The names on the critical path, first to last; empty without edges."""
    ran = {row.name: row for row in rows if row.ended is not None}
    if edges is None or not ran:
        return []
    current = max(ran.values(), key=lambda row: row.ended or 0.0)
    path = [current.name]
    seen = {current.name}
    while True:
        ups = [ran[up] for up in edges.get(current.name, ()) if up in ran and up not in seen]
        if not ups:
            return path[::-1]
        current = max(ups, key=lambda row: row.ended or 0.0)
        path.append(current.name)
        seen.add(current.name)


def timeline(rows: Sequence[TaskRow], start: float, end: float) -> Timeline:
    """The chart of ``rows`` (with their attempts) between ``start`` and ``end``."""
    drawn = [row for row in rows if _began(row) is not None]
    chosen = _choose(drawn) if len(drawn) > MAX_LANES else drawn
    chosen.sort(key=lambda row: _began(row) or 0.0)
    span = max(end - start, 1e-3)
    left, right = LABEL_WIDTH, WIDTH - END_SPACE
    scale = (right - left) / span

    def x_of(moment: float) -> float:
        return left + max(min(moment, end) - start, 0.0) * scale

    lanes = tuple(
        _lane(row, TOP + 6 + index * LANE_HEIGHT, x_of, end) for index, row in enumerate(chosen)
    )
    ticks = tuple((left + t * scale, text.clock(t)) for t in _ticks(span))
    return Timeline(
        width=WIDTH,
        height=TOP + 12 + len(lanes) * LANE_HEIGHT,
        left=left,
        right=right,
        span=span,
        ticks=ticks,
        lanes=lanes,
        total=len(drawn),
        not_started=len(rows) - len(drawn),
        retries=sum(row.retries for row in rows),
        waits=sum(len(lane.waits) for lane in lanes),
    )


def _began(row: TaskRow) -> float | None:
    """When the task's first attempt started; ``None`` for a task that never ran (a
    cached or reused result: when it was taken)."""
    if row.runs:
        return row.runs[0].started
    if row.attempts and row.started is not None and row.ended is not None:
        return row.started  # a history that kept no attempts: the task's own times
    if row.cached or row.reused:
        return row.ended if row.ended is not None else row.started
    return row.started if row.status in ("running", "killed") else None


def _choose(rows: list[TaskRow]) -> list[TaskRow]:
    """The lanes worth a look when there are too many: the problems, the critical path,
    the retried tasks, then the longest."""

    def rank(row: TaskRow) -> tuple[int, float]:
        first = 0 if row.problem else 1 if row.critical else 2 if row.retries else 3
        return first, -(row.duration or 0.0)

    return sorted(rows, key=rank)[:MAX_LANES]


def _lane(row: TaskRow, y: float, x_of: _XOf, end: float) -> Lane:
    bars: list[Bar] = []
    waits: list[Bar] = []
    last_end: dict[str, float] = {}
    for attempt in row.runs[: MAX_BARS if len(row.runs) > MAX_BARS + 1 else None]:
        stop = attempt.ended if attempt.ended is not None else end
        previous = last_end.get(attempt.task)
        if previous is not None and attempt.started > previous:
            wait = attempt.started - previous
            title = f"{attempt.task}: waited {text.duration(wait)} before attempt {attempt.attempt}"
            waits.append(Bar(x_of(previous), x_of(attempt.started) - x_of(previous), "wait", title))
        last_end[attempt.task] = stop
        bars.append(
            _bar(
                attempt.task,
                attempt.attempt,
                attempt.status,
                attempt.error,
                attempt.started,
                stop,
                x_of,
            )
        )
    if len(row.runs) > MAX_BARS + 1:
        rest = row.runs[MAX_BARS:]
        first = min(a.started for a in rest)
        title = f"{len(rest):,} more attempts of {row.name}'s items"
        bars.append(Bar(x_of(first), x_of(end) - x_of(first), "more", title))
    if not row.runs and row.attempts and row.started is not None and row.ended is not None:
        bars.append(
            _bar(row.name, row.attempts, row.status, row.error, row.started, row.ended, x_of)
        )
    elif row.status in ("running", "killed") and not row.items:
        since = last_end.get(row.name, row.started)
        if since is not None:
            bars.append(_bar(row.name, row.attempts, row.status, row.error, since, end, x_of))
    marks: list[Bar] = []
    if not bars and (row.cached or row.reused):
        moment = row.ended if row.ended is not None else row.started or 0.0
        word = "cached" if row.cached else "reused"
        marks.append(Bar(x_of(moment), 0.0, "cached", f"{row.name}: {word} result"))
    end_x = max((bar.x + bar.width for bar in (*bars, *marks)), default=x_of(end))
    return Lane(
        y=y,
        name=row.name,
        label=text.shorten(row.name, 28),
        critical=row.critical,
        bars=tuple(bars),
        waits=tuple(waits),
        marks=tuple(marks),
        end_x=end_x,
        end_text=row.item_counts or text.duration(row.duration),
    )


def _bar(
    task: str,
    attempt: int,
    status: str,
    error: str | None,
    started: float,
    ended: float,
    x_of: _XOf,
) -> Bar:
    x = x_of(started)
    width = max(x_of(ended) - x, 1.5)
    title = (
        f"{task}: attempt {attempt}, {text.status_word(status)}, {text.duration(ended - started)}"
    )
    if error:
        title += f": {text.first_line(error)}"
    css = _BAR_CSS.get(status, text.status_class(status))
    return Bar(x, width, css, title)


def _ticks(span: float) -> list[float]:
    step = next((s for s in (*_STEPS, *_LONG_STEPS) if span / s <= 8), 86400.0)
    count = int(span / step + 1e-9)
    return [round(i * step, 6) for i in range(count + 1)]
