"""Case 10: the report of a 10,000-task run, written by ``flowweaver report``.

Three runs of a 10,000-task workflow (chains of 100 tasks with cross links, one task
failing, every later one of its chain skipped) are recorded in a temporary state
folder, so the report has a history grid to draw. The figure is the whole command,
interpreter start included (``flowweaver report RUN -o FILE``), HTML and Markdown;
the reference is ``flowweaver show RUN --output json``, which reads the same run.
The HTML file's size is a row of its own.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import Case, interleaved, median
from flowweaver import RunStore, Task, ThreadedExecutor, Workflow, WorkflowError

TASKS = 10_000
RUNS = 3
TARGET_SECONDS = 3.0
TARGET_MB = 5.0
TIMEOUT = 120


def noop() -> None:
    return None


def fails() -> None:
    raise RuntimeError("the one task that fails")


def workflow(tasks: int = TASKS) -> Workflow:
    flow = Workflow("report-bench")
    for i in range(tasks):
        ups = [f"t{i - 1}"] if i % 100 else ([f"t{i - 100}"] if i else [])
        if i % 7 == 3:
            ups.append(f"t{i - 2}")
        flow.add_task(Task(f"t{i}", fails if i == tasks // 2 + 50 else noop, depends_on=ups))
    return flow


def record(state: Path) -> str:
    store = RunStore(state)
    for _ in range(RUNS):
        with contextlib.suppress(WorkflowError):
            ThreadedExecutor(max_workers=4).execute(workflow(), store=store)
    run_id = store.run("latest").id
    store.close()
    return run_id


def command(*args: str, cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "flowweaver", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
        timeout=TIMEOUT,
    )
    return time.perf_counter() - start


def run(quick: bool) -> list[Case]:
    runs = 3 if quick else 5
    with tempfile.TemporaryDirectory() as folder:
        here = Path(folder)
        run_id = record(here / ".flowweaver")

        def show() -> float:
            return command("show", run_id, "--output", "json", cwd=here)

        cases = []
        for suffix in ("html", "md"):

            def report(suffix: str = suffix) -> float:
                return command("report", run_id, "-o", f"report.{suffix}", cwd=here)

            refs, engines = interleaved(show, report, runs)
            seconds = median(engines)
            cases.append(
                Case(
                    "report",
                    f"flowweaver report, {TASKS:,} tasks, {RUNS} runs of history: {suffix}",
                    seconds,
                    median(refs),
                    "show --output json",
                    f"≤ {TARGET_SECONDS:g} s",
                    seconds <= TARGET_SECONDS,
                    engine_runs=tuple(engines),
                    reference_runs=tuple(refs),
                )
            )
        size = (here / "report.html").stat().st_size / 2**20
        shown = (here / "report.md").stat().st_size / 2**10
        cases.append(
            Case(
                "report",
                f"HTML report size, {TASKS:,} tasks",
                size,
                None,
                "",
                f"≤ {TARGET_MB:g} MB",
                size <= TARGET_MB,
                unit="MB",
                note=f"{size:.2f} MB of HTML; the Markdown report is {shown:.0f} KiB",
            )
        )
    return cases
