"""What a run writes to its history as it goes: :class:`RunRecorder`, and the seam
the engine speaks to it through (:class:`Recorder`, :class:`Store`).

The engine calls a recorder from its loop thread, in this order: ``begin`` once,
then ``lookup``/``record_result``/``record_event``/``commit`` as tasks run, then
``end`` once, even when the run was interrupted. The engine names the protocols
under ``TYPE_CHECKING`` only, so ``import flowweaver`` never imports sqlite3.

:class:`RunRecorder` never raises: a history that cannot be written (a full disk,
a read-only file) is one warning on the ``flowweaver`` logger, and the run goes
on. The engine passes events on in batches and calls :meth:`RunRecorder.commit`
after each, before it starts anything else, so a killed run leaves a true record:
what had ended, and what was running.
"""

from __future__ import annotations

import logging
import pickle
import sqlite3
import statistics
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from flowweaver.events import TaskEvent
from flowweaver.history.fingerprint import cache_key
from flowweaver.history.lock import WorkflowLock
from flowweaver.history.resume import ResumeInfo
from flowweaver.task import Task, TaskStatus

if TYPE_CHECKING:
    from flowweaver.history.store import RunStore

logger = logging.getLogger("flowweaver")

_UPDATE_TASK = """UPDATE tasks SET status=?, attempts=?, started=?, ended=?, duration=?,
    error=?, cached=?, reused=?, result=?, result_state=?, note=?
    WHERE run_id=? AND name=?"""
_TASK_STARTED = """UPDATE tasks SET status='running', attempts=?, started=COALESCE(started, ?)
    WHERE run_id=? AND name=?"""
_TASK_RETRYING = "UPDATE tasks SET attempts=?, error=? WHERE run_id=? AND name=?"
_PAST_RUNS_FOR_DURATIONS = 5


class Recorder(Protocol):
    """What a run tells its history, and asks of it: the engine's side of the seam."""

    def begin(
        self, tasks: Sequence[Task], parents: Sequence[Sequence[int]]
    ) -> tuple[dict[str, Any], dict[str, float]]:
        """Start recording. Returns the results a resumed run reuses, by task name,
        and past durations in seconds by task name (for ready-queue priorities)."""
        ...

    def lookup(self, task: Task, kwargs: dict[str, Any]) -> tuple[bool, Any]:
        """A cached result for ``task`` called with ``kwargs``: ``(hit, value)``."""
        ...

    def record_result(self, task: Task, kwargs: dict[str, Any], value: Any) -> None:
        """``task`` returned ``value`` when called with ``kwargs``."""
        ...

    def record_event(self, event: TaskEvent) -> None: ...

    def commit(self) -> None:
        """Make the events recorded so far durable. The engine calls it after each batch
        of events, before it starts another task or waits."""
        ...

    def end(self, status: str, elapsed: float) -> None:
        """The run is over: ``completed``, ``failed`` or ``interrupted``."""
        ...


class Store(Protocol):
    """Anything that can open a :class:`Recorder` for a run of a workflow."""

    def open_run(self, workflow: Any, *, resume: bool = False, wait: bool = False) -> Recorder:
        """A recorder for a new run; takes the workflow's lock (waits for it if ``wait``)."""
        ...


class RunRecorder:
    """Records one run in a :class:`~flowweaver.RunStore` (made by ``store.open_run``).

    ``run_id`` is the run's id; ``resume_info`` says what a resumed run reuses
    (``None`` when not resuming). The workflow's lock is held until :meth:`end`
    (or :meth:`close`).
    """

    def __init__(
        self,
        store: RunStore,
        workflow: str,
        run_id: str,
        lock: WorkflowLock,
        *,
        fingerprints: dict[str, str | None],
        resume_info: ResumeInfo | None = None,
        reused: dict[str, Any] | None = None,
        reused_blobs: dict[str, bytes] | None = None,
    ) -> None:
        self.store = store
        self.workflow = workflow
        self.run_id = run_id
        self.resume_info = resume_info
        self._lock = lock
        self._fingerprints = fingerprints
        self._reused = dict(reused or {})
        self._results: dict[str, tuple[bytes | None, str, str | None]] = {
            name: (blob, "stored", None) for name, blob in (reused_blobs or {}).items()
        }
        self._cache_writes: dict[str, tuple[str, bytes]] = {}
        self._pending: list[tuple[str, Sequence[Any]]] = []  # records not yet committed
        self._keys: dict[str, str] = {}
        self._warned = False
        self.ended = False

    # -- the Recorder protocol --------------------------------------------------------

    def begin(
        self, tasks: Sequence[Task], parents: Sequence[Sequence[int]]
    ) -> tuple[dict[str, Any], dict[str, float]]:
        rows = [
            (self.run_id, task.name, position, "pending", self._fingerprints.get(task.name))
            for position, task in enumerate(tasks)
        ]
        self._write(
            "INSERT OR IGNORE INTO tasks (run_id, name, position, status, fingerprint) "
            "VALUES (?, ?, ?, ?, ?)",
            rows,
        )
        names = {task.name for task in tasks}
        reused = {name: value for name, value in self._reused.items() if name in names}
        return reused, self._past_durations()

    def lookup(self, task: Task, kwargs: dict[str, Any]) -> tuple[bool, Any]:
        try:
            return self._lookup(task, kwargs)
        except Exception as exc:
            logger.warning("cache of task %r not read: %s", task.name, exc)
            return False, None

    def record_result(self, task: Task, kwargs: dict[str, Any], value: Any) -> None:
        try:
            self._keep_result(task, kwargs, value)
        except Exception as exc:  # never let the history fail a task
            logger.warning("task %r: result not recorded: %s", task.name, exc)

    def _keep_result(self, task: Task, kwargs: dict[str, Any], value: Any) -> None:
        try:
            blob: bytes | None = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            note = f"result not stored: {type(exc).__name__}: {exc}"
            logger.warning("task %r: %s (it will run again on resume)", task.name, note)
            self._results[task.name] = (None, "unpicklable", note)
            return
        assert blob is not None
        self._results[task.name] = (blob, "stored", None)
        if task.cache:
            key = self._keys.pop(task.name, None) or cache_key(task, kwargs)
            if key is not None:
                self._cache_writes[task.name] = (key, blob)

    def record_event(self, event: TaskEvent) -> None:
        """Keep the event's record, to be written by the next :meth:`commit`."""
        try:
            if event.status.is_final:
                self._pending.extend(self._final_statements(event))
            else:
                self._pending.append(self._running_statement(event))
        except Exception as exc:  # never let the history stop the run
            logger.warning("run history: task %r not recorded: %s", event.task, exc)

    def commit(self) -> None:
        """Write the records of the events since the last commit, in one transaction."""
        if self._pending:
            statements, self._pending = self._pending, []
            self._commit(statements, "task records")

    def _running_statement(self, event: TaskEvent) -> tuple[str, Sequence[Any]]:
        """A task started (or failed an attempt that will be retried): a run killed now
        shows it as in flight, since when, at which attempt, with its last error."""
        if event.retry_in is None:
            return _TASK_STARTED, (event.attempt, event.time, self.run_id, event.task)
        return _TASK_RETRYING, (event.attempt, event.error, self.run_id, event.task)

    def _final_statements(self, event: TaskEvent) -> list[tuple[str, Sequence[Any]]]:
        blob, state, note = self._results.pop(event.task, (None, "none", None))
        if event.status is not TaskStatus.COMPLETED:
            blob, state = None, "none"
        duration = event.duration
        started = event.time - duration if duration is not None else None
        row = (
            event.status.value,
            event.attempt,
            started,
            event.time,
            duration,
            event.error,
            int(event.cached),
            int(event.reused),
            blob,
            state,
            note,
            self.run_id,
            event.task,
        )
        statements: list[tuple[str, Sequence[Any]]] = [(_UPDATE_TASK, row)]
        cache = self._cache_writes.pop(event.task, None)
        if cache is not None and event.status is TaskStatus.COMPLETED:
            statements.append(
                (
                    "INSERT OR REPLACE INTO cache (key, task, created, value) VALUES (?,?,?,?)",
                    (cache[0], event.task, self.store.clock(), cache[1]),
                )
            )
        return statements

    def end(self, status: str, elapsed: float) -> None:
        try:
            statements, self._pending = self._pending, []
            end = "UPDATE runs SET status=?, ended=?, elapsed=? WHERE id=?"
            statements.append((end, (status, self.store.clock(), elapsed, self.run_id)))
            self._commit(statements, "the run's end")
        finally:
            self.close()

    def close(self) -> None:
        """Release the workflow's lock (done by :meth:`end`; safe to call again)."""
        self.ended = True
        self._lock.release()

    # -- internals ----------------------------------------------------------------

    def _lookup(self, task: Task, kwargs: dict[str, Any]) -> tuple[bool, Any]:
        key = cache_key(task, kwargs)
        if key is None:
            return False, None
        self._keys[task.name] = key  # not hashed again when its result is recorded
        row = self.store.read_one("SELECT created, value FROM cache WHERE key=?", (key,))
        if row is None:
            return False, None
        created, blob = row
        if task.cache_ttl is not None and self.store.clock() - created > task.cache_ttl:
            return False, None
        try:
            value = pickle.loads(blob)
        except Exception as exc:
            logger.warning(
                "task %r: cached result could not be loaded (%s); running it", task.name, exc
            )
            return False, None
        self._results[task.name] = (blob, "stored", None)
        return True, value

    def _past_durations(self) -> dict[str, float]:
        try:
            rows = self.store.read_all(
                """SELECT t.name, t.duration FROM tasks t JOIN
                   (SELECT id FROM runs WHERE workflow=? AND id!=?
                    ORDER BY started DESC LIMIT ?) r ON t.run_id = r.id
                   WHERE t.status='completed' AND t.cached=0 AND t.reused=0
                   AND t.duration IS NOT NULL""",
                (self.workflow, self.run_id, _PAST_RUNS_FOR_DURATIONS),
            )
        except Exception as exc:
            logger.warning("past durations not read: %s", exc)
            return {}
        samples: dict[str, list[float]] = {}
        for name, duration in rows:
            samples.setdefault(name, []).append(duration)
        return {name: statistics.median(values) for name, values in samples.items()}

    def _write(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        self._guard(lambda: self.store.write_many(sql, rows), "the run's tasks")

    def _commit(self, statements: list[tuple[str, Sequence[Any]]], what: str) -> None:
        self._guard(lambda: self.store.write(statements), what)

    def _guard(self, write: Callable[[], None], what: str) -> None:
        try:
            write()
        except (sqlite3.Error, OSError) as exc:
            if not self._warned:
                self._warned = True
                logger.warning("run history: %s not recorded (%s); the run goes on", what, exc)
            else:
                logger.debug("run history: %s not recorded (%s)", what, exc)
