"""``flowweaver report`` and ``run --report``, through the command: the files they
write, what those files hold, and their errors. (The browser tests open them.)"""

from __future__ import annotations

import html
import re
import signal
import sqlite3
import sys
from pathlib import Path

import pytest
from _cli import fw, start_fw
from _report_project import SCRIPT, add_log, make, run, run_id

from flowweaver import RunStore, SequentialExecutor, Task, Workflow, WorkflowError

SECTIONS = ("summary", "failures", "timeline", "graph", "tasks", "history")


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return make(tmp_path)


def test_report_writes_the_latest_run_s_html_file_and_prints_its_path(project: Path) -> None:
    run(project)
    run_id_ = run_id(project)
    result = fw("report", cwd=project)
    assert result.returncode == 0, result.stderr
    name = f"flowweaver-report-{run_id_}.html"
    assert result.stdout == f"{name}\n"
    page = (project / name).read_text(encoding="utf-8")
    for section in SECTIONS:
        assert f'id="{section}"' in page
    assert SCRIPT not in page  # escaped wherever it appears
    assert html.escape(SCRIPT, quote=False) in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page  # a param's value
    assert "flowweaver run demo.yaml --resume" in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing from a host


def test_every_value_from_a_task_is_escaped(tmp_path: Path) -> None:
    """A task named with markup (Python allows any name), an error and a log holding
    markup: all shown as text, none of it markup."""
    name = "<img src=x onerror=alert(2)>"
    workflow = Workflow("escapes")
    workflow.add_task(Task(name, lambda: print(SCRIPT)))
    workflow.add_task(Task("boom", _raise_markup, depends_on=[name]))
    with pytest.raises(WorkflowError):
        SequentialExecutor().execute(workflow, store=RunStore(tmp_path / ".flowweaver"))
    add_log(tmp_path, run_id(tmp_path), "boom", "line one\n" + SCRIPT + "\n")
    result = fw("report", "-o", "r.html", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "<img" not in page and SCRIPT not in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page
    assert page.count("<script>") == 1  # the page's own, inline
    assert page.count(html.escape(SCRIPT, quote=False)) >= 3  # error, log tail, failure


def _raise_markup() -> None:
    raise ValueError(SCRIPT)


def test_the_markdown_report_has_the_summary_failures_with_log_tails_and_tasks(
    project: Path,
) -> None:
    run(project)
    add_log(project, run_id(project), "boom", "".join(f"line {i}\n" for i in range(100)))
    result = fw("report", "latest", "--format", "md", "-o", "-", cwd=project)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith(f"## report-demo: run {run_id(project)} failed\n")
    assert "| Status | failed (exit code 1) |" in text
    assert "### Failures (1)" in text and "#### boom: failed after 1 attempt" in text
    assert "```text\nValueError: bad value <script>alert(1)</script>\nsecond line\n```" in text
    assert "line 99" in text and "line 69" not in text  # the last 30 lines
    assert "| flaky | completed | 2 |" in text
    assert "| publish | skipped: upstream failed |" in text
    assert "&lt;script&gt;" in text  # in the table, as text
    assert "```sh\nflowweaver run demo.yaml --resume\n```" in text


def test_the_format_follows_the_file_s_suffix(project: Path) -> None:
    run(project)
    assert fw("report", "-o", "r.md", cwd=project).returncode == 0
    assert (project / "r.md").read_text(encoding="utf-8").startswith("## report-demo")
    assert fw("report", "-o", "r.txt", "--format", "md", cwd=project).returncode == 0
    assert (project / "r.txt").read_text(encoding="utf-8").startswith("## report-demo")


def test_history_shows_the_last_runs_up_to_the_reported_one(project: Path) -> None:
    ids = []
    for _ in range(3):
        run(project)
        ids.append(run_id(project))
    page = fw("report", ids[1], "--history", "5", "-o", "-", cwd=project).stdout
    grid = page[page.index('id="history"') :]
    assert ids[0] in grid and ids[1] in grid and ids[2] not in grid
    assert grid.index(ids[0]) < grid.index(ids[1])  # oldest first
    none = fw("report", "--history", "0", "-o", "-", cwd=project).stdout
    assert 'id="history"' not in none


def test_run_report_writes_the_report_when_the_run_fails(project: Path) -> None:
    result = fw("run", "demo.yaml", "-o", "plain", "--report", "out.html", cwd=project)
    assert result.returncode == 1
    page = (project / "out.html").read_text(encoding="utf-8")
    assert run_id(project) in page and '<span class="badge failed" id="run-status">' in page
    assert "exit code" in page.lower()


def test_run_report_writes_markdown_for_a_md_file(project: Path) -> None:
    (project / "release.flag").touch()
    result = fw("run", "waiting.yaml", "--report", "r.md", cwd=project)
    assert result.returncode == 0, result.stderr
    text = (project / "r.md").read_text(encoding="utf-8")
    assert text.startswith(f"## waiting: run {run_id(project)} completed\n")


def test_run_report_writes_the_report_of_an_interrupted_run(project: Path) -> None:
    process = start_fw("run", "waiting.yaml", "-o", "plain", "--report", "r.html", cwd=project)
    try:
        assert process.stdout is not None
        for line in process.stdout:
            if "hold running" in line:
                break
        process.send_signal(signal.SIGINT)
        process.communicate(timeout=60)
    finally:
        process.kill()
    assert process.returncode == 130
    page = (project / "r.html").read_text(encoding="utf-8")
    assert '<span class="badge interrupted" id="run-status">' in page
    assert "--resume" in page


def test_handlers_are_told_where_the_report_is(tmp_path: Path) -> None:
    """``run --report`` sets the recorder's ``report_path``; a handler's ``run`` has it."""
    told: list[object] = []
    workflow = Workflow("told", handlers={"on_exit": lambda run: told.append(run["report"])})
    workflow.add_task(Task("a", lambda: 1))
    store = RunStore(tmp_path)
    recorder = store.open_run(workflow)
    recorder.report_path = str(tmp_path / "r.html")
    SequentialExecutor().execute(workflow, recorder=recorder)
    SequentialExecutor().execute(workflow, store=store)
    assert told == [str(tmp_path / "r.html"), None]


def test_a_report_into_a_missing_folder_is_refused_before_the_run(project: Path) -> None:
    result = fw("run", "demo.yaml", "--report", "nowhere/r.html", cwd=project)
    assert result.returncode == 2
    assert result.stderr == "error: --report nowhere/r.html: the folder nowhere does not exist\n"
    assert fw("runs", cwd=project).stderr == "no runs recorded yet\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("zzzz",), "error: run 'zzzz' is not in the history (see: flowweaver runs)"),
        (("--format", "pdf"), "error: Invalid value for '--format': 'pdf' is not one of"),
        (("-o", "missing/r.html"), "error: --output missing/r.html: the folder missing does"),
        (("--history", "-1"), "error: Invalid value for '--history'"),
    ],
)
def test_bad_report_options_are_one_line_errors(
    project: Path, args: tuple[str, ...], message: str
) -> None:
    run(project)
    result = fw("report", *args, cwd=project)
    assert result.returncode == 2
    assert result.stderr.startswith(message), result.stderr
    assert "Traceback" not in result.stderr


def test_a_report_with_no_runs_says_so(tmp_path: Path) -> None:
    result = fw("report", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (2, "error: no runs recorded yet\n")


def test_the_report_code_and_jinja2_are_imported_only_when_asked(tmp_path: Path) -> None:
    code = "import sys, flowweaver, flowweaver.report; print('jinja2' in sys.modules)"
    import subprocess

    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout == "False\n"


def test_a_run_recorded_without_its_graph_takes_it_from_an_unchanged_spec(
    project: Path,
) -> None:
    """Runs recorded before the history kept graphs: the spec file, if it still hashes
    the same; else no edges, and the page says why."""
    run(project)
    with sqlite3.connect(project / ".flowweaver" / "runs.db") as conn:
        conn.execute("UPDATE runs SET dag=NULL")
    page = fw("report", "-o", "-", cwd=project).stdout
    assert page.count('<path class="edge') == 6
    with (project / "demo.yaml").open("a", encoding="utf-8") as spec:
        spec.write("# edited since\n")
    page = fw("report", "-o", "-", cwd=project).stdout
    assert '<path class="edge' not in page
    assert "its spec file" in page and "has changed since" in page
    assert "The critical path is not marked" in page
