"""What reports read of the history: each run's task graph (schema 3), and outlines of
runs without their task records (counts, and each task's status and duration)."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from flowweaver import RunStore, SequentialExecutor, Task, Workflow, WorkflowError
from flowweaver.history import TaskOutcome, db


def diamond(fail: bool = False) -> Workflow:
    workflow = Workflow("diamond")
    workflow.add_task(Task("a", lambda: 1))
    workflow.add_task(Task("b", lambda a: a + 1, depends_on=["a"]))
    workflow.add_task(Task("c", (lambda a: 1 / 0) if fail else (lambda a: a), depends_on=["a"]))
    workflow.add_task(Task("d", lambda b, c: b + c, depends_on=["b", "c"]))
    return workflow


def run(store: RunStore, fail: bool = False) -> str:
    with contextlib.suppress(WorkflowError):
        SequentialExecutor().execute(diamond(fail), store=store)
    return store.run("latest").id


def test_a_run_keeps_its_task_graph(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    run_id = run(store)
    assert store.dag(run_id) == {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}
    assert store.dag("latest") == store.dag(run_id[:4])


def test_a_run_recorded_before_graphs_were_kept_has_none(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    run_id = run(store)
    with sqlite3.connect(tmp_path / "runs.db") as conn:
        conn.execute("UPDATE runs SET dag=NULL")
    assert store.dag(run_id) is None


def test_a_second_version_history_is_migrated_to_keep_graphs(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    conn = sqlite3.connect(path)
    for statement in db._SCHEMA + db._MIGRATIONS[1]:
        conn.execute(statement)
    conn.execute(f"PRAGMA application_id={db.APPLICATION_ID}")
    conn.execute("PRAGMA user_version=2")
    conn.execute("INSERT INTO runs (id, workflow, started, status) VALUES ('r1', 'w', 1, 'failed')")
    conn.commit()
    conn.close()
    path.chmod(0o600)
    store = RunStore(tmp_path)
    assert store.dag("r1") is None
    assert [outline.id for outline in store.outlines()] == ["r1"]
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone() == (db.SCHEMA_VERSION,)


def test_outlines_count_tasks_and_give_their_outcomes(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    first = run(store)
    second = run(store, fail=True)
    newest, oldest = store.outlines(tasks=True)
    assert (newest.id, oldest.id) == (second, first)
    assert newest.status == "failed" and oldest.status == "completed"
    assert newest.counts == {"completed": 2, "failed": 1, "skipped": 1}
    assert oldest.counts == {"completed": 4}
    assert list(newest.tasks) == ["a", "b", "c", "d"]
    c = newest.tasks["c"]
    assert isinstance(c, TaskOutcome) and c.status == "failed" and not c.cached
    assert newest.tasks["a"].duration is not None
    assert store.outlines()[0].tasks == {}  # only when asked for
    record = store.run(second)
    assert (newest.started, newest.ended, newest.exit_code) == (
        record.started,
        record.ended,
        record.exit_code,
    )


def test_outlines_until_a_run_are_its_workflow_s_runs_up_to_it(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    ids = [run(store) for _ in range(4)]
    other = Workflow("other")
    other.add_task(Task("x", lambda: 1))
    SequentialExecutor().execute(other, store=store)
    assert [o.id for o in store.outlines(until=ids[2])] == [ids[2], ids[1], ids[0]]
    assert [o.id for o in store.outlines(2, until=ids[3])] == [ids[3], ids[2]]
    assert [o.workflow for o in store.outlines(until="latest")] == ["other"]
    assert [o.id for o in store.outlines(workflow="diamond", limit=1)] == [ids[3]]


def test_outlines_of_an_unknown_run_raise(tmp_path: Path) -> None:
    store = RunStore(tmp_path)
    with pytest.raises(KeyError, match="no runs recorded yet"):
        store.outlines(until="latest")
