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
import contextlib
import contextvars
import inspect
import logging
import threading
import uuid
from collections.abc import Callable
from typing import Any

from flowweaver._call import as_coroutine
from flowweaver.errors import TaskTimeoutError
from flowweaver.executors.base import Executor
from flowweaver.executors.contract import Attempt, Inbox, RemoteTraceback, checked_workers
from flowweaver.logs.failures import format_failure
from flowweaver.logs.routing import CURRENT, NO_LANES, Sink, routed

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
    """Carries how an attempt failed on a Dask worker back to the client, where it is
    unwrapped: the ``original`` exception (a ``SystemExit`` or ``KeyboardInterrupt``
    too, which the worker must not see), its traceback's text, and the attempt's
    captured ``output`` (``None`` when not captured)."""

    def __init__(
        self, original: BaseException, traceback: str | None = None, output: str | None = None
    ) -> None:
        super().__init__(str(original))
        self.original = original
        self.traceback = traceback
        self.output = output

    def __reduce__(
        self,
    ) -> tuple[type[TaskExitError], tuple[BaseException, str | None, str | None]]:
        return type(self), (self.original, self.traceback, self.output)


class _Captured:
    """An attempt's output on a Dask worker, kept to be sent back with its outcome."""

    lanes = NO_LANES  # every write comes through write()

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._lock = threading.Lock()

    def write(self, text: str, err: bool = False) -> None:
        with self._lock:
            self._parts.append(text)

    def write_bytes(self, data: bytes, err: bool = False) -> None:
        self.write(data.decode("utf-8", errors="replace"), err)

    def catch_up(self, err: bool) -> None:
        pass  # (no lanes)

    def text(self) -> str:
        with self._lock:
            return "".join(self._parts)


def run_task(
    fn: Callable[..., Any],
    kwargs: dict[str, Any],
    timeout: float | None = None,
    capture: bool = False,
    upstream: tuple[str, ...] = (),
) -> tuple[Any, str | None]:
    """On a worker: call ``fn``, awaiting what it returns if awaitable; returns
    ``(result, captured output or None)``, or raises :class:`TaskExitError`.

    ``upstream`` names the arguments that are upstream outcomes (Dask passes the
    result of an upstream future): their result is taken out. With ``capture``,
    what the call prints is routed to a buffer (the ``sys.stdout``/``sys.stderr``
    proxies are installed in the worker process, once) and sent back. With a
    ``timeout`` the call runs on a daemon thread and the worker stops waiting for it
    at the deadline, so a stuck attempt does not hold the worker's only thread (the
    scheduler would queue the retry behind it).
    """
    for name in upstream:
        kwargs[name] = kwargs[name][0]
    captured = None
    context = contextvars.copy_context()
    if capture:
        _route_worker_output()
        captured = _Captured()
        context.run(CURRENT.set, captured)
    try:
        value = _timed(context, fn, kwargs, timeout)
    except BaseException as exc:
        text = None  # a timeout has no traceback worth showing
        if not isinstance(exc, TaskTimeoutError):
            text = format_failure(exc)
        raise TaskExitError(exc, text, None if captured is None else captured.text()) from None
    return value, None if captured is None else captured.text()


def _timed(
    context: contextvars.Context,
    fn: Callable[..., Any],
    kwargs: dict[str, Any],
    timeout: float | None,
) -> Any:
    if timeout is None:
        return context.run(_call, fn, kwargs)
    outcome: list[tuple[bool, Any]] = []
    done = threading.Event()

    def target() -> None:
        try:
            outcome.append((True, context.run(_call, fn, kwargs)))
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
    value = fn(**kwargs)
    if inspect.isawaitable(value):
        value = asyncio.run(as_coroutine(value))
    return value


_routed_here = threading.Lock()
_routing: contextlib.ExitStack | None = None


def _route_worker_output() -> None:
    """Install the output proxies in this worker process, for good (they pass what
    is printed outside a captured attempt to the worker's own streams)."""
    global _routing
    with _routed_here:
        if _routing is None:
            _routing = contextlib.ExitStack()
            _routing.enter_context(routed())


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
        kwargs: dict[str, Any] = {}
        upstream = []
        for name, value in attempt.kwargs.items():
            held = self._remote.get(id(value))
            if held is not None and held[0] is value:
                kwargs[name] = held[1]  # the upstream future: the data stays on the cluster
                upstream.append(name)
            else:
                kwargs[name] = value
        sink = attempt.get(CURRENT)
        key = f"{attempt.name}-{attempt.number}-{uuid.uuid4().hex[:8]}"
        try:
            future = self._client.submit(
                run_task,
                attempt.fn,
                kwargs,
                attempt.timeout,
                sink is not None,
                tuple(upstream),
                key=key,
                pure=False,
            )
        except Exception as exc:
            self._report(attempt.end(False, exc))
            return
        self._futures[attempt] = future
        future.add_done_callback(lambda done: self._finished(attempt, done, sink))

    def _finished(self, attempt: Attempt, future: Any, sink: Sink | None) -> None:
        """On a callback thread: fetch the outcome, write its output, report it."""
        if attempt.abandoned or future.cancelled():
            return
        try:
            value, output = future.result()
        except TaskExitError as exc:
            if sink is not None and exc.output:
                sink.write(exc.output)
            error = exc.original
            if exc.traceback is not None and error.__traceback__ is None:
                error.__cause__ = RemoteTraceback(exc.traceback)
            self._report(attempt.end(False, error))
            return
        except BaseException as exc:
            self._report(attempt.end(False, exc))
            return
        if sink is not None and output:
            sink.write(output)
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
