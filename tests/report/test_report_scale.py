"""A 10,000-task run's report: written in seconds, a few megabytes, and usable (the
graph summarised, the timeline and the history grid cut to what matters, the table
paged). ``make bench`` times the whole command; here the report's own work is timed
in CPU seconds, which the machine's other load does not change."""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import pytest

from flowweaver import RunStore, Task, ThreadedExecutor, Workflow, WorkflowError
from flowweaver.report import html, timeline, trends
from flowweaver.report.markdown import report_markdown
from flowweaver.report.model import build_report

TASKS = 10_000


def workflow() -> Workflow:
    """Chains of 100 tasks with cross links; one task fails, the rest of its chain is
    skipped."""
    flow = Workflow("big")
    for i in range(TASKS):
        ups = [f"t{i - 1}"] if i % 100 else ([f"t{i - 100}"] if i else [])
        if i % 7 == 3:
            ups.append(f"t{i - 2}")
        flow.add_task(Task(f"t{i}", _fails if i == 5050 else _nothing, depends_on=ups))
    return flow


def _nothing() -> None:
    pass


def _fails() -> None:
    raise RuntimeError("the one task that fails")


@pytest.mark.slow
def test_a_10000_task_report_is_written_in_seconds_and_stays_small(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    with contextlib.suppress(WorkflowError):
        ThreadedExecutor(max_workers=4).execute(workflow(), store=store)
    html.report_page(build_report(store, "latest"))  # templates compiled, modules imported

    start = time.process_time()
    report = build_report(store, "latest")
    page = html.report_page(report)
    text = report_markdown(report)
    cpu = time.process_time() - start

    assert cpu < 3.0, f"{cpu:.2f} s"
    assert len(page.encode()) < 5 * 2**20
    assert len(text.encode()) < 200 * 2**10
    assert report.graph.summarised and len(report.graph.boxes) <= 30
    assert report.timeline.shown == timeline.MAX_LANES
    assert "t5050" in {lane.name for lane in report.timeline.lanes}  # the failed task
    assert report.history is not None and len(report.history.rows) == trends.MAX_ROWS
    assert page.count("<tr id=") == TASKS  # every task, the rest behind "show more"
