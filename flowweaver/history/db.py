"""``runs.db``: its schema, opening it safely, and every SQL statement of the history.

The file is SQLite in WAL mode with ``synchronous=NORMAL``: each commit is one
append to the write-ahead log, which survives the writer being killed (``kill -9``);
only a power cut can lose the latest commits. ``PRAGMA application_id`` marks the
file as ours and ``PRAGMA user_version`` is its schema version.

A :class:`Database` is the open file, shared by a store and the recorders of its
runs. Writers call the statement functions below inside one of its transactions
(a recorder takes one per batch of task events); readers inside ``reading``.
Rows read back are :class:`sqlite3.Row`.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

from flowweaver.errors import StateError
from flowweaver.history.statedir import check_owned

APPLICATION_ID = 0x46577672  # "FWvr"
SCHEMA_VERSION = 3

_SCHEMA = (
    """CREATE TABLE runs (
        id TEXT PRIMARY KEY,
        workflow TEXT NOT NULL,
        spec_path TEXT,
        spec_sha256 TEXT,
        params TEXT NOT NULL DEFAULT '{}',
        started REAL NOT NULL,
        ended REAL,
        elapsed REAL,
        status TEXT NOT NULL,
        pid INTEGER,
        resumed_from TEXT
    )""",
    "CREATE INDEX runs_by_workflow ON runs (workflow, started)",
    "CREATE INDEX runs_by_start ON runs (started)",
    """CREATE TABLE tasks (
        run_id TEXT NOT NULL,
        name TEXT NOT NULL,
        position INTEGER NOT NULL,
        status TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        started REAL,
        ended REAL,
        duration REAL,
        error TEXT,
        cached INTEGER NOT NULL DEFAULT 0,
        reused INTEGER NOT NULL DEFAULT 0,
        fingerprint TEXT,
        result BLOB,
        result_state TEXT NOT NULL DEFAULT 'none',
        note TEXT,
        PRIMARY KEY (run_id, name)
    ) WITHOUT ROWID""",
    """CREATE TABLE cache (
        key TEXT PRIMARY KEY,
        task TEXT NOT NULL,
        created REAL NOT NULL,
        value BLOB NOT NULL
    )""",
)

_MIGRATIONS: dict[int, tuple[str, ...]] = {
    # 1 -> 2: the second stage. Why a task was skipped and whether its failure was
    # allowed; map items (parent, item_key); declared outputs and the last traceback;
    # every attempt's times (for the Gantt chart and logs); a run's exit code and its
    # handlers; the cache's workflow and size; the hashes of files tasks read.
    1: (
        "ALTER TABLE runs ADD COLUMN exit_code INTEGER",
        "ALTER TABLE runs ADD COLUMN handlers TEXT",
        "ALTER TABLE tasks ADD COLUMN reason TEXT",
        "ALTER TABLE tasks ADD COLUMN allowed INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE tasks ADD COLUMN parent TEXT",
        "ALTER TABLE tasks ADD COLUMN item_key TEXT",
        "ALTER TABLE tasks ADD COLUMN outputs TEXT",
        "ALTER TABLE tasks ADD COLUMN traceback TEXT",
        """CREATE TABLE attempts (
            run_id TEXT NOT NULL,
            task TEXT NOT NULL,
            attempt INTEGER NOT NULL,
            started REAL NOT NULL,
            ended REAL,
            status TEXT NOT NULL,
            error TEXT,
            traceback TEXT,
            PRIMARY KEY (run_id, task, attempt)
        ) WITHOUT ROWID""",
        "ALTER TABLE cache ADD COLUMN workflow TEXT",
        "ALTER TABLE cache ADD COLUMN size INTEGER",
        """CREATE TABLE files (
            path TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            sha256 TEXT NOT NULL
        ) WITHOUT ROWID""",
    ),
    # 2 -> 3: the run's task graph (each task's upstream tasks, JSON), written once
    # when the run starts, so that a report draws it even when the spec file has
    # changed or the run came from Python.
    2: ("ALTER TABLE runs ADD COLUMN dag TEXT",),
}
"""What takes a history from each schema version to the next (a new file is made at
version 1 and migrated up, so new and old files end with the same schema)."""

_NEWEST_FIRST = "ORDER BY started DESC, rowid DESC"


# -- opening ---------------------------------------------------------------------------


class Database:
    """The open history at ``path``: one connection, used by one thread at a time.

    Raises :class:`StateError` when the file is unusable, and when used after
    :meth:`close`. A store and the recorders of its runs share one; it closes when
    the store is closed, or when none of them is left.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mutex = threading.Lock()
        self._conn: sqlite3.Connection | None = connect(path)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """The connection, in a transaction committed at the end of the block (rolled
        back if the block raises)."""
        with self._mutex:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise

    @contextlib.contextmanager
    def reading(self) -> Iterator[sqlite3.Connection]:
        """The connection, for reads, while no other thread uses it."""
        with self._mutex:
            yield self._connection()

    def close(self) -> None:
        with self._mutex:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StateError(f"{self.path}: the run store is closed")
        return self._conn


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if need be) the history at ``path``; :class:`StateError` if unusable."""
    _create_private(path)
    check_owned(path)
    try:
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise StateError(f"{path}: cannot open the run history: {exc}") from None
    conn.row_factory = sqlite3.Row
    try:
        _check_schema(conn, path)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise StateError(_unusable(path, exc)) from None
    except BaseException:
        conn.close()
        raise
    return conn


def _create_private(path: Path) -> None:
    try:
        os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise StateError(f"{path}: cannot open the run history: {reason}") from None


def _check_schema(conn: sqlite3.Connection, path: Path) -> None:
    conn.execute("BEGIN IMMEDIATE")  # also proves the file can be written
    try:
        app_id = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = conn.execute("SELECT count(*) FROM sqlite_master").fetchone()[0]
        if app_id == 0 and version == 0 and tables == 0:
            for statement in _SCHEMA:
                conn.execute(statement)
            conn.execute(f"PRAGMA application_id={APPLICATION_ID}")
            version = 1
        elif app_id != APPLICATION_ID:
            raise StateError(
                f"{path}: not a FlowWeaver run history (another program's database); "
                "move it away or use another --state-dir"
            )
        elif version > SCHEMA_VERSION:
            raise StateError(
                f"{path}: written by a newer FlowWeaver (history schema {version}, this "
                f"release reads {SCHEMA_VERSION}); upgrade FlowWeaver"
            )
        while version < SCHEMA_VERSION:
            for statement in _MIGRATIONS[version]:
                conn.execute(statement)
            version += 1
            conn.execute(f"PRAGMA user_version={version}")
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise


def _unusable(path: Path, exc: sqlite3.DatabaseError) -> str:
    text = str(exc)
    if "readonly" in text or "read-only" in text or "unable to open" in text:
        return f"{path}: the run history cannot be written ({text})"
    return (
        f"{path}: the run history is unreadable ({text}); it was left as it is: "
        "move it away to start a new history"
    )


# -- runs ------------------------------------------------------------------------------


def insert_run(
    conn: sqlite3.Connection,
    *,
    run_id: str,
    workflow: str,
    spec_path: str | None,
    spec_sha256: str | None,
    params: str,
    started: float,
    pid: int,
    resumed_from: str | None,
) -> None:
    """Add a run's row, ``running``; ``params`` is JSON text."""
    conn.execute(
        "INSERT INTO runs (id, workflow, spec_path, spec_sha256, params, started, status, pid, "
        "resumed_from) VALUES (?,?,?,?,?,?,'running',?,?)",
        (run_id, workflow, spec_path, spec_sha256, params, started, pid, resumed_from),
    )


def mark_killed(conn: sqlite3.Connection, workflow: str) -> None:
    """Runs of ``workflow`` still marked ``running`` died: the caller holds their lock."""
    conn.execute(
        "UPDATE runs SET status='killed' WHERE workflow=? AND status='running'", (workflow,)
    )


def end_run(
    conn: sqlite3.Connection,
    run_id: str,
    *,
    status: str,
    ended: float,
    elapsed: float,
    exit_code: int | None = None,
) -> None:
    conn.execute(
        "UPDATE runs SET status=?, ended=?, elapsed=?, exit_code=? WHERE id=?",
        (status, ended, elapsed, exit_code, run_id),
    )


def set_handlers(conn: sqlite3.Connection, run_id: str, handlers: str) -> None:
    """How the run's handlers ended: ``handlers`` is a JSON list."""
    conn.execute("UPDATE runs SET handlers=? WHERE id=?", (handlers, run_id))


def set_dag(conn: sqlite3.Connection, run_id: str, dag: str) -> None:
    """The run's task graph: ``dag`` is a JSON object, task name → upstream task names."""
    conn.execute("UPDATE runs SET dag=? WHERE id=?", (dag, run_id))


def dag(conn: sqlite3.Connection, run_id: str) -> str | None:
    """The JSON text :func:`set_dag` wrote, or ``None`` (a run recorded before it was)."""
    row = conn.execute("SELECT dag FROM runs WHERE id=?", (run_id,)).fetchone()
    return None if row is None else row["dag"]


def latest_status(conn: sqlite3.Connection, workflow: str) -> str | None:
    """The status of the newest run of ``workflow`` (``running``: it was killed, when
    the caller holds the lock), or ``None``."""
    row = conn.execute(
        f"SELECT status FROM runs WHERE workflow=? {_NEWEST_FIRST} LIMIT 1", (workflow,)
    ).fetchone()
    return None if row is None else str(row["status"])


def last_success(conn: sqlite3.Connection, workflow: str) -> float | None:
    """When the newest completed run of ``workflow`` ended, or ``None``."""
    row = conn.execute(
        "SELECT MAX(ended) AS ended FROM runs WHERE workflow=? AND status='completed'",
        (workflow,),
    ).fetchone()
    return None if row is None or row["ended"] is None else float(row["ended"])


def runs(
    conn: sqlite3.Connection, *, workflow: str | None = None, limit: int | None = None
) -> list[sqlite3.Row]:
    """Runs, newest first: all, or those of ``workflow``; at most ``limit``."""
    sql = "SELECT * FROM runs"
    args: list[object] = []
    if workflow is not None:
        sql += " WHERE workflow=?"
        args.append(workflow)
    sql += f" {_NEWEST_FIRST}"
    if limit is not None:
        sql += " LIMIT ?"
        args.append(max(int(limit), 0))
    return conn.execute(sql, args).fetchall()


def runs_until(
    conn: sqlite3.Connection, workflow: str, run_id: str, *, limit: int
) -> list[sqlite3.Row]:
    """At most ``limit`` runs of ``workflow``, newest first, from ``run_id`` back."""
    return conn.execute(
        f"""SELECT * FROM runs WHERE workflow=? AND (started, rowid) <=
            (SELECT started, rowid FROM runs WHERE id=?) {_NEWEST_FIRST} LIMIT ?""",
        (workflow, run_id, max(int(limit), 0)),
    ).fetchall()


def runs_by_prefix(conn: sqlite3.Connection, prefix: str) -> list[sqlite3.Row]:
    """At most two runs whose id starts with ``prefix`` (two: it is ambiguous)."""
    pattern = prefix.replace("\\", "").replace("%", "").replace("_", "") + "%"
    return conn.execute("SELECT * FROM runs WHERE id LIKE ? LIMIT 2", (pattern,)).fetchall()


def run_exists(conn: sqlite3.Connection, run_id: str) -> bool:
    return conn.execute("SELECT 1 FROM runs WHERE id=?", (run_id,)).fetchone() is not None


def workflows(conn: sqlite3.Connection) -> list[str]:
    """The names of the workflows that have runs, sorted."""
    rows = conn.execute("SELECT DISTINCT workflow FROM runs ORDER BY workflow").fetchall()
    return [row["workflow"] for row in rows]


# -- tasks -----------------------------------------------------------------------------


def insert_tasks(
    conn: sqlite3.Connection, run_id: str, tasks: Iterable[tuple[str, int, str | None]]
) -> None:
    """Add a run's tasks, ``pending``, from ``(name, position, fingerprint)``: one
    statement for them all. A task already there is kept."""
    conn.executemany(
        "INSERT OR IGNORE INTO tasks (run_id, name, position, status, fingerprint) "
        "VALUES (?, ?, ?, 'pending', ?)",
        ((run_id, name, position, fingerprint) for name, position, fingerprint in tasks),
    )


def set_fingerprint(
    conn: sqlite3.Connection, run_id: str, name: str, fingerprint: str | None
) -> None:
    """The task's fingerprint as it started: with the hashes of the files it read then."""
    conn.execute(
        "UPDATE tasks SET fingerprint=? WHERE run_id=? AND name=?", (fingerprint, run_id, name)
    )


def set_outputs(conn: sqlite3.Connection, run_id: str, name: str, outputs: str) -> None:
    """The files the task wrote: ``outputs`` is a JSON list of ``{path, size, sha256}``."""
    conn.execute("UPDATE tasks SET outputs=? WHERE run_id=? AND name=?", (outputs, run_id, name))


_TASK_STARTED = (
    "UPDATE tasks SET status='running', attempts=?, started=COALESCE(started, ?) "
    "WHERE run_id=? AND name=?"
)
_TASK_RETRYING = "UPDATE tasks SET attempts=?, error=? WHERE run_id=? AND name=?"
_TASK_ENDED = (
    "UPDATE tasks SET status=?, attempts=?, started=?, ended=?, duration=?, error=?, "
    "cached=?, reused=?, result=?, result_state=?, note=?, reason=?, allowed=? "
    "WHERE run_id=? AND name=?"
)
_ATTEMPT_ENDED = (
    "INSERT OR REPLACE INTO attempts "
    "(run_id, task, attempt, started, ended, status, error, traceback) "
    "VALUES (?,?,?,?,?,?,?,?)"
)

StartedRow = tuple[int, float, str, str]
"""``(attempt, time, run_id, name)``: see :func:`task_started`."""
RetryingRow = tuple[int, str | None, str, str]
"""``(attempt, error, run_id, name)``: see :func:`task_retrying`."""
EndedRow = tuple[
    str, int, float | None, float, float | None, str | None, int, int,
    bytes | None, str, str | None, str | None, int, str, str,
]  # fmt: skip
"""``(status, attempts, started, ended, duration, error, cached, reused, result,
result_state, note, reason, allowed, run_id, name)``: see :func:`task_ended`."""
AttemptRow = tuple[str, str, int, float, float, str, str | None, str | None]
"""``(run_id, task, attempt, started, ended, status, error, traceback)``: see
:func:`attempt_ended`."""


def task_started(
    conn: sqlite3.Connection, run_id: str, name: str, *, attempt: int, time: float
) -> None:
    """The task is running ``attempt``; ``time`` is its start, unless it started before."""
    conn.execute(_TASK_STARTED, (attempt, time, run_id, name))


def tasks_started(conn: sqlite3.Connection, rows: Iterable[StartedRow]) -> None:
    """:func:`task_started` of several tasks, one statement."""
    conn.executemany(_TASK_STARTED, rows)


def task_retrying(
    conn: sqlite3.Connection, run_id: str, name: str, *, attempt: int, error: str | None
) -> None:
    """The task's ``attempt`` failed with ``error``; it will be tried again."""
    conn.execute(_TASK_RETRYING, (attempt, error, run_id, name))


def tasks_retrying(conn: sqlite3.Connection, rows: Iterable[RetryingRow]) -> None:
    """:func:`task_retrying` of several tasks, one statement."""
    conn.executemany(_TASK_RETRYING, rows)


def task_ended(
    conn: sqlite3.Connection,
    run_id: str,
    name: str,
    *,
    status: str,
    attempts: int,
    started: float | None,
    ended: float,
    duration: float | None,
    error: str | None,
    cached: bool,
    reused: bool,
    result: bytes | None,
    result_state: str,
    note: str | None,
    reason: str | None = None,
    allowed: bool = False,
) -> None:
    """The task's final record: ``result`` is its pickle, ``result_state`` ``stored``,
    ``unpicklable`` or ``none``, and ``note`` says why a result was not stored;
    ``reason`` why it was skipped, ``allowed`` that its failure does not fail the run."""
    row: EndedRow = (
        status,
        attempts,
        started,
        ended,
        duration,
        error,
        int(cached),
        int(reused),
        result,
        result_state,
        note,
        reason,
        int(allowed),
        run_id,
        name,
    )
    conn.execute(_TASK_ENDED, row)


def tasks_ended(conn: sqlite3.Connection, rows: Iterable[EndedRow]) -> None:
    """:func:`task_ended` of several tasks, one statement."""
    conn.executemany(_TASK_ENDED, rows)


def task_traceback(conn: sqlite3.Connection, run_id: str, name: str, traceback: str) -> None:
    """The traceback of the task's last attempt, which failed with it."""
    conn.execute(
        "UPDATE tasks SET traceback=? WHERE run_id=? AND name=?", (traceback, run_id, name)
    )


def attempt_ended(
    conn: sqlite3.Connection,
    run_id: str,
    task: str,
    *,
    attempt: int,
    started: float,
    ended: float,
    status: str,
    error: str | None,
    traceback: str | None = None,
) -> None:
    """One attempt of a task, written when it ended: ``status`` is ``completed`` or
    ``failed`` (``cancelled``: stopped by the run's end); a failed one's ``traceback``."""
    conn.execute(_ATTEMPT_ENDED, (run_id, task, attempt, started, ended, status, error, traceback))


def attempts_ended(conn: sqlite3.Connection, rows: Iterable[AttemptRow]) -> None:
    """:func:`attempt_ended` of several attempts, one statement."""
    conn.executemany(_ATTEMPT_ENDED, rows)


def attempts(conn: sqlite3.Connection, run_id: str) -> list[sqlite3.Row]:
    """A run's attempts, in the order they started."""
    return conn.execute(
        "SELECT task, attempt, started, ended, status, error, traceback FROM attempts "
        "WHERE run_id=? ORDER BY started, task, attempt",
        (run_id,),
    ).fetchall()


def tasks(conn: sqlite3.Connection, run_id: str) -> list[sqlite3.Row]:
    """A run's tasks in their workflow's order, then the items of mapped tasks, without
    their results."""
    return conn.execute(
        "SELECT name, status, attempts, started, ended, duration, error, cached, reused, "
        "result_state, note, reason, allowed, outputs, parent, item_key, traceback FROM tasks "
        "WHERE run_id=? ORDER BY position",
        (run_id,),
    ).fetchall()


def task_counts(conn: sqlite3.Connection, run_ids: Sequence[str]) -> list[sqlite3.Row]:
    """``run_id, status, n``: how many tasks of each run ended in each status (map
    items not counted: their mapped task is)."""
    marks = ",".join("?" * len(run_ids))
    return conn.execute(
        f"SELECT run_id, status, count(*) AS n FROM tasks WHERE run_id IN ({marks}) "
        "AND parent IS NULL GROUP BY run_id, status",
        list(run_ids),
    ).fetchall()


def task_outcomes(conn: sqlite3.Connection, run_ids: Sequence[str]) -> list[sqlite3.Row]:
    """``run_id, name, status, duration, cached, reused`` of every task of these runs
    (items not included), in each run's order."""
    marks = ",".join("?" * len(run_ids))
    return conn.execute(
        "SELECT run_id, name, status, duration, cached, reused FROM tasks "
        f"WHERE run_id IN ({marks}) "
        "AND parent IS NULL ORDER BY run_id, position",
        list(run_ids),
    ).fetchall()


def task_results(conn: sqlite3.Connection, run_id: str) -> list[sqlite3.Row]:
    """What resuming a run needs of each task and item: ``name, status, fingerprint,
    result_state, result, note, parent``."""
    return conn.execute(
        "SELECT name, status, fingerprint, result_state, result, note, parent FROM tasks "
        "WHERE run_id=?",
        (run_id,),
    ).fetchall()


def insert_items(
    conn: sqlite3.Connection, run_id: str, parent: str, items: Iterable[tuple[str, int, str]]
) -> None:
    """Add a mapped task's items, ``pending``, from ``(name, position, key)`` (one
    statement for them all); an item already there is kept."""
    conn.executemany(
        "INSERT OR IGNORE INTO tasks (run_id, name, position, status, parent, item_key) "
        "VALUES (?, ?, ?, 'pending', ?, ?)",
        ((run_id, name, position, parent, key) for name, position, key in items),
    )


def completed_durations(
    conn: sqlite3.Connection, workflow: str, *, before_run: str, runs: int
) -> list[sqlite3.Row]:
    """``name, duration`` of the tasks that ran to completion (not cached, not reused)
    in the latest ``runs`` runs of ``workflow`` other than ``before_run``."""
    return conn.execute(
        """SELECT t.name, t.duration FROM tasks t JOIN
           (SELECT id FROM runs WHERE workflow=? AND id!=?
            ORDER BY started DESC LIMIT ?) r ON t.run_id = r.id
           WHERE t.status='completed' AND t.cached=0 AND t.reused=0
           AND t.duration IS NOT NULL""",
        (workflow, before_run, runs),
    ).fetchall()


# -- cache -----------------------------------------------------------------------------


def cache_put(
    conn: sqlite3.Connection,
    key: str,
    *,
    task: str,
    created: float,
    value: bytes,
    workflow: str | None = None,
) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO cache (key, task, created, value, workflow, size) "
        "VALUES (?,?,?,?,?,?)",
        (key, task, created, value, workflow, len(value)),
    )


def cache_get(conn: sqlite3.Connection, key: str) -> sqlite3.Row | None:
    """``created, value`` stored under ``key``, or ``None``."""
    row: sqlite3.Row | None = conn.execute(
        "SELECT created, value FROM cache WHERE key=?", (key,)
    ).fetchone()
    return row


def cache_entries(conn: sqlite3.Connection, workflow: str | None = None) -> list[sqlite3.Row]:
    """``workflow, task, key, created, size`` of each cached result, newest first
    (``workflow`` is ``NULL`` for entries an older release wrote)."""
    sql = "SELECT workflow, task, key, created, COALESCE(size, length(value)) AS size FROM cache"
    args: tuple[str, ...] = ()
    if workflow is not None:
        sql += " WHERE workflow=?"
        args = (workflow,)
    return conn.execute(sql + " ORDER BY created DESC, task", args).fetchall()


def clear_cache(
    conn: sqlite3.Connection, task: str | None = None, workflow: str | None = None
) -> int:
    """Remove the cached results (of ``task`` and its items ``task[key]``, of
    ``workflow``: all when ``None``); returns how many there were."""
    conditions: list[str] = []
    values: list[object] = []
    if task:
        conditions.append("(task=? OR substr(task, 1, ?)=?)")
        values.extend([task, len(task) + 1, task + "["])
    if workflow:
        conditions.append("workflow=?")
        values.append(workflow)
    sql = "DELETE FROM cache"
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    count: int = conn.execute(sql, values).rowcount
    return count


# -- files -----------------------------------------------------------------------------


def file_get(conn: sqlite3.Connection, path: str) -> sqlite3.Row | None:
    """``size, mtime_ns, sha256`` last seen for the file at ``path``, or ``None``."""
    row: sqlite3.Row | None = conn.execute(
        "SELECT size, mtime_ns, sha256 FROM files WHERE path=?", (path,)
    ).fetchone()
    return row


def file_put(conn: sqlite3.Connection, path: str, *, size: int, mtime_ns: int, sha256: str) -> None:
    conn.execute(
        "INSERT OR REPLACE INTO files (path, size, mtime_ns, sha256) VALUES (?,?,?,?)",
        (path, size, mtime_ns, sha256),
    )


def clear_files(conn: sqlite3.Connection) -> int:
    """Forget every file's hash (each is hashed again when next read); how many."""
    count: int = conn.execute("DELETE FROM files").rowcount
    return count


# -- pruning ---------------------------------------------------------------------------


def run_ages(conn: sqlite3.Connection, workflow: str | None = None) -> list[sqlite3.Row]:
    """``id, workflow, started, status`` of every run (of ``workflow``), newest first."""
    sql = "SELECT id, workflow, started, status FROM runs"
    args: list[object] = []
    if workflow is not None:
        sql += " WHERE workflow=?"
        args.append(workflow)
    return conn.execute(f"{sql} {_NEWEST_FIRST}", args).fetchall()


def delete_runs(conn: sqlite3.Connection, run_ids: Iterable[str]) -> int:
    """Remove runs with their tasks (and stored results) and attempts; how many."""
    ids = [(run_id,) for run_id in run_ids]
    conn.executemany("DELETE FROM attempts WHERE run_id=?", ids)
    conn.executemany("DELETE FROM tasks WHERE run_id=?", ids)
    conn.executemany("DELETE FROM runs WHERE id=?", ids)
    return len(ids)
