"""The report's sections as pure functions of what the history holds: task rows (map
items folded), the critical path, the timeline, the graph's layout, the trends, and
the Markdown escaping. Records are built as the history reads them back."""

from __future__ import annotations

import dataclasses
import itertools
import re
import statistics
from collections.abc import Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from flowweaver.history.store import AttemptRecord, RunOutline, TaskOutcome, TaskRecord
from flowweaver.report import dag, markdown, text, timeline, trends
from flowweaver.report.tasks import attention_order, task_rows

props = settings(max_examples=150, deadline=None)


def record(
    name: str,
    status: str = "completed",
    started: float | None = 0.0,
    duration: float | None = 1.0,
    attempts: int = 1,
    error: str | None = None,
) -> TaskRecord:
    ended = None if started is None or duration is None else started + duration
    return TaskRecord(
        name=name,
        status=status,
        attempts=attempts,
        started=started,
        ended=ended,
        duration=duration,
        error=error,
        cached=False,
        reused=False,
        result_stored=True,
    )


def attempt(task: str, number: int, started: float, ended: float, status: str) -> AttemptRecord:
    return AttemptRecord(task, number, started, ended, status, None)


# -- rows ------------------------------------------------------------------------------


def test_map_items_are_folded_into_their_task_with_counts() -> None:
    records = [
        record("list"),
        record("load", status="failed", error="1 of 3 items failed"),
        record("load[a.csv]"),
        record("load[b.csv]", status="failed", error="ValueError: b"),
        dataclasses.replace(record("x", status="cancelled"), parent="load"),
        record("other[1]"),  # no task "other": a task of its own
    ]
    attempts = [attempt("load[a.csv]", 1, 0, 1, "completed"), attempt("list", 1, 0, 1, "ok")]
    rows = task_rows(records, attempts)
    assert [row.name for row in rows] == ["list", "load", "other[1]"]
    load = rows[1]
    assert [item.name for item in load.items] == ["load[a.csv]", "load[b.csv]", "x"]
    assert load.item_counts == "1/3 · 1 cancelled · 1 failed"
    assert [a.task for a in load.runs] == ["load[a.csv]"]
    assert rows[0].item_counts == ""


def test_labels_say_cached_reused_and_allowed() -> None:
    allowed = dataclasses.replace(record("a", status="failed"), allowed=True)
    cached = dataclasses.replace(record("b"), cached=True)
    rows = task_rows([allowed, cached, record("c", status="timed_out")], [])
    assert [(row.label, row.css) for row in rows] == [
        ("failed (allowed)", "allowed"),
        ("completed (cached)", "completed"),
        ("timed out", "timed_out"),
    ]


def test_problems_come_first_failures_before_allowed_ones() -> None:
    allowed = dataclasses.replace(record("a", status="failed"), allowed=True)
    rows = task_rows(
        [record("ok"), allowed, record("b", status="cancelled"), record("c", status="failed")], []
    )
    assert [row.name for row in attention_order(rows)] == ["c", "a", "b"]


# -- critical path and timeline ----------------------------------------------------------


def test_the_critical_path_follows_what_each_task_waited_for() -> None:
    rows = task_rows(
        [
            record("a", started=0, duration=1),
            record("b", started=1, duration=5),  # the long branch
            record("c", started=1, duration=1),
            record("d", started=6, duration=1),
            record("e", started=0, duration=2),  # independent, ends early
        ],
        [],
    )
    edges = {"b": ["a"], "c": ["a"], "d": ["b", "c"]}
    assert timeline.critical_path(rows, edges) == ["a", "b", "d"]
    assert timeline.critical_path(rows, None) == []


def test_the_timeline_draws_attempts_and_the_waits_between_them() -> None:
    rows = task_rows(
        [record("a", started=0, duration=4, attempts=2), record("b", status="skipped", attempts=0)],
        [attempt("a", 1, 0, 1, "failed"), attempt("a", 2, 3, 4, "completed")],
    )
    chart = timeline.timeline(rows, 0, 4)
    (lane,) = chart.lanes
    assert [bar.css for bar in lane.bars] == ["failed", "ok"]
    (wait,) = lane.waits
    first, second = lane.bars
    assert wait.x == first.x + first.width
    assert abs(wait.x + wait.width - second.x) < 1e-9
    assert "waited 2.00s before attempt 2" in wait.title
    assert chart.not_started == 1 and chart.retries == 1
    for bar in lane.bars:
        assert chart.left <= bar.x and bar.x + bar.width <= chart.right + 1e-9


def test_a_big_run_draws_the_failures_first() -> None:
    records = [record(f"t{i}", started=i, duration=1) for i in range(500)]
    records[321] = record("t321", status="failed", started=321, duration=0.5)
    chart = timeline.timeline(task_rows(records, []), 0, 500)
    assert chart.shown == timeline.MAX_LANES and chart.total == 500
    assert "t321" in {lane.name for lane in chart.lanes}


# -- the graph's layout ------------------------------------------------------------------


@st.composite
def dags(draw: st.DrawFn) -> dict[str, list[str]]:
    count = draw(st.integers(1, 40))
    names = [f"t{i}" for i in range(count)]
    return {
        name: sorted(set(draw(st.lists(st.sampled_from(names[:i]), max_size=3)))) if i else []
        for i, name in enumerate(names)
    }


@props
@given(dags())
def test_every_task_is_placed_right_of_its_upstream_tasks_and_none_overlap(
    edges: dict[str, list[str]],
) -> None:
    rows = task_rows([record(name) for name in edges], [])
    chart = dag.dag_chart(rows, edges, [], None)
    where = {node.name: (node.x, node.y) for node in chart.nodes}
    assert list(where) == list(edges)
    for name, ups in edges.items():
        for up in ups:
            assert where[up][0] < where[name][0]
    boxes = sorted(where.values())
    for (x1, y1), (x2, y2) in itertools.pairwise(boxes):
        assert x1 != x2 or y2 - y1 >= dag.NODE_HEIGHT
    for x, y in where.values():
        assert x >= 0 and x + dag.NODE_WIDTH <= chart.width
        assert y >= 0 and y + dag.NODE_HEIGHT <= chart.height
    assert len(chart.edges) == sum(map(len, edges.values()))


def test_without_edges_tasks_are_drawn_in_columns_and_the_chart_says_why() -> None:
    rows = task_rows([record(f"t{i}") for i in range(30)], [])
    chart = dag.dag_chart(rows, None, [], "no graph")
    assert chart.edges == () and chart.note == "no graph"
    assert len({node.x for node in chart.nodes}) == 3


def test_a_graph_too_big_to_read_is_summarised_by_layer() -> None:
    names = [f"t{i}" for i in range(3000)]
    edges = {name: [names[i - 1]] if i % 10 else [] for i, name in enumerate(names)}
    rows = task_rows(
        [record(name, status="failed" if name == "t5" else "completed") for name in names], []
    )
    chart = dag.dag_chart(rows, edges, [], None)
    assert chart.summarised and chart.nodes == ()
    assert sum(box.tasks for box in chart.boxes) == 3000
    assert len(chart.boxes) <= dag.GROUPS
    assert chart.note is not None and "3,000 tasks in 10 layers" in chart.note
    titles = [segment.title for box in chart.boxes for segment in box.segments]
    assert "1 failed" in titles


# -- trends ------------------------------------------------------------------------------


def outline(run_id: str, outcomes: dict[str, TaskOutcome]) -> RunOutline:
    return RunOutline(run_id, "w", "completed", 0.0, 1.0, 1.0, 0, {}, outcomes)  # type: ignore[arg-type]


def reference_slower(durations: Sequence[float | None]) -> bool:
    """The rule, written plainly: this run vs the median of the earlier ones."""
    *earlier, latest = durations
    known = [d for d in earlier if d is not None]
    if latest is None or not known:
        return False
    middle = statistics.median(known)
    return latest >= 1.5 * middle and latest - middle >= 0.1


durations = st.lists(
    st.one_of(st.none(), st.floats(0, 100, allow_nan=False)), min_size=1, max_size=8
)


@props
@given(durations)
def test_a_task_got_slower_by_the_rule(values: list[float | None]) -> None:
    runs = [
        outline(
            f"r{len(values) - 1 - i}",
            {"t": TaskOutcome("completed", d, False, False)} if d is not None else {},
        )
        for i, d in reversed(list(enumerate(values)))
    ]
    grid = trends.history(runs, task_rows([record("t")], []))
    (row,) = grid.rows
    assert (row.slower is not None) == reference_slower(values)
    assert len(row.cells) == len(values) == len(grid.runs)
    assert grid.runs[-1].current and grid.runs[-1].id == "r0"


def test_cached_results_are_not_samples_of_a_task_s_duration() -> None:
    fast = TaskOutcome("completed", 0.0, True, False)
    slow = TaskOutcome("completed", 2.0, False, False)
    runs = [outline("r2", {"t": slow}), outline("r1", {"t": fast}), outline("r0", {"t": slow})]
    (row,) = trends.history(runs, task_rows([record("t")], [])).rows
    assert row.slower is None
    assert [cell.css for cell in row.cells] == ["completed", "cached", "completed"]


# -- words -------------------------------------------------------------------------------


def test_durations_and_axis_labels_read_naturally() -> None:
    assert [text.duration(s) for s in (None, 0.5, 12.34, 125, 3725)] == [
        "",
        "0.50s",
        "12.3s",
        "2m 05s",
        "1h 02m",
    ]
    assert [text.clock(s) for s in (0, 0.5, 30, 120, 150, 3600, 3900)] == [
        "0s",
        "0.5s",
        "30s",
        "2m",
        "2m30s",
        "1h",
        "1h05m",
    ]


@props
@given(st.text())
def test_markdown_escaping_leaves_no_markup(value: str) -> None:
    escaped = markdown.escape(value)
    assert "\n" not in escaped and "<" not in escaped and ">" not in escaped
    assert re.search(r"(?<!\\)[|`*_\[\]]", escaped.replace("\\\\", "")) is None


@props
@given(st.text())
def test_a_fenced_block_holds_any_text(value: str) -> None:
    block = markdown.fenced(value)
    fence = block.split("\n", 1)[0].removesuffix("text")
    body = block[len(fence) + len("text") + 1 : -len(fence) - 1]
    assert fence not in body
