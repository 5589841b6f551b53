"""ProcessExecutor: tasks in worker processes it owns, so one task can be ended.

Task functions live in ``_process_tasks`` so that the spawned workers can import
them (``conftest`` puts ``tests/`` on ``sys.path`` and ``PYTHONPATH``).
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from queue import SimpleQueue
from typing import Any

import _process_tasks as t
import pytest
from _processes import alive

from flowweaver import Task, TaskEvent, TaskStatus, Workflow, WorkflowError
from flowweaver._call import invoke
from flowweaver.executors.base import Executor
from flowweaver.executors.contract import Attempt, Held, Inbox, Notice, Started
from flowweaver.executors.process import ProcessExecutor, TaskNotPicklableError, _ProcessBackend

TESTS_DIR = Path(__file__).resolve().parents[1]


def events_of(wf: Workflow) -> list[TaskEvent]:
    seen: list[TaskEvent] = []
    wf.subscribe(seen.append)
    return seen


def children_of(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.add(int(entry.name))
    return found


def wait_for(predicate: Callable[[], Any], seconds: float = 20.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError("condition not met in time")


def test_data_passes_between_tasks_in_other_processes() -> None:
    wf = Workflow("data")
    wf.add_task(Task("one", t.one))
    wf.add_task(Task("double", t.double, depends_on=["one"]))
    wf.add_task(Task("via_async", t.async_double, inputs={"one": "one"}))
    wf.add_task(Task("via_awaitable", t.returns_coroutine, depends_on=["one"]))
    wf.add_task(Task("sum", t.total, depends_on=["double", "via_async", "via_awaitable"]))
    wf.add_task(Task("where", t.pid))
    ProcessExecutor(2).execute(wf)
    assert wf.get_task_result("sum") == 6
    assert wf.get_task_result("where") != os.getpid()


def test_retries_run_again_in_a_worker(tmp_path: Path) -> None:
    marker = str(tmp_path / "calls")
    wf = Workflow("retries")
    wf.add_task(Task("flaky", functools.partial(t.flaky, marker, 3), retries=2))
    seen = events_of(wf)
    ProcessExecutor(1).execute(wf)
    assert wf.get_task_result("flaky") == 3
    retried = [e.error for e in seen if e.is_retry]
    assert retried == ["ConnectionError: call 1", "ConnectionError: call 2"]


def test_a_timeout_ends_the_task_process_and_the_others_carry_on(tmp_path: Path) -> None:
    marker = tmp_path / "spinner"
    wf = Workflow("timeout")
    wf.add_task(Task("spin", functools.partial(t.touch_then_spin, str(marker)), timeout=0.5))
    wf.add_task(Task("nap", functools.partial(t.nap, 1.0)))
    wf.add_task(Task("after", t.one, depends_on=["nap"]))
    seen = events_of(wf)
    started = time.monotonic()
    with pytest.raises(WorkflowError, match=r"spin: timed out after 0\.5s"):
        ProcessExecutor(2).execute(wf)
    assert time.monotonic() - started < 10  # generous: the real bound is below
    spin = wf.get_task("spin")
    assert spin is not None and spin.status is TaskStatus.FAILED
    assert wf.get_task_result("nap") == 1.0
    assert wf.get_task_result("after") == 1
    times = {(e.task, e.status): e.time for e in seen}
    assert times["spin", TaskStatus.FAILED] - times["spin", TaskStatus.RUNNING] < 1.5
    assert not alive(int(marker.read_text()))


def test_an_infinite_loop_with_a_timeout_ends_the_run_soon_after() -> None:
    wf = Workflow("loop")
    wf.add_task(Task("spin", t.spin, timeout=0.3))
    seen = events_of(wf)
    with pytest.raises(WorkflowError):
        ProcessExecutor(1).execute(wf)
    failed = next(e for e in seen if e.status is TaskStatus.FAILED)
    assert failed.error == "timed out after 0.3s"
    assert time.time() - failed.time < 1.0  # close() ended the worker at once


@pytest.mark.parametrize(
    ("fn", "expected"), [(t.exit_hard, "exit code 1"), (t.kill_self, "killed by SIGKILL")]
)
def test_a_worker_that_dies_fails_its_attempt_and_is_replaced(
    fn: Callable[[], None], expected: str
) -> None:
    wf = Workflow("crash")
    wf.add_task(Task("crash", fn, retries=1))
    wf.add_task(Task("later", t.pid))
    seen = events_of(wf)
    with pytest.raises(WorkflowError) as caught:
        ProcessExecutor(1).execute(wf)
    error = caught.value.failed_tasks["crash"]
    assert error.startswith("WorkerCrashedError: worker process died")
    assert expected in error
    assert [e.attempt for e in seen if e.task == "crash" and e.error] == [1, 2]  # retried
    assert wf.get_task_result("later") not in (None, os.getpid())


def test_task_code_cannot_stop_the_engine() -> None:
    wf = Workflow("exits")
    wf.add_task(Task("exit", t.system_exit))
    wf.add_task(Task("lock", t.unpicklable_result))
    wf.add_task(Task("fine", t.one))
    with pytest.raises(WorkflowError) as caught:
        ProcessExecutor(2).execute(wf)
    assert caught.value.failed_tasks["exit"] == "SystemExit: 3"
    assert "can't be sent back from the worker process" in caught.value.failed_tasks["lock"]
    assert wf.get_task_result("fine") == 1


def test_a_lambda_or_closure_fails_when_the_run_starts() -> None:
    def local() -> int:
        return 1

    wf = Workflow("unpicklable")
    wf.add_task(Task("fine", t.one))
    wf.add_task(Task("anonymous", lambda: 1))
    wf.add_task(Task("nested", local))
    seen = events_of(wf)
    with pytest.raises(TaskNotPicklableError) as caught:
        ProcessExecutor(1).execute(wf)
    assert isinstance(caught.value, ValueError)
    assert set(caught.value.tasks) == {"anonymous", "nested"}
    message = str(caught.value)
    assert "task 'anonymous' can't run in a worker process: its function is a lambda" in message
    assert "test_a_lambda_or_closure_fails_when_the_run_starts.<locals>.local" in message
    assert "at the top level of a module" in message
    assert seen == []  # nothing ran


def test_fail_fast_cancels_what_has_not_started() -> None:
    wf = Workflow("fail-fast")
    wf.add_task(Task("bad", t.fail))
    wf.add_task(Task("later", t.one))
    with pytest.raises(WorkflowError):
        ProcessExecutor(1, fail_fast=True).execute(wf)
    later = wf.get_task("later")
    assert later is not None and later.status is TaskStatus.CANCELLED


def test_the_executor_can_be_reused() -> None:
    executor = ProcessExecutor(1)
    for _ in range(2):
        wf = Workflow("again")
        wf.add_task(Task("one", t.one))
        executor.execute(wf)
        assert wf.get_task_result("one") == 1


def test_an_attempt_sent_to_a_starting_worker_reports_when_it_really_starts() -> None:
    backend = _ProcessBackend(2)
    reports: SimpleQueue[Notice] = SimpleQueue()
    backend.open(reports.put, 0)  # one worker, warmed up
    first = Attempt(0, "first", 1, t.one, {}, 30.0)
    second = Attempt(1, "second", 1, t.one, {}, 30.0)
    try:
        backend.submit(first)  # the warm worker takes it at once
        sent = time.monotonic()
        backend.submit(second)  # no worker is ready: a fresh one is still starting
        got = [reports.get(timeout=60) for _ in range(4)]
    finally:
        backend.close()
    assert got[0] == Held(second)  # said at once, from submit
    notices = [item for item in got if isinstance(item, Started)]
    assert [notice.attempt for notice in notices] == [second]
    assert notices[0].time > sent
    ended = [item for item in got if isinstance(item, Attempt)]
    assert sorted((a.name, a.ok, a.value) for a in ended) == [
        ("first", True, 1),
        ("second", True, 1),
    ]
    assert got.index(notices[0]) < got.index(second)


class _HoldingBackend:
    """Holds each attempt for ``HOLD`` seconds (as a process backend waits for a worker
    to start), says when it really starts, then runs it on a thread."""

    HOLD = 0.5
    slots = 1

    def open(self, inbox: Inbox, tasks: int) -> None:
        self._report = inbox

    def submit(self, attempt: Attempt) -> None:
        self._report(Held(attempt))

        def hold_then_run() -> None:
            time.sleep(self.HOLD)  # the held-back start, not a synchronisation
            self._report(Started(attempt, time.monotonic()))
            self._report(invoke(attempt))

        threading.Thread(target=hold_then_run, daemon=True).start()

    def abandon(self, attempt: Attempt) -> None:
        attempt.abandon()

    def close(self) -> None:
        return None


class _HoldingExecutor(Executor):
    def backend(self) -> _HoldingBackend:
        return _HoldingBackend()


def test_a_timeout_counts_from_when_the_backend_says_the_attempt_started() -> None:
    # held 0.5 s, then 0.1 s of work, with a 0.3 s timeout: timed from submission it
    # would expire; timed from its real start it has 0.2 s to spare
    wf = Workflow("held")
    wf.add_task(Task("work", functools.partial(t.nap, 0.1), timeout=0.3))
    _HoldingExecutor().execute(wf)
    assert wf.get_task_status("work") is TaskStatus.COMPLETED


def test_max_workers_is_checked() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        ProcessExecutor(0)


_SCRIPT = """
import functools, sys
import _process_tasks as t
from flowweaver import Task, Workflow, RunInterrupted
from flowweaver.executors.process import ProcessExecutor
from flowweaver.shell import ShellCommand

if __name__ == "__main__":
    spin_marker, shell_marker = sys.argv[1:]
    wf = Workflow("interrupted")
    wf.add_task(Task("spin", functools.partial(t.touch_then_spin, spin_marker)))
    wf.add_task(Task("shell", ShellCommand(script=f"echo $$ > {shell_marker}; exec sleep 60")))
    print("running", flush=True)
    try:
        ProcessExecutor(2).execute(wf)
    except RunInterrupted as exc:
        states = sorted(f"{n}={k.status.value}" for n, k in wf.get_all_tasks().items())
        print(exc.exit_code, *states, flush=True)
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_run_leaves_no_process_behind(tmp_path: Path, signum: int) -> None:
    script = tmp_path / "run.py"
    script.write_text(textwrap.dedent(_SCRIPT))
    spin, shell = tmp_path / "spin", tmp_path / "shell"
    with subprocess.Popen(
        [sys.executable, str(script), str(spin), str(shell)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(TESTS_DIR)},
    ) as proc:
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline() == "running\n"
            wait_for(lambda: spin.exists() and shell.exists() and shell.read_text().strip())
            workers = children_of(proc.pid)
            shell_pid = int(shell.read_text())
            doomed = {*workers, int(spin.read_text()), shell_pid, *children_of(shell_pid)}
            assert all(alive(pid) for pid in doomed)
            proc.send_signal(signum)
            out, _ = proc.communicate(timeout=20)
        finally:
            proc.kill()
    assert out.split() == [str(128 + signum), "shell=cancelled", "spin=cancelled"]
    wait_for(lambda: not any(alive(pid) for pid in doomed), seconds=5)
