"""The pure state machine of one run: every task transition happens here.

The engine is given ``now`` (a monotonic time) by its caller and reads no clock,
starts no thread and does no I/O. It knows the ready queue, the slots, attempts,
retry times, deadlines, skip and cancel propagation; the run (``_run``) asks it what
to start and tells it what ended. Its state is its own: the run asks questions
(:meth:`Engine.is_current`, :meth:`Engine.next_wakeup` …), and a transition asked
of a task in the wrong phase raises :class:`TransitionError` rather than corrupt
the counts.

Each transition is applied to the :class:`~flowweaver.task.Task` itself (status,
attempts, error; a stale result is cleared). An event is made for it only when the
engine was given an ``outbox``: a run nobody observes builds no events.

A task moves PENDING → RUNNING → COMPLETED | FAILED, or PENDING → SKIPPED or
→ CANCELLED (interrupted, or fail-fast); RUNNING → SKIPPED when its ``when``
predicate says no. Between a failed attempt and its retry the task stays RUNNING.

When its last upstream task ends, a task's ``run_if`` rule decides whether it runs
or is skipped, and why (:data:`REASONS`): the one rule that replaces "skip what is
below a failure". Stopping (fail-fast, a signal, a deadline) cancels what has not
started, except the tasks that rule lets run anyway: ``always`` ones, and on
fail-fast ``failure`` ones; a hard stop (a second signal) cancels those too.

The engine schedules *units*: the workflow's tasks (units ``0 … n-1``), and the items
of mapped tasks, added when a mapped task is expanded (:meth:`Engine.expand`). An item
is scheduled like a task — ready queue, slots, attempts, retries, deadlines, stops —
with its mapped task's policy, and the mapped task ends when its last item ends. A
*limiter* bounds how many units of a group execute at once (a mapped task's
``max_parallel``): a unit whose limiter is full waits in that limiter's own queue,
in its place, and goes back to the ready queue when a slot frees, so starting a unit
never scans the waiting ones.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from heapq import heapify, heappop, heappush
from typing import TYPE_CHECKING, Any

from flowweaver import graph
from flowweaver.events import TaskEvent, new_event
from flowweaver.task import RUN_IF, Task, TaskStatus

if TYPE_CHECKING:
    from flowweaver.pools import Pool

PENDING = TaskStatus.PENDING
RUNNING = TaskStatus.RUNNING
COMPLETED = TaskStatus.COMPLETED
FAILED = TaskStatus.FAILED
SKIPPED = TaskStatus.SKIPPED
CANCELLED = TaskStatus.CANCELLED

# What the engine knows of a task beyond its status.
_WAITING, _READY, _EXECUTING, _RETRY_WAIT, _DONE, _MAPPED = range(6)
_PHASES = ("waiting", "ready", "executing", "waiting to retry", "done", "running its items")

# run_if rules, by index in RUN_IF
_SUCCESS, _NO_FAILURE, _FAILURE, _DONE_RULE, _ALWAYS = (RUN_IF.index(r) for r in RUN_IF)

# How far the run has been stopped: what may still start.
_GOING, _FAIL_FAST, _INTERRUPTED, _ABORTED = range(4)

UPSTREAM_FAILED = "upstream failed"
UPSTREAM_SKIPPED = "upstream skipped"
CONDITION_FALSE = "condition false"
RULE_NOT_MET = "rule not met"
REASONS = (UPSTREAM_FAILED, UPSTREAM_SKIPPED, CONDITION_FALSE, RULE_NOT_MET)
"""Why a task was skipped: its error text and its events' ``reason``."""

_NODE_BITS = 32
_NODE_MASK = (1 << _NODE_BITS) - 1


class TransitionError(RuntimeError):
    """A transition was asked of a task in a phase that does not allow it (a bug in
    the code driving the engine, never a task's failure)."""


Outbox = tuple[list[TaskEvent], list[int]]
"""Where the engine appends the events it makes, and the unit of each one."""

FAILED_ITEMS_NAMED = 3
"""How many failed items a mapped task's error names."""


@dataclass(slots=True)
class _Mapping:
    """Mapped task ``node``'s items: units ``first … first + count - 1``."""

    node: int
    first: int
    count: int
    result: object
    left: int = 0
    failed: list[int] = field(default_factory=list)
    cancelled: int = 0


def _keys(order: Sequence[Any]) -> list[int]:
    """Each unit's ready-queue key: its rank by ``(order, position)`` in the high bits,
    itself in the low ones. An order that is already sorted (a chain's plan, tasks
    all alike) ranks each task at its position: those keys are made without a loop."""
    count = len(order)
    if isinstance(order, list) and order == sorted(order):
        step = (1 << _NODE_BITS) + 1  # rank = node
        return list(range(0, count * step, step))
    key = [0] * count
    for rank, node in enumerate(sorted(range(count), key=order.__getitem__)):  # stable
        key[node] = rank << _NODE_BITS | node
    return key


def _where(values: list[Any], value: object) -> Iterator[int]:
    """The positions of ``value`` in ``values``, each found by a scan in C."""
    position = -1
    try:
        while True:
            position = values.index(value, position + 1)
            yield position
    except ValueError:
        return


class Engine:
    """The transitions of one run over ``tasks`` (``parents[i]``: what task ``i`` needs).

    ``order[i]`` ranks ready tasks (any comparable keys): smaller starts first, ties
    by position. At most
    ``slots`` attempts execute at once. ``now`` is when the run starts (a task that
    can never run is skipped then).
    """

    def __init__(
        self,
        tasks: Sequence[Task],
        parents: Sequence[Sequence[int]],
        order: Sequence[Any],
        *,
        slots: int = 1 << 30,
        children: Sequence[Sequence[int]] | None = None,
        names: Sequence[str] | None = None,
        fail_fast: bool = False,
        wall_offset: float = 0.0,
        rng: random.Random | None = None,
        outbox: Outbox | None = None,
        now: float = 0.0,
        pools: Mapping[str, Pool] | None = None,
    ) -> None:
        count = self._count = len(tasks)
        self._tasks = tasks
        self._task_of: list[Task] = list(tasks)  # each unit's task (an item's: its mapped task)
        self._names = list(names) if names is not None else [task.name for task in tasks]
        self._children = children if children is not None else graph.children_of(parents)
        self._slots = slots
        self._fail_fast = fail_fast
        self._wall_offset = wall_offset
        self._rng = rng or random.Random()
        self._events, self._event_nodes = outbox if outbox is not None else ([], [])
        self._record_events = outbox is not None
        # The ready queue is a heap of plain ints (they compare fastest): the unit's rank
        # by (order, position) in the high bits, the unit in the low ones. Items take
        # their mapped task's rank, so they keep its place and start in item order.
        self._key = _keys(order)
        self._phase = [_WAITING] * count
        self._attempt = [0] * count
        self._first_start = [0.0] * count
        self._deadline_at = [0.0] * count  # the current attempt's deadline (if it has one)
        self._limits: list[tuple[int, ...] | None] = [None] * count
        self._waiting = list(map(len, parents))
        self._parents = parents
        # run_if: a task whose last upstream task ends becomes ready at once unless it
        # has to be decided (a rule other than success, a false `when`, a mapped task,
        # or an upstream task that did not complete): _decide is then set.
        self._decide = [
            task.run_if != "success" or task.when is False or task.map is not None for task in tasks
        ]
        self._rule = [_SUCCESS] * count
        for node in list(_where(self._decide, True)):
            self._rule[node] = RUN_IF.index(tasks[node].run_if)
        self._not_completed = [0] * count  # upstream tasks that ended otherwise
        self._upstream_failed = [0] * count  # … of which failed
        self._mappings: dict[int, _Mapping] = {}  # by mapped task
        self._item_mapping: list[_Mapping] = []  # by unit - count: the item's mapped task's
        self._item_errors: dict[int, str] = {}  # failed items' errors
        self._capacity: list[int] = []  # by limiter
        self._used: list[int] = []
        self._parked: list[list[int]] = []  # by limiter: a heap of the keys that wait for it
        self._limiter_names: list[str | None] = []  # a pool's name (None: a map's bound)
        self._pools: dict[str, int] = {}  # pool name -> limiter
        self._pool_sizes: dict[str, int] = {}
        self._host_pools: set[str] = set()
        self._item_limits: dict[int, tuple[int, ...]] = {}  # by mapped task: its items' pools
        self._waited: set[int] = set()  # units that said they wait for a pool (this attempt)
        self._unsaid: list[tuple[int, str]] = []  # units waiting for a host pool, not yet said
        self._add_pools(pools or {}, tasks)
        self._failed: list[int] = []  # the tasks that failed (allowed failures aside), in order
        self._allowed_failures = 0
        self._unfinished = count
        self._executing = 0
        self._stop, self._stop_reason = _GOING, ""
        self._ready: list[int] = []
        # heaps of (time, unit, attempt): a deadline or a retry time is pending while
        # either is non-empty (a finished attempt's deadline is dropped lazily)
        self._deadlines: list[tuple[float, int, int]] = []
        self._retries: list[tuple[float, int, int]] = []
        ready, key, decide, phase = self._ready, self._key, self._decide, self._phase
        # (the roots are listed first: skipping one counts its children down)
        for node in list(_where(self._waiting, 0)):
            if decide[node]:
                self._settle(node, now)
            else:
                phase[node] = _READY
                ready.append(key[node])
        heapify(ready)

    # -- questions ----------------------------------------------------------------

    @property
    def finished(self) -> bool:
        """Whether every task has ended."""
        return self._unfinished == 0

    @property
    def executing(self) -> int:
        """How many attempts are executing now."""
        return self._executing

    @property
    def timed(self) -> bool:
        """Whether a deadline or a retry time is pending."""
        return bool(self._deadlines or self._retries)

    @property
    def stopped(self) -> bool:
        """Whether the run was stopped (fail-fast, interrupted, aborted)."""
        return self._stop != _GOING

    @property
    def allowed_failures(self) -> int:
        """How many tasks failed that were allowed to (``allow_failure``)."""
        return self._allowed_failures

    def failed(self) -> list[int]:
        """The tasks that failed and were not allowed to, in the order they failed."""
        return list(self._failed)

    def is_current(self, node: int, attempt: int) -> bool:
        """Whether an outcome for ``attempt`` of ``node`` still matters."""
        return self._phase[node] == _EXECUTING and self._attempt[node] == attempt

    def name_of(self, node: int) -> str:
        """A unit's name: its task's, or an item's (``load[b.csv]``)."""
        return self._names[node]

    def attempt_of(self, node: int) -> int:
        """The number of a unit's latest attempt (0: not started)."""
        return self._attempt[node]

    def error_of(self, node: int) -> str | None:
        """Why an item failed (a task's error is on the task)."""
        if node < self._count:
            return self._tasks[node].error
        return self._item_errors.get(node)

    def is_done(self, node: int) -> bool:
        """Whether ``node`` (a task or an item) has ended."""
        return self._phase[node] == _DONE

    def executing_nodes(self) -> list[int]:
        """The units with an attempt executing now."""
        return [node for node, phase in enumerate(self._phase) if phase == _EXECUTING]

    def next_wakeup(self) -> float | None:
        """The earliest deadline or retry time, or ``None`` if nothing is timed."""
        self._drop_stale_deadlines()
        times = []
        if self._deadlines:
            times.append(self._deadlines[0][0])
        if self._retries:
            times.append(self._retries[0][0])
        return min(times) if times else None

    def has_ready(self, now: float) -> bool:
        """Whether a task could start now, slots aside (a retry whose delay is over counts)."""
        if self._retries:
            self._wake_retries(now)
        return bool(self._ready)

    # -- transitions ----------------------------------------------------------------

    def preset(self, node: int, now: float, value: object) -> None:
        """Mark a task (or item) that has not started COMPLETED with ``value`` (reused
        from an earlier run)."""
        self._require(node, (_WAITING, _READY), "preset")
        self._phase[node] = _EXECUTING  # (as if it ran: succeed ends it)
        self._executing += 1
        limits = self._limits[node]
        if limits is not None:
            for limiter in limits:
                self._used[limiter] += 1
        self.succeed(node, now, value, False, True)

    def start_next(self, now: float) -> int:
        """Start the best ready unit, if a slot is free; return it, or ``-1``.

        A mapped task is started by expanding it: it is returned without taking a slot,
        in the phase "running its items", for the run to :meth:`expand` at once."""
        if self._retries:
            self._wake_retries(now)
        if self._executing >= self._slots:
            return -1
        ready, phase = self._ready, self._phase
        while ready:
            key = heappop(ready)
            node = key & _NODE_MASK
            if phase[node] != _READY:
                continue  # ended (preset, cancelled) after it was made ready
            limits = self._limits[node]
            if limits is not None and not self._take(key, limits, now):
                continue  # it waits in its limiter's queue
            task = self._task_of[node]
            attempts = self._attempt
            attempt = attempts[node] = attempts[node] + 1
            if node < self._count:  # a task, not an item (its task is its mapped task)
                if task.map is not None:
                    return self._begin_mapping(node, now)
                task.status, task.attempts = RUNNING, attempt  # a retry stays RUNNING
            phase[node] = _EXECUTING
            self._executing += 1
            if task.timeout is not None:
                deadline = self._deadline_at[node] = now + task.timeout
                heappush(self._deadlines, (deadline, node, attempt))
            if self._record_events:
                self._record_start(node, attempt, now)
            return node
        return -1

    def _record_start(self, node: int, attempt: int, now: float) -> None:
        if attempt == 1:
            self._first_start[node] = now  # for the final event's duration
        self._record(node, RUNNING, now, None, None, False, False)

    def expand(
        self,
        node: int,
        names: Sequence[str],
        now: float,
        result: object = None,
        max_parallel: int | None = None,
    ) -> range:
        """Give mapped task ``node`` its items, named ``names`` (``load[b.csv]``): they
        become units of the run, ready in their order, at most ``max_parallel`` of them
        executing at once. ``result`` is what the task's result will be (the run fills
        it as items end). Returns the items' units."""
        self._require(node, (_MAPPED,), "expand")
        first, count = len(self._phase), len(names)
        units = range(first, first + count)
        mapping = self._mappings[node] = _Mapping(node, first, count, result, left=count)
        limits = self._item_limits.get(node)
        if max_parallel is not None:
            limits = (*(limits or ()), self._new_limiter(max_parallel))
        rank = self._key[node] & ~_NODE_MASK
        self._task_of.extend([self._tasks[node]] * count)
        self._names.extend(names)
        self._phase.extend([_READY] * count)
        self._attempt.extend([0] * count)
        self._first_start.extend([0.0] * count)
        self._deadline_at.extend([0.0] * count)
        self._limits.extend([limits] * count)
        keys = range(rank + first, rank + first + count)  # (rank | unit: its low bits are 0)
        self._key.extend(keys)
        self._item_mapping.extend([mapping] * count)
        self._unfinished += count
        if self._record_events:
            self._record(node, RUNNING, now, None, None, False, False, items=count)
        ready = self._ready
        ordered = not ready  # increasing keys alone are a heap already
        ready.extend(keys)
        if not ordered:
            heapify(ready)
        if not count:
            self._end_mapping(node, now)
        return units

    def refuse_items(self, node: int, now: float, error: str) -> None:
        """Mapped task ``node``'s items could not be had (its list is not a list, two
        items share a key): it fails with ``error`` before any item runs."""
        self._require(node, (_MAPPED,), "refuse its items")
        self._end(node, FAILED, now, error)
        if self._fail_fast and not self._tasks[node].allow_failure and self._stop == _GOING:
            self._cancel(now, "fail-fast after a failure", _FAIL_FAST)

    def succeed(
        self,
        node: int,
        now: float,
        value: object = None,
        cached: bool = False,
        reused: bool = False,
    ) -> None:  # (no keyword-only parameters: CPython 3.11 would not specialize its calls)
        """``node``'s current attempt returned ``value`` (``cached``: the cache had it;
        ``reused``: an earlier run did, see :meth:`preset`)."""
        phase = self._phase
        if phase[node] != _EXECUTING:
            self._require(node, (_EXECUTING,), "succeed")
        phase[node] = _DONE
        self._executing -= 1
        limits = self._limits[node]
        if limits is not None:
            self._release(limits)
        self._unfinished -= 1
        if node >= self._count:  # an item: its mapped task ends with its last item
            if self._record_events:
                self._record(node, COMPLETED, now, None, None, cached, reused)
            mapping = self._item_mapping[node - self._count]
            mapping.left -= 1
            if mapping.left == 0 and phase[mapping.node] == _MAPPED:
                self._end_mapping(mapping.node, now)
            return
        task = self._tasks[node]
        task.status, task.result = COMPLETED, value
        if self._record_events:
            self._record(node, COMPLETED, now, None, None, cached, reused)
        # (pairs: an assignment of four names builds and unpacks a tuple, per task)
        waiting, decide = self._waiting, self._decide
        ready, key = self._ready, self._key
        for child in self._children[node]:
            left = waiting[child] = waiting[child] - 1
            if left == 0 and phase[child] == _WAITING:
                if decide[child]:
                    self._settle(child, now)
                else:
                    phase[child] = _READY
                    heappush(ready, key[child])

    def fail(self, node: int, now: float, error: str, retryable: bool = True) -> None:
        """``node``'s current attempt failed with ``error``; retried if it may be."""
        self._require(node, (_EXECUTING,), "fail")
        self._stop_executing(node)
        task = self._task_of[node]
        attempt = self._attempt[node]
        if retryable and attempt <= task.retries and self._may_start(node):
            delay = task.retry_delay_for(attempt)
            if task.retry_jitter and delay:
                delay *= 1 + self._rng.uniform(-task.retry_jitter, task.retry_jitter)
            self._phase[node] = _RETRY_WAIT
            if node < self._count:
                task.error = error
            heappush(self._retries, (now + delay, node, attempt))
            if self._record_events:
                self._record(node, RUNNING, now, error, delay, False, False)
            return
        self._end(node, FAILED, now, error)
        if self._fail_fast and not task.allow_failure and self._stop == _GOING:
            self._cancel(now, "fail-fast after a failure", _FAIL_FAST)

    def skip(self, node: int, now: float, reason: str) -> None:
        """``node``'s condition, checked in its first attempt, says it is not to run."""
        self._require(node, (_EXECUTING,), "skip")
        self._stop_executing(node)
        self._end(node, SKIPPED, now, reason)

    def expired(self, now: float) -> list[int]:
        """Executing units whose deadline has passed (their attempt is to be failed)."""
        late: list[int] = []
        deadlines = self._deadlines
        while deadlines and deadlines[0][0] <= now:
            entry = heappop(deadlines)
            if self._is_live(entry):
                late.append(entry[1])
        return late

    def hold_clock(self, node: int, attempt: int) -> None:
        """Attempt ``attempt`` of ``node`` has not really started (its backend holds it
        until a worker is ready): no deadline for it until :meth:`start_clock`."""
        if self.is_current(node, attempt):
            self._deadline_at[node] = math.inf  # the deadline pushed at its start is stale

    def start_clock(self, node: int, attempt: int, now: float) -> None:
        """A held attempt really started at ``now``: its timeout counts from then."""
        timeout = self._task_of[node].timeout
        if timeout is not None and self.is_current(node, attempt):
            deadline = self._deadline_at[node] = now + timeout
            heappush(self._deadlines, (deadline, node, attempt))

    def pool_waiting(self, pool: str) -> int:
        """How many units wait for a slot of ``pool`` (a host pool's run asks for more)."""
        return len(self._parked[self._pools[pool]])

    def pool_idle(self, pool: str) -> int:
        """How many slots of ``pool`` the run has and no attempt uses."""
        limiter = self._pools[pool]
        return self._capacity[limiter] - self._used[limiter]

    def say_waits(self, now: float) -> None:
        """The run asked the machine for host pools' free slots and got none for the
        units still waiting: each says once that it waits (a PENDING event)."""
        if not self._unsaid:
            return
        unsaid, self._unsaid = self._unsaid, []
        pools = {pool for _, pool in unsaid}
        queued = {key & _NODE_MASK for pool in pools for key in self._parked[self._pools[pool]]}
        for node, pool in unsaid:
            if node in queued and node not in self._waited:
                self._record_wait(node, pool, now)

    def grant(self, pool: str) -> None:
        """The run got one more slot of host pool ``pool``: the best unit waiting for
        one goes back to the ready queue."""
        limiter = self._pools[pool]
        self._capacity[limiter] += 1
        parked = self._parked[limiter]
        if parked:
            heappush(self._ready, heappop(parked))

    def withdraw(self, pool: str) -> None:
        """The run gives back an idle slot of host pool ``pool``."""
        if self.pool_idle(pool) <= 0:
            raise TransitionError(f"pool {pool!r} has no idle slot to give back")
        self._capacity[self._pools[pool]] -= 1

    def interrupt(self, now: float, reason: str) -> list[int]:
        """Stop the run (a signal, a deadline): cancel every unfinished task but the
        ``always`` ones, which still run. Returns the executing units it cancelled,
        whose attempts are to be abandoned."""
        return self._cancel(now, reason, _INTERRUPTED)

    def abort(self, now: float, reason: str) -> list[int]:
        """Stop the run now (a second signal): cancel every unfinished task, ``always``
        ones included. Returns the executing units it cancelled."""
        return self._cancel(now, reason, _ABORTED)

    # -- internals ----------------------------------------------------------------

    def _require(self, node: int, phases: tuple[int, ...], transition: str) -> None:
        phase = self._phase[node]
        if phase not in phases:
            raise TransitionError(
                f"task {self._names[node]!r} can't {transition}: it is {_PHASES[phase]}"
            )

    def _owner(self, node: int) -> int:
        """The task of a unit: itself, or an item's mapped task."""
        return node if node < self._count else self._item_mapping[node - self._count].node

    def _may_start(self, node: int) -> bool:
        """Whether ``node`` may still start (or retry), however far the run was stopped."""
        stop = self._stop
        if stop == _GOING:
            return True
        rule = self._rule[self._owner(node)]
        return (rule == _ALWAYS and stop < _ABORTED) or (rule == _FAILURE and stop == _FAIL_FAST)

    def _stop_executing(self, node: int) -> None:
        """``node``'s attempt no longer executes: free its slot and its limiters'."""
        self._phase[node] = _DONE
        self._executing -= 1
        limits = self._limits[node]
        if limits is not None:
            self._release(limits)

    # -- limiters (pools, and mapped tasks' max_parallel) --

    def _new_limiter(self, capacity: int, name: str | None = None) -> int:
        self._capacity.append(capacity)
        self._used.append(0)
        self._parked.append([])
        self._limiter_names.append(name)
        return len(self._capacity) - 1

    def _add_pools(self, pools: Mapping[str, Pool], tasks: Sequence[Task]) -> None:
        """A limiter per pool (a host pool's slots are granted by the run, so it starts
        with none), and each pooled task's limits; a mapped task's are its items'."""
        for name, pool in pools.items():
            self._pools[name] = self._new_limiter(0 if pool.host else pool.size, name)
            self._pool_sizes[name] = pool.size
            if pool.host:
                self._host_pools.add(name)
        if not self._pools:
            return
        for node, task in enumerate(tasks):
            if task.pool is None:
                continue
            limits = (self._pools[task.pool],)
            if task.map is not None:
                self._item_limits[node] = limits
            else:
                self._limits[node] = limits

    def _take(self, key: int, limits: tuple[int, ...], now: float) -> bool:
        """Take a slot of each of ``limits`` for the unit of ``key``; if one is full, park
        the key in its queue (in its place) and take nothing."""
        used, capacity = self._used, self._capacity
        for limiter in limits:
            if used[limiter] >= capacity[limiter]:
                heappush(self._parked[limiter], key)
                name = self._limiter_names[limiter]
                node = key & _NODE_MASK
                if name is None or not self._record_events or node in self._waited:
                    return False
                if name in self._host_pools:  # said once the machine has no free slot
                    self._unsaid.append((node, name))
                else:
                    self._record_wait(node, name, now)
                return False
        for limiter in limits:
            used[limiter] += 1
        if self._waited:
            self._waited.discard(key & _NODE_MASK)  # (its next wait is said again)
        return True

    def _record_wait(self, node: int, pool: str, now: float) -> None:
        """A unit starts waiting for a slot of ``pool``: a PENDING event says so, once
        for the attempt that waits (``waiting for pool db (2/2)``; a host pool's slots
        are all taken on the machine: ``(1/1 on this machine)``)."""
        self._waited.add(node)
        size = self._pool_sizes[pool]
        if pool in self._host_pools:
            busy = f"{size}/{size} on this machine"
        else:
            busy = f"{self._used[self._pools[pool]]}/{size}"
        event = new_event(
            task=self._names[node],
            status=PENDING,
            attempt=self._attempt[node] + 1,
            time=now + self._wall_offset,
            reason=f"waiting for pool {pool} ({busy})",
            parent=None if node < self._count else self._names[self._owner(node)],
        )
        self._events.append(event)
        self._event_nodes.append(node)

    def _release(self, limits: tuple[int, ...]) -> None:
        """Give back a slot of each of ``limits``; the best unit waiting for one goes
        back to the ready queue."""
        for limiter in limits:
            self._used[limiter] -= 1
            parked = self._parked[limiter]
            if parked:
                heappush(self._ready, heappop(parked))

    # -- run_if and mapped tasks --

    def _settle(self, node: int, now: float) -> None:
        """Every upstream task of ``node`` has ended: ready it, or skip it (its rule)."""
        reason = self._verdict(node)
        if reason is None:
            self._phase[node] = _READY
            heappush(self._ready, self._key[node])
        else:
            self._end(node, SKIPPED, now, reason)

    def _verdict(self, node: int) -> str | None:
        """Why ``node`` must not run (a skip reason), or ``None``: its ``run_if`` rule
        given how its upstream tasks ended, then a ``when`` that is false."""
        rule, failed = self._rule[node], self._upstream_failed[node]
        upstream = len(self._parents[node])
        completed = upstream - self._not_completed[node]
        if rule == _SUCCESS and completed < upstream:
            return UPSTREAM_FAILED if failed else UPSTREAM_SKIPPED
        if rule == _NO_FAILURE and (failed or (upstream and not completed)):
            return RULE_NOT_MET
        if rule == _FAILURE and not failed:
            return RULE_NOT_MET
        if self._tasks[node].when is False:
            return CONDITION_FALSE
        return None

    def _begin_mapping(self, node: int, now: float) -> int:
        """A mapped task is to be expanded: it runs its items, not an attempt."""
        self._phase[node] = _MAPPED
        self._attempt[node] = 0  # (its items have the attempts)
        task = self._tasks[node]
        task.status, task.attempts = RUNNING, 0
        self._first_start[node] = now
        return node

    def _item_ended(self, unit: int, status: TaskStatus, now: float) -> None:
        """An item ended: when it was its mapped task's last, the mapped task ends."""
        mapping = self._item_mapping[unit - self._count]
        mapping.left -= 1
        if status is FAILED:
            mapping.failed.append(unit)
        elif status is CANCELLED:
            mapping.cancelled += 1
        if mapping.left == 0 and self._phase[mapping.node] == _MAPPED:
            self._end_mapping(mapping.node, now)

    def _end_mapping(self, node: int, now: float) -> None:
        """Mapped task ``node``'s last item ended: it ends too."""
        mapping = self._mappings[node]
        if mapping.cancelled:
            self._end(node, CANCELLED, now, self._stop_reason or "cancelled")
        elif mapping.failed:
            self._end(node, FAILED, now, self._items_error(mapping))
            if self._fail_fast and not self._tasks[node].allow_failure and self._stop == _GOING:
                self._cancel(now, "fail-fast after a failure", _FAIL_FAST)
        else:
            self._phase[node] = _EXECUTING  # (succeed ends it)
            self._executing += 1
            self.succeed(node, now, mapping.result)

    def _items_error(self, mapping: _Mapping) -> str:
        """``3 of 120 items failed: load[b.csv]: ValueError: …; …``."""
        named = [
            f"{self._names[unit]}: {self._item_errors.get(unit, 'failed').splitlines()[0]}"
            for unit in mapping.failed[:FAILED_ITEMS_NAMED]
        ]
        more = len(mapping.failed) - len(named)
        listing = "; ".join(named) + (f"; and {more} more" if more else "")
        return f"{len(mapping.failed)} of {mapping.count} items failed: {listing}"

    def _end(self, node: int, status: TaskStatus, now: float, error: str) -> None:
        """End ``node`` without a result (FAILED, SKIPPED, CANCELLED with ``error``), and
        tell its downstream tasks, deciding each whose last upstream task this was."""
        if node >= self._count:
            self._finish(node, status, now, error)
            self._item_ended(node, status, now)
            return
        stack = [(node, status, error)]
        phase, waiting = self._phase, self._waiting
        while stack:
            node, status, error = stack.pop()
            self._finish(node, status, now, error)
            for child in self._children[node]:
                waiting[child] -= 1
                if phase[child] != _WAITING:
                    continue
                self._decide[child] = True
                self._not_completed[child] += 1
                self._upstream_failed[child] += status is FAILED
                if waiting[child] == 0:
                    if not self._may_start(child):  # the run is stopping: cancelled
                        phase[child] = _DONE
                        stack.append((child, CANCELLED, self._stop_reason))
                        continue
                    reason = self._verdict(child)
                    if reason is None:
                        phase[child] = _READY
                        heappush(self._ready, self._key[child])
                    else:
                        phase[child] = _DONE
                        stack.append((child, SKIPPED, reason))

    def _wake_retries(self, now: float) -> None:
        retries = self._retries
        while retries and retries[0][0] <= now:
            _, node, attempt = heappop(retries)
            if self._phase[node] == _RETRY_WAIT and self._attempt[node] == attempt:
                self._phase[node] = _READY
                heappush(self._ready, self._key[node])

    def _finish(self, node: int, status: TaskStatus, now: float, error: str) -> None:
        """Mark ``node`` ended without a result: FAILED, SKIPPED or CANCELLED with ``error``."""
        self._phase[node] = _DONE
        self._unfinished -= 1
        task = self._task_of[node]
        allowed = status is FAILED and task.allow_failure
        if node >= self._count:
            if status is FAILED:
                self._item_errors[node] = error
        else:
            task.status, task.result, task.error = status, None, error
            if allowed:
                self._allowed_failures += 1
            elif status is FAILED:
                self._failed.append(node)
        if self._record_events:
            reason = error if status is SKIPPED else None
            self._record(node, status, now, error, None, False, False, reason, allowed)

    def _record(
        self,
        node: int,
        status: TaskStatus,
        now: float,
        error: str | None,
        retry_in: float | None,
        cached: bool,
        reused: bool,
        reason: str | None = None,
        allowed: bool = False,
        items: int | None = None,
    ) -> None:
        """The event of a transition of ``node``; a final one (no ``retry_in``) says how
        long the task took from its first start."""
        attempt = self._attempt[node]
        if retry_in is not None or status is RUNNING:
            duration = None
        else:
            started = attempt or node in self._mappings
            duration = now - self._first_start[node] if started else 0.0
        parent = None if node < self._count else self._names[self._owner(node)]
        self._events.append(
            new_event(
                task=self._names[node],
                status=status,
                attempt=attempt,
                time=now + self._wall_offset,
                error=error,
                duration=duration,
                retry_in=retry_in,
                cached=cached,
                reused=reused,
                reason=reason,
                allowed=allowed,
                parent=parent,
                items=items,
            )
        )
        self._event_nodes.append(node)

    def _cancel(self, now: float, reason: str, stop: int) -> list[int]:
        """Stop the run to ``stop``: cancel what may no longer start (executing attempts
        too, but on fail-fast), then tell the tasks below them. Returns the executing
        units cancelled."""
        if stop > self._stop:
            self._stop, self._stop_reason = stop, reason
        phase = self._phase
        cancellable = {_WAITING, _READY, _RETRY_WAIT}
        if stop != _FAIL_FAST:
            cancellable.add(_EXECUTING)
        cancelled: list[int] = []
        for node in range(len(phase)):
            if phase[node] in cancellable and not self._may_start(node):
                if phase[node] == _EXECUTING:
                    self._stop_executing(node)
                    cancelled.append(node)
                phase[node] = _DONE
                error = self._tasks[node].error if node < self._count else None
                self._end(node, CANCELLED, now, error or reason)
        if self._parked:
            self._unpark_cancelled()
        return cancelled

    def _unpark_cancelled(self) -> None:
        """Cancelled units leave the limiters' queues, and the slots they leave free go to
        the units that still wait (a slot given to a cancelled unit would be lost)."""
        phase, ready = self._phase, self._ready
        for limiter, parked in enumerate(self._parked):
            waiting = [key for key in parked if phase[key & _NODE_MASK] == _READY]
            heapify(waiting)
            self._parked[limiter] = waiting
            for _ in range(min(len(waiting), self._capacity[limiter] - self._used[limiter])):
                heappush(ready, heappop(waiting))

    def _drop_stale_deadlines(self) -> None:
        deadlines = self._deadlines
        while deadlines and not self._is_live(deadlines[0]):
            heappop(deadlines)

    def _is_live(self, entry: tuple[float, int, int]) -> bool:
        """Whether a deadline entry still stands: its attempt is executing and its clock
        was not restarted since."""
        deadline, node, attempt = entry
        return self.is_current(node, attempt) and deadline == self._deadline_at[node]
