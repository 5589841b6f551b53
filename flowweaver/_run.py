"""One run's shared state and steps: what both waiting loops (``_loop``) do.

:class:`Run` owns the engine (the pure state machine), the results, the tasks'
bindings and the observers. The loops call its steps: ``launch`` what is ready,
``settle`` an outcome, ``expire`` late attempts, ``interrupt`` on a signal,
``flush`` the engine's events to the tasks, their callbacks and the observers.
"""

from __future__ import annotations

import contextlib
import logging
import random
import signal
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from itertools import repeat
from operator import attrgetter
from typing import TYPE_CHECKING, Any, NamedTuple

from flowweaver import graph
from flowweaver._call import (
    NO_KEYWORDS,
    accepted_keywords,
    bindings,
    invoke,
    stop_calls_here,
    thread_state,
)
from flowweaver._logger import logger
from flowweaver.conditions import CacheHit, Conditional, ConditionError, ConditionFalse, FromCache
from flowweaver.engine import CONDITION_FALSE, Engine
from flowweaver.errors import RunInterrupted, RunTimeoutError, TaskTimeoutError, WorkflowError
from flowweaver.events import Observer, TaskEvent
from flowweaver.executors.contract import (
    Attempt,
    AttemptHook,
    AttemptWrapper,
    Failure,
    Held,
    Notice,
    PoolSlot,
    Started,
    error_text,
)
from flowweaver.history import RunStatus
from flowweaver.mapping import ItemsError, item_keys, items_of, only_items
from flowweaver.masking import NO_SECRETS, Masker
from flowweaver.pools import HostSlots, Pool
from flowweaver.task import ItemFailed, Map, Task, TaskStatus
from flowweaver.templates import shell_of

if TYPE_CHECKING:
    from flowweaver.executors.contract import Backend
    from flowweaver.folders import Placement
    from flowweaver.graph import Graph
    from flowweaver.history import Recorder
    from flowweaver.logs import RunLog

_monotonic = time.monotonic

Binding = tuple[tuple[str, int], ...]
"""Which upstream results a callable receives: ``(keyword, upstream position)`` pairs."""


class _ItemCall(NamedTuple):
    """What every item of a mapped task is called with, but the item itself."""

    owner: int  # the mapped task
    task: Task
    wrap: Callable[[Callable[..., Any]], Callable[..., Any]] | None  # its folder, if any
    kwargs: dict[str, Any]  # its other keyword arguments (upstream results)
    param: str  # the parameter that receives the item
    results: list[Any]  # the mapped task's result, filled as items end


_Item = tuple[_ItemCall, int, str, Any]
"""An item of a mapped task: how it is called, its place in the list, its key, the item."""


class _Bound(NamedTuple):
    """What each task of a run is called with, and what the run has to watch for."""

    bindings: list[Binding]  # by position: the upstream results the task receives
    conditions: dict[int, tuple[Callable[..., Any], Binding]]  # `when` predicates
    callbacks: bool  # a task has on_status_change or on_retry
    timed: bool  # a task has a timeout or retries
    special: set[int]  # mapped tasks and cached ones


_RUNNING = TaskStatus.RUNNING
_priority_of = attrgetter("priority")
_PENDING = TaskStatus.PENDING


class Run:
    """One run of ``tasks``: the engine, the results, and the events' subscribers.

    ``masker`` hides the workflow's secrets in every error text and traceback the run
    makes; ``output`` captures what the tasks print (an attempt hook, with ``hooks``);
    ``hooks`` are told of every attempt (see :class:`AttemptHook`).
    """

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
        pools: Mapping[str, Pool] | None = None,
        placement: Placement | None = None,
        masker: Masker = NO_SECRETS,
        output: RunLog | None = None,
        hooks: Sequence[AttemptHook] = (),
        attempt_wrappers: Sequence[AttemptWrapper] = (),
    ) -> None:
        self.name = name
        self.masker = masker
        self.output = output
        self.hooks: list[AttemptHook] = [*([output] if output is not None else []), *hooks]
        # What launch and settle call: the captured output's own methods when it is the
        # only hook (it never raises), else loops that contain each hook's errors.
        self._started: Callable[[Attempt], None] = self._start_hooks
        self._ended: Callable[[Attempt, Failure | None], None] = self._end_hooks
        if output is not None and not hooks:
            self._started, self._ended = output.started, output.ended
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
        self.results: list[Any] = [None] * len(tasks)  # by unit: tasks, then items
        self._count = len(tasks)
        self._graph_index = graph.index
        self._items: list[_Item] = []  # by unit - len(tasks): what each item is
        bound = _reset_and_bind(graph)
        self._bindings, self._conditions = bound.bindings, bound.conditions
        self._callbacks, self._may_be_timed = bound.callbacks, bound.timed
        self.placement = placement
        self._wraps = {} if placement is None else placement.calls
        # The tasks whose attempt is not simply their function called with their
        # upstream results: a mapped task, a cached one, a `when` predicate, a folder.
        # Decided once per run: a run that has none of them checks one empty set a task.
        self._special = bound.special.union(self._conditions, self._wraps)
        self._item_names: list[str] = []  # by unit - len(tasks)
        reused: dict[str, Any] = {}
        durations: dict[str, float] = {}
        if recorder is not None:
            self.observers.append(recorder.record_event)
            reused = recorder.begin(tasks, graph.parents)
            if not plan_order:  # (in plan order, no choice among ready tasks uses them)
                durations = recorder.past_durations()
        # The engine's events, and the task of each: filled by the engine, emptied by flush.
        self._events: list[TaskEvent] = []
        self._event_nodes: list[int] = []
        self._prepare = _one_wrapper(attempt_wrappers)  # None: none (the common case)
        observed = self._callbacks or bool(self.observers) or self._prepare is not None
        order = graph.depth if plan_order else _longest_first(tasks, graph.parents, durations)
        self.engine = Engine(
            tasks,
            graph.parents,
            _by_priority(tasks, order),
            slots=slots,
            children=graph.children,
            names=graph.names,
            fail_fast=fail_fast,
            wall_offset=time.time() - self.started_at,
            rng=rng,
            outbox=(self._events, self._event_nodes) if observed else None,
            now=self.started_at,
            pools=pools,
        )
        self._host_pools = {name: pool for name, pool in (pools or {}).items() if pool.host}
        self._host_slots: dict[str, HostSlots] = {}  # made when the loop opens the run
        if placement is not None:
            placement.enter()
        if reused:  # a resumed run: what the earlier run completed is not run again
            for index, task in enumerate(tasks):
                if task.name in reused:
                    self.results[index] = reused[task.name]
                    self.engine.preset(index, self.started_at, reused[task.name])
        self.flush()

    # -- the steps both loops take ----------------------------------------------------

    def launch(self, now: float, backend: Backend) -> float | None:  # noqa: C901 - the hot loop, kept in one frame on purpose (a call per task costs 3%)
        """Start what is ready and a slot allows, and submit each attempt to ``backend``.

        An attempt ``submit`` returns (the backend ran it inline) is settled at once,
        and what it made ready starts in the same call, until something is timed or
        signalled. Returns the time the last such attempt ended, or ``None``.
        """
        engine, running, events = self.engine, self.running, self._events
        tasks, results, bound = self.tasks, self.results, self._bindings
        start_next, succeed, special = engine.start_next, engine.succeed, self._special
        deadline, count, hooks = self.deadline, self._count, self.hooks
        items, item_names, attempt_of = self._items, self._item_names, engine.attempt_of
        timed = self._may_be_timed or deadline is not None
        # Shaped for speed: a backend that runs attempts inline (the sequential one) is
        # skipped, and `invoke` called here; a plain attempt's success (a task or item
        # that is not special, in a run with no hooks and no history) is kept here too.
        # That is two calls less per task than submit + _apply.
        inline = getattr(backend, "inline", False)
        here = thread_state() if inline else None
        quick = not hooks and self.recorder is None
        ended = None
        while True:  # (not "while <condition>": CPython 3.11 only specializes this one)
            if (self.signum is not None or self.timed_out) and (not self.stopped or self.aborted):
                break  # nothing starts until the loop has stopped the run
            index = start_next(now)
            if index < 0:
                break
            if index >= count:  # an item of a mapped task
                offset = index - count
                call, position, _, item = items[offset]
                task = call.task
                plain = not task.cache and call.wrap is None
                if plain:  # (what _item_attempt does, in this frame)
                    kwargs = call.kwargs.copy()
                    kwargs[call.param] = item
                    # (an item is only started again by a retry: without retries, no call
                    # to ask the engine its attempt's number)
                    number = attempt_of(index) if task.retries else 1
                    attempt = Attempt(
                        index, item_names[offset], number, task.fn, kwargs, task.timeout
                    )
                else:
                    item_attempt = self._item_attempt(index, now)
                    if item_attempt is None:
                        continue  # cached
                    attempt = item_attempt
            elif special and index in special:  # mapped, cached, conditional, in a folder
                special_attempt = self._special_attempt(index, now)
                if special_attempt is None:
                    continue  # expanded, or the cache served it
                attempt = special_attempt
                plain = False
            else:
                task = tasks[index]
                pairs = bound[index]
                attempt = Attempt(
                    index,
                    task.name,
                    task.attempts,  # (the engine has just set it to this attempt's number)
                    task.fn,
                    {keyword: results[up] for keyword, up in pairs} if pairs else {},
                    task.timeout,
                )
                plain = True
            running[index] = attempt
            if hooks:
                self._started(attempt)
            if events:  # (always, when the run wraps attempts: it is observed)
                self.flush()  # RUNNING is passed on before the call
                if self._prepare is not None:
                    self._prepare(attempt)
            if inline and attempt.timeout is None:  # what the backend's submit would do
                invoke(attempt, True, here)
            elif backend.submit(attempt) is None:
                continue  # it runs elsewhere: its outcome comes to the loop's inbox
            now = ended = _monotonic()
            if plain and quick and attempt.ok:  # (what _apply does with a plain success)
                del running[index]
                if index < count:
                    results[index] = attempt.value
                else:  # an item: its slot in its mapped task's list
                    call.results[position] = attempt.value
                succeed(index, now, attempt.value)
            else:
                self._apply(attempt, now)  # it ran inline, so it is current
            if timed and self._due(now, deadline):
                break  # the loop expires, wakes or stops what is due first
        return ended

    def _special_attempt(self, index: int, now: float) -> Attempt | None:
        """The attempt of a task that is not simply called: ``None`` when it is a mapped
        task (its items are given to the engine instead) or the cache served it."""
        task = self.tasks[index]
        if task.map is not None:
            self._expand(index, now)
            return None
        results = self.results
        kwargs = {keyword: results[up] for keyword, up in self._bindings[index]}
        fn = task.fn
        if task.cache:
            call = self._cached_call(index, task, kwargs, now)
            if call is None:
                return None  # the cache served it
            fn = call
        fn = self._special_call(index, fn, task.attempts)
        return Attempt(index, task.name, task.attempts, fn, kwargs, task.timeout)

    def _cached_call(
        self, index: int, task: Task, kwargs: dict[str, Any], now: float
    ) -> Callable[..., Any] | None:
        """What an attempt of a ``cache: true`` task calls: ``None`` when the cache
        served the task. A cache hit does not skip a ``when`` predicate: in the first
        attempt the predicate still runs first, on the executor, then :class:`FromCache`
        answers with the stored result."""
        if self.recorder is None:
            return task.fn
        if task.attempts == 1 and index in self._conditions:
            hit, value = self.recorder.lookup(task.name, task, kwargs)
            return FromCache(value) if hit else task.fn
        return None if self._from_cache(index, task.name, task, kwargs, now) else task.fn

    def _from_cache(
        self, index: int, name: str, task: Task, kwargs: dict[str, Any], now: float
    ) -> bool:
        """Complete a ``cache: true`` task (or item) from the cache, if it holds its result."""
        if self.recorder is None:
            return False
        hit, value = self.recorder.lookup(name, task, kwargs)
        if hit:
            self._succeeded(index, value)
            self.engine.succeed(index, now, value, True)
        return hit

    def _start_hooks(self, attempt: Attempt) -> None:
        for hook in self.hooks:
            try:
                hook.started(attempt)
            except Exception:
                logger.exception("attempt hook %r raised; ignored", hook)

    def _end_hooks(self, attempt: Attempt, failure: Failure | None) -> None:
        for hook in self.hooks:
            try:
                hook.ended(attempt, failure)
            except Exception:
                logger.exception("attempt hook %r raised; ignored", hook)

    # -- mapped tasks --

    def _expand(self, index: int, now: float) -> None:
        """Read mapped task ``index``'s items and give them to the engine."""
        task = self.tasks[index]
        spec = task.map
        assert spec is not None
        try:
            items, keys = self._items_and_keys(index, spec)
        except Exception as exc:
            error = str(exc) if isinstance(exc, ItemsError) else f"map: {error_text(exc)}"
            self.engine.refuse_items(index, now, error)
            return
        prefix = task.name
        names = [f"{prefix}[{key}]" for key in keys]
        result: list[Any] = [None] * len(items)
        self.results[index] = result  # filled as items end; what downstream tasks get
        results = self.results
        kwargs = {keyword: results[up] for keyword, up in self._bindings[index]}
        call = _ItemCall(index, task, self._wraps.get(index), kwargs, spec.param, result)
        units = self.engine.expand(index, names, now, result, spec.max_parallel)
        self._items.extend(zip(repeat(call), range(len(items)), keys, items))
        self._item_names.extend(names)
        reused = {} if self.recorder is None else self.recorder.begin_items(task, names, keys)
        if reused:  # a resumed run: the items that completed before are not run again
            for unit, name in zip(units, names, strict=True):
                if name in reused:
                    self._succeeded(unit, reused[name])
                    self.engine.preset(unit, now, reused[name])

    def _items_and_keys(self, index: int, spec: Map) -> tuple[list[Any], list[str]]:
        upstream, from_shell = None, False
        if spec.upstream is not None:
            source = self._graph_index[spec.upstream]
            upstream = self.results[source]
            from_shell = shell_of(self.tasks[source].fn) is not None
        items = items_of(spec, upstream, from_shell)
        return only_items(spec, items, item_keys(spec, items))

    def _item_attempt(self, unit: int, now: float) -> Attempt | None:
        """The attempt of an item (``None``: the cache had its result)."""
        offset = unit - self._count
        call, _, _, item = self._items[offset]
        kwargs = {**call.kwargs, call.param: item}
        name = self._item_names[offset]
        task = call.task
        if task.cache and self._from_cache(unit, name, task, kwargs, now):
            return None
        wrap = call.wrap  # its folder, its outputs checked
        fn = task.fn if wrap is None else wrap(task.fn)
        return Attempt(unit, name, self.engine.attempt_of(unit), fn, kwargs, task.timeout)

    def _succeeded(self, unit: int, value: Any) -> None:
        """Keep a unit's result: a task's, or an item's (in its mapped task's list)."""
        if unit < self._count:
            self.results[unit] = value
        else:
            call, position, _, _ = self._items[unit - self._count]
            call.results[position] = value

    def _item_failed(self, unit: int) -> None:
        """An item failed for good: its slot in the list says so."""
        call, position, key, item = self._items[unit - self._count]
        error = self.engine.error_of(unit) or "failed"
        call.results[position] = ItemFailed(key, item, error)

    def _due(self, now: float, deadline: float | None) -> bool:
        """Whether something timed is due: a deadline or retry time of the engine's, or
        the run's own deadline (then the run is asked to stop)."""
        if deadline is not None and now >= deadline:
            self.request_timeout()
            return True
        return self.engine.timed

    def open(self, inbox: Callable[[Notice], object]) -> None:
        """The loop is about to start: host pools send the slots they get to ``inbox``."""
        for name, pool in self._host_pools.items():
            self._host_slots[name] = HostSlots(name, pool.size, lambda n: inbox(PoolSlot(n)))

    @property
    def host_pools(self) -> bool:
        """Whether the run has host pools (whose slots the loop balances)."""
        return bool(self._host_slots)

    def balance_pools(self) -> bool:
        """Give host pools' tasks the slots free on the machine, wait for the others
        (the tasks left waiting say so once), give back the slots none uses. Returns
        whether a task got a slot at once (it can start now)."""
        engine = self.engine
        granted = False
        for name, slots in self._host_slots.items():
            waiting = engine.pool_waiting(name)
            if waiting:
                got = slots.take_free(waiting)
                for _ in range(got):
                    engine.grant(name)
                granted = granted or got > 0
                slots.want(waiting - got)
            else:
                slots.want(0)
                for _ in range(engine.pool_idle(name)):
                    engine.withdraw(name)
                    slots.give_back()
        return granted

    def say_waits(self, now: float) -> None:
        """The tasks that wait for a host pool's slot say so (once each)."""
        self.engine.say_waits(now)

    def close_pools(self) -> None:
        """The run is over: every host slot it holds is released."""
        for slots in self._host_slots.values():
            slots.close()

    def receive(self, notice: Notice, now: float) -> None:
        """What a backend reported: an ended attempt, or that it holds an attempt back
        (no timeout runs) until it says the attempt has really started."""
        if type(notice) is Attempt:
            self.settle(notice, now)
        elif isinstance(notice, Held):
            self.engine.hold_clock(notice.attempt.index, notice.attempt.number)
        elif isinstance(notice, Started):
            self.engine.start_clock(notice.attempt.index, notice.attempt.number, notice.time)
        elif isinstance(notice, PoolSlot):
            for _ in range(self._host_slots[notice.pool].take_granted()):
                self.engine.grant(notice.pool)

    def settle(self, attempt: Attempt, now: float) -> None:
        """Apply an ended attempt's outcome (stale ones, from abandoned attempts, are dropped)."""
        if self.engine.is_current(attempt.index, attempt.number):
            self._apply(attempt, now)

    def _apply(self, attempt: Attempt, now: float) -> None:
        """Apply the outcome of an ended attempt that is current."""
        index = attempt.index
        if attempt.ok:
            del self.running[index]
            if self.hooks:
                self._ended(attempt, None)
            value = attempt.value
            kind = type(value)
            if kind is ConditionFalse:
                self.engine.skip(index, now, CONDITION_FALSE)
                return
            if kind is CacheHit:  # its `when` was true, and the cache held its result
                self.results[index] = value = value.value
                self.engine.succeed(index, now, value, True)
                return
            if index < self._count:
                self.results[index] = value
            else:  # an item: its slot in its mapped task's list
                call, position, _, _ = self._items[index - self._count]
                call.results[position] = value
            self.engine.succeed(index, now, value)
            if self.recorder is not None:
                self.recorder.record_result(
                    attempt.name, self._task_of(index), attempt.kwargs, value
                )
        elif type(attempt.value) is RunInterrupted and self.signum is not None:
            # a second signal, raised in a task running on the loop's thread (inline, or a
            # coroutine): not that task's failure, but the end of the run
            self.request_abort()
        elif not self.aborted and (
            not self.stopping or self.stopped or self._task_of(index).run_if == "always"
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
        stop_calls_here(False)  # the loop's thread may run the always tasks
        name = signal.Signals(self.signum or signal.SIGINT).name
        return self._drop(self.engine.interrupt(now, f"interrupted by {name}"))

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
        dropped = [running.pop(node) for node in nodes if node in running]
        if self.hooks:
            error_of = self.engine.error_of
            for attempt in dropped:
                self._ended(attempt, Failure(error_of(attempt.index) or "cancelled"))
        return dropped

    @contextlib.contextmanager
    def capturing(self) -> Iterator[None]:
        """While the run is driven: what tasks print goes to their attempts' output
        (when the run captures it), then the output is closed."""
        output = self.output
        if output is None:
            yield
            return
        from flowweaver.logs import routed

        try:
            with routed():
                yield
        finally:
            output.close()

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
        stop_calls_here(False)  # the loop's thread may run the always tasks
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
            if event.status is _PENDING:
                continue  # it waits for a pool: not a change of status
            task = tasks[node]
            if event.retry_in is not None:  # a failed attempt that will be retried
                if task.on_retry is not None:
                    _call_back(task.on_retry, task.name, event.attempt)
            elif task.on_status_change is not None and (
                event.status is not _RUNNING or event.attempt == 1
            ):
                _call_back(task.on_status_change, task.name, event.status)

    def _fail(self, attempt: Attempt, exc: BaseException, now: float) -> None:
        index = attempt.index
        task = self._task_of(index)
        cause = exc.error if isinstance(exc, ConditionError) else exc  # `when` raised
        failure = self._failure(cause)
        if failure.traceback is not None:
            logger.debug(
                "task %r attempt %d failed:\n%s", attempt.name, attempt.number, failure.traceback
            )
        if self.recorder is not None:
            self.recorder.record_failure(attempt.name, attempt.number, failure)
        if self.hooks:
            self._ended(attempt, failure)
        retryable = cause is exc and isinstance(exc, task.retry_on)  # a `when` is not retried
        self.engine.fail(index, now, failure.error, retryable)
        if index >= self._count and self.engine.is_done(index):
            self._item_failed(index)

    def _failure(self, exc: BaseException) -> Failure:
        """The failure of an attempt, masked; its traceback only when something shows
        or keeps it (the history, a hook, the debug log)."""
        if self.recorder is None and not self.hooks and not logger.isEnabledFor(logging.DEBUG):
            return Failure(self.masker.mask(error_text(exc)))
        from flowweaver.logs.failures import describe

        return describe(exc, self.masker)

    def _task_of(self, unit: int) -> Task:
        """The task of a unit: itself, or an item's mapped task."""
        if unit < self._count:
            return self.tasks[unit]
        return self._items[unit - self._count][0].task

    def _special_call(self, index: int, fn: Callable[..., Any], number: int) -> Callable[..., Any]:
        """What attempt ``number`` of a task calls: its `when` predicate first (in the
        first attempt), in its folder, its outputs checked after."""
        if number == 1 and index in self._conditions:
            fn = self._conditional(index, fn)
        wrap = self._wraps.get(index)
        return fn if wrap is None else wrap(fn)

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
        try:
            if self.recorder is not None:
                self.recorder.end(self.status, self.elapsed(), self.exit_code)
        finally:
            if self.placement is not None:
                self.placement.leave()

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


def _one_wrapper(wrappers: Sequence[AttemptWrapper]) -> AttemptWrapper | None:
    """One call for the run's attempt wrappers (``None``: it has none); a wrapper that
    raises is logged and leaves the attempt as it was."""
    if not wrappers:
        return None

    def prepare(attempt: Attempt) -> None:
        for wrapper in wrappers:
            try:
                wrapper(attempt)
            except Exception:
                logger.exception("attempt wrapper %r raised; ignored", wrapper)

    return prepare


def _call_back(callback: Callable[[str, Any], object], name: str, value: Any) -> None:
    try:
        callback(name, value)
    except Exception:
        logger.exception("callback of task %r raised; ignored", name)


def _by_priority(tasks: Sequence[Task], order: Sequence[float]) -> Sequence[Any]:
    """The ready order with the tasks' priorities first (higher first), when any has one."""
    if not any(map(_priority_of, tasks)):
        return order
    return [(-task.priority, rank) for task, rank in zip(tasks, order, strict=True)]


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
    special: set[int] = set()
    callbacks = timed = False
    tasks, index, parents = graph.tasks, graph.index, graph.parents
    for position, task in enumerate(tasks):
        # (two pairs: an assignment of four builds a tuple, and this runs for every task)
        task.status, task.result = _PENDING, None
        task.error, task.attempts = None, 0
        if task.on_status_change is not None or task.on_retry is not None:
            callbacks = True
        if task.timeout is not None or task.retries:
            timed = True
        if task.map is not None or task.cache:
            special.add(position)
        ups = parents[position]
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
        if not ups or (not task.inputs and accepted_keywords(task.fn) is NO_KEYWORDS):
            bound.append(())  # nothing to bind
            continue
        named = [(tasks[up].name, up) for up in ups]
        inputs = {param: index[source] for param, source in task.inputs.items()}
        bound.append(bindings(task.fn, named, inputs))
    return _Bound(bound, conditions, callbacks, timed, special)
