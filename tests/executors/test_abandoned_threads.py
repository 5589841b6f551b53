"""A timed-out plain function can't be killed, but it never keeps the process alive."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import time
from flowweaver import Task, Workflow, WorkflowError, {executor}

def stuck():
    time.sleep(60)

wf = Workflow("stuck")
wf.add_task(Task("stuck", stuck, timeout=0.2))
wf.add_task(Task("other", lambda: "other ran"))
try:
    {executor}().execute(wf)
except WorkflowError as e:
    print(e)
print(wf.get_task_result("other"))
print("end of script")
"""


@pytest.mark.parametrize("executor", ["SequentialExecutor", "ThreadedExecutor", "AsyncExecutor"])
def test_a_stuck_thread_does_not_keep_the_interpreter_alive(tmp_path: Path, executor: str) -> None:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    try:
        result = subprocess.run(
            [sys.executable, "-c", SCRIPT.format(executor=executor)],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=20,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"the interpreter did not exit: output so far {exc.stdout!r}")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[1:] == ["other ran", "end of script"]
    assert "stuck: timed out after 0.2s" in lines[0]
    assert result.stderr == ""
