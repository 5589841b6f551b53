"""Tasks in worker processes that the executor owns, so that one task can be ended.

The stock ``ProcessPoolExecutor`` can't kill one task: killing a worker breaks the
whole pool. Here each worker is a process with a connection of its own. One reader
thread in the parent waits on every worker's connection and process sentinel, and
reports each outcome to the loop. A timed-out or interrupted attempt gets its worker
terminated (SIGTERM, then SIGKILL after a grace); a worker that dies on its own
(a segfault, ``os._exit``, the OOM killer) fails its attempt with
:class:`~flowweaver.errors.WorkerCrashedError`. Either way a standby worker, started
and ready before the run began, takes the next job, and a fresh standby starts. The
worker side is :mod:`flowweaver.executors._worker`.

Workers are started with the ``spawn`` method, deliberately: ``fork`` copies a
parent that has threads running (the engine's, the reader's, a task's), which can
deadlock the child on a lock held at the fork; ``forkserver`` fixes ``sys.path`` and
the main module once, when its server starts, so a spec directory added to
``sys.path`` later would not reach the workers. ``spawn`` costs a fresh interpreter
per worker (a tenth of a second), paid once per worker per run.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable
from functools import partial
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from typing import Any

from flowweaver.errors import TaskNotPicklableError, WorkerCrashedError
from flowweaver.executors import _worker
from flowweaver.executors.base import Executor
from flowweaver.executors.contract import Attempt, Held, Inbox, Started, checked_workers, error_text
from flowweaver.shell import GRACE_SECONDS
from flowweaver.task import Task

WARM_UP_SECONDS = 60.0
"""How long a run waits for its workers to start before it goes on without the late ones."""

TERMINATE_GRACE = GRACE_SECONDS + 1.0
"""Seconds a terminated worker has to end its shell tasks' groups before SIGKILL."""


class ProcessExecutor(Executor):
    """Runs tasks in up to ``max_workers`` worker processes (default: one per core).

    For CPU-bound Python. A timeout really ends the task: its process is terminated
    and replaced. Task functions (and their bound arguments) must be picklable, which
    is checked when a run starts (:class:`TaskNotPicklableError`, a ``ValueError``);
    results travel back pickled.
    """

    folder_mode = "call"  # a worker runs one task at a time: each call changes to its folder

    def __init__(self, max_workers: int | None = None, *, fail_fast: bool = False) -> None:
        super().__init__(fail_fast=fail_fast)
        self.max_workers = checked_workers(max_workers) or os.cpu_count() or 1

    def backend(self) -> _ProcessBackend:
        return _ProcessBackend(self.max_workers)

    def check(self, tasks: Iterable[Task]) -> None:
        check_sendable(tasks)

    def __repr__(self) -> str:
        return f"ProcessExecutor(max_workers={self.max_workers})"


def check_sendable(tasks: Iterable[Task]) -> None:
    """Raise :class:`TaskNotPicklableError` naming every task a worker couldn't receive."""
    problems: dict[str, str] = {}
    seen: dict[int, str | None] = {}
    for task in tasks:
        key = id(task.fn)
        if key not in seen:
            seen[key] = why_unsendable(task.fn)
        reason = seen[key]
        if reason is not None:
            problems[task.name] = reason
    if problems:
        raise TaskNotPicklableError(problems)


def why_unsendable(fn: Callable[..., Any]) -> str | None:
    """Why ``fn`` can't be pickled into another process, or ``None`` if it can."""
    inner = fn
    while isinstance(inner, partial):
        inner = inner.func
    qualname = getattr(inner, "__qualname__", "")
    if "<lambda>" in qualname:
        return "its function is a lambda"
    if "<locals>" in qualname:
        return f"its function {qualname} is defined inside another function"
    if getattr(inner, "__module__", None) == "__main__" and not hasattr(
        sys.modules["__main__"], "__file__"
    ):
        return f"its function {qualname} is defined in an interactive session (no module file)"
    try:
        pickle.dumps(inner, pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        return f"its function can't be pickled ({error_text(exc)})"
    try:
        pickle.dumps(fn, pickle.HIGHEST_PROTOCOL)
    except Exception as exc:
        return f"its bound arguments can't be pickled ({error_text(exc)})"
    return None


class RemoteTraceback(Exception):  # noqa: N818 - not an error: the text of one, set as a cause (as concurrent.futures does)
    """The traceback of an exception raised in a worker process (set as its cause)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""'


class _Worker:
    __slots__ = ("attempt", "conn", "eof", "late", "process", "ready")

    def __init__(self, process: BaseProcess, conn: Connection) -> None:
        self.process = process
        self.conn = conn
        self.attempt: Attempt | None = None
        self.eof = False
        self.ready = False  # it said READY: it takes a job at once
        self.late = False  # its attempt was sent before it was ready


class _ProcessBackend:
    def __init__(self, size: int) -> None:
        self.slots = size
        # Workers started, and waited for, before the run starts (set by open): one more
        # than can be busy, a standby that takes over at once from a worker ended by a
        # timeout or a crash (a fresh standby then starts), so that a retry doesn't wait
        # for Python to start within its own timeout.
        self.warm = size + 1

    def open(self, inbox: Inbox, tasks: int) -> None:
        self.warm = min(self.slots, tasks) + 1
        self._report = inbox
        self._context = multiprocessing.get_context("spawn")
        self._lock = threading.Lock()
        self._workers: list[_Worker] = []
        self._idle: list[_Worker] = []
        self._ending: list[threading.Thread] = []
        self._retired: list[_Worker] = []  # ended on purpose; connections closed last
        self._closed = False
        self._wake_r, self._wake_w = os.pipe()
        self._reader: threading.Thread | None = None
        self._warm_up()
        self._reader = threading.Thread(target=self._read, name="flowweaver-process-reader")
        self._reader.daemon = True
        self._reader.start()

    # -- the loop's side ----------------------------------------------------------

    def submit(self, attempt: Attempt) -> None:
        try:
            job = pickle.dumps(
                (attempt.name, attempt.number, attempt.fn, attempt.kwargs), pickle.HIGHEST_PROTOCOL
            )
        except Exception as exc:
            error = TypeError(f"can't send the task's arguments to a worker process: {exc}")
            self._report(attempt.end(False, error))
            return
        with self._lock:
            worker = next((w for w in self._idle if w.ready), None)
            if worker is not None:
                self._idle.remove(worker)
            else:
                worker = self._idle.pop() if self._idle else self._start()
            worker.attempt = attempt
            worker.late = not worker.ready
            if worker.late:  # told under the lock, so before the reader says Started
                self._report(Held(attempt))
        self._wake()
        # The worker is idle, so it reads at once; if it has just died, the reader
        # sees its sentinel and fails the attempt.
        with contextlib.suppress(OSError):
            worker.conn.send_bytes(job)

    def abandon(self, attempt: Attempt) -> None:
        attempt.abandon()
        with self._lock:
            worker = next((w for w in self._workers if w.attempt is attempt), None)
            if worker is None:
                return  # it has answered already
            self._workers.remove(worker)
            self._retired.append(worker)
            worker.attempt = None
            self._idle.append(self._start())  # warms up while the engine goes on
        self._wake()
        self._ending.append(_ending_thread(worker))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            workers, self._workers, self._idle = self._workers, [], []
        self._wake()
        if self._reader is not None:
            self._reader.join()
        ending = [threading.Thread(target=_end, args=(w,)) for w in workers]
        for thread in ending:
            thread.start()
        for thread in [*ending, *self._ending]:
            thread.join()
        for worker in [*workers, *self._retired]:
            worker.conn.close()
        os.close(self._wake_r)
        os.close(self._wake_w)

    def _warm_up(self) -> None:
        """Start ``warm`` workers and wait until they can take jobs, so that a task's
        timeout doesn't count an interpreter's start (a worker that dies is dropped)."""
        for _ in range(self.warm):
            self._idle.append(self._start())
        deadline = time.monotonic() + WARM_UP_SECONDS
        waiting = {w.conn: w for w in self._workers}
        while waiting and (left := deadline - time.monotonic()) > 0:
            for conn in wait(list(waiting), left):
                worker = waiting.pop(conn)  # type: ignore[call-overload]
                try:
                    worker.ready = worker.conn.recv_bytes() == _worker.READY
                except (EOFError, OSError):
                    self._workers.remove(worker)
                    self._idle.remove(worker)
                    self._retired.append(worker)
                    self._ending.append(_ending_thread(worker))

    def _start(self) -> _Worker:
        here, there = self._context.Pipe()
        process = self._context.Process(
            target=_worker.serve, args=(there,), name="flowweaver-worker"
        )
        process.start()
        there.close()
        worker = _Worker(process, here)
        self._workers.append(worker)
        return worker

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    # -- the reader thread ----------------------------------------------------------

    def _read(self) -> None:
        while True:
            with self._lock:
                if self._closed:
                    return
                workers = list(self._workers)
            waitables: list[Any] = [self._wake_r]
            waitables += [w.conn for w in workers if not w.eof]
            waitables += [w.process.sentinel for w in workers]
            ready = set(wait(waitables))
            if self._wake_r in ready:
                os.read(self._wake_r, 4096)
            for worker in workers:
                if worker.conn in ready:
                    self._receive(worker)
            for worker in workers:
                if worker.process.sentinel in ready:
                    self._bury(worker)

    def _receive(self, worker: _Worker) -> None:
        try:
            data = worker.conn.recv_bytes()
        except (EOFError, OSError):
            worker.eof = True  # the process is ending: its sentinel will say so
            return
        if not worker.ready and data == _worker.READY:
            with self._lock:
                worker.ready = True
                held = worker.attempt if worker.late else None
                worker.late = False
            if held is not None:
                self._report(Started(held, time.monotonic()))
            return
        try:
            ok, value, text = pickle.loads(data)
        except Exception as exc:
            ok, value, text = False, RuntimeError(f"can't read the task's outcome: {exc}"), None
        if text is not None and isinstance(value, BaseException):
            value.__cause__ = RemoteTraceback(text)
        with self._lock:
            attempt, worker.attempt = worker.attempt, None
            if worker in self._workers:
                self._idle.append(worker)
        if attempt is not None:
            self._report(attempt.end(ok, value))

    def _bury(self, worker: _Worker) -> None:
        """A worker died on its own: fail its attempt, start another."""
        if not worker.eof and worker.conn.poll():
            self._receive(worker)  # it answered before it died
        with self._lock:
            if worker not in self._workers:
                return  # ended on purpose: its ending thread reaps it
            self._workers.remove(worker)
            if worker in self._idle:
                self._idle.remove(worker)
            attempt, worker.attempt = worker.attempt, None
            if not self._closed:
                self._idle.append(self._start())
        worker.process.join()
        worker.conn.close()
        if attempt is not None:
            self._report(attempt.end(False, _crashed(worker.process)))


def _crashed(process: BaseProcess) -> WorkerCrashedError:
    code = process.exitcode
    how = f"exit code {code}"
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            how += f", killed by {signal.Signals(-code).name}"
    return WorkerCrashedError(
        f"worker process died ({how}) while running the task; a fresh worker replaces it"
    )


def _ending_thread(worker: _Worker) -> threading.Thread:
    thread = threading.Thread(target=_end, args=(worker,), name="flowweaver-process-end")
    thread.start()
    return thread


def _end(worker: _Worker) -> None:
    """SIGTERM the worker (it ends its shell tasks), SIGKILL it after the grace."""
    process = worker.process
    if process.exitcode is None:
        process.terminate()
        process.join(TERMINATE_GRACE)
        if process.exitcode is None:
            process.kill()
            process.join()
