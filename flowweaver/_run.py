"""One run's shared state and steps: what both waiting loops (``_loop``) do.

:class:`Run` owns the engine (the pure state machine), the results, the tasks'
bindings and the observers. The loops call its steps: ``launch`` what is ready,
``settle`` an outcome, ``expire`` late attempts, ``interrupt`` on a signal,
``flush`` the engine's events to the tasks, their callbacks and the observers.
"""

from __future__ import annotations

import logging
import random
import signal
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from flowweaver import graph
from flowweaver._call import (
    NO_KEYWORDS,
    Attempt,
    Held,
    Outcome,
    Started,
    accepted_keywords,
    bindings,
)
from flowweaver.engine import EXECUTING, Engine
from flowweaver.errors import RunInterrupted, TaskTimeoutError, WorkflowError
from flowweaver.events import Observer, TaskEvent
from flowweaver.history import RunStatus
from flowweaver.task import Task, TaskStatus

if TYPE_CHECKING:
    from flowweaver._loop import Backend
    from flowweaver.graph import Graph
    from flowweaver.history import Recorder

logger = logging.getLogger("flowweaver")
_monotonic = time.monotonic
_RUNNING = TaskStatus.RUNNING
_PENDING = TaskStatus.PENDING


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
        graph: Graph,
        *,
        slots: int,
        fail_fast: bool,
        observers: Sequence[Observer] = (),
        recorder: Recorder | None = None,
        plan_order: bool = False,
        rng: random.Random | None = None,
    ) -> None:
        self.name = name
        self.tasks = tasks = graph.tasks
        self.slots = slots
        self.recorder = recorder
        self.observers = list(observers)
        self.signum: int | None = None
        self.started_at = _monotonic()
        self.ended_at: float | None = None
        self.running: dict[int, Attempt] = {}
        self.results: list[Any] = [None] * len(tasks)
        self._bindings, self._callbacks = _reset_and_bind(graph)
        reused: dict[str, Any] = {}
        durations: dict[str, float] = {}
        if recorder is not None:
            self.observers.append(recorder.record_event)
            reused, durations = recorder.begin(tasks, graph.parents)
        self.engine = Engine(
            tasks,
            graph.parents,
            graph.depth if plan_order else _longest_first(tasks, graph.parents, durations),
            children=graph.children,
            names=graph.names,
            fail_fast=fail_fast,
            wall_offset=time.time() - self.started_at,
            rng=rng,
            record_events=self._callbacks or bool(self.observers),
        )
        if reused:  # a resumed run: what the earlier run completed is not run again
            for index, task in enumerate(tasks):
                if task.name in reused:
                    self.results[index] = reused[task.name]
                    self.engine.preset(index, self.started_at, reused[task.name])
        self.flush()

    # -- the steps both loops take ----------------------------------------------------

    def launch(self, now: float, backend: Backend) -> float | None:
        """Start what is ready and a slot allows, and submit each attempt to ``backend``.

        An outcome ``submit`` returns (the backend ran the attempt inline) is settled
        at once, and what it made ready starts in the same call, until something is
        timed or signalled. Returns the time of the last such outcome, or ``None``.
        """
        engine, slots, running = self.engine, self.slots, self.running
        tasks, results, bound = self.tasks, self.results, self._bindings
        start_next = engine.start_next
        ended = None
        while True:  # (not "while <condition>": CPython 3.11 only specializes this one)
            if engine.executing >= slots or self.signum is not None:
                break
            index = start_next(now)
            if index < 0:
                break
            task = tasks[index]
            pairs = bound[index]
            kwargs = {keyword: results[up] for keyword, up in pairs} if pairs else {}
            if task.cache and self.recorder is not None:
                hit, value = self.recorder.lookup(task, kwargs)
                if hit:
                    results[index] = value
                    engine.succeed(index, now, value, cached=True)
                    continue
            attempt = running[index] = Attempt(
                index, task.name, engine.attempt[index], task.fn, kwargs, task.timeout
            )
            if engine.events:
                self.flush()  # RUNNING is passed on before the call
            outcome = backend.submit(attempt)
            if outcome is not None:
                now = ended = _monotonic()
                self.settle(outcome, now)
                if engine.deadlines or engine.retries:
                    break  # the loop expires and wakes what is due first
        return ended

    def receive(self, item: Outcome | Held | Started, now: float) -> None:
        """What a backend reported: an outcome, or that it holds an attempt back (no
        timeout runs) until it says the attempt has really started."""
        if isinstance(item, Held):
            self.engine.hold_clock(item.attempt.index, item.attempt.number)
        elif isinstance(item, Started):
            self.engine.start_clock(item.attempt.index, item.attempt.number, item.time)
        else:
            self.settle(item, now)

    def settle(self, outcome: Outcome, now: float) -> None:
        """Apply one attempt's outcome (stale ones, from abandoned attempts, are dropped)."""
        attempt, ok, value = outcome
        index = attempt.index
        engine = self.engine
        if engine.phase[index] != EXECUTING or engine.attempt[index] != attempt.number:
            return  # an abandoned attempt's late outcome
        if ok:
            del self.running[index]
            self.results[index] = value
            engine.succeed(index, now, value)
            if self.recorder is not None:
                self.recorder.record_result(self.tasks[index], attempt.kwargs, value)
        elif self.signum is None:  # else stopped by the interruption: cancelled with the rest
            del self.running[index]
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
        """Pass the engine's new events to the tasks' callbacks and the observers.

        (The engine has already applied each transition to its task.)"""
        engine = self.engine
        events = engine.events
        if not events:
            return
        if self._callbacks:
            self._call_back(engine.event_nodes, events)
        for event in events:
            for observer in self.observers:
                try:
                    observer(event)
                except Exception:
                    logger.exception("observer %r raised; ignored", observer)
        events.clear()
        engine.event_nodes.clear()
        if self.recorder is not None:
            self.recorder.commit()  # the batch is in the history before the run goes on

    def _call_back(self, nodes: list[int], events: list[TaskEvent]) -> None:
        """The tasks' own callbacks, for these events: ``on_retry`` before a retry,
        ``on_status_change`` on a change of status (a new attempt is not one)."""
        tasks = self.tasks
        for node, event in zip(nodes, events, strict=True):
            task = tasks[node]
            if event[6] is not None:  # retry_in: a failed attempt that will be retried
                if task.on_retry is not None:
                    _call_back(task.on_retry, task.name, event[2])
            elif task.on_status_change is not None and (event[1] is not _RUNNING or event[2] == 1):
                _call_back(task.on_status_change, task.name, event[1])

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

    def close(self) -> None:
        """Stop the clock and close the run's record (once, whatever ended the run)."""
        if self.ended_at is not None:
            return
        self.ended_at = _monotonic()
        if self.recorder is not None:
            if self.signum is not None:
                status = RunStatus.INTERRUPTED
            elif self.failed() or not self.engine.finished:
                status = RunStatus.FAILED
            else:
                status = RunStatus.COMPLETED
            self.recorder.end(status, self.elapsed())

    def failed(self) -> dict[str, str]:
        """The failed tasks' errors, by name."""
        tasks = self.tasks
        return {tasks[i].name: tasks[i].error or "failed" for i in self.engine.failed}

    def finish(self) -> None:
        """Close the run, then raise if it was interrupted or a task failed."""
        self.close()
        if self.signum is not None:
            raise RunInterrupted(self.signum)
        failed = self.failed()
        if failed:
            raise WorkflowError(self.name, failed)


def _call_back(callback: Callable[[str, Any], object], name: str, value: Any) -> None:
    try:
        callback(name, value)
    except Exception:
        logger.exception("callback of task %r raised; ignored", name)


def _longest_first(
    tasks: Sequence[Task], parents: Sequence[Sequence[int]], durations: dict[str, float]
) -> list[float]:
    """The ready-queue key for parallel runs: the longest path below each task first,
    by task counts, or by past durations when the history knows them."""
    weights = None
    if durations:
        known = [durations.get(task.name) for task in tasks]
        measured = sorted(d for d in known if d is not None)
        typical = measured[len(measured) // 2] if measured else 0.0
        weights = [max(d if d is not None else typical, 1e-6) for d in known]
    return [-w for w in graph.longest_path_below(parents, weights)]


def _reset_and_bind(graph: Graph) -> tuple[list[tuple[tuple[str, int], ...]], bool]:
    """Set every task back to PENDING and say, for each, the upstream results it
    receives: ``(keyword, position)`` pairs; and whether any task has a callback.
    (One pass: each task is touched once.)"""
    bound: list[tuple[tuple[str, int], ...]] = []
    callbacks = False
    tasks = graph.tasks
    for task, ups in zip(tasks, graph.parents, strict=True):
        task.status, task.result, task.error, task.attempts = _PENDING, None, None, 0
        if task.on_status_change is not None or task.on_retry is not None:
            callbacks = True
        if not ups or (accepted_keywords(task.fn) is NO_KEYWORDS and not task.inputs):
            bound.append(())
            continue
        named = [(tasks[up].name, up) for up in ups]
        inputs = {param: graph.index[source] for param, source in task.inputs.items()}
        bound.append(bindings(task.fn, named, inputs))
    return bound, callbacks
