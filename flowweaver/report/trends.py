"""The workflow's last runs side by side: a grid of runs by tasks, and each task's
duration trend, with the tasks that got slower marked.

A task got slower when, in the reported run, it took at least :data:`SLOWER_RATIO`
times the median of its earlier runs shown, and at least :data:`SLOWER_SECONDS` more.
Only runs that really ran the task count: cache hits and reused results don't.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from flowweaver.history.store import RunOutline, TaskOutcome

from . import text
from .tasks import TaskRow

SLOWER_RATIO = 1.5
SLOWER_SECONDS = 0.1
MAX_ROWS = 100
SPARK_WIDTH = 112
_FAILED = {"failed", "killed"}
_RAN = {"completed", "failed", "killed", "running"}
SPARK_HEIGHT = 22


@dataclass(frozen=True)
class RunColumn:
    id: str
    css: str
    title: str
    current: bool


@dataclass(frozen=True)
class Cell:
    css: str
    text: str
    title: str


@dataclass(frozen=True)
class Spark:
    """A sparkline: ``points`` for a polyline, the last point, and whether it is bad."""

    points: str
    last: tuple[float, float] | None
    alarm: bool


@dataclass(frozen=True)
class TrendRow:
    name: str
    cells: tuple[Cell, ...]
    spark: Spark
    slower: str | None
    """``+85%`` when the task got slower in the reported run."""
    why: str


@dataclass(frozen=True)
class History:
    runs: tuple[RunColumn, ...]
    """Oldest first; the reported run is the last."""
    durations: Spark
    rows: tuple[TrendRow, ...]
    total: int
    slower: int


def history(outlines: Sequence[RunOutline], rows: Sequence[TaskRow]) -> History:
    """The grid of ``outlines`` (newest first, the reported run first) for the reported
    run's tasks ``rows``."""
    runs = list(reversed(outlines))
    current = outlines[0].id if outlines else ""
    columns = tuple(_column(run, run.id == current) for run in runs)
    samples = {row.name: [_sample(run.tasks.get(row.name)) for run in runs] for row in rows}
    verdicts = {name: _slower(values) for name, values in samples.items()}
    names = [row.name for row in rows]
    if len(names) > MAX_ROWS:
        names = _choose(names, runs, verdicts)
    trends = tuple(_trend(name, runs, samples[name], *verdicts[name]) for name in names)
    elapsed = [run.elapsed if run.status != "running" else None for run in runs]
    return History(
        runs=columns,
        durations=_spark(elapsed, alarm=False),
        rows=trends,
        total=len(rows),
        slower=sum(slower is not None for slower, _ in verdicts.values()),
    )


def _column(run: RunOutline, current: bool) -> RunColumn:
    title = f"run {run.id}: {text.status_word(run.status)}, {text.when(run.started)}"
    if run.elapsed is not None:
        title += f", {text.duration(run.elapsed)}"
    return RunColumn(run.id, text.status_class(run.status), title, current)


def _trend(
    name: str,
    runs: Sequence[RunOutline],
    samples: Sequence[float | None],
    slower: str | None,
    why: str,
) -> TrendRow:
    return TrendRow(
        name=name,
        cells=tuple(_cell(run.id, run.tasks.get(name)) for run in runs),
        spark=_spark(samples, alarm=slower is not None),
        slower=slower,
        why=why,
    )


def _sample(outcome: TaskOutcome | None) -> float | None:
    """The task's duration when it really ran to completion."""
    if outcome is None or outcome.status != "completed" or outcome.cached or outcome.reused:
        return None
    return outcome.duration


def _slower(samples: Sequence[float | None]) -> tuple[str | None, str]:
    if not samples or samples[-1] is None:
        return None, ""
    latest = samples[-1]
    earlier = [s for s in samples[:-1] if s is not None]
    if not earlier:
        return None, ""
    median = statistics.median(earlier)
    why = (
        f"{text.duration(latest)} in this run; median of "
        f"{text.count(len(earlier), 'earlier run')}: {text.duration(median)}"
    )
    if latest < median * SLOWER_RATIO or latest - median < SLOWER_SECONDS:
        return None, why
    if median <= 0:
        return f"+{text.duration(latest - median)}", why
    return f"+{(latest / median - 1) * 100:.0f}%", why


def _cell(run_id: str, outcome: TaskOutcome | None) -> Cell:
    if outcome is None:
        return Cell("absent", "", f"run {run_id}: not in this run")
    word = text.status_word(outcome.status)
    if outcome.cached or outcome.reused:
        mark = "cached" if outcome.cached else "reused"
        return Cell("cached", mark, f"run {run_id}: {word} ({mark})")
    ran = outcome.status in _RAN and outcome.duration is not None
    shown = text.duration(outcome.duration) if ran else ""
    title = f"run {run_id}: {word}" + (f", {shown}" if shown else "")
    return Cell(text.status_class(outcome.status), shown or word, title)


def _spark(samples: Sequence[float | None], *, alarm: bool) -> Spark:
    known = [(i, s) for i, s in enumerate(samples) if s is not None]
    if not known:
        return Spark("", None, alarm)
    top = max(s for _, s in known) or 1.0
    step = (SPARK_WIDTH - 8) / max(len(samples) - 1, 1)
    points = [(4 + i * step, SPARK_HEIGHT - 3 - s / top * (SPARK_HEIGHT - 6)) for i, s in known]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points) if len(points) > 1 else ""
    last = points[-1] if known[-1][0] == len(samples) - 1 else None
    return Spark(line, last, alarm)


def _choose(
    names: list[str],
    runs: Sequence[RunOutline],
    verdicts: dict[str, tuple[str | None, str]],
) -> list[str]:
    """The rows worth a look when there are too many: those that got slower, failed in
    some run, or ended differently from one run to another, then the longest; kept in
    the run's order."""
    latest = runs[-1].tasks if runs else {}

    def rank(item: tuple[int, str]) -> tuple[int, float]:
        name = item[1]
        ends = {o.status if o is not None else "" for o in (run.tasks.get(name) for run in runs)}
        outcome = latest.get(name)
        duration = outcome.duration if outcome is not None and outcome.duration else 0.0
        group = 0 if verdicts[name][0] else 1 if ends & _FAILED else 2 if len(ends) > 1 else 3
        return group, -duration

    chosen = sorted(enumerate(names), key=rank)[:MAX_ROWS]
    return [name for _, name in sorted(chosen)]
