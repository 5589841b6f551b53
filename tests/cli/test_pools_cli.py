"""Pools through the command: ``--pool``, what the output modes show, ``plan``, and a
host pool shared by two ``flowweaver run`` processes (a killed one frees its slot).

Two runs are real processes with state folders of their own; they synchronise on
files their tasks write and on output lines, never on sleeps."""

from __future__ import annotations

import itertools
import json
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from _cli import TIMEOUT, fw, start_fw, write
from _processes import ended

JOBS = """
import os
import time
from pathlib import Path


def span(mark, seconds=0.05):
    start = time.time()
    time.sleep(seconds)
    Path(mark).write_text(f"{start!r} {time.time()!r}")


def gate(mark, limit=30.0):
    Path(mark + ".start").write_text(repr(time.time()))
    deadline = time.monotonic() + limit
    while not os.path.exists(mark + ".go") and time.monotonic() < deadline:
        time.sleep(0.005)
    Path(mark + ".end").write_text(repr(time.time()))


def meet(mine, other, limit=10.0):
    Path(mine).touch()
    deadline = time.monotonic() + limit
    while not os.path.exists(other):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{other} never came")
        time.sleep(0.005)
"""

RUN_POOL = """
name: pooled
pools:
  db: 1
tasks:
  first: {call: pooljobs:meet, pool: db, kwargs: {mine: a.here, other: b.here, limit: 2}}
  second: {call: pooljobs:meet, pool: db, kwargs: {mine: b.here, other: a.here, limit: 2}}
"""


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FLOWWEAVER_POOLS", str(tmp_path / "pools"))
    write(tmp_path, "pooljobs.py", JOBS)
    write(tmp_path, "pooled.yaml", RUN_POOL)
    return tmp_path


def assert_one_error(result: subprocess.CompletedProcess[str], *lines: str) -> None:
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == list(lines)


# -- --pool ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("option", "error", "hint"),
    [
        ("dbb=2", "error: --pool dbb: no pool named 'dbb' in 'pooled'", "did you mean 'db'?"),
        ("zzz=2", "error: --pool zzz: no pool named 'zzz' in 'pooled'", "its pools are db"),
        ("db=0", "error: --pool 'db=0': a pool's size must be 1 or more, got 0", "size"),
        ("db=-3", "error: --pool 'db=-3': a pool's size must be 1 or more, got -3", "size"),
        ("db=two", "error: --pool 'db=two': the size 'two' is not a whole number", "size"),
        ("db=1.5", "error: --pool 'db=1.5': the size '1.5' is not a whole number", "size"),
        ("db", "error: --pool 'db' is not NAME=SIZE", "--pool NAME=SIZE"),
        ("=2", "error: --pool '=2' is not NAME=SIZE", "--pool NAME=SIZE"),
    ],
)
def test_a_pool_option_mistake_is_one_error_before_anything_runs(
    here: Path, option: str, error: str, hint: str
) -> None:
    result = fw("run", "pooled.yaml", "--pool", option, cwd=here)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.splitlines()
    assert lines[0] == error
    assert len(lines) == 2 and lines[1].startswith("hint: ") and hint in lines[1]
    assert not (here / "a.here").exists()  # no task ran
    assert not (here / ".flowweaver" / "runs.db").exists()  # no run was recorded


def test_pool_sets_a_size_for_the_run(here: Path) -> None:
    # first and second meet: they must run at once, which db: 1 does not allow
    assert fw("run", "pooled.yaml", "-o", "plain", cwd=here).returncode == 1
    for leftover in here.glob("*.here"):
        leftover.unlink()
    result = fw("run", "pooled.yaml", "-o", "plain", "--pool", "db=2", cwd=here)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "waiting for pool" not in result.stdout


def test_the_executor_option_cant_use_a_host_pool_on_dask(here: Path) -> None:
    write(here, "host.yaml", "pools: {gpu: {size: 1, scope: host}}\ntasks:\n  a: {shell: 'true'}\n")
    result = fw("run", "host.yaml", "--executor", "dask", cwd=here)
    assert_one_error(
        result,
        "error: the dask executor can't use host pools (gpu): its tasks may run on other "
        "machines; use scope: run, or another executor",
    )
    assert not (here / ".flowweaver" / "runs.db").exists()


def test_a_host_pool_whose_folder_cant_be_made_stops_the_run_before_it_starts(
    here: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (here / "a-file").write_text("")
    monkeypatch.setenv("FLOWWEAVER_POOLS", str(here / "a-file"))
    write(here, "host.yaml", "pools: {gpu: {size: 1, scope: host}}\ntasks:\n  a: {shell: 'true'}\n")
    result = fw("run", "host.yaml", cwd=here)
    assert result.returncode == 2, result.stderr
    [line] = result.stderr.splitlines()
    assert line.startswith(f"error: host pool 'gpu': can't use its slot files in {here}/a-file")
    assert line.endswith("($FLOWWEAVER_POOLS moves them)")


# -- what the output says ----------------------------------------------------------------

WAITS = """
name: waits
pools:
  db: 1
tasks:
  slow: {call: pooljobs:span, pool: db, priority: 5, kwargs: {mark: slow.span, seconds: 0.3}}
  queued: {call: pooljobs:span, pool: db, kwargs: {mark: queued.span}}
"""


def test_plain_and_json_show_the_one_wait_of_a_task(here: Path) -> None:
    write(here, "waits.yaml", WAITS)
    plain = fw("run", "waits.yaml", "-o", "plain", cwd=here)
    assert plain.returncode == 0, plain.stderr
    said = [line.split(" ", 2)[2] for line in plain.stdout.splitlines()[1:-1]]
    assert said == [
        "slow running",
        "queued waiting for pool db (1/1)",
        "slow completed in " + said[2].rsplit(" ", 1)[1],
        "queued running",
        "queued completed in " + said[4].rsplit(" ", 1)[1],
    ]
    out = fw("run", "waits.yaml", "-o", "json", cwd=here)
    records = [json.loads(line) for line in out.stdout.splitlines()]
    waits = [r for r in records if r.get("status") == "pending"]
    assert [(r["task"], r["attempt"], r["reason"]) for r in waits] == [
        ("queued", 1, "waiting for pool db (1/1)")
    ]
    summary = records[-1]
    assert summary["tasks"]["queued"]["status"] == "completed"
    shown = json.loads(fw("show", "latest", "--output", "json", cwd=here).stdout)
    queued = next(task for task in shown["tasks"] if task["name"] == "queued")
    slow = next(task for task in shown["tasks"] if task["name"] == "slow")
    assert queued["started"] >= slow["ended"]  # it started when it got the slot


def test_plan_shows_pools_and_priorities(here: Path) -> None:
    write(
        here,
        "planned.yaml",
        """
        pools: {db: 2, gpu: {size: 1, scope: host}}
        tasks:
          load_orders: {shell: 'true', pool: db, priority: 10}
          train: {shell: 'true', pool: gpu}
          urgent: {shell: 'true', priority: 3, depends_on: [load_orders]}
          report: {shell: 'true', depends_on: [load_orders]}
        """,
    )
    result = fw("plan", "planned.yaml", cwd=here)
    assert result.stdout.splitlines() == [
        "Layer 1: load_orders [pool db, priority 10], train [pool gpu]",
        "Layer 2: urgent [priority 3], report",
        "Pools: db 2, gpu 1 (host)",
    ]


# -- a host pool shared by two runs ------------------------------------------------------


def host_spec(folder: Path, name: str, tasks: str) -> Path:
    """Spec ``name`` in a folder of its own (its tasks' module beside it), whose
    ``tasks`` (lines indented by two spaces) share the host pool ``gpu`` of size 1."""
    folder.mkdir()
    (folder / "pooljobs.py").write_text((folder.parent / "pooljobs.py").read_text())
    spec = folder / f"{name}.yaml"
    spec.write_text(f"name: {name}\npools:\n  gpu: {{size: 1, scope: host}}\ntasks:\n{tasks}\n")
    return spec


@contextmanager
def running(spec: Path) -> Iterator[subprocess.Popen[str]]:
    """``flowweaver run SPEC -o plain`` from the spec's folder (its own state folder),
    killed if it outlives the test's time."""
    process = start_fw("run", spec.name, "-o", "plain", cwd=spec.parent)
    watchdog = threading.Timer(TIMEOUT, process.kill)
    watchdog.start()
    try:
        yield process
    finally:
        watchdog.cancel()
        if process.poll() is None:
            process.kill()
        process.communicate(timeout=TIMEOUT)


def read_until(process: subprocess.Popen[str], needle: str) -> list[str]:
    """Lines of the process's stdout up to the first that contains ``needle``."""
    assert process.stdout is not None
    seen = []
    for line in process.stdout:
        seen.append(line)
        if needle in line:
            return seen
    raise AssertionError(f"{needle!r} never appeared in {seen}")


def wait_for_file(path: Path, limit: float = TIMEOUT) -> float:
    """Wait until a task has written ``path`` (it holds a time); that time."""
    deadline = time.monotonic() + limit
    while not path.exists() or not path.read_text():
        assert time.monotonic() < deadline, f"{path} was never written"
        time.sleep(0.002)
    return float(path.read_text())


def test_two_runs_never_use_a_host_pool_of_one_at_once(here: Path) -> None:
    marks = here / "marks"
    marks.mkdir()
    tasks = "\n".join(
        f"  t{i}: {{call: pooljobs:span, pool: gpu, kwargs: {{mark: '{marks}/NAME-{i}'}}}}"
        for i in range(4)
    )
    specs = [host_spec(here / n, n, tasks.replace("NAME", n)) for n in ("alpha", "beta")]
    with running(specs[0]) as alpha, running(specs[1]) as beta:
        out_alpha, err_alpha = alpha.communicate(timeout=TIMEOUT)
        out_beta, err_beta = beta.communicate(timeout=TIMEOUT)
    assert (alpha.returncode, beta.returncode) == (0, 0), err_alpha + err_beta
    spans = sorted(tuple(map(float, mark.read_text().split())) for mark in marks.iterdir())
    assert len(spans) == 8
    for (_, end), (start, _) in itertools.pairwise(spans):
        assert start >= end  # one at a time, across both processes
    assert "waiting for pool gpu (1/1 on this machine)" in out_alpha + out_beta


def test_a_killed_run_frees_its_host_slot_at_once(here: Path) -> None:
    marks = here / "marks"
    marks.mkdir()
    specs = [
        host_spec(
            here / n,
            n,
            f"  hold: {{call: pooljobs:gate, pool: gpu, kwargs: {{mark: '{marks}/{n}'}}}}",
        )
        for n in ("alpha", "beta")
    ]
    with running(specs[0]) as alpha:
        wait_for_file(marks / "alpha.start")  # alpha holds the slot
        with running(specs[1]) as beta:
            read_until(beta, "hold waiting for pool gpu (1/1 on this machine)")
            assert not (marks / "beta.start").exists()
            killed = time.time()
            os.kill(alpha.pid, signal.SIGKILL)
            started = wait_for_file(marks / "beta.start")
            assert started - killed < 1.0, started - killed
            (marks / "beta.go").touch()
            out, _ = beta.communicate(timeout=TIMEOUT)
            assert beta.returncode == 0, out
        assert ended(alpha.pid)
    assert not (marks / "alpha.end").exists()  # alpha died holding the slot


def test_the_live_table_shows_a_task_waiting_for_a_slot(here: Path) -> None:
    from test_live import ANSI, run_in_pty

    write(here, "waits.yaml", WAITS.replace("seconds: 0.3", "seconds: 1.0"))
    code, screen = run_in_pty(["run", "waits.yaml"], here)
    text = ANSI.sub("", screen)
    assert code == 0, text
    assert re.search(r"queued +waiting for pool db \(1/1\)", text), text
