"""Interrupting ``flowweaver run`` and overlapping runs: synchronised on output lines."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from _cli import TIMEOUT, fw, project, start_fw, write
from _processes import alive, ended

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


STUBBORN = """
name: stubborn
executor: threaded
tasks:
  stubborn:
    shell: |
      trap '' INT TERM
      echo "ready $$" >&2
      exec sleep 30
  after: {shell: echo after, depends_on: [stubborn]}
"""


@pytest.mark.skipif(not hasattr(os, "pidfd_open"), reason="waits for processes with pidfds")
@pytest.mark.parametrize("later", [0.0, 0.5], ids=["after-the-summary", "while-exiting"])
def test_a_second_ctrl_c_exits_130_at_once_and_silently(here: Path, later: float) -> None:
    # The first Ctrl-C ends the run. The command ignores SIGTERM, so the thread that ends
    # its group waits out the grace (1 s) before its SIGKILL, and the interpreter's exit
    # waits for that thread. A second Ctrl-C right after the summary, or while the
    # interpreter exits (``later`` is not a synchronisation: the outcome must be the
    # same wherever it lands), ends FlowWeaver at once; its keeper ends the group.
    write(here, "stubborn.yaml", STUBBORN)
    process = start_fw("run", "stubborn.yaml", "--output", "plain", cwd=here)
    command = None
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if line.startswith("stubborn | ready "):  # plain output names the task
                command = int(line.split()[-1])
                break
        assert command is not None, "the command never started"
        process.send_signal(signal.SIGINT)
        read_until(process, "2 tasks: 0 completed, 0 failed, 0 skipped, 2 cancelled")
        time.sleep(later)
        process.send_signal(signal.SIGINT)
        _, err = finish(process)
        still_running = alive(command)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=TIMEOUT)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    assert "KeyboardInterrupt" not in err
    assert "Exception ignored" not in err
    # at once: FlowWeaver did not wait out the grace to SIGKILL the command itself...
    assert still_running, "the second Ctrl-C waited for the command's group to end"
    assert ended(command)  # ...its keeper ended it
