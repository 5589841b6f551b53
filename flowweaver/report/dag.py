"""The task graph of a run, coloured by status: where its edges come from, and a layered
layout computed here, as geometry for an SVG template (no markup here).

Edges come from the history (recorded when the run started); for a run recorded
before that, from its spec file when it still hashes as it did; else the tasks are
drawn without edges and the chart says why. Layers are Kahn layers (the longest path
from a root), drawn as columns, left to right; within a column, a few barycentre
sweeps put each task near the tasks it is linked to, which keeps edges from crossing.
A graph too big to read task by task is summarised by layer.
"""

from __future__ import annotations

import hashlib
import itertools
import math
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from flowweaver.errors import FlowWeaverError
from flowweaver.graph import children_of, layers

from . import text
from .tasks import TaskRow

if TYPE_CHECKING:
    from flowweaver.history.store import RunRecord

Edges = Mapping[str, Sequence[str]]

NODE_WIDTH = 164
NODE_HEIGHT = 40
GAP_X = 48
GAP_Y = 12
PAD = 8
MAX_NODES = 250
MAX_COLUMN = 50
COLUMN_ROWS = 12  # without edges: tasks in columns of this many
SWEEPS = 4
GROUPS = 30  # a summarised graph: at most this many boxes of layers
GROUP_WIDTH = 168
GROUP_HEIGHT = 64
GROUPS_PER_ROW = 5


@dataclass(frozen=True)
class Node:
    x: float
    y: float
    name: str
    label: str
    detail: str
    css: str
    critical: bool
    title: str


@dataclass(frozen=True)
class Edge:
    path: str
    critical: bool


@dataclass(frozen=True)
class Segment:
    x: float
    width: float
    css: str
    title: str


@dataclass(frozen=True)
class LayerBox:
    x: float
    y: float
    label: str
    tasks: int
    segments: tuple[Segment, ...]
    arrow: str | None
    """The path of an arrow to the next box, when it is on the same row."""


@dataclass(frozen=True)
class DagChart:
    width: float
    height: float
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    boxes: tuple[LayerBox, ...]
    layer_count: int
    note: str | None
    """Why the chart is not the whole graph task by task (no edges, or summarised)."""

    @property
    def summarised(self) -> bool:
        return bool(self.boxes)

    node_width = NODE_WIDTH
    node_height = NODE_HEIGHT
    box_width = GROUP_WIDTH
    box_height = GROUP_HEIGHT


def run_edges(record: RunRecord, stored: Edges | None) -> tuple[Edges | None, str | None]:
    """The run's edges (task → upstream tasks), or ``None`` and why there are none."""
    if stored is not None:
        return stored, None
    why = "drawn without dependencies: the run was recorded before FlowWeaver kept task graphs"
    path = record.spec_path
    if not path:
        return None, f"{why}, and it has no spec file (a run from Python)"
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None, f"{why}, and its spec file {path} can no longer be read"
    if hashlib.sha256(data).hexdigest() != record.spec_sha256:
        return None, f"{why}, and its spec file {path} has changed since"
    from flowweaver.spec import load_workflow

    try:
        workflow = load_workflow(path, check_imports=False)
    except (FlowWeaverError, ValueError, OSError) as exc:
        problem = text.first_line(str(exc))
        return None, f"{why}, and its spec file {path} no longer loads ({problem})"
    return {name: workflow.get_dependencies(name) for name in workflow.get_all_tasks()}, None


def dag_chart(
    rows: Sequence[TaskRow], edges: Edges | None, critical: Sequence[str], note: str | None
) -> DagChart:
    """The chart of ``rows`` with ``edges``; ``critical`` names the critical path."""
    index = {row.name: i for i, row in enumerate(rows)}
    parents = [[index[up] for up in (edges or {}).get(row.name, ()) if up in index] for row in rows]
    try:
        levels = layers(parents) if edges is not None else _columns(len(rows))
    except FlowWeaverError:  # a cycle: the history was tampered with
        levels, parents, note = _columns(len(rows)), [[] for _ in rows], "drawn without edges"
    if len(rows) > MAX_NODES or max(map(len, levels), default=0) > MAX_COLUMN:
        return _summary(rows, levels, edges is not None, note)
    if edges is not None:
        _sweep(levels, parents)
    return _drawn(rows, levels, parents, critical, note)


def _columns(count: int) -> list[list[int]]:
    return [list(range(i, min(i + COLUMN_ROWS, count))) for i in range(0, count, COLUMN_ROWS)]


def _sweep(levels: list[list[int]], parents: list[list[int]]) -> None:
    """Reorder each column by the mean position of the tasks each task is linked to:
    down the columns by parents, then up by children, a few times."""
    children = children_of(parents)
    place: dict[int, float] = {}
    for level in levels:
        _reorder(level, [], place)
    for _ in range(SWEEPS):
        for level in levels[1:]:
            _reorder(level, parents, place)
        for level in levels[-2::-1]:
            _reorder(level, children, place)


def _reorder(level: list[int], links: Sequence[Sequence[int]], place: dict[int, float]) -> None:
    if links:
        level.sort(key=lambda node: _mean(links[node], place, place[node]))
    for i, node in enumerate(level):
        place[node] = i - (len(level) - 1) / 2


def _mean(nodes: Sequence[int], place: Mapping[int, float], default: float) -> float:
    return sum(place[n] for n in nodes) / len(nodes) if nodes else default


def _drawn(
    rows: Sequence[TaskRow],
    levels: list[list[int]],
    parents: list[list[int]],
    critical: Sequence[str],
    note: str | None,
) -> DagChart:
    tallest = max(map(len, levels), default=0)
    step_y = NODE_HEIGHT + GAP_Y
    where: dict[int, tuple[float, float]] = {}
    for column, level in enumerate(levels):
        top = PAD + (tallest - len(level)) * step_y / 2
        for i, node in enumerate(level):
            where[node] = (PAD + column * (NODE_WIDTH + GAP_X), top + i * step_y)
    on_path = set(critical)
    follows = set(itertools.pairwise(critical))
    nodes = tuple(_node(rows[n], *where[n], rows[n].name in on_path) for n in range(len(rows)))
    edges = sorted(
        (
            _edge(where[up], where[node], (rows[up].name, rows[node].name) in follows)
            for node, ups in enumerate(parents)
            for up in ups
        ),
        key=lambda edge: edge.critical,
    )
    return DagChart(
        width=2 * PAD + len(levels) * (NODE_WIDTH + GAP_X) - GAP_X,
        height=2 * PAD + tallest * step_y - GAP_Y,
        nodes=nodes,
        edges=tuple(edges),
        boxes=(),
        layer_count=len(levels),
        note=note,
    )


def _node(row: TaskRow, x: float, y: float, critical: bool) -> Node:
    detail = row.item_counts or text.status_word(row.status)
    if not row.items and row.duration is not None:
        detail += f" · {text.duration(row.duration)}"
    title = f"{row.name}: {row.label}"
    if row.reason:
        title += f" ({row.reason})"
    if row.error:
        title += f"\n{text.first_line(row.error)}"
    return Node(
        x=x,
        y=y,
        name=row.name,
        label=text.shorten(row.name, 24),
        detail=text.shorten(detail, 30),
        css=row.css,
        critical=critical,
        title=title,
    )


def _edge(start: tuple[float, float], end: tuple[float, float], critical: bool) -> Edge:
    x1, y1 = start[0] + NODE_WIDTH, start[1] + NODE_HEIGHT / 2
    x2, y2 = end[0], end[1] + NODE_HEIGHT / 2
    bend = max(min((x2 - x1) / 2, GAP_X * 2), GAP_X / 2)
    path = (
        f"M{x1:.1f},{y1:.1f} C{x1 + bend:.1f},{y1:.1f} {x2 - bend:.1f},{y2:.1f} {x2:.1f},{y2:.1f}"
    )
    return Edge(path, critical)


def _summary(
    rows: Sequence[TaskRow], levels: list[list[int]], has_edges: bool, note: str | None
) -> DagChart:
    """One box per group of consecutive layers: its task count and a bar of statuses."""
    per_box = math.ceil(len(levels) / GROUPS) or 1
    groups = [levels[i : i + per_box] for i in range(0, len(levels), per_box)]
    boxes = []
    for number, group in enumerate(groups):
        first = number * per_box + 1
        last = first + len(group) - 1
        noun = "layer" if has_edges else "column"
        label = f"{noun} {first:,}" if first == last else f"{noun}s {first:,}\u2013{last:,}"
        members = [rows[node] for level in group for node in level]
        column, line = number % GROUPS_PER_ROW, number // GROUPS_PER_ROW
        x = PAD + column * (GROUP_WIDTH + GAP_X)
        y = PAD + line * (GROUP_HEIGHT + GAP_Y * 2)
        more = has_edges and column + 1 < GROUPS_PER_ROW and number + 1 < len(groups)
        middle, start = y + GROUP_HEIGHT / 2, x + GROUP_WIDTH
        arrow = f"M{start + 2:.1f},{middle:.1f} L{start + GAP_X - 2:.1f},{middle:.1f}"
        boxes.append(
            LayerBox(x, y, label, len(members), _segments(members, x), arrow if more else None)
        )
    lines = math.ceil(len(groups) / GROUPS_PER_ROW)
    summary = (
        f"{text.count(len(rows), 'task')} in {text.count(len(levels), 'layer')}: "
        "too many to draw one by one, so each box is a group of layers, its bar the "
        "statuses of their tasks (flowweaver graph SPEC prints the whole graph)"
    )
    return DagChart(
        width=2 * PAD + min(len(groups), GROUPS_PER_ROW) * (GROUP_WIDTH + GAP_X) - GAP_X,
        height=2 * PAD + lines * (GROUP_HEIGHT + GAP_Y * 2) - GAP_Y * 2,
        nodes=(),
        edges=(),
        boxes=tuple(boxes),
        layer_count=len(levels),
        note=f"{note}; {summary}" if note else summary,
    )


def _segments(members: Sequence[TaskRow], x: float) -> tuple[Segment, ...]:
    counts = Counter(row.css for row in members)
    order = {css: i for i, css in enumerate(text.STATUSES)}
    width = GROUP_WIDTH - 16
    segments = []
    offset = x + 8
    for css, n in sorted(counts.items(), key=lambda item: order.get(item[0], 99)):
        share = width * n / len(members)
        word = "failed (allowed)" if css == "allowed" else text.status_word(css)
        segments.append(Segment(offset, share, css, f"{n:,} {word}"))
        offset += share
    return tuple(segments)
