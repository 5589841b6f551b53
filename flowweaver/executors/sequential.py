"""One task at a time, in plan order, on the calling thread."""

from __future__ import annotations

from flowweaver._call import close_thread_loop, invoke, thread_state
from flowweaver.executors._threads import WorkerThreads
from flowweaver.executors.base import Executor
from flowweaver.executors.contract import Attempt, Inbox


class SequentialExecutor(Executor):
    """Runs tasks one by one in plan order. A task with a timeout runs on a helper
    thread so the timeout holds; everything else runs on the calling thread."""

    plan_order = True
    folder_mode = "call"  # one task at a time: each call changes to its folder

    @classmethod
    def from_options(
        cls, *, max_workers: int | None = None, fail_fast: bool = False, address: str | None = None
    ) -> SequentialExecutor:
        return cls(fail_fast=fail_fast)  # one task at a time: max_workers means nothing here

    def backend(self) -> _InlineBackend:
        return _InlineBackend()


class _InlineBackend:
    slots = 1
    inline = True  # submit of an attempt without a timeout is `invoke` on this thread

    def open(self, inbox: Inbox, tasks: int) -> None:
        self._inbox = inbox
        self._helper: WorkerThreads | None = None
        self._here = thread_state()  # submit runs on the thread that opened the backend

    def submit(self, attempt: Attempt) -> Attempt | None:
        if attempt.timeout is None:
            return invoke(attempt, True, self._here)
        if self._helper is None:
            self._helper = WorkerThreads(1, self._inbox)
        self._helper.submit(attempt)
        return None

    def abandon(self, attempt: Attempt) -> None:
        attempt.abandon()
        if self._helper is not None and attempt.timeout is not None:
            self._helper.replace()

    def close(self) -> None:
        if self._helper is not None:
            self._helper.shutdown()
        close_thread_loop()
