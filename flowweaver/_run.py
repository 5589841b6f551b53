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
from typing import TYPE_CHECKING, Any, NamedTuple

from flowweaver import graph
from flowweaver._call import NO_KEYWORDS, accepted_keywords, bindings, stop_calls_here
from flowweaver.conditions import CacheHit, Conditional, ConditionError, ConditionFalse, FromCache
from flowweaver.engine import CONDITION_FALSE, Engine
from flowweaver.errors import RunInterrupted, RunTimeoutError, TaskTimeoutError, WorkflowError
from flowweaver.events import Observer, TaskEvent
from flowweaver.executors.contract import Attempt, Held, Notice, Started, error_text
from flowweaver.history import RunStatus
from flowweaver.task import Task, TaskStatus

if TYPE_CHECKING:
    from flowweaver.executors.contract import Backend
    from flowweaver.graph import Graph
    from flowweaver.history import Recorder

logger = logging.getLogger("flowweaver")
_monotonic = time.monotonic

Binding = tuple[tuple[str, int], ...]
"""Which upstream results a callable receives: ``(keyword, upstream position)`` pairs."""


class _Bound(NamedTuple):
    """What each task of a run is called with, and what the run has to watch for."""

    bindings: list[Binding]  # by position: the upstream results the task receives
    conditions: dict[int, tuple[Callable[..., Any], Binding]]  # `when` predicates
    callbacks: bool  # a task has on_status_change or on_retry
    timed: bool  # a task has a timeout or retries


_RUNNING = TaskStatus.RUNNING
_PENDING = TaskStatus.PENDING


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
        timeout: float | None = None,
    ) -> None:
        self.name = name
        self.tasks = tasks = graph.tasks
        self.recorder = recorder
        self.observers = list(observers)
        self.signum: int | None = None  # the signal that stops the run
        self.aborted = False  # a second signal came while a task ran on the loop's thread
        self.timeout = timeout
        self.timed_out = False  # the run's deadline has passed
        self.stopped = False  # the engine has been told of either
        self.started_at = _monotonic()
        self.ended_at: float | None = None
        self.running: dict[int, Attempt] = {}
        self.results: list[Any] = [None] * len(tasks)
        self._bindings, self._conditions, self._callbacks, self._may_be_timed = _reset_and_bind(
            graph
        )
        reused: dict[str, Any] = {}
        durations: dict[str, float] = {}
        if recorder is not None:
            self.observers.append(recorder.record_event)
            reused, durations = recorder.begin(tasks, graph.parents)
        # The engine's events, and the task of each: filled by the engine, emptied by flush.
        self._events: list[TaskEvent] = []
        self._event_nodes: list[int] = []
        observed = self._callbacks or bool(self.observers)
        self.engine = Engine(
            tasks,
            graph.parents,
            graph.depth if plan_order else _longest_first(tasks, graph.parents, durations),
            slots=slots,
            children=graph.children,
            names=graph.names,
            fail_fast=fail_fast,
            wall_offset=time.time() - self.started_at,
            rng=rng,
            outbox=(self._events, self._event_nodes) if observed else None,
            now=self.started_at,
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

        An attempt ``submit`` returns (the backend ran it inline) is settled at once,
        and what it made ready starts in the same call, until something is timed or
        signalled. Returns the time the last such attempt ended, or ``None``.
        """
        engine, running, events = self.engine, self.running, self._events
        tasks, results, bound = self.tasks, self.results, self._bindings
        start_next, may_be_timed = engine.start_next, self._may_be_timed
        conditions = self._conditions
        ended = None
        while True:  # (not "while <condition>": CPython 3.11 only specializes this one)
            if self.stopping and (not self.stopped or self.aborted):
                break  # nothing starts until the loop has stopped the run
            index = start_next(now)
            if index < 0:
                break
            task = tasks[index]
            pairs = bound[index]
            kwargs = {keyword: results[up] for keyword, up in pairs} if pairs else {}
            fn = task.fn
            if task.cache or conditions:
                call = self._call_of(index, task, kwargs, now)
                if call is None:
                    continue  # the cache served it
                fn = call
            attempt = running[index] = Attempt(
                index, task.name, task.attempts, fn, kwargs, task.timeout
            )  # (the engine has just set task.attempts to this attempt's number)
            if events:
                self.flush()  # RUNNING is passed on before the call
            if backend.submit(attempt) is not None:
                now = ended = _monotonic()
                self._apply(attempt, now)  # it ran inline, so it is current
                if may_be_timed and engine.timed:
                    break  # the loop expires and wakes what is due first
        return ended

    def receive(self, notice: Notice, now: float) -> None:
        """What a backend reported: an ended attempt, or that it holds an attempt back
        (no timeout runs) until it says the attempt has really started."""
        if type(notice) is Attempt:
            self.settle(notice, now)
        elif isinstance(notice, Held):
            self.engine.hold_clock(notice.attempt.index, notice.attempt.number)
        elif isinstance(notice, Started):
            self.engine.start_clock(notice.attempt.index, notice.attempt.number, notice.time)

    def settle(self, attempt: Attempt, now: float) -> None:
        """Apply an ended attempt's outcome (stale ones, from abandoned attempts, are dropped)."""
        if self.engine.is_current(attempt.index, attempt.number):
            self._apply(attempt, now)

    def _apply(self, attempt: Attempt, now: float) -> None:
        """Apply the outcome of an ended attempt that is current."""
        index = attempt.index
        if attempt.ok:
            del self.running[index]
            value = attempt.value
            kind = type(value)
            if kind is ConditionFalse:
                self.engine.skip(index, now, CONDITION_FALSE)
                return
            if kind is CacheHit:
                self.results[index] = value = value.value
                self.engine.succeed(index, now, value, True)
                return
            self.results[index] = value
            self.engine.succeed(index, now, value)
            if self.recorder is not None:
                self.recorder.record_result(self.tasks[index], attempt.kwargs, value)
        elif type(attempt.value) is RunInterrupted and self.signum is not None:
            # a second signal, raised in a task running on the loop's thread (inline, or a
            # coroutine): not that task's failure, but the end of the run
            self.request_abort()
        elif not self.aborted and (
            not self.stopping or self.stopped or self.tasks[index].run_if == "always"
        ):  # (else the stop, not yet applied, cancels this attempt's task)
            del self.running[index]
            self._fail(attempt, attempt.value, now)

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
        """Stop the run on its signal: cancel every unfinished task but the ``always``
        ones; returns the running attempts of those cancelled, to be abandoned."""
        self.stopped = True
        name = signal.Signals(self.signum or signal.SIGINT).name
        abandoned = self._drop(self.engine.interrupt(now, f"interrupted by {name}"))
        # The signal stopped calls on this thread until the stop was applied; now only
        # `always` tasks can start, and the sequential executor runs them here.
        stop_calls_here(False)
        return abandoned

    def abort(self, now: float) -> list[Attempt]:
        """Stop the run at once (a second signal, or the loop ended early): cancel every
        unfinished task, ``always`` ones too; returns the running attempts, to abandon."""
        self.stopped = True
        if self.signum is None:
            reason = "the run stopped before it ended"
        else:
            reason = f"interrupted by {signal.Signals(self.signum).name}"
        return self._drop(self.engine.abort(now, reason))

    def _drop(self, nodes: list[int]) -> list[Attempt]:
        running = self.running
        return [running.pop(node) for node in nodes if node in running]

    @property
    def deadline(self) -> float | None:
        """When the run is to be stopped (monotonic), if it has a timeout and still runs."""
        if self.timeout is None or self.stopping:
            return None
        return self.started_at + self.timeout

    def wait_time(self, now: float) -> float | None:
        wakeup = self.engine.next_wakeup()
        deadline = self.deadline
        if deadline is not None and (wakeup is None or deadline < wakeup):
            wakeup = deadline
        return None if wakeup is None else max(wakeup - now, 0.0)

    @property
    def stopping(self) -> bool:
        """Whether a signal or the deadline asks the run to stop."""
        return self.signum is not None or self.timed_out

    def request_timeout(self) -> None:
        """The run's deadline has passed (the loop stops the run at its next step)."""
        self.timed_out = True

    def time_out(self, now: float) -> list[Attempt]:
        """The run's deadline has passed: stop it as a signal does (``always`` tasks
        still run); returns the running attempts of the tasks cancelled, to abandon."""
        self.stopped = self.timed_out = True
        assert self.timeout is not None
        reason = f"the run timed out after {self.timeout:g}s"
        return self._drop(self.engine.interrupt(now, reason))

    def flush(self) -> None:
        """Pass the engine's new events to the tasks' callbacks and the observers.

        (The engine has already applied each transition to its task.)"""
        events = self._events
        if not events:
            return
        if self._callbacks:
            self._call_back(self._event_nodes, events)
        for event in events:
            for observer in self.observers:
                try:
                    observer(event)
                except Exception:
                    logger.exception("observer %r raised; ignored", observer)
        events.clear()
        self._event_nodes.clear()
        if self.recorder is not None:
            self.recorder.commit()  # the batch is in the history before the run goes on

    def _call_back(self, nodes: list[int], events: list[TaskEvent]) -> None:
        """The tasks' own callbacks, for these events: ``on_retry`` before a retry,
        ``on_status_change`` on a change of status (a new attempt is not one)."""
        tasks = self.tasks
        for node, event in zip(nodes, events, strict=True):
            task = tasks[node]
            if event.retry_in is not None:  # a failed attempt that will be retried
                if task.on_retry is not None:
                    _call_back(task.on_retry, task.name, event.attempt)
            elif task.on_status_change is not None and (
                event.status is not _RUNNING or event.attempt == 1
            ):
                _call_back(task.on_status_change, task.name, event.status)

    def _fail(self, attempt: Attempt, exc: BaseException, now: float) -> None:
        task = self.tasks[attempt.index]
        logger.debug("task %r attempt %d failed", task.name, attempt.number, exc_info=exc)
        if isinstance(exc, ConditionError):  # its `when` raised: not retried
            self.engine.fail(attempt.index, now, error_text(exc.error), False)
            return
        retryable = isinstance(exc, task.retry_on)
        self.engine.fail(attempt.index, now, error_text(exc), retryable)

    def _call_of(
        self, index: int, task: Task, kwargs: dict[str, Any], now: float
    ) -> Callable[..., Any] | None:
        """What an attempt of a cached or conditional task calls: its function, behind
        its ``when`` predicate in its first attempt; ``None`` when the cache served the
        task. A cache hit does not skip the predicate: it runs first, on the executor."""
        fn = task.fn
        conditional = index in self._conditions and task.attempts == 1
        if task.cache and self.recorder is not None:
            hit, value = self.recorder.lookup(task, kwargs)
            if hit and not conditional:
                self.results[index] = value
                self.engine.succeed(index, now, value, True)
                return None
            if hit:
                fn = FromCache(value)
        return self._conditional(index, fn) if conditional else fn

    def _conditional(self, index: int, fn: Callable[..., Any]) -> Conditional:
        """The first attempt's call of a task with a ``when`` predicate."""
        predicate, pairs = self._conditions[index]
        results = self.results
        return Conditional(predicate, fn, {keyword: results[up] for keyword, up in pairs})

    def request_interrupt(self, signum: int) -> None:
        self.signum = signum

    def request_abort(self) -> None:
        """A second signal came while a task ran on the loop's own thread, which took the
        exception as its failure: the loop stops the run at its next step."""
        self.aborted = True

    def elapsed(self) -> float:
        end = self.ended_at if self.ended_at is not None else _monotonic()
        return end - self.started_at

    @property
    def status(self) -> RunStatus:
        """How the run ended: completed, failed, interrupted or timed out."""
        if self.signum is not None:
            return RunStatus.INTERRUPTED
        if self.timed_out:
            return RunStatus.TIMED_OUT
        if self.failed() or not self.engine.finished:
            return RunStatus.FAILED
        return RunStatus.COMPLETED

    @property
    def exit_code(self) -> int:
        """The command's exit code for this run: 0, 1, or 128 + the signal."""
        if self.signum is not None:
            return 128 + self.signum
        if self.timed_out:
            return RunTimeoutError.exit_code
        return 1 if self.status is RunStatus.FAILED else 0

    def close(self) -> None:
        """Stop the clock and close the run's record (once, whatever ended the run)."""
        if self.ended_at is not None:
            return
        self.ended_at = _monotonic()
        if self.recorder is not None:
            self.recorder.end(self.status, self.elapsed(), self.exit_code)

    def failed(self) -> dict[str, str]:
        """The errors of the failed tasks that fail the run (allowed failures aside)."""
        tasks = self.tasks
        return {tasks[i].name: tasks[i].error or "failed" for i in self.engine.failed()}

    def finish(self) -> None:
        """Close the run, then raise if it was interrupted or a task failed."""
        self.close()
        if self.signum is not None:
            raise RunInterrupted(self.signum)
        if self.timed_out:
            assert self.timeout is not None
            raise RunTimeoutError(self.name, self.timeout)
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


def _reset_and_bind(graph: Graph) -> _Bound:
    """Set every task back to PENDING and say what each is called with (one pass:
    each task is touched once)."""
    bound: list[Binding] = []
    conditions: dict[int, tuple[Callable[..., Any], Binding]] = {}
    callbacks = timed = False
    tasks, index = graph.tasks, graph.index
    for position, (task, ups) in enumerate(zip(tasks, graph.parents, strict=True)):
        task.status, task.result, task.error, task.attempts = _PENDING, None, None, 0
        if task.on_status_change is not None or task.on_retry is not None:
            callbacks = True
        if task.timeout is not None or task.retries:
            timed = True
        when = task.when
        if when is not None and when is not True and when is not False:
            named = [(tasks[up].name, up) for up in ups]
            names, var_keyword = accepted_keywords(when)
            inputs = {  # (the task's inputs that the predicate takes too)
                param: index[source]
                for param, source in task.inputs.items()
                if var_keyword or param in names
            }
            conditions[position] = (when, bindings(when, named, inputs) if ups else ())
        if not ups or (accepted_keywords(task.fn) is NO_KEYWORDS and not task.inputs):
            bound.append(())
            continue
        named = [(tasks[up].name, up) for up in ups]
        inputs = {param: index[source] for param, source in task.inputs.items()}
        bound.append(bindings(task.fn, named, inputs))
    return _Bound(bound, conditions, callbacks, timed)
