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

A task moves PENDING → RUNNING → COMPLETED | FAILED, or PENDING → SKIPPED (an
upstream task failed or was skipped) or → CANCELLED (interrupted, or fail-fast).
Between a failed attempt and its retry the task stays RUNNING.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from heapq import heapify, heappop, heappush

from flowweaver import graph
from flowweaver.events import TaskEvent, new_event
from flowweaver.task import Task, TaskStatus

RUNNING = TaskStatus.RUNNING
COMPLETED = TaskStatus.COMPLETED
FAILED = TaskStatus.FAILED
SKIPPED = TaskStatus.SKIPPED
CANCELLED = TaskStatus.CANCELLED

# What the engine knows of a task beyond its status.
_WAITING, _READY, _EXECUTING, _RETRY_WAIT, _DONE = range(5)
_PHASES = ("waiting", "ready", "executing", "waiting to retry", "done")

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
    ``slots`` attempts execute at once.
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
        self._first_start = [0.0] * count
        self._failed: list[int] = []  # the tasks that failed, in order
        self._unfinished = count
        self._executing = 0
        self._stopped = False
        self._ready = [self._key[node] for node, waits in enumerate(self._waiting) if not waits]
        heapify(self._ready)
        for key in self._ready:
            self._phase[key & _NODE_MASK] = _READY
        # heaps of (time, node, attempt): a deadline or a retry time is pending while
        # either is non-empty (a finished attempt's deadline is dropped lazily)
        self._deadlines: list[tuple[float, int, int]] = []
        self._deadline_at = [0.0] * count  # the current attempt's deadline (if it has one)
        self._retries: list[tuple[float, int, int]] = []

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

    def failed(self) -> list[int]:
        """The tasks that failed, in the order they failed."""
        return list(self._failed)

    def attempt_of(self, node: int) -> int:
        """The number of ``node``'s latest attempt (0: never started)."""
        return self._attempt[node]

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
        return bool(self._ready) and not self._stopped

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
        while ready and not self._stopped:
            node = heappop(ready) & _NODE_MASK
            if phase[node] != _READY:
                continue  # preset (reused) after it was made ready
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
        waiting, ready, key = self._waiting, self._ready, self._key
        for child in self._children[node]:
            waiting[child] -= 1
            if waiting[child] == 0 and phase[child] == _WAITING:
                phase[child] = _READY
                heappush(ready, key[child])

    def fail(self, node: int, now: float, error: str, retryable: bool = True) -> None:
        """``node``'s current attempt failed with ``error``; retried if it may be."""
        self._require(node, (_EXECUTING,), "fail")
        self._phase[node] = _DONE
        self._executing -= 1
        task = self._tasks[node]
        attempt = self._attempt[node]
        if retryable and attempt <= task.retries and not self._stopped:
            delay = task.retry_delay_for(attempt)
            if task.retry_jitter and delay:
                delay *= 1 + self._rng.uniform(-task.retry_jitter, task.retry_jitter)
            self._phase[node] = _RETRY_WAIT
            task.error = error
            heappush(self._retries, (now + delay, node, attempt))
            if self._record_events:
                self._record(node, RUNNING, now, error, delay, False, False)
            return
        self._finish(node, FAILED, now, error)
        self._failed.append(node)
        for below in graph.descendants(self._children, node):
            if self._phase[below] in (_WAITING, _READY):
                self._finish(below, SKIPPED, now, f"upstream task {task.name!r} did not complete")
        if self._fail_fast:
            self._cancel_all(now, "fail-fast after a failure", include_executing=False)

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
        """Cancel every unfinished task (``reason``: why); returns the ones that were
        executing."""
        executing = self.executing_nodes()
        self._cancel_all(now, reason, include_executing=True)
        return executing

    # -- internals ----------------------------------------------------------------

    def _require(self, node: int, phases: tuple[int, ...], transition: str) -> None:
        phase = self._phase[node]
        if phase not in phases:
            raise TransitionError(
                f"task {self._names[node]!r} can't {transition}: it is {_PHASES[phase]}"
            )

    def _wake_retries(self, now: float) -> None:
        retries = self._retries
        while retries and retries[0][0] <= now:
            _, node, attempt = heappop(retries)
            if self._phase[node] == _RETRY_WAIT and self._attempt[node] == attempt:
                self._phase[node] = _READY
                heappush(self._ready, self._key[node])

    def _finish(self, node: int, status: TaskStatus, now: float, error: str) -> None:
        """End ``node`` without a result: FAILED, SKIPPED or CANCELLED with ``error``."""
        self._phase[node] = _DONE
        task = self._tasks[node]
        task.status, task.result, task.error = status, None, error
        self._unfinished -= 1
        if self._record_events:
            self._record(node, status, now, error, None, False, False)

    def _record(
        self,
        node: int,
        status: TaskStatus,
        now: float,
        error: str | None,
        retry_in: float | None,
        cached: bool,
        reused: bool,
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
            )
        )
        self._event_nodes.append(node)

    def _cancel_all(self, now: float, reason: str, *, include_executing: bool) -> None:
        self._stopped = True
        cancellable = {_WAITING, _READY, _RETRY_WAIT}
        if include_executing:
            cancellable.add(_EXECUTING)
        for node, phase in enumerate(self._phase):
            if phase in cancellable:
                if phase == _EXECUTING:
                    self._executing -= 1
                self._finish(node, CANCELLED, now, self._tasks[node].error or reason)

    def _drop_stale_deadlines(self) -> None:
        deadlines = self._deadlines
        while deadlines and not self._is_live(deadlines[0]):
            heappop(deadlines)

    def _is_live(self, entry: tuple[float, int, int]) -> bool:
        """Whether a deadline entry still stands: its attempt is executing and its clock
        was not restarted since."""
        deadline, node, attempt = entry
        return self.is_current(node, attempt) and deadline == self._deadline_at[node]
