"""Tasks on a pool of daemon threads."""

from __future__ import annotations

import os

from flowweaver.executors._threads import WorkerThreads
from flowweaver.executors.base import Executor
from flowweaver.executors.contract import Attempt, Inbox, checked_workers


def default_workers() -> int:
    """The default of ``concurrent.futures.ThreadPoolExecutor``."""
    return min(32, (os.cpu_count() or 1) + 4)


class ThreadedExecutor(Executor):
    """Runs ready tasks on up to ``max_workers`` threads (default as ``concurrent.futures``).

    A timed-out plain function cannot be killed: its thread is abandoned (and
    replaced), and, being a daemon, never keeps the process alive at exit.
    """

    def __init__(self, max_workers: int | None = None, *, fail_fast: bool = False) -> None:
        super().__init__(fail_fast=fail_fast)
        self.max_workers = checked_workers(max_workers) or default_workers()

    def backend(self) -> _ThreadBackend:
        return _ThreadBackend(self.max_workers)

    def __repr__(self) -> str:
        return f"ThreadedExecutor(max_workers={self.max_workers})"


class _ThreadBackend:
    def __init__(self, size: int) -> None:
        self.slots = size

    def open(self, inbox: Inbox, tasks: int) -> None:
        self._threads = WorkerThreads(self.slots, inbox)

    def submit(self, attempt: Attempt) -> None:
        self._threads.submit(attempt)

    def abandon(self, attempt: Attempt) -> None:
        attempt.abandon()
        self._threads.replace()

    def close(self) -> None:
        self._threads.shutdown()
