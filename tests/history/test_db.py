"""``runs.db`` statement by statement: ``flowweaver.history.db`` with no store or run."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowweaver.errors import StateError
from flowweaver.history import db


@pytest.fixture
def database(tmp_path: Path) -> Iterator[db.Database]:
    database = db.Database(tmp_path / "runs.db")
    yield database
    database.close()


def add_run(
    database: db.Database, run_id: str, workflow: str = "etl", started: float = 1.0
) -> None:
    with database.transaction() as conn:
        db.insert_run(
            conn,
            run_id=run_id,
            workflow=workflow,
            spec_path=None,
            spec_sha256=None,
            params="{}",
            started=started,
            pid=1,
            resumed_from=None,
        )


def end_task(
    conn: sqlite3.Connection,
    run_id: str,
    name: str,
    *,
    status: str = "completed",
    duration: float = 1.0,
    cached: bool = False,
) -> None:
    db.task_ended(
        conn,
        run_id,
        name,
        status=status,
        attempts=1,
        started=10.0,
        ended=10.0 + duration,
        duration=duration,
        error=None,
        cached=cached,
        reused=False,
        result=b"pickle",
        result_state="stored",
        note=None,
    )


def test_a_new_file_gets_the_schema_and_is_marked_as_ours(tmp_path: Path) -> None:
    db.Database(tmp_path / "runs.db").close()
    conn = sqlite3.connect(tmp_path / "runs.db")
    assert conn.execute("PRAGMA application_id").fetchone() == (db.APPLICATION_ID,)
    assert conn.execute("PRAGMA user_version").fetchone() == (db.SCHEMA_VERSION,)
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert tables == {"runs", "tasks", "cache", "attempts", "files"}
    conn.close()


def test_a_first_version_history_is_migrated_and_keeps_its_runs(tmp_path: Path) -> None:
    path = tmp_path / "runs.db"
    conn = sqlite3.connect(path)
    for statement in db._SCHEMA:
        conn.execute(statement)
    conn.execute(f"PRAGMA application_id={db.APPLICATION_ID}")
    conn.execute("PRAGMA user_version=1")
    conn.execute(
        "INSERT INTO runs (id, workflow, started, status) VALUES ('r1', 'old', 1.0, 'completed')"
    )
    conn.commit()
    conn.close()
    path.chmod(0o600)
    database = db.Database(path)
    with database.reading() as conn:
        [row] = db.runs(conn)
        assert (row["id"], row["workflow"], row["exit_code"]) == ("r1", "old", None)
        assert conn.execute("PRAGMA user_version").fetchone()[0] == db.SCHEMA_VERSION
        assert conn.execute("SELECT count(*) FROM attempts").fetchone()[0] == 0
    database.close()


def test_a_transaction_that_raises_writes_nothing(database: db.Database) -> None:
    with pytest.raises(RuntimeError), database.transaction() as conn:
        db.insert_tasks(conn, "r1", [("a", 0, None)])
        raise RuntimeError("in the middle of a batch")
    with database.reading() as conn:
        assert db.tasks(conn, "r1") == []


def test_a_closed_database_is_a_state_error(database: db.Database) -> None:
    database.close()
    with pytest.raises(StateError, match="the run store is closed"), database.reading():
        pass


def test_a_task_goes_from_pending_to_its_final_record(database: db.Database) -> None:
    with database.transaction() as conn:
        db.insert_tasks(conn, "r1", [("a", 0, "fp-a"), ("b", 1, None)])
        db.insert_tasks(conn, "r1", [("a", 5, "other")])  # already there: kept
    with database.transaction() as conn:
        db.task_started(conn, "r1", "a", attempt=1, time=10.0)
        db.task_retrying(conn, "r1", "a", attempt=1, error="ValueError: once")
        db.task_started(conn, "r1", "a", attempt=2, time=12.0)  # keeps the first start
    with database.reading() as conn:
        a, b = db.tasks(conn, "r1")
    assert (a["name"], a["status"], a["attempts"], a["started"]) == ("a", "running", 2, 10.0)
    assert a["error"] == "ValueError: once"
    assert (b["name"], b["status"], b["attempts"]) == ("b", "pending", 0)

    with database.transaction() as conn:
        end_task(conn, "r1", "a", duration=2.5)
    with database.reading() as conn:
        (a, _) = db.tasks(conn, "r1")
        (past, _) = db.task_results(conn, "r1")
    assert (a["status"], a["ended"], a["duration"], a["cached"]) == ("completed", 12.5, 2.5, 0)
    assert (past["fingerprint"], past["result_state"], past["result"]) == (
        "fp-a",
        "stored",
        b"pickle",
    )


def test_runs_are_read_newest_first_filtered_and_limited(database: db.Database) -> None:
    add_run(database, "aaaa0001", "one", started=1.0)
    add_run(database, "bbbb0002", "two", started=2.0)
    add_run(database, "cccc0003", "one", started=3.0)
    with database.reading() as conn:
        assert [r["id"] for r in db.runs(conn)] == ["cccc0003", "bbbb0002", "aaaa0001"]
        assert [r["id"] for r in db.runs(conn, workflow="one")] == ["cccc0003", "aaaa0001"]
        assert [r["id"] for r in db.runs(conn, limit=1)] == ["cccc0003"]
        assert db.runs(conn, limit=-1) == []
        assert db.workflows(conn) == ["one", "two"]
        assert db.run_exists(conn, "bbbb0002") and not db.run_exists(conn, "bbbb")
        assert db.runs(conn)[0]["status"] == "running"


def test_an_id_prefix_is_matched_literally(database: db.Database) -> None:
    add_run(database, "ab12cd34")
    add_run(database, "ab99ee00")
    with database.reading() as conn:
        assert [r["id"] for r in db.runs_by_prefix(conn, "ab1")] == ["ab12cd34"]
        assert len(db.runs_by_prefix(conn, "ab")) == 2  # ambiguous
        assert db.runs_by_prefix(conn, "x%") == []
        assert db.runs_by_prefix(conn, "a_12") == []  # "_" is no wildcard


def test_runs_left_running_are_marked_killed_and_ended_runs_kept(database: db.Database) -> None:
    add_run(database, "r1", "etl")
    add_run(database, "r2", "etl")
    add_run(database, "r3", "other")
    with database.transaction() as conn:
        db.end_run(conn, "r2", status="failed", ended=5.0, elapsed=4.0)
        db.mark_killed(conn, "etl")
    with database.reading() as conn:
        statuses = {row["id"]: row["status"] for row in db.runs(conn)}
    assert statuses == {"r1": "killed", "r2": "failed", "r3": "running"}


def test_past_durations_are_of_tasks_that_really_ran_in_recent_runs(
    database: db.Database,
) -> None:
    for number in range(4):
        run_id = f"r{number}"
        add_run(database, run_id, started=float(number))
        with database.transaction() as conn:
            db.insert_tasks(conn, run_id, [("a", 0, None), ("b", 1, None), ("c", 2, None)])
            end_task(conn, run_id, "a", duration=float(number))
            end_task(conn, run_id, "b", cached=True)
            end_task(conn, run_id, "c", status="failed")
    with database.reading() as conn:
        rows = db.completed_durations(conn, "etl", before_run="r3", runs=2)
    assert sorted(tuple(row) for row in rows) == [("a", 1.0), ("a", 2.0)]


def test_the_cache_keeps_one_value_per_key_until_cleared(database: db.Database) -> None:
    with database.transaction() as conn:
        db.cache_put(conn, "k1", task="a", created=1.0, value=b"old")
        db.cache_put(conn, "k1", task="a", created=2.0, value=b"new")
        db.cache_put(conn, "k2", task="b", created=3.0, value=b"other")
    with database.reading() as conn:
        assert tuple(db.cache_get(conn, "k1") or ()) == (2.0, b"new")
        assert db.cache_get(conn, "missing") is None
    with database.transaction() as conn:
        assert db.clear_cache(conn) == 2
    with database.reading() as conn:
        assert db.cache_get(conn, "k2") is None
