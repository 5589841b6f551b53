"""Run history: written as tasks end, read back, and the state folder's safety rules."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import time
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
from _history_jobs import build, calls
from _privileges import without_file_override

import flowweaver
from flowweaver import (
    FlowWeaverError,
    RunInterrupted,
    RunStore,
    SequentialExecutor,
    StateError,
    Task,
    ThreadedExecutor,
    Workflow,
    WorkflowError,
)
from flowweaver.history import UnknownRunError, db


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state"


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "calls.log"


def test_a_run_is_recorded_and_read_back(state: Path, log: Path) -> None:
    store = RunStore(state)
    SequentialExecutor().execute(build(log), store=store)

    (run,) = store.runs()
    assert len(run.id) == 8 and int(run.id, 16) >= 0
    assert run.workflow == "etl"
    assert run.status == "completed"
    assert run.ended is not None and run.ended >= run.started
    assert run.pid == os.getpid()
    assert [t.name for t in run.tasks] == ["extract", "transform", "load", "side"]
    assert {t.status for t in run.tasks} == {"completed"}
    assert all(t.attempts == 1 and t.duration is not None for t in run.tasks)
    assert all(t.result_stored and not t.cached and not t.reused for t in run.tasks)
    assert run.counts == {"completed": 4}
    assert store.run(run.id) == run
    assert store.run("latest") == run
    assert store.run(run.id[:4]).id == run.id


def test_a_failed_task_is_recorded_with_its_error(state: Path, log: Path) -> None:
    Path(f"{log}.fail").touch()
    store = RunStore(state)
    with pytest.raises(WorkflowError):
        SequentialExecutor().execute(build(log), store=store)

    run = store.run("latest")
    assert run.status == "failed"
    by_name = {t.name: t for t in run.tasks}
    assert by_name["load"].status == "failed"
    assert by_name["load"].error == "RuntimeError: load failed"
    assert by_name["side"].status == "completed"


def test_runs_are_listed_newest_first_and_filtered(state: Path, log: Path) -> None:
    store = RunStore(state)
    executor = SequentialExecutor()
    executor.execute(build(log, name="one"), store=store)
    executor.execute(build(log, name="two"), store=store)
    executor.execute(build(log, name="one"), store=store)

    assert [r.workflow for r in store.runs()] == ["one", "two", "one"]
    assert [r.workflow for r in store.runs(limit=2)] == ["one", "two"]
    assert len(store.runs(workflow="one")) == 2
    assert store.runs(workflow="none") == []
    assert len({r.id for r in store.runs()}) == 3
    assert store.workflows() == ["one", "two"]


def test_an_unknown_run_is_a_clear_error(state: Path) -> None:
    store = RunStore(state)
    with pytest.raises(UnknownRunError, match="no runs recorded yet"):
        store.run("latest")
    with pytest.raises(KeyError):
        store.run("deadbeef")
    with pytest.raises(StateError, match=r"run 'deadbeef' is not in the history"):
        store.run("deadbeef")


def test_an_unknown_run_is_caught_as_a_flowweaver_error(state: Path) -> None:
    store = RunStore(state)
    with pytest.raises(FlowWeaverError) as info:
        store.run("deadbeef")
    assert isinstance(info.value, flowweaver.UnknownRunError)
    assert UnknownRunError is flowweaver.UnknownRunError
    assert "UnknownRunError" in flowweaver.__all__


SQLITE_CHECK = """
import sys
import flowweaver
from flowweaver import AsyncExecutor, SequentialExecutor, ThreadedExecutor
from flowweaver.history import RunStatus
import flowweaver.executors.process, flowweaver.cli.app
print("sqlite3" in sys.modules)
from flowweaver import RunStore
print("sqlite3" in sys.modules)
"""


def test_sqlite3_is_imported_with_the_store_only(tmp_path: Path) -> None:
    # the engine, the executors and the command import the history's door, not its store
    done = subprocess.run(
        [sys.executable, "-c", SQLITE_CHECK],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "True"]


def test_the_store_is_reused_across_runs_and_reopened(state: Path, log: Path) -> None:
    with RunStore(state) as store:
        SequentialExecutor().execute(build(log), store=store)
    assert RunStore(state).run("latest").status == "completed"


def test_the_default_state_folder_follows_flowweaver_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert RunStore().path == Path(".flowweaver")
    assert (tmp_path / ".flowweaver" / "runs.db").exists()
    monkeypatch.setenv("FLOWWEAVER_HOME", str(tmp_path / "home"))
    assert RunStore().path == tmp_path / "home"


def test_spec_workflows_record_their_path_hash_and_params(tmp_path: Path) -> None:
    spec = tmp_path / "job.yaml"
    spec.write_text(
        "name: job\nparams: {n: 3}\ntasks:\n  hello:\n    shell: echo ${params.n}\n",
        encoding="utf-8",
    )
    from flowweaver import load_workflow

    store = RunStore(tmp_path / "state")
    SequentialExecutor().execute(load_workflow(spec, {"n": 4}), store=store)
    run = store.run("latest")
    assert run.spec_path is not None and Path(run.spec_path).name == "job.yaml"
    assert run.spec_sha256 is not None and len(run.spec_sha256) == 64
    assert run.params == {"n": 4}


def test_an_interrupted_run_records_unfinished_tasks_as_cancelled(state: Path) -> None:
    def stop() -> None:
        os.kill(os.getpid(), signal.SIGINT)

    workflow = Workflow("stopped")
    workflow.add_task(Task("first", lambda: 1))
    workflow.add_task(Task("stop", stop, depends_on=["first"]))
    workflow.add_task(Task("after", lambda: 2, depends_on=["stop"]))
    store = RunStore(state)
    with pytest.raises(RunInterrupted):
        ThreadedExecutor(max_workers=1).execute(workflow, store=store)

    run = store.run("latest")
    assert run.status == "interrupted"
    statuses = {t.name: t.status for t in run.tasks}
    assert statuses["first"] == "completed"
    assert statuses["after"] == "cancelled"
    assert statuses["stop"] in ("completed", "cancelled")


def test_the_state_folder_is_created_owner_only(state: Path) -> None:
    RunStore(state)
    assert stat.S_IMODE(state.stat().st_mode) == 0o700
    assert stat.S_IMODE((state / "runs.db").stat().st_mode) == 0o600


def test_a_folder_others_can_write_is_refused(state: Path) -> None:
    RunStore(state)
    state.chmod(0o777)
    with pytest.raises(StateError, match=r"writable by other users \(mode 0777\)") as info:
        RunStore(state)
    assert "\n" not in str(info.value)


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a folder away")
def test_a_folder_owned_by_someone_else_is_refused(state: Path) -> None:
    state.mkdir(mode=0o700)
    os.chown(state, 65534, 65534)
    with pytest.raises(StateError, match="owned by uid 65534"):
        RunStore(state)


def test_a_folder_that_cannot_be_written_is_refused(state: Path) -> None:
    state.mkdir(mode=0o500)
    probe = (
        "import sys\n"
        "from flowweaver import RunStore\n"
        "from flowweaver.errors import StateError\n"
        "try:\n"
        "    RunStore(sys.argv[1])\n"
        "except StateError as error:\n"
        "    print(error)\n"
        "    sys.exit(3)\n"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", probe, str(state)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            preexec_fn=without_file_override,  # even root is bound by the folder's mode
        )
    finally:
        state.chmod(0o700)
    assert done.returncode == 3, done.stderr
    assert "cannot be written" in done.stdout


def test_a_state_path_that_is_a_file_is_refused(state: Path) -> None:
    state.write_text("not a folder", encoding="utf-8")
    with pytest.raises(StateError):
        RunStore(state)


def test_a_corrupt_database_is_refused_and_kept(state: Path) -> None:
    state.mkdir(mode=0o700)
    garbage = b"this is not sqlite at all\x00" * 100
    (state / "runs.db").write_bytes(garbage)
    with pytest.raises(StateError, match=r"runs\.db: the run history is unreadable") as info:
        RunStore(state)
    assert "\n" not in str(info.value)
    assert (state / "runs.db").read_bytes() == garbage


def test_a_foreign_database_is_refused_and_kept(state: Path) -> None:
    state.mkdir(mode=0o700)
    conn = sqlite3.connect(state / "runs.db")
    conn.execute("CREATE TABLE accounts (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(StateError, match="not a FlowWeaver run history"):
        RunStore(state)
    conn = sqlite3.connect(state / "runs.db")
    assert conn.execute("SELECT count(*) FROM accounts").fetchone() == (0,)
    conn.close()


def test_a_database_from_a_newer_release_is_refused(state: Path) -> None:
    RunStore(state).close()
    conn = sqlite3.connect(state / "runs.db")
    conn.execute("PRAGMA user_version=99")
    conn.close()
    with pytest.raises(StateError, match="newer FlowWeaver"):
        RunStore(state)


def test_the_database_is_in_wal_mode_with_a_schema_version(state: Path) -> None:
    store = RunStore(state)
    conn = sqlite3.connect(state / "runs.db")
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert conn.execute("PRAGMA user_version").fetchone() == (3,)
    conn.close()
    store.close()


def test_a_history_write_that_fails_warns_once_and_the_run_goes_on(
    state: Path, log: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    store = RunStore(state)
    workflow = build(log)
    recorder = store.open_run(workflow)
    written = 0
    real_transaction = db.Database.transaction

    def transaction_until_full(database: db.Database) -> AbstractContextManager[sqlite3.Connection]:
        nonlocal written
        # each a batch: [the tasks], [extract started], [extract ended, side started], ...
        if written >= 4:
            raise sqlite3.OperationalError("database or disk is full")
        written += 1
        return real_transaction(database)

    monkeypatch.setattr(db.Database, "transaction", transaction_until_full)
    with caplog.at_level(logging.WARNING, logger="flowweaver"):
        SequentialExecutor().execute(workflow, recorder=recorder)

    assert sorted(calls(log)) == ["extract", "load", "side", "transform"]
    warnings = [r for r in caplog.records if "run history" in r.getMessage()]
    assert len(warnings) == 1
    assert "database or disk is full" in warnings[0].getMessage()
    monkeypatch.undo()
    run = store.run(recorder.run_id)
    # what was written before the disk filled is kept: two tasks ended, one started;
    # the run's end was not written, so it reads as a run that died (killed)
    assert run.status == "killed"
    assert run.counts == {"completed": 2, "killed": 1, "pending": 1}


def test_recording_a_thousand_tasks_costs_little(state: Path) -> None:
    def make() -> Workflow:
        workflow = Workflow("wide")
        for i in range(1000):
            workflow.add_task(Task(f"t{i}", int))
        return workflow

    start = time.perf_counter()
    SequentialExecutor().execute(make())
    bare = time.perf_counter() - start
    store = RunStore(state)
    start = time.perf_counter()
    SequentialExecutor().execute(make(), store=store)
    recorded = time.perf_counter() - start
    per_task = (recorded - bare) / 1000
    print(f"history adds {per_task * 1e6:.0f} us per task", file=sys.stderr)
    assert per_task < 0.005
    assert store.run("latest").counts == {"completed": 1000}
