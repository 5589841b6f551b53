"""Tasks on one asyncio event loop; plain functions on threads beside it."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Sequence
from typing import TYPE_CHECKING, Any

from flowweaver._call import Pending, call_coroutine, is_coroutine_function
from flowweaver._loop import drive_async
from flowweaver._run import Run
from flowweaver.errors import WorkflowError
from flowweaver.executors._threads import WorkerThreads
from flowweaver.executors.base import Executor, conclude, independent
from flowweaver.executors.contract import Attempt, Backend, Inbox, checked_workers
from flowweaver.executors.thread import default_workers
from flowweaver.folders import place
from flowweaver.task import Task

if TYPE_CHECKING:
    from flowweaver.history import Store
    from flowweaver.workflow import Workflow

UVLOOP_HINT = "uvloop is not installed: pip install uvloop (or flowweaver's default extras)"


class AsyncExecutor(Executor):
    """Awaits coroutine tasks on one event loop (uvloop's when ``use_uvloop``).

    Plain functions run on a thread pool beside the loop, so the loop is never
    blocked; awaitables they return are awaited on the loop. ``max_workers``
    bounds how many tasks run at once (default: no bound for coroutines).
    """

    def __init__(
        self,
        use_uvloop: bool = False,
        *,
        max_workers: int | None = None,
        fail_fast: bool = False,
    ) -> None:
        super().__init__(fail_fast=fail_fast)
        self.use_uvloop = use_uvloop
        self.max_workers = checked_workers(max_workers)
        if use_uvloop:
            _uvloop()

    def backend(self) -> _AsyncBackend:
        return _AsyncBackend(self.max_workers)

    def drive(self, run: Run, backend: Backend) -> None:
        _run_coroutine(drive_async(run, backend), self.use_uvloop)

    async def execute_async(
        self, workflow: Workflow, store: Store | None = None, *, resume: bool = False
    ) -> None:
        """Like :meth:`execute`, on the running event loop (handlers run on a thread
        beside it, so the loop is never blocked)."""
        run, backend = self.prepare(workflow, store, resume=resume)
        try:
            await drive_async(run, backend)
        except BaseException:
            run.close()  # a second signal, or a bug: no handlers
            raise
        finally:
            workflow.last_run_seconds = run.elapsed()
        if workflow.handlers:
            await asyncio.to_thread(conclude, run, workflow)
        else:
            conclude(run, workflow)

    async def run_tasks_async(
        self, tasks: Sequence[Task], *, raise_on_failure: bool = True
    ) -> None:
        placement = None
        if any(task.workdir is not None or task.writes for task in tasks):
            placement = place(tasks, None, self.folder_mode, self.kind)
        backend = self.backend()
        run = Run(
            "tasks", independent(tasks), slots=backend.slots, fail_fast=False, placement=placement
        )
        try:
            await drive_async(run, backend)
            run.finish()
        except WorkflowError:
            if raise_on_failure:
                raise
        finally:
            run.close()

    def __repr__(self) -> str:
        return f"AsyncExecutor(use_uvloop={self.use_uvloop})"


def _uvloop() -> Any:
    try:
        import uvloop
    except ImportError:
        raise ImportError(UVLOOP_HINT) from None
    return uvloop


def _run_coroutine(coroutine: Coroutine[Any, Any, None], use_uvloop: bool) -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        coroutine.close()
        raise RuntimeError(
            "AsyncExecutor.execute() was called from a running event loop: "
            "use 'await executor.execute_async(workflow)' instead"
        )
    loop = _uvloop().new_event_loop() if use_uvloop else asyncio.new_event_loop()
    try:
        loop.run_until_complete(coroutine)
    finally:
        try:
            _cancel_leftovers(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


def _cancel_leftovers(loop: asyncio.AbstractEventLoop) -> None:
    leftovers = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in leftovers:
        task.cancel()
    if leftovers:
        loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))


class _AsyncBackend:
    def __init__(self, max_workers: int | None) -> None:
        self.slots = max_workers or 1 << 30
        self._pool_size = max_workers or default_workers()

    def open(self, inbox: Inbox, tasks: int) -> None:
        self._loop = asyncio.get_running_loop()
        self._report = inbox
        self._threads: WorkerThreads | None = None
        self._tasks: dict[Attempt, asyncio.Task[Any]] = {}

    def submit(self, attempt: Attempt) -> None:
        if is_coroutine_function(attempt.fn):
            try:
                coroutine = call_coroutine(attempt)
            except BaseException as exc:
                self._report(attempt.end(False, exc))
                return
            self._tasks[attempt] = self._loop.create_task(self._run(attempt, coroutine))
            return
        if self._threads is None:
            self._threads = WorkerThreads(self._pool_size, self._from_thread, await_here=False)
        self._threads.submit(attempt)

    def _from_thread(self, attempt: Attempt) -> None:
        """A plain function returned: await what it returned if awaitable, on the loop."""
        if attempt.ok and isinstance(attempt.value, Pending):
            self._loop.call_soon_threadsafe(self._start, attempt, attempt.value.coroutine)
        else:
            self._report(attempt)

    def _start(self, attempt: Attempt, coroutine: Coroutine[Any, Any, Any]) -> None:
        if attempt.abandoned:
            coroutine.close()
            return
        self._tasks[attempt] = self._loop.create_task(self._run(attempt, coroutine))

    async def _run(self, attempt: Attempt, coroutine: Coroutine[Any, Any, Any]) -> None:
        """Await one attempt and report how it ended. Whatever the task raises,
        ``SystemExit`` and ``KeyboardInterrupt`` included, fails the attempt only
        (asyncio would let those two stop the loop); cancellation is the engine's."""
        try:
            value = await coroutine
        except asyncio.CancelledError:
            self._tasks.pop(attempt, None)
            if not attempt.abandoned:
                self._report(attempt.end(False, asyncio.CancelledError()))
            raise
        except BaseException as exc:
            self._tasks.pop(attempt, None)
            self._report(attempt.end(False, exc))
            return
        self._tasks.pop(attempt, None)
        self._report(attempt.end(True, value))

    def abandon(self, attempt: Attempt) -> None:
        attempt.abandon()
        task = self._tasks.pop(attempt, None)
        if task is not None:
            task.cancel()
        elif self._threads is not None:
            self._threads.replace()

    def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        if self._threads is not None:
            self._threads.shutdown()
