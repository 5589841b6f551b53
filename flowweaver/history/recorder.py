"""What a run writes to its history as it goes: :class:`RunRecorder`, and the seam
the engine speaks to it through (:class:`Recorder`, :class:`Store`).

The engine calls a recorder from its loop thread, in this order: ``begin`` once,
then ``lookup``/``record_result``/``record_event``/``commit`` as tasks run, then
``end`` once, even when the run was interrupted. The engine names the protocols
under ``TYPE_CHECKING`` only, so ``import flowweaver`` never imports sqlite3.

:class:`RunRecorder` never raises: a history that cannot be written (a full disk,
a read-only file) is one warning on the ``flowweaver`` logger, and the run goes
on. The engine passes events on in batches and calls :meth:`RunRecorder.commit`
after each. A commit writes at once when the last one is older than
:data:`BATCH_SECONDS`; otherwise the records wait at most that long, written by the
recorder's own thread, so tasks that end in quick succession share one transaction
(a 10,000-task chain makes a few hundred, not 10,000). A killed run leaves a true
record: what had ended, and what was running, but for at most the last
:data:`BATCH_SECONDS` of it.
"""

from __future__ import annotations

import functools
import json
import pickle
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from flowweaver._logger import logger
from flowweaver.events import TaskEvent
from flowweaver.executors.contract import Failure
from flowweaver.folders import absolute, missing
from flowweaver.history import db
from flowweaver.history.files import FileHashes
from flowweaver.history.fingerprint import cache_key, files_identity, task_fingerprint
from flowweaver.history.lock import WorkflowLock
from flowweaver.history.resume import ResumeInfo
from flowweaver.history.status import RunStatus
from flowweaver.masking import NO_SECRETS, Masker
from flowweaver.task import Task, TaskStatus

Write = Callable[[sqlite3.Connection], None]
"""One statement of a batch: a :mod:`~flowweaver.history.db` function given all but its
connection."""

_PAST_RUNS_FOR_DURATIONS = 5

BATCH_SECONDS = 0.005
"""How long a task's record may wait to share a transaction with the next ones'."""


_RUNNING, _PENDING, _COMPLETED = TaskStatus.RUNNING, TaskStatus.PENDING, TaskStatus.COMPLETED
_monotonic = time.monotonic


class _Batch:
    """The records of the events since the last commit: task rows for one statement
    each kind (``executemany``), and the other writes in order.

    A task that ends in the batch it started in needs no ``running`` record: its final
    row sets every column those would, so they are dropped (the transaction that
    holds the end would have held them too)."""

    __slots__ = ("attempts", "ended", "running", "writes")

    def __init__(self) -> None:
        self.writes: list[Write] = []  # first: e.g. a task's fingerprint as it started
        self.running: dict[str, list[tuple[Callable[..., None], tuple[Any, ...]]]] = {}
        """By task: its ``running`` records in order, each a ``db`` function and its row."""
        self.ended: list[db.EndedRow] = []
        self.attempts: list[db.AttemptRow] = []

    def __bool__(self) -> bool:
        return bool(self.writes or self.running or self.ended or self.attempts)

    def apply(self, conn: sqlite3.Connection) -> None:
        for write in self.writes:
            write(conn)
        for records in self.running.values():
            for write_rows, row in records:
                write_rows(conn, (row,))
        if self.ended:
            db.tasks_ended(conn, self.ended)
        if self.attempts:
            db.attempts_ended(conn, self.attempts)


class Recorder(Protocol):
    """What a run tells its history, and asks of it: the engine's side of the seam."""

    run_id: str
    """The run's id in the history."""
    previous_status: str | None
    """How the workflow's run before this one ended (``None``: this is its first)."""
    masker: Masker
    """The run's secrets: what the recorder writes is masked, and the run masks with it."""
    log_dir: str | None
    """Where the run's task output is captured (``None``: not in files)."""

    def begin(self, tasks: Sequence[Task], parents: Sequence[Sequence[int]]) -> dict[str, Any]:
        """Start recording. Returns the results a resumed run reuses, by task name."""
        ...

    def past_durations(self) -> dict[str, float]:
        """The workflow's tasks' typical durations in its last runs, in seconds by task
        name (for ready-queue priorities; asked only by runs that choose among ready
        tasks, so a sequential run never reads them)."""
        ...

    def lookup(self, name: str, task: Task, kwargs: dict[str, Any]) -> tuple[bool, Any]:
        """A cached result for ``task`` (the unit ``name``: the task, or one of its items)
        called with ``kwargs``: ``(hit, value)``."""
        ...

    def record_result(self, name: str, task: Task, kwargs: dict[str, Any], value: Any) -> None:
        """``name`` (``task``, or one of its items) returned ``value`` when called with
        ``kwargs``."""
        ...

    def begin_items(self, task: Task, names: Sequence[str], keys: Sequence[str]) -> dict[str, Any]:
        """Mapped ``task``'s items are ``names`` (their ``keys``): record them. Returns
        the results a resumed run reuses, by item name."""
        ...

    def record_event(self, event: TaskEvent) -> None: ...

    def record_failure(self, task: str, attempt: int, failure: Failure) -> None:
        """Attempt ``attempt`` of ``task`` failed so (its traceback is kept with it);
        told before the event of that failure."""
        ...

    def commit(self) -> None:
        """Make the events recorded so far durable. The engine calls it after each batch
        of events, before it starts another task or waits."""
        ...

    def record_handlers(self, outcomes: Sequence[Mapping[str, Any]]) -> None:
        """How the run's handlers ended, once they have all run."""
        ...

    def end(self, status: RunStatus, elapsed: float, exit_code: int | None = None) -> None:
        """The run is over: ``completed``, ``failed`` or ``interrupted``, and the exit
        code of the command that ran it."""
        ...


class Store(Protocol):
    """Anything that can open a :class:`Recorder` for a run of a workflow."""

    def open_run(self, workflow: Any, *, resume: bool = False, wait: bool = False) -> Recorder:
        """A recorder for a new run; takes the workflow's lock (waits for it if ``wait``)."""
        ...


class RunRecorder:
    """Records one run in ``runs.db`` (made by :meth:`~flowweaver.RunStore.open_run`).

    ``run_id`` is the run's id; ``resume_info`` says what a resumed run reuses
    (``None`` when not resuming). The workflow's lock is held until :meth:`end`
    (or :meth:`close`). ``clock`` gives the time in seconds since the epoch.
    """

    def __init__(
        self,
        database: db.Database,
        workflow: str,
        run_id: str,
        lock: WorkflowLock,
        *,
        clock: Callable[[], float],
        fingerprints: dict[str, str | None],
        resume_info: ResumeInfo | None = None,
        reused: dict[str, Any] | None = None,
        reused_blobs: dict[str, bytes] | None = None,
        previous_status: str | None = None,
        masker: Masker = NO_SECRETS,
        log_dir: str | None = None,
        keep_runs: int | None = None,
        prune: Callable[[str, int], object] | None = None,
        reused_items: dict[str, dict[str, Any]] | None = None,
        folders: dict[str, str] | None = None,
        file_hashes: FileHashes | None = None,
    ) -> None:
        self.workflow = workflow
        self.run_id = run_id
        self.resume_info = resume_info
        self.previous_status = previous_status
        """How the workflow's run before this one ended (``None``: this is its first)."""
        self.masker = masker
        self.log_dir = log_dir
        self.keep_runs = keep_runs
        self._prune = prune  # (workflow, keep): remove the older runs past the newest keep
        self._tracebacks: dict[str, tuple[int, str]] = {}  # task -> its failed attempt's
        self.report_path: str | None = None
        """Where the command writes this run's report when the run ends (``run --report``),
        for the handlers' ``run["report"]``; ``None``: no report."""
        self._attempt_started: dict[str, float] = {}  # the running attempt's start, by task
        self._database = database
        self._lock = lock
        self._clock = clock
        self._fingerprints = fingerprints
        self._reused = dict(reused or {})
        self._reused_items = dict(reused_items or {})  # by mapped task, then item name
        self._next_position = 0
        self._results: dict[str, tuple[bytes | None, str, str | None]] = {
            name: (blob, "stored", None) for name, blob in (reused_blobs or {}).items()
        }
        self._cache_writes: dict[str, tuple[str, bytes]] = {}
        self._batch = _Batch()  # records not yet committed
        self._pending_lock = threading.Lock()  # the loop adds, the writer takes
        self._writing = threading.Lock()  # one batch written at a time, in order
        self._last_commit = 0.0  # time.monotonic() of the last write
        self._due = threading.Event()  # the writer thread has records to write
        self._soon = False  # _due is set: the writer thread will take the batch
        self._ended = threading.Event()
        self._writer: threading.Thread | None = None
        self._keys: dict[str, str] = {}
        self._warned = False
        # tasks with reads or writes: their folder, what they are, what they read
        self._folders = dict(folders or {})
        self._hashes = file_hashes or FileHashes(database, clock)
        self._placed: dict[str, tuple[Task, list[str]]] = {}  # name -> task, upstream names
        self._read: dict[str, bytes | None] = {}  # the files a task read as it started

    # -- the Recorder protocol --------------------------------------------------------

    def begin(self, tasks: Sequence[Task], parents: Sequence[Sequence[int]]) -> dict[str, Any]:
        rows = [
            (task.name, position, self._fingerprints.get(task.name))
            for position, task in enumerate(tasks)
        ]
        dag = {
            task.name: [tasks[up].name for up in ups]
            for task, ups in zip(tasks, parents, strict=True)
        }
        self._write(
            [
                functools.partial(db.insert_tasks, run_id=self.run_id, tasks=rows),
                functools.partial(
                    db.set_dag, run_id=self.run_id, dag=json.dumps(dag, separators=(",", ":"))
                ),
            ],
            "the run's tasks",
        )
        self._next_position = len(rows)  # items are listed after the tasks
        names = {task.name for task in tasks}
        if self._folders:
            self._placed = {
                task.name: (task, [tasks[up].name for up in ups])
                for task, ups in zip(tasks, parents, strict=True)
                if task.name in self._folders
            }
        return {name: value for name, value in self._reused.items() if name in names}

    def lookup(self, name: str, task: Task, kwargs: dict[str, Any]) -> tuple[bool, Any]:
        try:
            return self._lookup(name, task, kwargs)
        except Exception as exc:
            logger.warning("cache of task %r not read: %s", name, exc)
            return False, None

    def record_result(self, name: str, task: Task, kwargs: dict[str, Any], value: Any) -> None:
        try:
            self._keep_result(name, task, kwargs, value)
        except Exception as exc:  # never let the history fail a task
            logger.warning("task %r: result not recorded: %s", name, exc)

    def begin_items(self, task: Task, names: Sequence[str], keys: Sequence[str]) -> dict[str, Any]:
        first = self._next_position
        self._next_position += len(names)
        rows = [
            (name, first + offset, key)
            for offset, (name, key) in enumerate(zip(names, keys, strict=True))
        ]
        write = functools.partial(db.insert_items, run_id=self.run_id, parent=task.name, items=rows)
        self._write_pending([write], f"the items of {task.name!r}")
        reused = self._reused_items.get(task.name, {})
        return {name: reused[name] for name in names if name in reused}

    def record_event(self, event: TaskEvent) -> None:
        """Keep the event's record, to be written by the next :meth:`commit`. (A task
        waiting for a pool's slot has not started: that event changes no record.)"""
        try:
            status = event.status
            if status is _RUNNING:
                self._keep_running(event)
            elif status is not _PENDING:  # (waiting for a pool's slot changes no record)
                self._keep_final(event)
        except Exception as exc:  # never let the history stop the run
            logger.warning("run history: task %r not recorded: %s", event.task, exc)

    def record_failure(self, task: str, attempt: int, failure: Failure) -> None:
        if failure.traceback is not None:
            self._tracebacks[task] = (attempt, failure.traceback)

    def commit(self) -> None:
        """Write the records of the events since the last commit, in one transaction:
        now if the last one is :data:`BATCH_SECONDS` old, else within that time."""
        batch = self._batch
        if not (batch.ended or batch.running or batch.writes or batch.attempts):
            return
        if _monotonic() - self._last_commit >= BATCH_SECONDS:
            self._write_pending([], "task records")
        elif not self._soon:  # (else the writer thread will take this batch already)
            self._write_soon()

    def record_handlers(self, outcomes: Sequence[Mapping[str, Any]]) -> None:
        """How the run's handlers ended (``name``, ``status``, ``error``, ``duration``)."""
        text = json.dumps(self.masker.mask_data(list(outcomes)), default=str)
        write = functools.partial(db.set_handlers, run_id=self.run_id, handlers=text)
        self._write_pending([write], "the run's handlers")

    def end(self, status: RunStatus, elapsed: float, exit_code: int | None = None) -> None:
        try:
            self._ended.set()
            self._due.set()  # the writer thread, if any, stops
            end = functools.partial(
                db.end_run,
                run_id=self.run_id,
                status=status,
                ended=self._clock(),
                elapsed=elapsed,
                exit_code=exit_code,
            )
            self._write_pending([end], "the run's end")
            if self.keep_runs is not None and self._prune is not None:
                try:
                    self._prune(self.workflow, self.keep_runs)
                except Exception as exc:  # never let retention fail the run
                    logger.warning("keep_runs: older runs not removed: %s", exc)
        finally:
            self.close()

    def close(self) -> None:
        """Release the workflow's lock (done by :meth:`end`; safe to call again)."""
        self._ended.set()
        self._due.set()
        self._lock.release()

    # -- internals ----------------------------------------------------------------

    def _keep_result(self, name: str, task: Task, kwargs: dict[str, Any], value: Any) -> None:
        try:
            blob: bytes | None = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            note = self.masker.mask(f"result not stored: {type(exc).__name__}: {exc}")
            logger.warning("task %r: %s (it will run again on resume)", name, note)
            self._results[name] = (None, "unpicklable", note)
            return
        assert blob is not None
        if self.masker.values and self.masker.found_in(blob):
            note = "result not stored: it holds the value of a secret"
            self._results[name] = (None, "unpicklable", note)
            return
        self._results[name] = (blob, "stored", None)
        if task.cache:
            key = self._keys.pop(name, None)
            if key is not None:
                self._cache_writes[name] = (key, blob)

    def _keep_running(self, event: TaskEvent) -> None:
        """A task started (or failed an attempt that will be retried): a run killed now
        shows it as in flight, since when, at which attempt, with its last error."""
        name = event.task
        if event.retry_in is None:
            self._attempt_started[name] = event.time
            record = (db.tasks_started, (event.attempt, event.time, self.run_id, name))
            placed = None
            if event.attempt == 1 and name in self._placed:
                placed = self._fingerprint_as_started(name)
            with self._pending_lock:
                self._batch.running.setdefault(name, []).append(record)
                if placed is not None:
                    self._batch.writes.append(placed)
            return
        retrying = (db.tasks_retrying, (event.attempt, event.error, self.run_id, name))
        attempt = self._attempt_row(event, "failed")
        with self._pending_lock:
            self._batch.running.setdefault(name, []).append(retrying)
            if attempt is not None:
                self._batch.attempts.append(attempt)

    def _attempt_row(self, event: TaskEvent, status: str) -> db.AttemptRow | None:
        """The row of the attempt ``event`` ends (none if it never started)."""
        started = self._attempt_started.pop(event.task, None)
        if started is None:
            return None
        traceback = self._traceback(event) if self._tracebacks else None
        return (
            self.run_id,
            event.task,
            event.attempt,
            started,
            event.time,
            status,
            event.error,
            traceback,
        )

    def _traceback(self, event: TaskEvent) -> str | None:
        """The traceback of the attempt ``event`` ends, when it failed with one."""
        kept = self._tracebacks.get(event.task)
        if kept is None or kept[0] != event.attempt or event.error is None:
            return None
        return kept[1]

    def _keep_final(self, event: TaskEvent) -> None:
        name = event.task
        blob, state, note = self._results.pop(name, (None, "none", None))
        status = event.status
        completed = status is _COMPLETED
        if not completed:
            blob, state = None, "none"
        duration = event.duration
        ended: db.EndedRow = (
            status._value_,
            event.attempt,
            event.time - duration if duration is not None else None,
            event.time,
            duration,
            event.error,
            int(event.cached),
            int(event.reused),
            blob,
            state,
            note,
            event.reason,
            int(event.allowed),
            self.run_id,
            name,
        )
        attempt = self._attempt_row(event, status._value_)
        writes = (
            self._final_writes(event, completed)
            if (self._tracebacks or self._cache_writes or self._placed) and self._has_more(name)
            else None
        )
        with self._pending_lock:
            batch = self._batch
            batch.running.pop(name, None)  # the final row sets all they would
            batch.ended.append(ended)
            if attempt is not None:
                batch.attempts.append(attempt)
            if writes:
                batch.writes += writes

    def _has_more(self, name: str) -> bool:
        """Whether a task's end writes more than its row and its attempt's."""
        return name in self._tracebacks or name in self._cache_writes or name in self._placed

    def _final_writes(self, event: TaskEvent, completed: bool) -> list[Write]:
        """A task's traceback, cache entry and outputs, as it ends."""
        writes: list[Write] = []
        if self._tracebacks:
            traceback = None if completed else self._traceback(event)
            if traceback is not None:
                writes.append(
                    functools.partial(
                        db.task_traceback, run_id=self.run_id, name=event.task, traceback=traceback
                    )
                )
            self._tracebacks.pop(event.task, None)
        cache = self._cache_writes.pop(event.task, None)
        if cache is not None and completed:
            key, value = cache
            writes.append(
                functools.partial(
                    db.cache_put,
                    key=key,
                    task=event.task,
                    created=self._clock(),
                    value=value,
                    workflow=self.workflow,
                )
            )
        placed = self._placed.get(event.task)
        if placed is not None and placed[0].writes and completed:
            writes.extend(self._outputs(placed[0]))
        return writes

    # -- files read and written ---------------------------------------------------

    def _files_read(self, task: Task) -> bytes | None:
        """What identifies the files ``task`` reads, as they are now (once per start);
        ``None`` when one can't be read (the task is then neither cached nor reused)."""
        if task.name in self._read:
            return self._read[task.name]
        try:
            listing = self._hashes.listing(task.reads, self._folders[task.name])
            files: bytes | None = files_identity(listing)
        except (OSError, sqlite3.Error) as exc:
            logger.warning("task %r: the files it reads can't be hashed: %s", task.name, exc)
            files = None
        self._read[task.name] = files
        return files

    def _fingerprint_as_started(self, name: str) -> Write:
        """The task's fingerprint with the files it read as it started (an upstream task
        may have just written them): what a later ``--resume`` compares against."""
        task, upstream = self._placed[name]
        files = self._files_read(task) if task.reads else b""
        self._read.pop(name, None)
        fingerprint = None if files is None else task_fingerprint(task, upstream, files)
        return functools.partial(
            db.set_fingerprint, run_id=self.run_id, name=name, fingerprint=fingerprint
        )

    def _outputs(self, task: Task) -> list[Write]:
        """The record of the files the task wrote: path, size, sha256."""
        try:
            listing = self._hashes.listing(task.writes, self._folders[task.name])
        except (OSError, sqlite3.Error) as exc:
            logger.warning("task %r: its outputs can't be hashed: %s", task.name, exc)
            return []
        rows = [{"path": path, "size": size, "sha256": sha} for path, size, sha in listing]
        return [
            functools.partial(
                db.set_outputs, run_id=self.run_id, name=task.name, outputs=json.dumps(rows)
            )
        ]

    def _lookup(self, name: str, task: Task, kwargs: dict[str, Any]) -> tuple[bool, Any]:
        files = b""
        if task.name in self._placed:
            if self._outputs_missing(task):
                return False, None  # a hit would leave them missing: run it
            if task.reads:
                read = self._files_read(task)
                if read is None:
                    return False, None
                files = read
        key = cache_key(task, kwargs, files)
        if key is None:
            return False, None
        self._keys[name] = key  # not hashed again when its result is recorded
        with self._database.reading() as conn:
            row = db.cache_get(conn, key)
        if row is None:
            return False, None
        created, blob = row
        if task.cache_ttl is not None and self._clock() - created > task.cache_ttl:
            return False, None
        try:
            value = pickle.loads(blob)
        except Exception as exc:
            logger.warning("task %r: cached result could not be loaded (%s); running it", name, exc)
            return False, None
        self._results[name] = (blob, "stored", None)
        return True, value

    def _outputs_missing(self, task: Task) -> bool:
        if not task.writes:
            return False
        folder = self._folders[task.name]
        return bool(missing([(path, absolute(path, folder)) for path in task.writes]))

    def past_durations(self) -> dict[str, float]:
        try:
            with self._database.reading() as conn:
                rows = db.completed_durations(
                    conn, self.workflow, before_run=self.run_id, runs=_PAST_RUNS_FOR_DURATIONS
                )
        except Exception as exc:
            logger.warning("past durations not read: %s", exc)
            return {}
        if not rows:
            return {}
        import statistics  # (it imports decimal, fractions and random: only when needed)

        samples: dict[str, list[float]] = {}
        for name, duration in rows:
            samples.setdefault(name, []).append(duration)
        return {name: statistics.median(values) for name, values in samples.items()}

    def _write_soon(self) -> None:
        """Have the writer thread write what is pending within :data:`BATCH_SECONDS`."""
        if self._writer is None:
            self._writer = threading.Thread(
                target=self._write_later, name="flowweaver-history", daemon=True
            )
            self._writer.start()
        self._soon = True
        self._due.set()

    def _write_later(self) -> None:
        """The writer thread: wait for records, let the batch grow until it is
        :data:`BATCH_SECONDS` past the last write, write it."""
        while True:
            self._due.wait()
            if self._ended.is_set():
                return
            wait = self._last_commit + BATCH_SECONDS - time.monotonic()
            if wait > 0 and self._ended.wait(wait):
                return  # the run ended: end() writes what is left
            self._due.clear()
            self._soon = False  # (after the clear, before the batch is taken: a commit
            # that saw it true had its records in the batch taken next)
            self._write_pending([], "task records")

    def _write_pending(self, writes: list[Write], what: str) -> None:
        """Write the pending records, then ``writes``, in one transaction."""
        with self._writing:
            with self._pending_lock:
                batch, self._batch = self._batch, _Batch()
            todo = [batch.apply, *writes] if batch else writes
            if todo:
                self._write(todo, what)
            self._last_commit = time.monotonic()

    def _write(self, writes: list[Write], what: str) -> None:
        """Make ``writes`` in one transaction; a failure is a warning, once."""
        try:
            with self._database.transaction() as conn:
                for write in writes:
                    write(conn)
        except (sqlite3.Error, OSError) as exc:
            if not self._warned:
                self._warned = True
                logger.warning("run history: %s not recorded (%s); the run goes on", what, exc)
            else:
                logger.debug("run history: %s not recorded (%s)", what, exc)
