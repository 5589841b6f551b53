"""Interrupting ``flowweaver run`` and overlapping runs: synchronised on output lines."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest
from _cli import TIMEOUT, fw, project, start_fw, write

WAITING = """
name: waiting
tasks:
  first: {call: clitasks:ok}
  wait: {call: clitasks:wait_for, kwargs: {path: marker}, depends_on: [first]}
  after: {call: clitasks:ok, depends_on: [wait]}
"""


@pytest.fixture
def here(tmp_path: Path) -> Path:
    project(tmp_path)
    write(tmp_path, "waiting.yaml", WAITING)
    return tmp_path


def read_until(process: subprocess.Popen[str], needle: str) -> list[str]:
    """Lines of the process's stdout up to the first that contains ``needle``."""
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        if needle in line:
            return seen
    raise AssertionError(f"{needle!r} never appeared in {seen}")


def finish(process: subprocess.Popen[str]) -> tuple[str, str]:
    try:
        out, err = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        raise
    return out, err


@pytest.mark.parametrize(
    ("signum", "code"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)], ids=["INT", "TERM"]
)
def test_a_signal_cancels_the_run_and_still_prints_the_summary(
    here: Path, signum: int, code: int
) -> None:
    process = start_fw("run", "waiting.yaml", "--output", "plain", cwd=here)
    try:
        read_until(process, " wait running")
        process.send_signal(signum)
        out, err = finish(process)
    finally:
        (here / "marker").touch()
    assert process.returncode == code, err
    assert "Traceback" not in err
    assert "3 tasks: 1 completed, 0 failed, 0 skipped, 2 cancelled in " in out
    shown = fw("show", "latest", "--output", "json", cwd=here)
    assert '"status": "interrupted"' in shown.stdout


def test_a_second_run_of_the_same_workflow_exits_3(here: Path) -> None:
    process = start_fw("run", "waiting.yaml", "--output", "plain", cwd=here)
    try:
        read_until(process, " wait running")
        second = fw("run", "waiting.yaml", cwd=here)
        assert second.returncode == 3
        assert "already running" in second.stderr
        assert "Traceback" not in second.stderr
        assert len(second.stderr.strip().splitlines()) <= 2
    finally:
        (here / "marker").touch()
    out, _ = finish(process)
    assert process.returncode == 0
    assert "3 tasks: 3 completed" in out


def read_stderr_until(process: subprocess.Popen[str], needle: str) -> None:
    assert process.stderr is not None
    seen = []
    for line in process.stderr:
        seen.append(line)
        if needle in line:
            return
    raise AssertionError(f"{needle!r} never appeared in {seen}")


def test_ctrl_c_gives_up_waiting_for_the_lock(here: Path) -> None:
    holder = start_fw("run", "waiting.yaml", "--output", "plain", cwd=here)
    try:
        read_until(holder, " wait running")
        waiter = start_fw("run", "waiting.yaml", "--wait", "--output", "plain", cwd=here)
        try:
            read_stderr_until(waiter, "waiting for workflow")
            waiter.send_signal(signal.SIGINT)
            # the holder keeps the lock for as long as the test wants: only giving up
            # the wait can end the waiter before this (generous) bound
            _, err = waiter.communicate(timeout=15)
        finally:
            if waiter.poll() is None:
                waiter.kill()
        assert waiter.returncode == 130, err
        assert "Traceback" not in err
    finally:
        (here / "marker").touch()
    out, _ = finish(holder)
    assert holder.returncode == 0
    assert "3 tasks: 3 completed" in out
