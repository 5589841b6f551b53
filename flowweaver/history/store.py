"""The run history of one state folder: :class:`RunStore`, and what it reads back,
:class:`RunRecord` and :class:`TaskRecord`.

A run holds its workflow's lock (:mod:`flowweaver.history.lock`) from
:meth:`RunStore.open_run` to its recorder's ``end``. A run whose row still says
``running`` but whose lock is no longer held by it was killed: it reads back as
``killed``.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

from flowweaver.errors import StateError, UnknownRunError, UnknownTaskError
from flowweaver.folders import absolute, missing, task_folder
from flowweaver.history import db, resume
from flowweaver.history.files import FileHashes
from flowweaver.history.fingerprint import Fingerprints, files_identity, task_fingerprint
from flowweaver.history.lock import WorkflowLock, lock_path, probe
from flowweaver.history.prune import PrunedRun, prune
from flowweaver.history.recorder import RunRecorder
from flowweaver.history.statedir import prepare_state_dir, resolve_state_dir
from flowweaver.history.status import RunStatus
from flowweaver.logs.files import log_file_name, read_log, run_log_dir, sections
from flowweaver.masking import NO_SECRETS, Masker


@dataclass(frozen=True)
class TaskRecord:
    """One task of a recorded run. Times are seconds since the epoch.

    ``status`` is a :class:`~flowweaver.TaskStatus` value; in a killed run, ``killed``
    for a task that was running when the run died (``started`` says since when), and
    ``pending`` for one it never started. ``note`` says why a result was not stored,
    ``reason`` why a task was skipped; ``allowed``: its failure did not fail the run;
    ``traceback``: the whole traceback of its last attempt, when that failed with one.
    An item of a mapped task is named ``task[key]``, with its mapped task as ``parent``
    and its ``key``.
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
    reason: str | None = None
    allowed: bool = False
    traceback: str | None = None
    outputs: tuple[OutputRecord, ...] = ()
    """The files it wrote (its ``writes``), as they were when it completed."""
    parent: str | None = None
    key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class OutputRecord:
    """A file a task wrote: its path (relative to the task's folder), size and SHA-256."""

    path: str
    size: int
    sha256: str


@dataclass(frozen=True)
class AttemptRecord:
    """One attempt of a task: when it ran and how it ended (``completed``, ``failed``),
    and a failed one's traceback."""

    task: str
    attempt: int
    started: float
    ended: float | None
    status: str
    error: str | None
    traceback: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CacheEntry:
    """One cached result: whose (``workflow`` is ``None`` for entries an older release
    wrote), its key, when it was stored (seconds since the epoch) and its size in bytes."""

    workflow: str | None
    task: str
    key: str
    created: float
    size: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class RunRecord:
    """One recorded run. Times are seconds since the epoch; ``elapsed`` is in seconds."""

    id: str
    workflow: str
    status: RunStatus
    started: float
    ended: float | None
    elapsed: float | None
    spec_path: str | None
    spec_sha256: str | None
    params: dict[str, Any]
    pid: int | None
    resumed_from: str | None
    tasks: tuple[TaskRecord, ...]
    exit_code: int | None = None
    handlers: tuple[dict[str, Any], ...] = ()
    """How the run's handlers ended: ``name``, ``status``, ``error``, ``duration``."""

    @property
    def counts(self) -> dict[str, int]:
        """How many tasks ended in each status (items of mapped tasks aside)."""
        return dict(Counter(task.status for task in self.tasks if task.parent is None))

    @property
    def item_counts(self) -> dict[str, int]:
        """How many items of mapped tasks ended in each status."""
        return dict(Counter(task.status for task in self.tasks if task.parent is not None))

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
        data["tasks"] = [task.to_dict() for task in self.tasks]
        return data


class TaskOutcome(NamedTuple):
    """How a task of a run ended, in brief (a :class:`RunOutline`'s ``tasks``)."""

    status: str
    duration: float | None
    cached: bool
    reused: bool


@dataclass(frozen=True)
class RunOutline:
    """A recorded run without its task records: what a list of runs or a history of
    durations needs. ``counts``: how many tasks ended in each status; ``tasks``
    (when asked for): each task's :class:`TaskOutcome` by name, in the run's order."""

    id: str
    workflow: str
    status: RunStatus
    started: float
    ended: float | None
    elapsed: float | None
    exit_code: int | None
    counts: dict[str, int]
    tasks: dict[str, TaskOutcome]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["status"] = self.status.value
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
        self._database = db.Database(self.db_path)

    def __repr__(self) -> str:
        return f"RunStore({str(self.path)!r})"

    # -- runs -------------------------------------------------------------------------

    def open_run(self, workflow: Any, *, resume: bool = False, wait: bool = False) -> RunRecorder:
        """Start recording a run of ``workflow``: take its lock and add its row.

        Raises :class:`~flowweaver.LockedError` when another run of the same
        workflow holds the lock (``wait=True`` waits for it instead). A workflow
        loaded from a spec is recorded under the id its ``${run.id}`` was given.
        ``resume=True`` reuses what the latest unfinished run completed.
        """
        name: str = workflow.name
        masker = _masker(workflow)  # an unset secret: nothing is recorded or locked
        spec = getattr(workflow, "spec", None)
        run_id = self._new_run_id(getattr(spec, "run_id", None))
        lock = WorkflowLock(lock_path(self.path, name), name)
        lock.acquire(wait=wait, run_id=run_id)
        try:
            return self._start(workflow, run_id, lock, resume, masker)
        except BaseException:
            lock.release()
            raise

    def runs(self, limit: int | None = None, workflow: str | None = None) -> list[RunRecord]:
        """Recorded runs, newest first; ``workflow`` keeps those of one workflow."""
        with self._reading() as conn:
            rows = db.runs(conn, workflow=workflow, limit=limit)
            return [self._record(conn, row) for row in rows]

    def last_success(self, workflow: str) -> float | None:
        """When the newest completed run of ``workflow`` ended (seconds since the
        epoch), or ``None`` when none completed."""
        with self._reading() as conn:
            return db.last_success(conn, workflow)

    def workflows(self) -> list[str]:
        """The names of the workflows that have recorded runs, sorted."""
        with self._reading() as conn:
            return db.workflows(conn)

    def run(self, run_id: str) -> RunRecord:
        """One run by id (a unique prefix will do), or ``"latest"``: the newest run.

        Raises :class:`UnknownRunError` (a ``KeyError`` and a ``StateError``).
        """
        with self._reading() as conn:
            return self._record(conn, self._find(conn, run_id))

    def outlines(
        self,
        limit: int | None = None,
        workflow: str | None = None,
        *,
        until: str | None = None,
        tasks: bool = False,
    ) -> list[RunOutline]:
        """Runs, newest first, without their task records (cheap for big runs).

        ``until`` (a run id, or ``latest``): the runs of that run's workflow up to and
        including it. ``tasks=True`` adds each task's status and duration."""
        if until is not None:
            with self._reading() as conn:
                last = self._find(conn, until)
                rows = db.runs_until(conn, last["workflow"], last["id"], limit=limit or 1_000_000)
        else:
            with self._reading() as conn:
                rows = db.runs(conn, workflow=workflow, limit=limit)
        ids = [row["id"] for row in rows]
        counts: dict[str, dict[str, int]] = {run_id: {} for run_id in ids}
        outcomes: dict[str, dict[str, TaskOutcome]] = {run_id: {} for run_id in ids}
        with self._reading() as conn:
            for count in db.task_counts(conn, ids) if ids else ():
                counts[count["run_id"]][count["status"]] = count["n"]
            for task in db.task_outcomes(conn, ids) if ids and tasks else ():
                outcomes[task["run_id"]][task["name"]] = TaskOutcome(
                    task["status"], task["duration"], bool(task["cached"]), bool(task["reused"])
                )
        return [self._outline(row, counts[row["id"]], outcomes[row["id"]]) for row in rows]

    def dag(self, run_id: str) -> dict[str, list[str]] | None:
        """A run's task graph, task name → upstream task names, as recorded when it
        started; ``None`` for a run recorded by a release that did not record it."""
        with self._reading() as conn:
            text = db.dag(conn, self._find(conn, run_id)["id"])
        if text is None:
            return None
        try:
            value = json.loads(text)
        except ValueError:
            return None
        if not isinstance(value, dict):
            return None
        return {str(name): [str(up) for up in ups] for name, ups in value.items()}

    def attempts(self, run_id: str) -> list[AttemptRecord]:
        """Every attempt of a run (``latest`` or an id prefix), in the order they started."""
        with self._reading() as conn:
            rows = db.attempts(conn, self._find(conn, run_id)["id"])
        return [
            AttemptRecord(
                task=row["task"],
                attempt=row["attempt"],
                started=row["started"],
                ended=row["ended"],
                status=row["status"],
                error=row["error"],
                traceback=row["traceback"],
            )
            for row in rows
        ]

    # -- logs -------------------------------------------------------------------------

    def log_dir(self, run_id: str) -> Path:
        """The folder of a run's task logs (``latest`` or an id prefix); it exists once
        a task of the run has printed something."""
        return run_log_dir(self.path, self.run(run_id).id)

    def log(self, run_id: str, task: str, attempt: int | None = None) -> str:
        """What ``task`` printed in a run: its log's text, each attempt under its header
        ('' when it printed nothing); with ``attempt``, that attempt's part only.

        Raises :class:`UnknownRunError`, and :class:`UnknownTaskError` for a task that is
        not in the run."""
        run = self.run(run_id)
        names = [record.name for record in run.tasks]
        if task not in names:
            raise UnknownTaskError(f"run {run.id} has no task {task!r}{_did_you_mean(task, names)}")
        text = read_log(run_log_dir(self.path, run.id) / log_file_name(task))
        if attempt is None:
            return text
        return "".join(part.text for part in sections(text) if part.attempt == attempt)

    def prune(
        self,
        *,
        keep: int | None = None,
        older_than: float | None = None,
        workflow: str | None = None,
    ) -> list[PrunedRun]:
        """Remove old runs with their stored results and logs: those past the newest
        ``keep`` runs of their workflow, and/or that started more than ``older_than``
        seconds ago (both given: runs that both let go); only ``workflow``'s when given.
        A running run is never removed. Returns the runs removed, newest first."""
        before = None if older_than is None else self.clock() - older_than
        try:
            return prune(self._database, self.path, keep=keep, before=before, workflow=workflow)
        except sqlite3.Error as exc:
            raise StateError(f"{self.db_path}: runs not removed: {exc}") from None

    def cache_entries(self, workflow: str | None = None) -> list[CacheEntry]:
        """The cached results (of one workflow), newest first."""
        with self._reading() as conn:
            rows = db.cache_entries(conn, workflow)
        return [
            CacheEntry(row["workflow"], row["task"], row["key"], row["created"], row["size"])
            for row in rows
        ]

    def clear_cache(self, task: str | None = None, *, workflow: str | None = None) -> int:
        """Remove the cached results: every one, or those of ``task`` (and of
        ``workflow``); returns how many there were."""
        try:
            with self._database.transaction() as conn:
                return db.clear_cache(conn, task, workflow)
        except sqlite3.Error as exc:
            raise StateError(f"{self.db_path}: cache not cleared: {exc}") from None

    def clear_file_hashes(self) -> int:
        """Forget the remembered hashes of the files tasks read and wrote: each file is
        read and hashed again when next needed. Returns how many were forgotten."""
        try:
            with self._database.transaction() as conn:
                return db.clear_files(conn)
        except sqlite3.Error as exc:
            raise StateError(f"{self.db_path}: file hashes not cleared: {exc}") from None

    def close(self) -> None:
        """Close ``runs.db``; the recorder of a run still going can no longer write it."""
        self._database.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- internals ----------------------------------------------------------------

    @contextlib.contextmanager
    def _reading(self) -> Iterator[sqlite3.Connection]:
        try:
            with self._database.reading() as conn:
                yield conn
        except sqlite3.DatabaseError as exc:
            raise StateError(f"{self.db_path}: the run history is unreadable ({exc})") from None

    def _find(self, conn: sqlite3.Connection, run_id: str) -> sqlite3.Row:
        """The row of run ``run_id`` (an id, a unique prefix, or ``latest``)."""
        if run_id == "latest":
            rows = db.runs(conn, limit=1)
            if not rows:
                raise UnknownRunError("no runs recorded yet")
        else:
            rows = db.runs_by_prefix(conn, run_id)
            if len(rows) != 1 or not run_id:
                if len(rows) > 1:
                    problem = "is ambiguous"
                else:
                    ids = [row["id"] for row in db.runs(conn, limit=1000)]
                    problem = f"is not in the history{_did_you_mean(run_id, ids)}"
                raise UnknownRunError(f"run {run_id!r} {problem} (see: flowweaver runs)")
        row: sqlite3.Row = rows[0]
        return row

    def _new_run_id(self, wanted: str | None = None) -> str:
        """``wanted`` (the ``${run.id}`` a spec was loaded with) unless the history has
        it already (the same loaded workflow run again), else a new random id."""
        with self._reading() as conn:
            if wanted and not db.run_exists(conn, wanted):
                return wanted
            while True:
                run_id = os.urandom(4).hex()  # (secrets.token_hex, without its imports)
                if not db.run_exists(conn, run_id):
                    return run_id

    def _start(
        self, workflow: Any, run_id: str, lock: WorkflowLock, resuming: bool, masker: Masker
    ) -> RunRecorder:
        name: str = workflow.name
        tasks = list(workflow.get_all_tasks().values())
        parents = workflow.parents()
        folders = _folders(workflow, tasks)
        hashes = FileHashes(self._database, self.clock)
        fingerprints: dict[str, str | None] = {}
        blocked: dict[str, str] = {}  # why a task can't be reused, besides its fingerprint
        fingerprint = Fingerprints()
        for task, ups in zip(tasks, parents, strict=True):
            upstream = [tasks[up].name for up in ups]
            if task.name in folders:
                fingerprints[task.name], why = _placed_fingerprint(
                    task, upstream, folders[task.name], hashes
                )
                if why is not None:
                    blocked[task.name] = why
            else:
                fingerprints[task.name] = fingerprint(task, upstream)
        info: resume.ResumeInfo | None = None
        reused: dict[str, Any] = {}
        blobs: dict[str, bytes] = {}
        reused_items: dict[str, dict[str, Any]] = {}
        if resuming:  # before our own row is added: we hold the lock
            info, reused, blobs, reused_items = self._plan_resume(
                name, tasks, parents, fingerprints, blocked
            )
        spec = getattr(workflow, "spec", None)
        try:
            with self._database.transaction() as conn:
                previous = db.latest_status(conn, name)  # "running": it was killed (our lock)
                db.mark_killed(conn, name)
                db.insert_run(
                    conn,
                    run_id=run_id,
                    workflow=name,
                    spec_path=None if spec is None else str(spec.path),
                    spec_sha256=None if spec is None else spec.sha256,
                    params=json.dumps(
                        masker.mask_data({} if spec is None else spec.params),
                        default=str,
                        sort_keys=True,
                    ),
                    started=self.clock(),
                    pid=os.getpid(),
                    resumed_from=info.from_run if info is not None else None,
                )
        except sqlite3.Error as exc:
            raise StateError(f"{self.db_path}: cannot record the run: {exc}") from None
        return RunRecorder(
            self._database,
            name,
            run_id,
            lock,
            clock=self.clock,
            fingerprints=fingerprints,
            resume_info=info,
            reused=reused,
            reused_blobs=blobs,
            previous_status=RunStatus.KILLED if previous == RunStatus.RUNNING else previous,
            masker=masker,
            log_dir=str(run_log_dir(self.path, run_id)),
            keep_runs=getattr(workflow, "keep_runs", None),
            prune=self._keep_newest,
            reused_items=reused_items,
            folders=folders,
            file_hashes=hashes,
        )

    def _keep_newest(self, workflow: str, keep: int) -> None:
        """``keep_runs``: at the end of a run, remove its workflow's older runs."""
        prune(self._database, self.path, keep=keep, workflow=workflow)

    def _plan_resume(
        self,
        workflow: str,
        tasks: list[Any],
        parents: Sequence[Sequence[int]],
        fingerprints: dict[str, str | None],
        blocked: dict[str, str],
    ) -> tuple[resume.ResumeInfo, dict[str, Any], dict[str, bytes], dict[str, dict[str, Any]]]:
        with self._reading() as conn:
            latest = db.runs(conn, workflow=workflow, limit=1)
            if not latest:
                text = f"nothing to resume: no earlier run of {workflow!r}; running every task"
                return resume.nothing_to_resume(text), {}, {}, {}
            previous = latest[0]
            if previous["status"] == RunStatus.COMPLETED:
                text = (
                    f"nothing to resume: the latest run {previous['id']} of {workflow!r} "
                    "completed; running every task"
                )
                return resume.nothing_to_resume(text), {}, {}, {}
            rows = db.task_results(conn, previous["id"])
        past = {
            row["name"]: resume.PastTask(
                status=row["status"],
                fingerprint=row["fingerprint"],
                result_state=row["result_state"],
                result=row["result"],
                note=row["note"],
                parent=row["parent"],
            )
            for row in rows
        }
        prints = [fingerprints[task.name] for task in tasks]
        info, reused, blobs = resume.plan(previous["id"], past, tasks, parents, prints, blocked)
        reused_items, item_blobs = resume.items(past, tasks, prints)
        return info, reused, {**blobs, **item_blobs}, reused_items

    def _record(self, conn: sqlite3.Connection, row: sqlite3.Row) -> RunRecord:
        status = RunStatus(row["status"])
        killed = status is RunStatus.RUNNING and not self._still_running(row["workflow"], row["id"])
        if killed:
            status = RunStatus.KILLED
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
            tasks=_grouped([_task_record(task, killed) for task in db.tasks(conn, row["id"])]),
            exit_code=row["exit_code"],
            handlers=tuple(_json_list(row["handlers"])),
        )

    def _outline(
        self,
        row: sqlite3.Row,
        counts: dict[str, int],
        tasks: dict[str, TaskOutcome],
    ) -> RunOutline:
        status = RunStatus(row["status"])
        if status is RunStatus.RUNNING and not self._still_running(row["workflow"], row["id"]):
            status = RunStatus.KILLED
            if "running" in counts:
                counts["killed"] = counts.pop("running")
            tasks = {
                name: outcome._replace(status="killed") if outcome.status == "running" else outcome
                for name, outcome in tasks.items()
            }
        return RunOutline(
            id=row["id"],
            workflow=row["workflow"],
            status=status,
            started=row["started"],
            ended=row["ended"],
            elapsed=row["elapsed"],
            exit_code=row["exit_code"],
            counts=counts,
            tasks=tasks,
        )

    def _still_running(self, workflow: str, run_id: str) -> bool:
        holder = probe(lock_path(self.path, workflow))
        return holder is not None and holder.get("run") == run_id


def _folders(workflow: Any, tasks: list[Any]) -> dict[str, str]:
    """The folder of each task that reads or writes files (relative paths resolve there)."""
    if not getattr(workflow, "uses_folders", False):
        return {}
    here = os.getcwd()
    workdir = workflow.workdir
    return {
        task.name: task_folder(task, workdir, here) for task in tasks if task.reads or task.writes
    }


def _placed_fingerprint(
    task: Any, upstream: list[str], folder: str, hashes: FileHashes
) -> tuple[str | None, str | None]:
    """The task's fingerprint with the files it reads as they are now, and why it
    can't be reused whatever its fingerprint (a declared output is missing)."""
    absent = missing([(path, absolute(path, folder)) for path in task.writes])
    why = f"declared output missing: {', '.join(absent)}" if absent else None
    if not task.reads:
        return task_fingerprint(task, upstream), why
    try:
        files = files_identity(hashes.listing(task.reads, folder))
    except (OSError, sqlite3.Error):
        return None, why
    return task_fingerprint(task, upstream, files), why


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
        reason=row["reason"],
        allowed=bool(row["allowed"]),
        traceback=row["traceback"],
        outputs=_outputs(row["outputs"]),
        parent=row["parent"],
        key=row["item_key"],
    )


def _grouped(records: list[TaskRecord]) -> tuple[TaskRecord, ...]:
    """The tasks in order, each mapped task followed by its items."""
    items: dict[str, list[TaskRecord]] = {}
    for record in records:
        if record.parent is not None:
            items.setdefault(record.parent, []).append(record)
    if not items:
        return tuple(records)
    ordered: list[TaskRecord] = []
    for record in records:
        if record.parent is None:
            ordered.append(record)
            ordered.extend(items.pop(record.name, ()))
    for orphans in items.values():  # (a mapped task always has its row: never here)
        ordered.extend(orphans)
    return tuple(ordered)


def _outputs(text: str | None) -> tuple[OutputRecord, ...]:
    rows = _json_list(text)
    return tuple(
        OutputRecord(str(row["path"]), int(row["size"]), str(row["sha256"]))
        for row in rows
        if isinstance(row, dict) and {"path", "size", "sha256"} <= row.keys()
    )


def _masker(workflow: Any) -> Masker:
    """The masker of ``workflow``'s secrets (none for an object without ``masker()``)."""
    make = getattr(workflow, "masker", None)
    return make() if callable(make) else NO_SECRETS


def _did_you_mean(name: str, choices: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _json_list(text: str | None) -> list[Any]:
    try:
        value = json.loads(text or "[]")
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def _params(text: str | None) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}
