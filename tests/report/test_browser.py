"""Reports and the dashboard in a real browser: headless Chromium, driven by Playwright.

Each page is opened under a :class:`~_browser.Guard`: a request that would leave the
page (anything but the report's ``file://`` or the dashboard's own address), a dialog
(a script from a task that ran), or a console error (a blocked inline script or
style) fails the test.
"""

from __future__ import annotations

import re
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from _browser import Guard, chromium, new_page, pixel_spread
from _cli import fw, start_fw
from _report_project import SCRIPT, add_log, make, run, run_id

from flowweaver import RunStore, Task, ThreadedExecutor, Workflow, WorkflowError

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

SECTIONS = ("#summary", "#failures", "#timeline", "#graph", "#tasks", "#history")


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two runs of the demo project, a log for ``boom``, and the report of the last."""
    folder = make(tmp_path_factory.mktemp("project"))
    run(folder)
    (folder / "flaky.once").unlink()
    run(folder)
    add_log(folder, run_id(folder), "boom", f"starting\n{SCRIPT}\nthe end\n")
    assert fw("report", "-o", "report.html", cwd=folder).returncode == 0
    return folder


def open_report(browser: Browser, report: Path, *, javascript: bool) -> tuple[Page, Guard]:
    guard = Guard(allowed=("file://",))
    page = new_page(browser, guard, javascript=javascript)
    page.goto(report.as_uri())
    return page, guard


def test_the_report_reads_with_javascript_disabled(browser: Browser, project: Path) -> None:
    page, guard = open_report(browser, project / "report.html", javascript=False)
    for section in SECTIONS:
        assert page.locator(section).is_visible(), section
    assert page.locator("#run-status").inner_text() == "failed"
    assert page.locator("#timeline rect.bar").count() == 6  # five tasks, flaky twice
    assert page.locator("#timeline line.wait").count() == 1
    assert page.locator("#graph g.node").count() == 6
    assert page.locator("#graph g.node.failed").count() == 1
    assert page.locator("#graph path.edge").count() == 6
    assert page.locator("#graph path.edge.critical").count() >= 1
    rows = page.locator("#task-table tbody tr")
    assert rows.count() == 6 and page.locator("#task-table tbody tr:visible").count() == 6
    assert page.locator("#task-controls").is_hidden()  # the script's controls
    assert page.locator("#history table.grid th.run").count() == 2
    failure = page.locator("#failures").inner_text()
    assert "ValueError: bad value " + SCRIPT in failure  # the text itself, shown
    assert SCRIPT in failure.split("last lines of its log")[1]  # the log tail
    assert "flowweaver run demo.yaml --resume" in page.locator("#summary").inner_text()
    guard.check()


def test_text_from_tasks_runs_nothing_with_javascript_enabled(
    browser: Browser, project: Path
) -> None:
    page, guard = open_report(browser, project / "report.html", javascript=True)
    page.locator("#task-table tbody tr", has_text="boom").locator("details").first.click()
    page.locator("#task-table tbody tr", has_text="boom").locator("td.log details").click()
    assert SCRIPT in page.locator("#task-table").inner_text()
    assert page.evaluate("document.querySelectorAll('script').length") == 1
    assert page.evaluate("document.querySelectorAll('img, iframe, object, embed').length") == 0
    guard.check()


def test_the_script_filters_sorts_and_pages_the_task_table(browser: Browser, project: Path) -> None:
    page, guard = open_report(browser, project / "report.html", javascript=True)
    assert page.locator("#task-controls").is_visible()
    visible = page.locator("#task-table tbody tr:visible td.name")
    page.fill("#task-filter", "boom")
    assert visible.all_inner_texts() == ["boom"]
    page.fill("#task-filter", "")
    page.select_option("#task-status", "skipped")
    assert visible.all_inner_texts() == ["publish"]
    page.select_option("#task-status", "")
    page.click("#task-table th:has-text('task')")
    names = visible.all_inner_texts()
    assert names == sorted(names) and len(names) == 6
    page.click("#task-table th:has-text('duration')")
    page.click("#task-table th:has-text('duration')")
    assert page.locator("#task-table th:has-text('duration')").get_attribute("aria-sort") == (
        "descending"
    )
    guard.check()


@pytest.fixture(scope="module")
def big_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A run of 450 tasks: more than a page, and a graph summarised by layer."""
    folder = tmp_path_factory.mktemp("big")
    workflow = Workflow("wide")
    for i in range(450):
        ups = [f"t{i - 1}"] if i % 3 else []
        workflow.add_task(Task(f"t{i}", _fails if i == 300 else _nothing, depends_on=ups))
    with pytest.raises(WorkflowError):
        ThreadedExecutor(max_workers=4).execute(workflow, store=RunStore(folder / ".flowweaver"))
    assert fw("report", "-o", "big.html", cwd=folder).returncode == 0
    return folder / "big.html"


def _nothing() -> None:
    pass


def _fails() -> None:
    raise RuntimeError("the 301st task fails")


def test_a_long_table_is_collapsed_without_javascript_and_paged_with_it(
    browser: Browser, big_report: Path
) -> None:
    page, guard = open_report(browser, big_report, javascript=False)
    assert page.locator("#task-table tbody tr").count() == 200
    more = page.locator("#more-tasks")
    assert more.locator("summary").inner_text() == "Show the other 250 tasks"
    assert more.locator("tbody tr").first.is_hidden()
    more.locator("summary").click()
    assert more.locator("tbody tr").first.is_visible()
    assert page.locator("#graph g.layerbox").count() >= 2 and page.locator("g.node").count() == 0
    guard.check()

    page, guard = open_report(browser, big_report, javascript=True)
    assert page.locator("#task-table tbody tr:visible").count() == 100
    assert page.locator("#task-page").inner_text() == "1\u2013100 of 450"
    page.click("#task-next")
    assert page.locator("#task-page").inner_text() == "101\u2013200 of 450"
    assert page.locator("#task-table tbody tr:visible td.name").first.inner_text() == "t100"
    page.select_option("#task-status", "failed")
    assert page.locator("#task-table tbody tr:visible td.name").all_inner_texts() == ["t300"]
    assert page.locator("#more-tasks").is_hidden()
    guard.check()


def test_the_screenshot_of_a_report_is_not_blank(browser: Browser, tmp_path: Path) -> None:
    import screenshot

    report = screenshot.write_report(tmp_path)
    guard = Guard(allowed=("file://",))
    page = new_page(browser, guard)
    picture = screenshot.take(page, report, tmp_path / "report.png")
    variance, colours = pixel_spread(browser, picture)
    assert variance > 500 and colours > 50, (variance, colours)
    assert (tmp_path / "report.png").stat().st_size > 20_000
    guard.check()


@pytest.fixture
def dashboard(project: Path) -> Iterator[str]:
    """``flowweaver ui`` on a free port of the loopback address: its URL."""
    process = start_fw("ui", "--port", "0", cwd=project)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert found, line
        yield found.group(0)
        process.send_signal(signal.SIGINT)
        _, err = process.communicate(timeout=30)
        assert process.returncode == 0, err
        assert err == "flowweaver ui: stopped\n"
    finally:
        process.kill()
        process.wait(timeout=30)


def test_the_dashboard_leads_from_the_runs_to_a_run_to_a_task_s_log(
    browser: Browser, project: Path, dashboard: str
) -> None:
    guard = Guard(allowed=(dashboard,))
    page = new_page(browser, guard)
    page.goto(dashboard)
    assert page.locator("h1").inner_text() == "Runs"
    assert page.locator("table.runs tbody tr").count() == 2
    latest = run_id(project)
    page.click(f"text={latest}")
    assert page.url == f"{dashboard}runs/{latest}"
    for section in SECTIONS:
        assert page.locator(section).is_visible(), section
    page.locator("#task-table td.name a", has_text="boom").click()
    assert page.url == f"{dashboard}runs/{latest}/logs/boom"
    assert page.locator("#log-text").inner_text() == f"starting\n{SCRIPT}\nthe end\n"
    page.click("text=back to the run")
    assert page.url == f"{dashboard}runs/{latest}"
    page.click("text=All runs")
    assert page.url == dashboard
    page.click("table.runs tbody tr >> nth=0 >> td >> nth=1 >> a")  # the workflow's runs
    assert page.locator("h1").inner_text() == "report-demo"
    guard.check()
    response = page.goto(f"{dashboard}no/such/page")
    assert response is not None and response.status == 404
    assert page.locator("h1").inner_text() == "Not found"
    assert guard.errors == [
        "Failed to load resource: the server responded with a status of 404 (Not Found)"
    ]
