"""Shell tasks: output as the result, errors with the exit code, whole process groups ended."""

from __future__ import annotations

import os
import pickle
import signal
import subprocess
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _cli import start_fw, write
from _processes import alive, ended

from flowweaver import SequentialExecutor, TaskStatus, WorkflowError
from flowweaver import shell as shell_module
from flowweaver._call import invoke
from flowweaver.executors.contract import Attempt
from flowweaver.shell import ShellCommand, ShellCommandError
from flowweaver.spec import load_workflow

pytestmark = pytest.mark.skipif(
    not hasattr(os, "pidfd_open") or not Path("/proc/self/stat").exists(),
    reason="waits for processes with Linux pidfds",
)


def join_killers() -> None:
    for thread in threading.enumerate():
        if thread.name == "flowweaver-shell-kill":
            thread.join(timeout=10)
            assert not thread.is_alive()


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "ready"
    os.mkfifo(path)
    return path


@pytest.fixture
def short_grace(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(shell_module, "GRACE_SECONDS", 0.2)
    yield
    join_killers()


def test_the_result_is_stdout_without_trailing_whitespace() -> None:
    assert ShellCommand(script="printf 'a\\nb\\n\\n  '")() == "a\nb"


def test_a_list_runs_without_a_shell() -> None:
    assert ShellCommand(argv=["echo", "*", "$HOME", ";", "ls"])() == "* $HOME ; ls"


def test_env_is_added_to_the_inherited_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FW_INHERITED", "kept")
    command = ShellCommand(script='echo "$FW_INHERITED $FW_ADDED"', env={"FW_ADDED": "added"})
    assert command() == "kept added"


def test_cwd(tmp_path: Path) -> None:
    assert ShellCommand(script="pwd", cwd=str(tmp_path))() == str(tmp_path.resolve())


def test_a_failure_holds_the_exit_code_and_the_last_lines_of_stderr(
    capsys: pytest.CaptureFixture[str],
) -> None:
    script = "for i in 1 2 3 4 5 6 7; do echo line $i >&2; done; echo out; exit 3"
    with pytest.raises(ShellCommandError) as info:
        ShellCommand(script=script)()
    error = info.value
    assert error.returncode == 3
    assert error.stderr_tail == [f"line {i}" for i in range(3, 8)]
    assert str(error).splitlines()[0] == "exit code 3: line 7"
    assert "line 3" in str(error)
    assert "line 2" not in str(error)
    assert capsys.readouterr().err.splitlines() == [f"line {i}" for i in range(1, 8)]


def test_a_single_line_of_stderr_is_shown_once(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(ShellCommandError) as info:
        ShellCommand(script="echo 'cp: cannot stat x' >&2; exit 1")()
    assert str(info.value) == "exit code 1: cp: cannot stat x"
    assert capsys.readouterr().err == "cp: cannot stat x\n"


def test_a_missing_program_is_exit_127() -> None:
    with pytest.raises(ShellCommandError) as info:
        ShellCommand(argv=["fw-surely-no-such-program"])()
    assert info.value.returncode == 127
    assert "fw-surely-no-such-program" in str(info.value)


def test_commands_and_their_errors_pickle() -> None:
    command = ShellCommand(argv=["echo", "hi"], env={"A": "1"}, cwd="/")
    assert pickle.loads(pickle.dumps(command)) == command
    error = ShellCommandError("false", 1, ["boom"])
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.command, copy.returncode, copy.stderr_tail, str(copy)) == (
        "false",
        1,
        ["boom"],
        str(error),
    )


def test_exactly_one_of_argv_and_script() -> None:
    with pytest.raises(ValueError):
        ShellCommand()
    with pytest.raises(ValueError):
        ShellCommand(argv=["a"], script="b")


def test_abandoning_the_attempt_ends_the_whole_group(fifo: Path, short_grace: None) -> None:
    # The shell ignores SIGTERM, and so does its background child: SIGKILL must follow.
    script = f"trap '' TERM; sleep 60 & echo $! $$ > {fifo}; wait"
    attempt = Attempt(0, "sleepy", 1, ShellCommand(script=script), {}, None)
    runner = threading.Thread(target=invoke, args=(attempt,))
    runner.start()
    with open(fifo) as ready:
        pids = [int(pid) for pid in ready.read().split()]
    assert all(alive(pid) for pid in pids)
    attempt.abandon()
    join_killers()
    runner.join(timeout=10)
    assert not runner.is_alive()
    assert all(ended(pid) for pid in pids)
    assert not attempt.ok
    assert isinstance(attempt.value, ShellCommandError)
    assert str(attempt.value) == "killed by SIGKILL"


def test_an_interrupted_call_ends_the_group(
    fifo: Path, short_grace: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    pids: list[int] = []

    def interrupted(process: subprocess.Popen[bytes], sink: object) -> tuple[str, list[str]]:
        with open(fifo) as ready:
            pids.extend(int(pid) for pid in ready.read().split())
        for pipe in (process.stdout, process.stderr):
            assert pipe is not None
            pipe.close()
        raise KeyboardInterrupt

    monkeypatch.setattr(shell_module, "_collect", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ShellCommand(script=f"sleep 60 & echo $! $$ > {fifo}; wait")()
    assert pids
    assert all(ended(pid) for pid in pids)


def test_a_timed_out_shell_task_dies_with_its_group(tmp_path: Path, short_grace: None) -> None:
    pidfile = tmp_path / "pids"
    spec = tmp_path / "spec.yaml"
    spec.write_text(
        textwrap.dedent(f"""
        tasks:
          slow:
            shell: sleep 60 & echo $! $$ > {pidfile}; wait
            timeout: 300ms
        """),
        encoding="utf-8",
    )
    workflow = load_workflow(spec)
    with pytest.raises(WorkflowError):
        SequentialExecutor().execute(workflow)
    task = workflow.get_all_tasks()["slow"]
    assert task.status is TaskStatus.FAILED
    assert "timed out after 0.3s" in (task.error or "")
    join_killers()
    pids = [int(pid) for pid in pidfile.read_text().split()]
    assert all(ended(pid) for pid in pids)


def test_a_command_outlives_no_flowweaver_killed_with_sigkill(tmp_path: Path) -> None:
    # SIGKILL can't be caught, so FlowWeaver can't end its commands itself: its keeper
    # process sees it die (its pipe closes) and ends their groups
    marker = tmp_path / "pid"
    spec = write(
        tmp_path,
        "long.yaml",
        f"""
        version: 1
        name: long
        tasks:
          wait:
            shell: "echo $$ > {marker}.tmp && mv {marker}.tmp {marker} && exec sleep 60"
        """,
    )
    child = start_fw("run", str(spec), "--output", "plain", cwd=tmp_path)
    try:
        deadline = time.monotonic() + 30
        while not marker.exists():  # no event to wait on for a file another process writes
            assert time.monotonic() < deadline, "the command never started"
            assert child.poll() is None, child.communicate(timeout=10)
            time.sleep(0.02)
        command = int(marker.read_text())
        assert alive(command)
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=10)
    finally:
        child.kill()
        child.communicate(timeout=10)
    assert ended(command, timeout=10)


def test_a_clean_exit_leaves_no_keeper_behind(tmp_path: Path) -> None:
    spec = write(tmp_path, "quick.yaml", "version: 1\ntasks:\n  hello:\n    shell: echo hi\n")
    child = start_fw("run", str(spec), "--output", "plain", cwd=tmp_path)
    _, err = child.communicate(timeout=60)
    assert child.returncode == 0, err
    keepers = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if f"keeper of process {child.pid}:".encode() in cmdline and alive(int(entry.name)):
            keepers.append(entry.name)
    assert keepers == []
