"""SIGINT and SIGTERM at several moments of a ``flowweaver run``, on every executor.

Each moment is "right after the Nth line of plain output": the test reads the
command's lines and signals it after line N (no sleeps). Two tasks then block on a
marker file, so the run can't end on its own before the signal. After each signal:
the exit code is 130/143, no process of the command's session survives it, the
history holds a final state for every task, and ``--resume`` (marker created)
completes the run without calling again any task the history says completed.
Tasks count their calls by appending their name to a file.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from _cli import cli_env, fw, write

from flowweaver import AsyncExecutor, SequentialExecutor, Task, TaskEvent, TaskStatus, Workflow
from flowweaver.errors import RunInterrupted
from flowweaver.interrupts import catch_signals, interruptible_wait, pending_signal

TASKS = """
import os
import time

def count(name):
    with open("calls", "a") as log:
        log.write(name + "\\n")
    return name

def gate(name):
    count(name)
    deadline = time.monotonic() + 60
    while not os.path.exists("marker") and time.monotonic() < deadline:
        time.sleep(0.01)
    return os.path.exists("marker")
"""

SPEC = """
name: interrupted
tasks:
  a: {call: rtasks:count, args: [a]}
  b: {call: rtasks:count, args: [b], depends_on: [a]}
  c: {call: rtasks:count, args: [c], depends_on: [a]}
  d: {call: rtasks:count, args: [d], depends_on: [b, c]}
  side: {call: rtasks:count, args: [side]}
  hold: {shell: "echo hold >> calls; [ -f marker ] || sleep 60", depends_on: [d]}
  wait: {call: rtasks:gate, args: [wait], depends_on: [d]}
  after: {call: rtasks:count, args: [after], depends_on: [hold, wait]}
"""
ENDS_WITHIN = 15  # seconds a signalled run may take to end (the blocked tasks wait 60 s)
TAG_VARIABLE = "FW_RELIABILITY_RUN"
TASK_NAMES = {"a", "b", "c", "d", "side", "hold", "wait", "after"}
FINAL = {"completed", "failed", "skipped", "cancelled"}

# Line 1 is the run's header; 12 lines are printed by every executor before both
# blocking tasks run (the sequential one prints "hold running" as line 12).
MOMENTS = [
    (1, signal.SIGINT),
    (1, signal.SIGTERM),
    (2, signal.SIGTERM),
    (4, signal.SIGINT),
    (7, signal.SIGTERM),
    (10, signal.SIGINT),
    (12, signal.SIGTERM),
]


def survivors(session: int, tag: str) -> list[str]:
    """Live processes of ``session`` or carrying ``tag`` in their environment (shell
    tasks start sessions of their own); zombies and exiting processes don't count."""
    found = []
    marker = f"{TAG_VARIABLE}={tag}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        ours = int(fields[3]) == session or marker in environ.split(b"\0")
        if ours and fields[0] not in "ZX" and cmdline:
            command = cmdline.replace(b"\0", b" ").decode(errors="replace")
            found.append(f"{entry.name}: {command}")
    return found


def calls(folder: Path) -> Counter[str]:
    path = folder / "calls"
    return Counter(path.read_text().split()) if path.exists() else Counter()


def interrupt_after(folder: Path, executor: str, lines: int, signum: int) -> tuple[int, str, str]:
    """Run, signal after ``lines`` lines of output; exit code, stdout, stderr."""
    tag = uuid.uuid4().hex
    process = subprocess.Popen(
        [sys.executable, "-m", "flowweaver", "run", "spec.yaml", "-e", executor, "-o", "plain"],
        cwd=folder,
        env={**cli_env(), TAG_VARIABLE: tag},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
        start_new_session=True,
    )
    seen = []
    try:
        assert process.stdout is not None
        for line in process.stdout:
            seen.append(line)
            if len(seen) == lines:
                process.send_signal(signum)
                break
        out, err = process.communicate(timeout=ENDS_WITHIN)
    except subprocess.TimeoutExpired:
        raise AssertionError(f"still running {ENDS_WITHIN}s after the signal: {seen}") from None
    finally:
        (folder / "marker").touch()  # whatever happened, let the blocked tasks go
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate(timeout=ENDS_WITHIN)
    left = survivors(process.pid, tag)
    for pid in left:  # don't leave them to the next test
        with contextlib.suppress(ProcessLookupError):
            os.kill(int(pid.split(":")[0]), signal.SIGKILL)
    assert not left, f"processes outlived the command: {left}"
    assert len(seen) == lines, f"the run ended after {len(seen)} lines: {seen}"
    return process.returncode, "".join(seen) + out, err


@pytest.mark.parametrize("executor", ["sequential", "threaded", "async", "process"])
def test_signals_at_every_moment_end_the_run_truly_and_resume_completes_it(
    tmp_path: Path, executor: str
) -> None:
    failures = []
    for lines, signum in MOMENTS:
        moment = f"{executor}, {signal.Signals(signum).name} after line {lines}"
        folder = tmp_path / f"{signal.Signals(signum).name}-at-{lines}"
        folder.mkdir()
        write(folder, "rtasks.py", TASKS)
        write(folder, "spec.yaml", SPEC)
        try:
            interrupt_and_resume(folder, executor, lines, signum)
        except AssertionError as exc:  # every moment is tried; all failures are shown
            failures.append(f"{moment}: {exc}")
    assert not failures, "\n\n".join(failures)


def interrupt_and_resume(folder: Path, executor: str, lines: int, signum: int) -> None:
    code, out, err = interrupt_after(folder, executor, lines, signum)
    assert code == 128 + signum, f"exit {code}\n{out}\n{err}"
    assert "Traceback" not in err, err
    assert "8 tasks: " in out, f"no summary line\n{out}"

    shown = fw("show", "latest", "--output", "json", cwd=folder)
    assert shown.returncode == 0, shown.stderr
    record = json.loads(shown.stdout)
    states = {task["name"]: task["status"] for task in record["tasks"]}
    assert record["status"] == "interrupted", f"history says {record['status']}: {states}"
    assert set(states) == TASK_NAMES and set(states.values()) <= FINAL, states
    assert states["after"] == "cancelled", states
    completed = {name for name, state in states.items() if state == "completed"}
    before = calls(folder)
    assert all(before[name] == 1 for name in completed), before

    resumed = fw("run", "spec.yaml", "-e", executor, "-o", "plain", "--resume", cwd=folder)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    assert "8 tasks: 8 completed, 0 failed, 0 skipped, 0 cancelled" in resumed.stdout
    after = calls(folder)
    for name in TASK_NAMES:
        assert after[name] >= 1, f"{name} never ran: {after}"
    for name in completed:
        assert after[name] == 1, f"{name} completed, then ran again on resume: {after}"


def test_a_signal_kept_just_before_a_lock_wait_gives_the_wait_up() -> None:
    # `run --wait` says it waits, then waits: a Ctrl-C between the two is kept (no run
    # is going yet) and must not leave the wait blocked
    with catch_signals():
        signal.raise_signal(signal.SIGINT)
        with pytest.raises(RunInterrupted) as info, interruptible_wait():
            pytest.fail("the wait began although a Ctrl-C came first")
        assert pending_signal() is None
    assert info.value.exit_code == 130


def _second_ctrl_c() -> str:
    """A clean-up task during which the user presses Ctrl-C again."""
    signal.raise_signal(signal.SIGINT)
    time.sleep(30)  # (the signal stops it at once)
    return "not reached"


def test_a_second_signal_during_a_clean_up_task_on_the_calling_thread_stops_the_run() -> None:
    # the sequential executor runs the `always` task on the loop's own thread: the
    # second signal must stop the run, not pass for that task's failure
    wf = Workflow("twice")
    wf.add_task(Task("work", lambda: "done"))
    wf.add_task(Task("clean", _second_ctrl_c, run_if="always"), depends_on=["work"])
    wf.add_task(Task("clean_more", lambda: "more", run_if="always"), depends_on=["clean"])

    def ctrl_c(event: TaskEvent) -> None:
        if event.task == "work" and event.status is TaskStatus.RUNNING:
            signal.raise_signal(signal.SIGINT)

    wf.subscribe(ctrl_c)
    started = time.monotonic()
    with pytest.raises(RunInterrupted):
        SequentialExecutor().execute(wf)
    assert time.monotonic() - started < 10
    assert {name: task.status for name, task in wf.get_all_tasks().items()} == {
        "work": TaskStatus.CANCELLED,
        "clean": TaskStatus.CANCELLED,
        "clean_more": TaskStatus.CANCELLED,
    }


async def _async_work() -> str:
    await asyncio.sleep(30)  # (cancelled by the first signal)
    return "done"


async def _async_second_ctrl_c() -> str:
    signal.raise_signal(signal.SIGINT)
    await asyncio.sleep(30)
    return "not reached"


async def _async_more() -> str:
    return "more"


def test_a_second_signal_during_a_clean_up_coroutine_stops_the_run() -> None:
    # the async executor runs the `always` coroutine on the loop's thread: the second
    # signal lands in it, and must stop the run, not pass for that task's failure
    wf = Workflow("twice-async")
    wf.add_task(Task("work", _async_work))
    wf.add_task(Task("clean", _async_second_ctrl_c, run_if="always"), depends_on=["work"])
    wf.add_task(Task("clean_more", _async_more, run_if="always"), depends_on=["clean"])

    def ctrl_c(event: TaskEvent) -> None:
        if event.task == "work" and event.status is TaskStatus.RUNNING:
            signal.raise_signal(signal.SIGINT)

    wf.subscribe(ctrl_c)
    started = time.monotonic()
    with pytest.raises(RunInterrupted):
        AsyncExecutor().execute(wf)
    assert time.monotonic() - started < 10
    assert {name: task.status for name, task in wf.get_all_tasks().items()} == {
        "work": TaskStatus.CANCELLED,
        "clean": TaskStatus.CANCELLED,
        "clean_more": TaskStatus.CANCELLED,
    }


def test_a_run_deadline_stops_a_task_running_inline_and_its_always_task_runs() -> None:
    # In a process of its own: pytest-timeout holds SIGALRM here, which the deadline uses
    # to stop a task running inline on the loop's thread.
    script = textwrap.dedent(
        """
        import time
        from flowweaver import RunTimeoutError, SequentialExecutor, Task, Workflow
        workflow = Workflow("deadline", timeout=0.3)
        workflow.add_task(Task("slow", lambda: time.sleep(30)))
        workflow.add_task(Task("clean", lambda: "done", depends_on=["slow"], run_if="always"))
        started = time.monotonic()
        try:
            SequentialExecutor().execute(workflow)
        except RunTimeoutError as exc:
            print(exc, exc.exit_code)
        print(round(time.monotonic() - started))
        print({n: t.status.value for n, t in workflow.get_all_tasks().items()})
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.splitlines() == [
        "workflow 'deadline' timed out after 0.3s 124",
        "0",
        "{'slow': 'cancelled', 'clean': 'completed'}",
    ]


def test_a_deadline_passed_during_an_inline_chain_stops_it() -> None:
    import time as clock

    from flowweaver import RunTimeoutError, SequentialExecutor, Task, TaskStatus, Workflow

    workflow = Workflow("chain", timeout=0.2)
    workflow.add_task(Task("a", lambda: clock.sleep(0.3)))
    workflow.add_task(Task("b", lambda: None, depends_on=["a"]))
    with pytest.raises(RunTimeoutError):
        SequentialExecutor().execute(workflow)
    assert workflow.get_task_status("a") is TaskStatus.COMPLETED
    assert workflow.get_task_status("b") is TaskStatus.CANCELLED


def test_an_always_task_runs_inline_after_a_first_ctrl_c() -> None:
    import signal as signals

    from flowweaver import RunInterrupted, SequentialExecutor, Task, TaskStatus, Workflow
    from flowweaver.interrupts import catch_signals

    def interrupted() -> None:
        signals.raise_signal(signals.SIGINT)

    workflow = Workflow("always")
    workflow.add_task(Task("work", interrupted))
    workflow.add_task(Task("clean", lambda: "done", depends_on=["work"], run_if="always"))
    with catch_signals(), pytest.raises(RunInterrupted):
        SequentialExecutor().execute(workflow)
    assert workflow.get_task_status("work") is TaskStatus.CANCELLED
    assert workflow.get_task_result("clean") == "done"
