"""``runs.db``: opening it safely, its schema, and its version for later migrations.

The file is SQLite in WAL mode with ``synchronous=NORMAL``: each commit is one
append to the write-ahead log, which survives the writer being killed (``kill -9``);
only a power cut can lose the latest commits. ``PRAGMA application_id`` marks the
file as ours and ``PRAGMA user_version`` is its schema version.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path

from flowweaver.errors import StateError
from flowweaver.history.statedir import check_owned

APPLICATION_ID = 0x46577672  # "FWvr"
SCHEMA_VERSION = 1

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


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if need be) the history at ``path``; :class:`StateError` if unusable."""
    _create_private(path)
    check_owned(path)
    try:
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise StateError(f"{path}: cannot open the run history: {exc}") from None
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
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
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
        # Later releases migrate here, from ``version`` up to SCHEMA_VERSION.
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
