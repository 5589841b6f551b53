"""The per-workflow lock: a second run fails at once (or waits), a killed holder never blocks."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pytest

from flowweaver import LockedError, RunStore, SequentialExecutor, Task, Workflow
from flowweaver.history import RunStatus
from flowweaver.history.lock import WorkflowLock, describe, lock_path, probe

TIMEOUT = 30


def _read_line(stream: IO[str] | None, timeout: float = TIMEOUT) -> str:
    assert stream is not None
    ready, _, _ = select.select([stream], [], [], timeout)
    if not ready:
        raise AssertionError(f"no line from the child in {timeout}s")
    return stream.readline().strip()


@contextmanager
def child(*args: str) -> Iterator[subprocess.Popen[str]]:
    """``python -m _history_jobs ARGS``, killed and reaped when the block ends."""
    with subprocess.Popen(
        [sys.executable, "-m", "_history_jobs", *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            yield process
        finally:
            process.kill()
            process.wait(TIMEOUT)


def one_task(name: str = "nightly") -> Workflow:
    workflow = Workflow(name)
    workflow.add_task(Task("only", lambda: 1))
    return workflow


def test_a_second_run_fails_at_once_naming_the_holder(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with child("hold-lock", str(state), "nightly") as holder:
        assert _read_line(holder.stdout) == "locked"
        store = RunStore(state)
        with pytest.raises(LockedError) as info:
            SequentialExecutor().execute(one_task(), store=store)
        assert info.value.workflow == "nightly"
        assert f"pid {holder.pid}, started 20" in str(info.value)
        assert "\n" not in str(info.value)

        # another workflow is not held back
        SequentialExecutor().execute(one_task("other"), store=store)
        running = store.runs(workflow="nightly")[0]
        assert running.status == "running"
        assert running.pid == holder.pid

        assert holder.stdin is not None
        holder.stdin.close()
        assert holder.wait(TIMEOUT) == 0
    SequentialExecutor().execute(one_task(), store=store)
    assert [r.status for r in store.runs(workflow="nightly")] == ["completed", "completed"]


def test_wait_blocks_until_the_holder_is_done(tmp_path: Path) -> None:
    state = tmp_path / "state"
    store = RunStore(state)
    recorder = store.open_run(one_task())
    with child("wait-lock", str(state), "nightly") as waiter:
        line = _read_line(waiter.stderr)
        assert f"waiting for workflow 'nightly': pid {os.getpid()}, started" in line
        recorder.end(RunStatus.COMPLETED, 0.0)
        assert _read_line(waiter.stdout) == "acquired"
        assert waiter.wait(TIMEOUT) == 0


def test_a_lock_left_by_a_killed_process_never_blocks(tmp_path: Path) -> None:
    state = tmp_path / "state"
    with child("hold-lock", str(state), "nightly") as holder:
        assert _read_line(holder.stdout) == "locked"
        holder.send_signal(signal.SIGKILL)
        holder.wait(TIMEOUT)
    store = RunStore(state)
    assert store.runs()[0].status == "killed"
    SequentialExecutor().execute(one_task(), store=store)
    assert [r.status for r in store.runs()] == ["completed", "killed"]


def test_the_lock_is_released_when_the_run_ends_even_on_failure(tmp_path: Path) -> None:
    def boom() -> None:
        raise RuntimeError("boom")

    workflow = Workflow("failing")
    workflow.add_task(Task("boom", boom))
    store = RunStore(tmp_path / "state")
    for _ in range(2):
        with pytest.raises(RuntimeError):
            SequentialExecutor().execute(workflow, store=store)
    assert probe(lock_path(store.path, "failing")) is None


def test_the_lock_in_one_process_is_exclusive(tmp_path: Path) -> None:
    path = lock_path(tmp_path, "job")
    with WorkflowLock(path, "job"):
        holder = probe(path)
        assert holder is not None and holder["pid"] == os.getpid()
        with pytest.raises(LockedError, match=rf"'job' is already running \(pid {os.getpid()},"):
            WorkflowLock(path, "job").acquire()
    assert probe(path) is None
    assert probe(tmp_path / "locks" / "missing.lock") is None


def test_lock_files_are_named_safely_and_distinctly(tmp_path: Path) -> None:
    odd = lock_path(tmp_path, "../../etc/passwd")
    assert odd.parent == tmp_path / "locks"
    assert "/" not in odd.name and not odd.name.startswith(".")
    assert lock_path(tmp_path, "a b") != lock_path(tmp_path, "a_b")


def test_a_holder_is_described_for_messages() -> None:
    assert describe({"pid": 42, "started": 0.0}).startswith("pid 42, started 19")
    assert describe({}) == "pid unknown, started at an unknown time"
