"""Run history, resume and cache in a state folder: :class:`RunStore`.

    store = RunStore(".flowweaver")
    SequentialExecutor().execute(workflow, store=store)          # recorded
    SequentialExecutor().execute(workflow, store=store, resume=True)
    store.runs(limit=10)        # newest first
    store.run("latest").tasks   # one run's tasks

The history is ``runs.db`` (see :mod:`flowweaver.history.db`); each run holds
its workflow's lock (:mod:`flowweaver.history.lock`) from :meth:`RunStore.open_run` to
the recorder's ``end``. A run whose row still says ``running`` but whose lock
is no longer held by it was killed: it reads back as ``killed``.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from flowweaver.errors import StateError
from flowweaver.history import db, resume
from flowweaver.history.fingerprint import task_fingerprint
from flowweaver.history.lock import WorkflowLock, lock_path, probe
from flowweaver.history.recorder import RunRecorder
from flowweaver.history.statedir import prepare_state_dir, resolve_state_dir

RUN_STATUSES = ("running", "completed", "failed", "interrupted", "killed")


class UnknownRunError(StateError, KeyError):
    """No run in the history has that id."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else "unknown run"


@dataclass(frozen=True)
class TaskRecord:
    """One task of a recorded run. Times are seconds since the epoch.

    ``status`` is a :class:`~flowweaver.TaskStatus` value; in a killed run, ``killed``
    for a task that was running when the run died (``started`` says since when), and
    ``pending`` for one it never started. ``note`` says why a result was not stored.
    """

    name: str
    status: str
    attempts: int
    started: float | None
    ended: float | None
    duration: float | None
    error: str | None
    cached: bool
    reused: bool
    result_stored: bool
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RunRecord:
    """One recorded run: ``status`` is one of :data:`RUN_STATUSES`."""

    id: str
    workflow: str
    status: str
    started: float
    ended: float | None
    elapsed: float | None
    spec_path: str | None
    spec_sha256: str | None
    params: dict[str, Any]
    pid: int | None
    resumed_from: str | None
    tasks: tuple[TaskRecord, ...]

    @property
    def counts(self) -> dict[str, int]:
        """How many tasks ended in each status."""
        return dict(Counter(task.status for task in self.tasks))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tasks"] = [task.to_dict() for task in self.tasks]
        return data


class RunStore:
    """The run history, stored results and locks in one state folder.

    ``state_dir`` ``None`` means ``$FLOWWEAVER_HOME``, else ``.flowweaver``. The
    folder is created owner-only; one that others could write is refused with
    :class:`StateError`, as is a ``runs.db`` that is not a FlowWeaver history.
    ``clock`` (seconds since the epoch) is for tests of the cache's expiry.
    """

    def __init__(
        self,
        state_dir: str | os.PathLike[str] | None = None,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = prepare_state_dir(resolve_state_dir(state_dir))
        self.db_path = self.path / "runs.db"
        self.clock = clock
        self._mutex = threading.Lock()
        self._conn: sqlite3.Connection | None = db.connect(self.db_path)

    def __repr__(self) -> str:
        return f"RunStore({str(self.path)!r})"

    # -- runs -------------------------------------------------------------------------

    def open_run(self, workflow: Any, *, resume: bool = False, wait: bool = False) -> RunRecorder:
        """Start recording a run of ``workflow``: take its lock and add its row.

        Raises :class:`~flowweaver.LockedError` when another run of the same
        workflow holds the lock (``wait=True`` waits for it instead).
        ``resume=True`` reuses what the latest unfinished run completed.
        """
        name: str = workflow.name
        run_id = self._new_run_id()
        lock = WorkflowLock(lock_path(self.path, name), name)
        lock.acquire(wait=wait, run_id=run_id)
        try:
            return self._start(workflow, run_id, lock, resume)
        except BaseException:
            lock.release()
            raise

    def runs(self, limit: int | None = None, workflow: str | None = None) -> list[RunRecord]:
        """Recorded runs, newest first; ``workflow`` keeps those of one workflow."""
        sql = "SELECT * FROM runs"
        args: list[Any] = []
        if workflow is not None:
            sql += " WHERE workflow=?"
            args.append(workflow)
        sql += " ORDER BY started DESC, rowid DESC"
        if limit is not None:
            sql += " LIMIT ?"
            args.append(max(int(limit), 0))
        return [self._record(row) for row in self._read(sql, args)]

    def run(self, run_id: str) -> RunRecord:
        """One run by id (a unique prefix will do), or ``"latest"``: the newest run.

        Raises :class:`UnknownRunError` (a ``KeyError`` and a ``StateError``).
        """
        if run_id == "latest":
            rows = self._read("SELECT * FROM runs ORDER BY started DESC, rowid DESC LIMIT 1", [])
            if not rows:
                raise UnknownRunError("no runs recorded yet")
            return self._record(rows[0])
        pattern = run_id.replace("\\", "").replace("%", "").replace("_", "") + "%"
        rows = self._read("SELECT * FROM runs WHERE id LIKE ? LIMIT 2", [pattern])
        if len(rows) != 1 or not run_id:
            problem = "is ambiguous" if len(rows) > 1 else "is not in the history"
            raise UnknownRunError(f"run {run_id!r} {problem} (see: flowweaver runs)")
        return self._record(rows[0])

    def clear_cache(self) -> int:
        """Remove every cached result; returns how many there were."""
        try:
            with self._mutex:
                conn = self._connection()
                count: int = conn.execute("DELETE FROM cache").rowcount
        except sqlite3.Error as exc:
            raise StateError(f"{self.db_path}: cache not cleared: {exc}") from None
        return count

    def close(self) -> None:
        with self._mutex:
            conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- used by the recorder ---------------------------------------------------------

    def write(self, statements: Iterable[tuple[str, Sequence[Any]]]) -> None:
        """Run ``statements`` in one transaction, committed before returning."""
        with self._mutex:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                for sql, args in statements:
                    conn.execute(sql, args)
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise

    def write_many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """One statement for each of ``rows``, in one transaction."""
        with self._mutex:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                conn.executemany(sql, rows)
                conn.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise

    def read_all(self, sql: str, args: Sequence[Any]) -> list[Any]:
        with self._mutex:
            return self._connection().execute(sql, args).fetchall()

    def read_one(self, sql: str, args: Sequence[Any]) -> Any:
        with self._mutex:
            return self._connection().execute(sql, args).fetchone()

    # -- internals ----------------------------------------------------------------

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            raise StateError(f"{self.db_path}: the run store is closed")
        return self._conn

    def _read(self, sql: str, args: Sequence[Any]) -> list[sqlite3.Row]:
        try:
            with self._mutex:
                cursor = self._connection().execute(sql, args)
                cursor.row_factory = sqlite3.Row
                return cursor.fetchall()
        except sqlite3.DatabaseError as exc:
            raise StateError(f"{self.db_path}: the run history is unreadable ({exc})") from None

    def _new_run_id(self) -> str:
        while True:
            run_id = secrets.token_hex(4)
            if not self._read("SELECT 1 FROM runs WHERE id=?", [run_id]):
                return run_id

    def _start(self, workflow: Any, run_id: str, lock: WorkflowLock, resuming: bool) -> RunRecorder:
        name: str = workflow.name
        tasks = list(workflow.get_all_tasks().values())
        parents = workflow.parents()
        fingerprints = {
            task.name: task_fingerprint(task, (tasks[up].name for up in ups))
            for task, ups in zip(tasks, parents, strict=True)
        }
        previous = self._previous_run(name)  # before our own row: we hold the lock
        info: resume.ResumeInfo | None = None
        reused: dict[str, Any] = {}
        blobs: dict[str, bytes] = {}
        if resuming:
            info, reused, blobs = self._plan_resume(name, previous, tasks, parents, fingerprints)
        spec = getattr(workflow, "spec", None)
        row = (
            run_id,
            name,
            None if spec is None else str(spec.path),
            None if spec is None else spec.sha256,
            json.dumps({} if spec is None else spec.params, default=str, sort_keys=True),
            self.clock(),
            "running",
            os.getpid(),
            info.from_run if info is not None else None,
        )
        try:
            self.write(
                [
                    (
                        "UPDATE runs SET status='killed' WHERE workflow=? AND status='running'",
                        (name,),
                    ),
                    (
                        "INSERT INTO runs (id, workflow, spec_path, spec_sha256, params, "
                        "started, status, pid, resumed_from) VALUES (?,?,?,?,?,?,?,?,?)",
                        row,
                    ),
                ]
            )
        except sqlite3.Error as exc:
            raise StateError(f"{self.db_path}: cannot record the run: {exc}") from None
        return RunRecorder(
            self,
            name,
            run_id,
            lock,
            fingerprints=fingerprints,
            resume_info=info,
            reused=reused,
            reused_blobs=blobs,
        )

    def _previous_run(self, workflow: str) -> sqlite3.Row | None:
        rows = self._read(
            "SELECT * FROM runs WHERE workflow=? ORDER BY started DESC, rowid DESC LIMIT 1",
            [workflow],
        )
        return rows[0] if rows else None

    def _plan_resume(
        self,
        workflow: str,
        previous: sqlite3.Row | None,
        tasks: list[Any],
        parents: Sequence[Sequence[int]],
        fingerprints: dict[str, str | None],
    ) -> tuple[resume.ResumeInfo, dict[str, Any], dict[str, bytes]]:
        if previous is None:
            text = f"nothing to resume: no earlier run of {workflow!r}; running every task"
            return resume.nothing_to_resume(text), {}, {}
        if previous["status"] == "completed":
            text = (
                f"nothing to resume: the latest run {previous['id']} of {workflow!r} "
                "completed; running every task"
            )
            return resume.nothing_to_resume(text), {}, {}
        rows = self._read(
            "SELECT name, status, fingerprint, result_state, result, note FROM tasks "
            "WHERE run_id=?",
            [previous["id"]],
        )
        past = {row["name"]: resume.PastTask(*tuple(row)[1:]) for row in rows}
        prints = [fingerprints[task.name] for task in tasks]
        return resume.plan(previous["id"], past, tasks, parents, prints)

    def _record(self, row: sqlite3.Row) -> RunRecord:
        tasks = self._read(
            "SELECT name, status, attempts, started, ended, duration, error, cached, reused, "
            "result_state, note FROM tasks WHERE run_id=? ORDER BY position",
            [row["id"]],
        )
        status = row["status"]
        killed = status == "running" and not self._still_running(row["workflow"], row["id"])
        if killed:
            status = "killed"
        return RunRecord(
            id=row["id"],
            workflow=row["workflow"],
            status=status,
            started=row["started"],
            ended=row["ended"],
            elapsed=row["elapsed"],
            spec_path=row["spec_path"],
            spec_sha256=row["spec_sha256"],
            params=_params(row["params"]),
            pid=row["pid"],
            resumed_from=row["resumed_from"],
            tasks=tuple(_task_record(task, killed) for task in tasks),
        )

    def _still_running(self, workflow: str, run_id: str) -> bool:
        holder = probe(lock_path(self.path, workflow))
        return holder is not None and holder.get("run") == run_id


def _task_record(row: sqlite3.Row, killed: bool) -> TaskRecord:
    """A task's record; in a killed run, a task that was running reads ``killed``."""
    status = row["status"]
    return TaskRecord(
        name=row["name"],
        status="killed" if killed and status == "running" else status,
        attempts=row["attempts"],
        started=row["started"],
        ended=row["ended"],
        duration=row["duration"],
        error=row["error"],
        cached=bool(row["cached"]),
        reused=bool(row["reused"]),
        result_stored=row["result_state"] == "stored",
        note=row["note"],
    )


def _params(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
