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
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from heapq import heapify, heappop, heappush

from flowweaver import graph
from flowweaver.events import TaskEvent, new_event
from flowweaver.task import RUN_IF, Task, TaskStatus

RUNNING = TaskStatus.RUNNING
COMPLETED = TaskStatus.COMPLETED
FAILED = TaskStatus.FAILED
SKIPPED = TaskStatus.SKIPPED
CANCELLED = TaskStatus.CANCELLED

# What the engine knows of a task beyond its status.
_WAITING, _READY, _EXECUTING, _RETRY_WAIT, _DONE = range(5)
_PHASES = ("waiting", "ready", "executing", "waiting to retry", "done")

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
"""Where the engine appends the events it makes, and the position of each one's task."""


class Engine:
    """The transitions of one run over ``tasks`` (``parents[i]``: what task ``i`` needs).

    ``order[i]`` ranks ready tasks: smaller starts first, ties by position. At most
    ``slots`` attempts execute at once. ``now`` is when the run starts (a task that
    can never run is skipped then).
    """

    def __init__(
        self,
        tasks: Sequence[Task],
        parents: Sequence[Sequence[int]],
        order: Sequence[float],
        *,
        slots: int = 1 << 30,
        children: Sequence[Sequence[int]] | None = None,
        names: Sequence[str] | None = None,
        fail_fast: bool = False,
        wall_offset: float = 0.0,
        rng: random.Random | None = None,
        outbox: Outbox | None = None,
        now: float = 0.0,
    ) -> None:
        count = len(tasks)
        self._tasks = tasks
        self._names = names if names is not None else [task.name for task in tasks]
        self._children = children if children is not None else graph.children_of(parents)
        self._slots = slots
        self._fail_fast = fail_fast
        self._wall_offset = wall_offset
        self._rng = rng or random.Random()
        self._events, self._event_nodes = outbox if outbox is not None else ([], [])
        self._record_events = outbox is not None
        # The ready queue is a heap of plain ints (they compare fastest): the task's rank
        # by (order, position) in the high bits, its position in the low ones.
        ranked = sorted(range(count), key=order.__getitem__)  # stable: ties by position
        self._key = [0] * count
        for rank, node in enumerate(ranked):
            self._key[node] = rank << _NODE_BITS | node
        self._phase = [_WAITING] * count
        self._attempt = [0] * count
        self._waiting = [len(ups) for ups in parents]
        self._parents = parents
        # run_if: a task whose last upstream task ends becomes ready at once unless it
        # has to be decided (a rule other than success, a false `when`, or an upstream
        # task that did not complete): _decide is then set.
        self._decide = [task.run_if != "success" or task.when is False for task in tasks]
        self._rule = [_SUCCESS] * count
        for node in [node for node, special in enumerate(self._decide) if special]:
            self._rule[node] = RUN_IF.index(tasks[node].run_if)
        self._not_completed = [0] * count  # upstream tasks that ended otherwise
        self._upstream_failed = [0] * count  # … of which failed
        self._first_start = [0.0] * count
        self._failed: list[int] = []  # the tasks that failed (allowed failures aside), in order
        self._allowed_failures = 0
        self._unfinished = count
        self._executing = 0
        self._stop, self._stop_reason = _GOING, ""
        self._ready: list[int] = []
        # heaps of (time, node, attempt): a deadline or a retry time is pending while
        # either is non-empty (a finished attempt's deadline is dropped lazily)
        self._deadlines: list[tuple[float, int, int]] = []
        self._deadline_at = [0.0] * count  # the current attempt's deadline (if it has one)
        self._retries: list[tuple[float, int, int]] = []
        ready, key, decide = self._ready, self._key, self._decide
        for node, ups in enumerate(parents):
            if ups:  # (not the waiting counts: skipping a root counts its children down)
                continue
            if decide[node]:
                self._settle(node, now)
            else:
                self._phase[node] = _READY
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

    def executing_nodes(self) -> list[int]:
        """The tasks with an attempt executing now."""
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
        """Mark a task that has not started COMPLETED with ``value`` (a resumed run)."""
        self._require(node, (_WAITING, _READY), "preset")
        self._phase[node] = _EXECUTING  # (as if it ran: succeed ends it)
        self._executing += 1
        self.succeed(node, now, value, False, True)

    def start_next(self, now: float) -> int:
        """Start the best ready task, if a slot is free; return its position, or ``-1``."""
        if self._retries:
            self._wake_retries(now)
        if self._executing >= self._slots:
            return -1
        ready, phase = self._ready, self._phase
        while ready:
            node = heappop(ready) & _NODE_MASK
            if phase[node] != _READY:
                continue  # ended (preset, cancelled) after it was made ready
            phase[node] = _EXECUTING
            self._executing += 1
            attempt = self._attempt[node] = self._attempt[node] + 1
            task = self._tasks[node]
            task.status, task.attempts = RUNNING, attempt  # a retry stays RUNNING
            if task.timeout is not None:
                deadline = self._deadline_at[node] = now + task.timeout
                heappush(self._deadlines, (deadline, node, attempt))
            if self._record_events:
                if attempt == 1:
                    self._first_start[node] = now  # for the final event's duration
                self._record(node, RUNNING, now, None, None, False, False)
            return node
        return -1

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
        task = self._tasks[node]
        task.status, task.result = COMPLETED, value
        self._unfinished -= 1
        if self._record_events:
            self._record(node, COMPLETED, now, None, None, cached, reused)
        waiting, ready, key, decide = self._waiting, self._ready, self._key, self._decide
        for child in self._children[node]:
            waiting[child] -= 1
            if waiting[child] == 0 and phase[child] == _WAITING:
                if decide[child]:
                    self._settle(child, now)
                else:
                    phase[child] = _READY
                    heappush(ready, key[child])

    def fail(self, node: int, now: float, error: str, retryable: bool = True) -> None:
        """``node``'s current attempt failed with ``error``; retried if it may be."""
        self._require(node, (_EXECUTING,), "fail")
        self._phase[node] = _DONE
        self._executing -= 1
        task = self._tasks[node]
        attempt = self._attempt[node]
        if retryable and attempt <= task.retries and self._may_start(node):
            delay = task.retry_delay_for(attempt)
            if task.retry_jitter and delay:
                delay *= 1 + self._rng.uniform(-task.retry_jitter, task.retry_jitter)
            self._phase[node] = _RETRY_WAIT
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
        self._phase[node] = _DONE
        self._executing -= 1
        self._end(node, SKIPPED, now, reason)

    def expired(self, now: float) -> list[int]:
        """Executing tasks whose deadline has passed (their attempt is to be failed)."""
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
        timeout = self._tasks[node].timeout
        if timeout is not None and self.is_current(node, attempt):
            deadline = self._deadline_at[node] = now + timeout
            heappush(self._deadlines, (deadline, node, attempt))

    def interrupt(self, now: float, reason: str) -> list[int]:
        """Stop the run (a signal, a deadline): cancel every unfinished task but the
        ``always`` ones, which still run. Returns the executing tasks it cancelled,
        whose attempts are to be abandoned."""
        return self._cancel(now, reason, _INTERRUPTED)

    def abort(self, now: float, reason: str) -> list[int]:
        """Stop the run now (a second signal): cancel every unfinished task, ``always``
        ones included. Returns the executing tasks it cancelled."""
        return self._cancel(now, reason, _ABORTED)

    # -- internals ----------------------------------------------------------------

    def _require(self, node: int, phases: tuple[int, ...], transition: str) -> None:
        phase = self._phase[node]
        if phase not in phases:
            raise TransitionError(
                f"task {self._names[node]!r} can't {transition}: it is {_PHASES[phase]}"
            )

    def _may_start(self, node: int) -> bool:
        """Whether ``node`` may still start (or retry), however far the run was stopped."""
        stop = self._stop
        if stop == _GOING:
            return True
        rule = self._rule[node]
        return (rule == _ALWAYS and stop < _ABORTED) or (rule == _FAILURE and stop == _FAIL_FAST)

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

    def _end(self, node: int, status: TaskStatus, now: float, error: str) -> None:
        """End ``node`` without a result (FAILED, SKIPPED, CANCELLED with ``error``), and
        tell its downstream tasks, deciding each whose last upstream task this was."""
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
        task = self._tasks[node]
        task.status, task.result, task.error = status, None, error
        self._unfinished -= 1
        allowed = status is FAILED and task.allow_failure
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
    ) -> None:
        """The event of a transition of ``node``; a final one (no ``retry_in``) says how
        long the task took from its first start."""
        attempt = self._attempt[node]
        if retry_in is not None or status is RUNNING:
            duration = None
        else:
            duration = now - self._first_start[node] if attempt else 0.0
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
            )
        )
        self._event_nodes.append(node)

    def _cancel(self, now: float, reason: str, stop: int) -> list[int]:
        """Stop the run to ``stop``: cancel what may no longer start (executing attempts
        too, but on fail-fast), then tell the tasks below them. Returns the executing
        tasks cancelled."""
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
                    self._executing -= 1
                    cancelled.append(node)
                phase[node] = _DONE
                self._end(node, CANCELLED, now, self._tasks[node].error or reason)
        return cancelled

    def _drop_stale_deadlines(self) -> None:
        deadlines = self._deadlines
        while deadlines and not self._is_live(deadlines[0]):
            heappop(deadlines)

    def _is_live(self, entry: tuple[float, int, int]) -> bool:
        """Whether a deadline entry still stands: its attempt is executing and its clock
        was not restarted since."""
        deadline, node, attempt = entry
        return self.is_current(node, attempt) and deadline == self._deadline_at[node]
