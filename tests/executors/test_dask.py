"""DaskExecutor on a real cluster on loopback: a LocalCluster the executor starts,
and a scheduler and a worker started as commands, reached by address.

Each cluster start costs seconds, so the tests are few and each checks much.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import _process_tasks as t
import pytest

from flowweaver import Task, TaskEvent, TaskStatus, Workflow, WorkflowError, load_workflow

pytest.importorskip("distributed")

from flowweaver.executors.dask import DaskExecutor

pytestmark = pytest.mark.dask

ROOT = Path(__file__).resolve().parents[2]
SPEC = ROOT / "specs" / "cpu.yaml"
TESTS_DIR = ROOT / "tests"


def test_a_spec_runs_on_a_local_cluster_with_data_passing() -> None:
    wf = load_workflow(SPEC, {"limit": 3000})
    wf.add_task(Task("async", t.async_double, inputs={"one": "best"}))  # receives a dict
    seen: list[TaskEvent] = []
    wf.subscribe(seen.append)
    with pytest.raises(WorkflowError, match="TypeError"):  # dict * 2: the error comes back
        DaskExecutor(max_workers=2).execute(wf)
    assert wf.get_task_result("best") == {"n": 2919, "steps": 216}
    assert [e.status for e in seen if e.task == "best"] == [
        TaskStatus.RUNNING,
        TaskStatus.COMPLETED,
    ]


def test_retries_timeouts_and_skips_keep_their_meaning(tmp_path: Path) -> None:
    wf = Workflow("policy")
    wf.add_task(Task("flaky", functools.partial(t.flaky, str(tmp_path / "n"), 3), retries=2))
    wf.add_task(Task("slow", functools.partial(t.nap, 3.0), timeout=0.3))
    wf.add_task(Task("after-slow", t.one, depends_on=["slow"]))
    wf.add_task(Task("exits", t.system_exit))
    seen: list[TaskEvent] = []
    wf.subscribe(seen.append)
    with pytest.raises(WorkflowError) as caught:
        DaskExecutor(max_workers=2).execute(wf)
    assert caught.value.failed_tasks == {"slow": "timed out after 0.3s", "exits": "SystemExit: 3"}
    assert wf.get_task_result("flaky") == 3
    retried = [e.error for e in seen if e.task == "flaky" and e.is_retry]
    assert retried == ["ConnectionError: call 1", "ConnectionError: call 2"]
    after = wf.get_task("after-slow")
    assert after is not None and after.status is TaskStatus.SKIPPED


@pytest.fixture
def scheduler_address(tmp_path: Path) -> Iterator[str]:
    """A scheduler and one worker started as commands on loopback; killed after."""
    bin_dir = Path(sys.executable).parent
    scheduler_file = tmp_path / "scheduler.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(TESTS_DIR), str(ROOT / "specs")])}
    dask = [str(bin_dir / "dask")]
    where = ["--host", "127.0.0.1", "--no-dashboard", "--scheduler-file", str(scheduler_file)]
    common = {"env": env, "cwd": tmp_path, "stderr": subprocess.DEVNULL}
    processes = [
        subprocess.Popen([*dask, "scheduler", "--port", "0", *where], **common)  # type: ignore[call-overload]
    ]
    try:
        deadline = time.monotonic() + 30
        while not scheduler_file.exists() or not scheduler_file.read_text().strip():
            assert time.monotonic() < deadline, "the scheduler did not start"
            time.sleep(0.05)
        processes.append(
            subprocess.Popen(
                [*dask, "worker", "--nworkers", "2", "--nthreads", "1", *where],
                **common,  # type: ignore[call-overload]
            )
        )
        address = json.loads(scheduler_file.read_text())["address"]
        from distributed import Client

        with Client(address, timeout=30) as client:
            client.wait_for_workers(2, timeout=30)
        yield str(address)
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in reversed(processes):
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)


def test_the_same_spec_runs_on_a_cluster_reached_by_address(
    scheduler_address: str, tmp_path: Path
) -> None:
    wf = load_workflow(SPEC, {"limit": 3000})
    DaskExecutor(scheduler_address).execute(wf)
    assert wf.get_task_result("best") == {"n": 2919, "steps": 216}
    command = [sys.executable, "-m", "flowweaver", "run", str(SPEC), "--executor", "dask"]
    command += ["--address", scheduler_address, "--param", "limit=3000", "--output", "json"]
    command += ["--state-dir", str(tmp_path / "state")]
    done = subprocess.run(
        command, check=False, capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary["status"] == "completed"
    assert summary["stats"]["completed"] == 5
