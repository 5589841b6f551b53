"""The design document's examples, run as scripts, print what the document says.

The examples are copied verbatim into ``tests/seed_examples/`` (the few edits
SPEC.md allows are marked "added" in the files); the ones that call a network
service or use names they never define are left out. Each runs in a fresh
interpreter, in an empty temporary directory.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).parent / "seed_examples"
REPO = Path(__file__).resolve().parents[2]


def python(args: list[str], cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PYTHONIOENCODING"] = "utf-8"
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
        env=env,
        check=False,
    )


def run_example(name: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    result = python([str(EXAMPLES / name)], cwd)
    assert result.returncode == 0, result.stderr
    return result


def test_quick_start_prints_the_extracted_data(tmp_path: Path) -> None:
    result = run_example("quick_start.py", tmp_path)
    assert result.stdout.splitlines() == ["✓ Data loaded", "{'data': [1, 2, 3, 4, 5]}"]


def test_async_example_runs_three_fetches_in_parallel(tmp_path: Path) -> None:
    result = run_example("async_parallel.py", tmp_path)
    match = re.fullmatch(r"Completed 3 tasks in (\d+\.\d{3})s\n", result.stdout)
    assert match, result.stdout
    # "completes in ~0.1s, not 0.3s"
    assert 0.1 <= float(match.group(1)) < 0.3


def test_data_pipeline_fails_without_its_csv(tmp_path: Path) -> None:
    result = run_example("data_pipeline.py", tmp_path)
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("❌ Pipeline failed: ")
    assert "extract" in lines[0] and "FileNotFoundError" in lines[0] and "data.csv" in lines[0]


def test_data_pipeline_with_a_csv_fails_at_load_after_its_retries(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("id,name\n1,a\n2,b\n")
    result = run_example("data_pipeline.py", tmp_path)
    line = result.stdout.strip()
    assert line.startswith("❌ Pipeline failed: ")
    assert "load" in line and "ValueError: No data to load" in line
    assert "extract" not in line.split("failed:", 2)[-1]


def test_conditional_example_runs_quietly(tmp_path: Path) -> None:
    result = run_example("conditional.py", tmp_path)
    assert result.stdout == ""


def test_idempotent_tasks_example_runs(tmp_path: Path) -> None:
    result = run_example("idempotent_tasks.py", tmp_path)
    assert result.stdout == ""


def test_dependency_validation_prints_both_errors(tmp_path: Path) -> None:
    result = run_example("dependency_validation.py", tmp_path)
    lines = result.stdout.splitlines()
    assert len(lines) == 2
    first, second = lines
    assert first.startswith("Dependency error: ")
    assert "nonexistent_task" in first
    assert re.search(r"dependencies must be added .*first", first)
    assert second.startswith("Cycle detected: ")
    assert "task_b" in second
    assert re.search(r"dependencies must be added .*first", second)


# -- the core is the standard library -------------------------------------------------

IMPORT_CHECK = """
import sys
before = set(sys.modules)
import flowweaver
from flowweaver import (Task, TaskStatus, Workflow, SequentialExecutor, ThreadedExecutor,
                        AsyncExecutor, WorkflowError, SpecError, load_workflow)
{extra}
import logging
new = set(sys.modules) - before
allowed = set(sys.stdlib_module_names) | {{"flowweaver", "__main__", "__mp_main__"}}
print(sorted({{m.split(".")[0] for m in new}} - allowed))
print([type(h).__name__ for h in logging.getLogger("flowweaver").handlers])
"""


def check_imports(tmp_path: Path, extra: str = "") -> tuple[str, str]:
    result = python(["-c", IMPORT_CHECK.format(extra=extra)], tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    third_party, handlers = result.stdout.splitlines()
    return third_party, handlers


def test_import_flowweaver_loads_only_the_standard_library(tmp_path: Path) -> None:
    third_party, handlers = check_imports(tmp_path)
    assert third_party == "[]"
    assert "NullHandler" in handlers


@pytest.mark.parametrize(
    ("name", "module"),
    [("ProcessExecutor", "process"), ("DaskExecutor", "dask")],
)
def test_lazy_executor_names_load_only_the_standard_library(
    tmp_path: Path, name: str, module: str
) -> None:
    assert (REPO / "flowweaver" / "executors" / f"{module}.py").exists()
    third_party, _ = check_imports(tmp_path, f"from flowweaver import {name}")
    assert third_party == "[]"


BLOCKING_RUN = """
import sys
from flowweaver import {executor}, Task, Workflow
workflow = Workflow("w")
workflow.add_task(Task("a", lambda: 1))
workflow.add_task(Task("b", lambda a: a + 1, depends_on=["a"]))
{executor}().execute(workflow)
print("asyncio" in sys.modules)
"""


@pytest.mark.parametrize("executor", ["SequentialExecutor", "ThreadedExecutor"])
def test_a_blocking_run_never_loads_asyncio(tmp_path: Path, executor: str) -> None:
    # asyncio (and the ssl it brings) is a fifth of the command's start-up: only the
    # async executor and coroutine tasks load it
    result = python(["-c", BLOCKING_RUN.format(executor=executor)], tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False"]


def test_import_flowweaver_alone_loads_neither_logging_nor_typing(tmp_path: Path) -> None:
    # what `flowweaver --version` pays for: the names load when first used
    code = "import sys, flowweaver; print(sorted({'logging', 'typing'} & set(sys.modules)))"
    result = python(["-c", code], tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
