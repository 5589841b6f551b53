"""Tasks on a dask.distributed cluster: a local one, or one reached by address.

``distributed`` is imported when a :class:`DaskExecutor` is made, never by
``import flowweaver``. Each attempt is a Dask future. When a task's upstream result
came from the cluster, the downstream future is given the upstream *future* rather
than the value, so Dask moves the data from worker to worker (the client also fetches
each result once, for ``task.result``). The engine's loop keeps the scheduling:
retries, timeouts and the failure policy mean what they mean everywhere. A timed-out
attempt's future is cancelled; code already running in a Dask worker thread can't be
stopped and finishes there, unseen.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

from flowweaver._call import as_coroutine
from flowweaver.errors import TaskTimeoutError
from flowweaver.executors.base import Executor
from flowweaver.executors.contract import Attempt, Inbox, checked_workers

DASK_HINT = "dask.distributed is not installed: pip install 'flowweaver[dask]'"


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as exc:
        raise ImportError(DASK_HINT) from exc
    return distributed


class DaskExecutor(Executor):
    """Runs tasks on dask.distributed.

    ``address=None`` starts a local cluster for each run (``max_workers`` worker
    processes, default 2, one thread each, on loopback, no dashboard) and closes it
    after. An address (``tcp://host:8786``) connects to a running scheduler; then at
    most ``max_workers`` tasks run at once (default: the cluster's thread count).
    Task functions must be importable on the workers.
    """

    host_pools = False  # its workers may be other machines
    folder_mode = "worker"  # calls run in the workers' processes, several at a time

    def __init__(
        self, address: str | None = None, *, max_workers: int | None = None, fail_fast: bool = False
    ) -> None:
        super().__init__(fail_fast=fail_fast)
        self.max_workers = checked_workers(max_workers)
        _distributed()
        self.address = address

    @classmethod
    def from_options(
        cls, *, max_workers: int | None = None, fail_fast: bool = False, address: str | None = None
    ) -> DaskExecutor:
        return cls(address, max_workers=max_workers, fail_fast=fail_fast)

    def backend(self) -> _DaskBackend:
        distributed = _distributed()
        cluster = None
        if self.address is None:
            cluster = distributed.LocalCluster(
                n_workers=self.max_workers or 2,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
                # no dashboard; its HTTP server on a free port, so no "port in use" warning
                scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
                silence_logs=logging.CRITICAL,  # failures are reported as task errors
            )
            client = distributed.Client(cluster)
        else:
            client = distributed.Client(self.address)
        try:
            slots = self.max_workers or sum(client.nthreads().values()) or 1
        except BaseException:
            client.close()
            if cluster is not None:
                cluster.close()
            raise
        return _DaskBackend(client, cluster, slots)

    def __repr__(self) -> str:
        return f"DaskExecutor(address={self.address!r}, max_workers={self.max_workers})"


class TaskExitError(Exception):
    """Carries a ``SystemExit`` or ``KeyboardInterrupt`` a task raised on a Dask
    worker (which must not see them) back to the client, where it is unwrapped."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(str(original))
        self.original = original

    def __reduce__(self) -> tuple[type[TaskExitError], tuple[BaseException]]:
        return type(self), (self.original,)


def run_task(fn: Callable[..., Any], kwargs: dict[str, Any], timeout: float | None = None) -> Any:
    """On a worker: call ``fn``, awaiting what it returns if awaitable.

    With a ``timeout`` the call runs on a daemon thread and the worker stops waiting
    for it at the deadline, so a stuck attempt does not hold the worker's only
    thread (the scheduler would queue the retry behind it).
    """
    if timeout is None:
        return _call(fn, kwargs)
    outcome: list[tuple[bool, Any]] = []
    done = threading.Event()

    def target() -> None:
        try:
            outcome.append((True, _call(fn, kwargs)))
        except BaseException as exc:
            outcome.append((False, exc))
        finally:
            done.set()

    threading.Thread(target=target, name="flowweaver-dask-attempt", daemon=True).start()
    if not done.wait(timeout):
        raise TaskTimeoutError(timeout)
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def _call(fn: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    try:
        value = fn(**kwargs)
        if inspect.isawaitable(value):
            value = asyncio.run(as_coroutine(value))
    except Exception:
        raise
    except BaseException as exc:
        raise TaskExitError(exc) from None
    return value


class _DaskBackend:
    def __init__(self, client: Any, cluster: Any, slots: int) -> None:
        self.slots = slots
        self._client = client
        self._cluster = cluster
        self._futures: dict[Attempt, Any] = {}
        # id(value) -> (value, future): results that also live on the cluster
        self._remote: dict[int, tuple[Any, Any]] = {}

    def open(self, inbox: Inbox, tasks: int) -> None:
        self._report = inbox

    def submit(self, attempt: Attempt) -> None:
        kwargs = {name: self._on_cluster(value) for name, value in attempt.kwargs.items()}
        key = f"{attempt.name}-{attempt.number}-{uuid.uuid4().hex[:8]}"
        try:
            future = self._client.submit(
                run_task, attempt.fn, kwargs, attempt.timeout, key=key, pure=False
            )
        except Exception as exc:
            self._report(attempt.end(False, exc))
            return
        self._futures[attempt] = future
        future.add_done_callback(lambda done: self._finished(attempt, done))

    def _on_cluster(self, value: Any) -> Any:
        held = self._remote.get(id(value))
        return held[1] if held is not None and held[0] is value else value

    def _finished(self, attempt: Attempt, future: Any) -> None:
        """On a callback thread: fetch the outcome and report it."""
        if attempt.abandoned or future.cancelled():
            return
        try:
            value = future.result()
        except TaskExitError as exc:
            self._report(attempt.end(False, exc.original))
            return
        except BaseException as exc:
            self._report(attempt.end(False, exc))
            return
        self._remote[id(value)] = (value, future)
        self._report(attempt.end(True, value))

    def abandon(self, attempt: Attempt) -> None:
        attempt.abandon()
        future = self._futures.pop(attempt, None)
        if future is not None:
            future.cancel()

    def close(self) -> None:
        try:
            pending = [f for f in self._futures.values() if not f.done()]
            if pending:
                self._client.cancel(pending)
            self._futures.clear()
            self._remote.clear()
            self._client.close()
        finally:
            if self._cluster is not None:
                self._cluster.close()
