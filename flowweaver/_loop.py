"""The one waiting loop, in a blocking and an asyncio flavour, over the engine.

Both loops do the same four things until the engine says the run is over:
start what is ready (the backend only *submits*), wait for an outcome or the
next deadline (never a polling sleep), settle outcomes, expire late attempts.
Everything they share lives in :class:`Run`; the loops differ only in how
they wait.
"""

from __future__ import annotations

import asyncio
import logging
import random
import signal
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from queue import Empty, SimpleQueue
from typing import TYPE_CHECKING, Any, Protocol

from flowweaver import graph
from flowweaver._call import Attempt, Outcome, bindings, current_attempt
from flowweaver.engine import Engine
from flowweaver.errors import RunInterrupted, TaskTimeoutError, WorkflowError
from flowweaver.events import Observer, TaskEvent
from flowweaver.task import Task, TaskStatus

if TYPE_CHECKING:
    from flowweaver.recorder import Recorder

logger = logging.getLogger("flowweaver")
_monotonic = time.monotonic
_COMPLETED = TaskStatus.COMPLETED


class Backend(Protocol):
    """How an executor runs attempts. It never waits: outcomes go to ``report``."""

    slots: int

    def open(self, report: Callable[[Outcome], object]) -> None: ...

    def submit(self, attempt: Attempt) -> None: ...

    def abandon(self, attempt: Attempt) -> None: ...

    def close(self) -> None: ...


def error_text(exc: BaseException) -> str:
    """``Type: message``, the form kept in ``task.error``."""
    if isinstance(exc, TaskTimeoutError):
        return str(exc)
    message = str(exc)
    name = type(exc).__name__
    return f"{name}: {message}" if message else name


class Run:
    """One run of ``tasks``: the engine, the results, and the events' subscribers."""

    def __init__(
        self,
        name: str,
        tasks: Sequence[Task],
        parents: Sequence[Sequence[int]],
        *,
        slots: int,
        fail_fast: bool,
        observers: Sequence[Observer] = (),
        recorder: Recorder | None = None,
        plan_order: bool = False,
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self.tasks = tasks
        self.slots = slots
        self.recorder = recorder
        self.observers = list(observers)
        self.signum: int | None = None
        self._position = {task.name: index for index, task in enumerate(tasks)}
        self.started_at = _monotonic()
        self.ended_at: float | None = None
        self.running: dict[int, Attempt] = {}
        self.results: list[Any] = [None] * len(tasks)
        for task in tasks:
            task.status, task.result, task.error, task.attempts = TaskStatus.PENDING, None, None, 0
        reused: dict[str, Any] = {}
        durations: dict[str, float] = {}
        if recorder is not None:
            self.observers.append(recorder.record_event)
            reused, durations = recorder.begin(tasks, parents)
        order = _order(tasks, parents, durations, plan_order)
        self.engine = Engine(
            tasks,
            parents,
            order,
            fail_fast=fail_fast,
            wall_offset=time.time() - self.started_at,
            rng=rng,
        )
        self._bindings = self._bind(parents)
        for index, task in enumerate(tasks):
            if task.name in reused:
                self.results[index] = task.result = reused[task.name]
                self.engine.preset(index, self.started_at)
        self.flush()

    def _bind(self, parents: Sequence[Sequence[int]]) -> list[tuple[tuple[str, int], ...]]:
        position = {task.name: index for index, task in enumerate(self.tasks)}
        bound = []
        for task, ups in zip(self.tasks, parents, strict=True):
            named = [(self.tasks[up].name, up) for up in ups]
            inputs = {param: position[source] for param, source in task.inputs.items()}
            bound.append(bindings(task.fn, named, inputs))
        return bound

    # -- the steps both loops take ----------------------------------------------------

    def launch(self, now: float) -> list[Attempt]:
        """Start what is ready and a slot allows; returns the attempts to submit."""
        engine = self.engine
        free = self.slots - engine.executing
        if free <= 0 or not engine.has_ready(now):
            return []
        attempts = []
        results = self.results
        for index in engine.start(now, free):
            task = self.tasks[index]
            kwargs = {keyword: results[up] for keyword, up in self._bindings[index]}
            if task.cache and self.recorder is not None:
                hit, value = self.recorder.lookup(task, kwargs)
                if hit:
                    self.results[index] = task.result = value
                    engine.succeed(index, now, cached=True)
                    continue
            attempt = Attempt(
                index, task.name, engine.attempt[index], task.fn, kwargs, task.timeout
            )
            self.running[index] = attempt
            attempts.append(attempt)
        return attempts

    def settle(self, outcome: Outcome, now: float) -> None:
        """Apply one attempt's outcome (stale ones, from abandoned attempts, are dropped)."""
        attempt, ok, value = outcome
        index = attempt.index
        if not self.engine.is_current(index, attempt.number):
            return
        if not ok and self.signum is not None:
            return  # stopped by the interruption: cancelled with the rest
        del self.running[index]
        if ok:
            self.results[index] = value
            self.tasks[index].result = value
            self.engine.succeed(index, now)
            if self.recorder is not None:
                self.recorder.record_result(self.tasks[index], attempt.kwargs, value)
        else:
            self._fail(attempt, value, now)

    def expire(self, now: float) -> list[Attempt]:
        """Fail the attempts past their deadline; returns them, to be abandoned."""
        late = []
        for index in self.engine.expired(now):
            attempt = self.running.pop(index)
            assert attempt.timeout is not None
            self._fail(attempt, TaskTimeoutError(attempt.timeout), now)
            late.append(attempt)
        return late

    def interrupt(self, now: float) -> list[Attempt]:
        """Cancel every unfinished task; returns the running attempts, to be abandoned."""
        name = signal.Signals(self.signum or signal.SIGINT).name
        self.engine.interrupt(now, f"cancelled: interrupted by {name}")
        running, self.running = list(self.running.values()), {}
        return running

    def wait_time(self, now: float) -> float | None:
        wakeup = self.engine.next_wakeup()
        return None if wakeup is None else max(wakeup - now, 0.0)

    def flush(self) -> None:
        """Pass the engine's new events to the tasks, their callbacks and the observers."""
        events = self.engine.events
        if not events:
            return
        tasks = self.tasks
        observers = self.observers
        position = self._position
        for event in events:
            task = tasks[position[event.task]]
            _apply(task, event)
            for observer in observers:
                try:
                    observer(event)
                except Exception:
                    logger.exception("observer %r raised; ignored", observer)
        events.clear()

    def _fail(self, attempt: Attempt, exc: BaseException, now: float) -> None:
        task = self.tasks[attempt.index]
        text = error_text(exc)
        logger.debug("task %r attempt %d failed", task.name, attempt.number, exc_info=exc)
        retryable = isinstance(exc, task.retry_on)
        self.engine.fail(attempt.index, now, text, retryable=retryable)

    def request_interrupt(self, signum: int) -> None:
        self.signum = signum

    def elapsed(self) -> float:
        end = self.ended_at if self.ended_at is not None else _monotonic()
        return end - self.started_at

    def finish(self) -> None:
        """Close the run: record it, then raise if it was interrupted or a task failed."""
        self.ended_at = _monotonic()
        elapsed = self.elapsed()
        failed = {
            task.name: task.error or "failed"
            for task in self.tasks
            if task.status is TaskStatus.FAILED
        }
        if self.recorder is not None:
            status = "interrupted" if self.signum else ("failed" if failed else "completed")
            self.recorder.end(status, elapsed)
        if self.signum is not None:
            raise RunInterrupted(self.signum)
        if failed:
            raise WorkflowError(self.name, failed)


def _apply(task: Task, event: TaskEvent) -> None:
    """Update the task from an event, and call its callbacks (errors logged, ignored)."""
    task.attempts = event.attempt
    if event.retry_in is not None:
        task.error = event.error
        if task.on_retry is not None:
            _call_back(task.on_retry, task.name, event.attempt)
        return
    changed = task.status is not event.status
    task.status = event.status
    if event.error is not None:
        task.error = event.error
    if event.status is not _COMPLETED and event.status is not TaskStatus.RUNNING:
        task.result = None
    if changed and task.on_status_change is not None:
        _call_back(task.on_status_change, task.name, event.status)


def _call_back(callback: Callable[[str, Any], object], name: str, value: Any) -> None:
    try:
        callback(name, value)
    except Exception:
        logger.exception("callback of task %r raised; ignored", name)


def _order(
    tasks: Sequence[Task],
    parents: Sequence[Sequence[int]],
    durations: dict[str, float],
    plan_order: bool,
) -> list[float]:
    """The ready-queue key: plan order (layer) for one-at-a-time runs, else the
    longest path below each task first, weighed by past durations when known."""
    if plan_order:
        depth = [0.0] * len(tasks)
        for node, ups in enumerate(parents):
            if ups:
                depth[node] = 1.0 + max(depth[up] for up in ups)
        return depth
    weights = None
    if durations:
        known = [durations.get(task.name) for task in tasks]
        typical = sorted(d for d in known if d is not None)[len(known) // 2 :][:1] or [0.0]
        weights = [max(d if d is not None else typical[0], 1e-6) for d in known]
    return [-w for w in graph.longest_path_below(parents, weights)]


# -- the loops --------------------------------------------------------------------


def drive(run: Run, backend: Backend) -> None:
    """The blocking loop: wait on a queue of outcomes, with the next deadline as timeout."""
    inbox: SimpleQueue[Outcome | None] = SimpleQueue()
    backend.open(inbox.put)
    engine = run.engine
    try:
        with _signals(run, lambda: inbox.put(None)):
            while True:
                now = _monotonic()
                for attempt in run.launch(now):
                    backend.submit(attempt)
                run.flush()
                if engine.finished:
                    break
                try:
                    item = inbox.get(timeout=run.wait_time(now))
                except Empty:
                    item = None
                now = _monotonic()
                while item is not None:
                    run.settle(item, now)
                    item = None if inbox.empty() else inbox.get_nowait()
                for attempt in run.expire(now):
                    backend.abandon(attempt)
                if run.signum is not None:
                    for attempt in run.interrupt(now):
                        backend.abandon(attempt)
                run.flush()
    finally:
        backend.close()
    run.finish()


async def drive_async(run: Run, backend: Backend) -> None:
    """The asyncio loop: the same steps, waiting on one future instead of a queue."""
    loop = asyncio.get_running_loop()
    inbox: deque[Outcome] = deque()
    wakeup: list[asyncio.Future[None]] = [loop.create_future()]

    def wake() -> None:
        if not wakeup[0].done():
            wakeup[0].set_result(None)

    def report(outcome: Outcome) -> None:
        inbox.append(outcome)
        if threading.get_ident() == loop_thread:
            wake()
        else:
            loop.call_soon_threadsafe(wake)

    loop_thread = threading.get_ident()
    backend.open(report)
    engine = run.engine
    try:
        with _signals(run, lambda: loop.call_soon_threadsafe(wake)):
            while True:
                now = _monotonic()
                for attempt in run.launch(now):
                    backend.submit(attempt)
                run.flush()
                if engine.finished:
                    break
                if not inbox:
                    await _wait(wakeup, run.wait_time(now), wake)
                now = _monotonic()
                while inbox:
                    run.settle(inbox.popleft(), now)
                for attempt in run.expire(now):
                    backend.abandon(attempt)
                if run.signum is not None:
                    for attempt in run.interrupt(now):
                        backend.abandon(attempt)
                run.flush()
    finally:
        backend.close()
    run.finish()


async def _wait(
    wakeup: list[asyncio.Future[None]], timeout: float | None, wake: Callable[[], None]
) -> None:
    future = wakeup[0]
    handle = None if timeout is None else asyncio.get_running_loop().call_later(timeout, wake)
    try:
        await future
    finally:
        if handle is not None:
            handle.cancel()
        wakeup[0] = asyncio.get_running_loop().create_future()


@contextmanager
def _signals(run: Run, wake: Callable[[], object]) -> Iterator[None]:
    """While the run lasts, SIGINT and SIGTERM interrupt it instead of killing the process.

    The first signal asks the loop to cancel everything; a task running inline on
    this thread is stopped with ``KeyboardInterrupt``. A second signal stops waiting.
    Only the main thread can handle signals, and handlers a program set itself stay.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if run.signum is not None:
            raise RunInterrupted(signum)
        run.request_interrupt(signum)
        wake()
        if current_attempt() is not None:
            raise KeyboardInterrupt  # stop the task running inline on this thread

    previous = {}
    for signum in (signal.SIGINT, signal.SIGTERM):
        current = signal.getsignal(signum)
        if current in (signal.SIG_DFL, signal.default_int_handler):
            previous[signum] = signal.signal(signum, handler)
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)
