"""Faults inside tasks, through the real command on every executor: each faulty task
fails with a clear error, the rest follows the failure policy, the run ends, and the
history (``flowweaver show latest --output json``) says exactly what happened.

(The executor contract suite checks BaseExceptions at the library level; here the
whole command, its output and its history are checked.)
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from _cli import fw, write

EXECUTORS = ["sequential", "threaded", "async", "process"]

TASKS = """
import os
import signal
import sys
import threading
import time


class CustomBaseError(BaseException):
    pass


def count(name):
    with open("calls", "a") as log:
        log.write(name + "\\n")
    return name


def system_exit():
    raise SystemExit(3)


def keyboard_interrupt():
    raise KeyboardInterrupt("raised by the task")


def custom_base():
    raise CustomBaseError("a BaseException of its own")


def recurse(depth=0):
    return recurse(depth + 1)


def hang():
    while True:
        time.sleep(0.05)


def lock():
    count("lock")
    return threading.Lock()


def kill_self():
    os.kill(os.getpid(), signal.SIGKILL)


def exit_hard():
    os._exit(7)


def shout(megabytes):
    line = "x" * 1023 + "\\n"
    for _ in range(megabytes * 1024):
        sys.stdout.write(line)
    sys.stderr.write("e" * 100_000 + "\\n")
    return "shouted"
"""

FAULTS = """
name: faults
tasks:
  exit: {call: ftasks:system_exit}
  interrupt: {call: ftasks:keyboard_interrupt}
  base: {call: ftasks:custom_base}
  recursion: {call: ftasks:recurse}
  hang: {call: ftasks:hang, timeout: 500ms}
  below-exit: {call: ftasks:count, args: [below-exit], depends_on: [exit]}
  below-hang: {call: ftasks:count, args: [below-hang], depends_on: [hang]}
  free: {call: ftasks:count, args: [free]}
  after-free: {call: ftasks:count, args: [after-free], depends_on: [free]}
"""

EXPECTED_ERRORS = {
    "exit": "SystemExit: 3",
    "interrupt": "KeyboardInterrupt: raised by the task",
    "base": "CustomBaseError: a BaseException of its own",
    "recursion": "RecursionError: maximum recursion depth exceeded",
    "hang": "timed out after 0.5s",
}


@pytest.fixture
def here(tmp_path: Path) -> Path:
    write(tmp_path, "ftasks.py", TASKS)
    write(tmp_path, "faults.yaml", FAULTS)
    return tmp_path


def history(folder: Path) -> dict[str, Any]:
    shown = fw("show", "latest", "--output", "json", cwd=folder)
    assert shown.returncode == 0, shown.stderr
    record: dict[str, Any] = json.loads(shown.stdout)
    return record


def tasks_of(record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {task["name"]: task for task in record["tasks"]}


def calls(folder: Path) -> list[str]:
    path = folder / "calls"
    return sorted(path.read_text().split()) if path.exists() else []


@pytest.mark.parametrize("executor", EXECUTORS)
def test_every_kind_of_exception_fails_only_its_task_and_the_history_is_true(
    here: Path, executor: str
) -> None:
    result = fw("run", "faults.yaml", "-e", executor, "-o", "json", cwd=here)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["type"] == "summary" and summary["status"] == "failed"
    statuses = {name: task["status"] for name, task in summary["tasks"].items()}
    assert statuses == {
        **dict.fromkeys(EXPECTED_ERRORS, "failed"),
        "below-exit": "skipped",
        "below-hang": "skipped",
        "free": "completed",
        "after-free": "completed",
    }
    for name, error in EXPECTED_ERRORS.items():
        assert summary["tasks"][name]["error"].startswith(error), summary["tasks"][name]
    assert calls(here) == ["after-free", "free"]

    record = history(here)
    assert record["status"] == "failed"
    recorded = tasks_of(record)
    assert {name: task["status"] for name, task in recorded.items()} == statuses
    for name, error in EXPECTED_ERRORS.items():
        assert recorded[name]["error"].startswith(error)
        assert recorded[name]["attempts"] == 1


def test_a_task_that_kills_its_worker_fails_and_the_rest_runs(here: Path) -> None:
    write(
        here,
        "crash.yaml",
        """
        name: crash
        tasks:
          killed: {call: ftasks:kill_self}
          exited: {call: ftasks:exit_hard, retries: 1}
          below: {call: ftasks:count, args: [below], depends_on: [killed]}
          free: {call: ftasks:count, args: [free]}
          after-free: {call: ftasks:count, args: [after-free], depends_on: [free]}
        """,
    )
    result = fw("run", "crash.yaml", "-e", "process", "-w", "2", "-o", "plain", cwd=here)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "5 tasks: 2 completed, 2 failed, 1 skipped, 0 cancelled" in result.stdout
    recorded = tasks_of(history(here))
    assert recorded["killed"]["status"] == "failed"
    assert "killed by SIGKILL" in recorded["killed"]["error"]
    assert recorded["exited"]["status"] == "failed" and recorded["exited"]["attempts"] == 2
    assert "exit code 7" in recorded["exited"]["error"]
    assert recorded["below"]["status"] == "skipped"
    assert calls(here) == ["after-free", "free"]


UNPICKLABLE = """
name: unpicklable
tasks:
  lock: {call: ftasks:lock}
  cached-lock: {call: ftasks:lock, cache: true}
  free: {call: ftasks:count, args: [free]}
"""


def test_an_unpicklable_result_fails_clearly_on_the_process_executor(here: Path) -> None:
    write(here, "unpicklable.yaml", UNPICKLABLE)
    result = fw("run", "unpicklable.yaml", "-e", "process", "-o", "plain", cwd=here)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    recorded = tasks_of(history(here))
    for name in ("lock", "cached-lock"):
        assert recorded[name]["status"] == "failed"
        assert re.search(r"can't be sent back|pickle", recorded[name]["error"]), recorded[name]
    assert recorded["free"]["status"] == "completed"


@pytest.mark.parametrize("executor", ["sequential", "threaded", "async"])
def test_an_unpicklable_cached_result_is_not_cached_and_runs_again(
    here: Path, executor: str
) -> None:
    write(here, "unpicklable.yaml", UNPICKLABLE)
    for run in (1, 2):
        result = fw("run", "unpicklable.yaml", "-e", executor, "-o", "plain", cwd=here)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        # docs/history.md: "recorded as not stored, with the reason … (and one warning
        # at the time)"
        warned = [line for line in result.stderr.splitlines() if "not stored" in line]
        assert any("cached-lock" in line for line in warned), "a warning names the task"
        recorded = tasks_of(history(here))
        assert recorded["cached-lock"]["status"] == "completed"
        assert not recorded["cached-lock"]["cached"]
        assert not recorded["cached-lock"]["result_stored"]
        assert "not stored" in recorded["cached-lock"]["note"]
        # both lock tasks ran in each run: nothing came from the cache
        assert calls(here).count("lock") == 2 * run


@pytest.mark.parametrize("executor", ["sequential", "process"])
@pytest.mark.parametrize("output", ["plain", "json"])
def test_tasks_printing_megabytes_keep_the_output_usable(
    here: Path, executor: str, output: str
) -> None:
    write(
        here,
        "loud.yaml",
        """
        name: loud
        tasks:
          python: {call: ftasks:shout, args: [3]}
          shell: {shell: "head -c 3000000 /dev/zero | tr '\\\\0' y; echo"}
          after: {call: ftasks:count, args: [after], depends_on: [python, shell]}
        """,
    )
    result = fw("run", "loud.yaml", "-e", executor, "-o", output, cwd=here)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    if output == "json":
        records = [json.loads(line) for line in result.stdout.splitlines()]
        assert records[0]["type"] == "start" and records[-1]["type"] == "summary"
        assert records[-1]["stats"]["completed"] == 3
        assert len(result.stderr) > 3_000_000, "what the tasks print goes to stderr"
    else:
        lines = result.stdout.splitlines()
        assert lines[-1].startswith("3 tasks: 3 completed, 0 failed, 0 skipped, 0 cancelled")
    assert {t["name"]: t["status"] for t in history(here)["tasks"]} == dict.fromkeys(
        ("python", "shell", "after"), "completed"
    )
