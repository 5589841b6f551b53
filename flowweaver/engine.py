"""The pure state machine of one run: every task transition happens here.

The engine is given ``now`` (a monotonic time) by its caller and reads no clock,
starts no thread and does no I/O. It knows the ready queue, attempts, retry
times, deadlines, skip and cancel propagation; the waiting loop (``_loop``)
asks it what to start, tells it what ended, and passes on the events it makes.

Each transition is applied to the :class:`~flowweaver.task.Task` itself (status,
attempts, error; a stale result is cleared). An event is made for it only when
someone listens (``record_events``): a run nobody observes builds no events.

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
from flowweaver.events import TaskEvent
from flowweaver.task import Task, TaskStatus

RUNNING = TaskStatus.RUNNING
COMPLETED = TaskStatus.COMPLETED
FAILED = TaskStatus.FAILED
SKIPPED = TaskStatus.SKIPPED
CANCELLED = TaskStatus.CANCELLED

_event = tuple.__new__  # TaskEvent without NamedTuple's slower keyword-handling __new__

# What the engine knows of a task beyond its status.
_WAITING, _READY, _EXECUTING, _RETRY_WAIT, _DONE = range(5)
EXECUTING = _EXECUTING  # for the loop's check that an outcome is still current


class Engine:
    """The transitions of one run over ``tasks`` (``parents[i]``: what task ``i`` needs).

    ``order[i]`` ranks ready tasks: smaller starts first, ties by position.
    """

    def __init__(
        self,
        tasks: Sequence[Task],
        parents: Sequence[Sequence[int]],
        order: Sequence[float],
        *,
        children: Sequence[Sequence[int]] | None = None,
        names: Sequence[str] | None = None,
        fail_fast: bool = False,
        wall_offset: float = 0.0,
        rng: random.Random | None = None,
        record_events: bool = True,
    ) -> None:
        count = len(tasks)
        self.tasks = tasks
        self.names = names if names is not None else [task.name for task in tasks]
        self.record_events = record_events
        self.parents = parents
        self.children = children if children is not None else graph.children_of(parents)
        # The ready queue is a heap of ranks (plain ints compare fastest): rank r is the
        # r-th task by (order, position), and _by_rank[r] is that task.
        self._by_rank = sorted(range(count), key=order.__getitem__)  # stable: ties by position
        self._rank = sorted(range(count), key=self._by_rank.__getitem__)  # its inverse
        self.fail_fast = fail_fast
        self.wall_offset = wall_offset
        self.rng = rng or random.Random()
        self.phase = [_WAITING] * count
        self.attempt = [0] * count
        self.waiting = [len(ups) for ups in parents]
        self.first_start = [0.0] * count
        self.failed: list[int] = []  # the tasks that failed, in order
        self.events: list[TaskEvent] = []
        self.event_nodes: list[int] = []  # the task of each event, by position
        self.unfinished = count
        self.executing = 0
        self.stopped = False
        roots = [node for node, waits in enumerate(self.waiting) if not waits]
        for node in roots:
            self.phase[node] = _READY
        self._ready = [self._rank[node] for node in roots]  # a heap of ranks
        heapify(self._ready)
        # heaps of (time, node, attempt): a deadline or a retry time is pending while
        # either is non-empty (a finished attempt's deadline is dropped lazily)
        self.deadlines: list[tuple[float, int, int]] = []
        self.deadline_at = [0.0] * count  # the current attempt's deadline (if it has one)
        self.retries: list[tuple[float, int, int]] = []

    # -- questions ----------------------------------------------------------------

    @property
    def status(self) -> list[TaskStatus]:
        """Every task's status, by position."""
        return [task.status for task in self.tasks]

    @property
    def finished(self) -> bool:
        return self.unfinished == 0

    def is_current(self, node: int, attempt: int) -> bool:
        """Whether an outcome for ``attempt`` of ``node`` still matters."""
        return self.phase[node] == _EXECUTING and self.attempt[node] == attempt

    def next_wakeup(self) -> float | None:
        """The earliest deadline or retry time, or ``None`` if nothing is timed."""
        self._drop_stale_deadlines()
        times = []
        if self.deadlines:
            times.append(self.deadlines[0][0])
        if self.retries:
            times.append(self.retries[0][0])
        return min(times) if times else None

    def has_ready(self, now: float) -> bool:
        """Whether a task could start now (a retry whose delay is over counts)."""
        if self.retries:
            self._wake_retries(now)
        return bool(self._ready) and not self.stopped

    # -- transitions ----------------------------------------------------------------

    def preset(self, node: int, now: float, value: object) -> None:
        """Mark a task COMPLETED with ``value`` without running it (a resumed run)."""
        self.succeed(node, now, value, reused=True)

    def start(self, now: float, limit: int) -> list[int]:
        """Start up to ``limit`` ready tasks, best first. Returns their positions."""
        started: list[int] = []
        while len(started) < limit:
            node = self.start_next(now)
            if node < 0:
                break
            started.append(node)
        return started

    def start_next(self, now: float) -> int:
        """Start the best ready task and return its position; ``-1`` if none can start."""
        if self.retries:
            self._wake_retries(now)
        ready, phase, by_rank = self._ready, self.phase, self._by_rank
        while ready and not self.stopped:
            node = by_rank[heappop(ready)]
            if phase[node] != _READY:
                continue  # preset (reused) after it was made ready
            phase[node] = _EXECUTING
            self.executing += 1
            attempt = self.attempt[node] = self.attempt[node] + 1
            task = self.tasks[node]
            task.status, task.attempts = RUNNING, attempt  # a retry stays RUNNING
            if task.timeout is not None:
                deadline = self.deadline_at[node] = now + task.timeout
                heappush(self.deadlines, (deadline, node, attempt))
            if self.record_events:
                if attempt == 1:
                    self.first_start[node] = now  # for the final event's duration
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
        """``node`` COMPLETED with ``value``: its current attempt returned it, or it came
        from the cache (``cached``) or from an earlier run (``reused``, not executing)."""
        phase = self.phase
        if phase[node] == _EXECUTING:
            self.executing -= 1
        phase[node] = _DONE
        task = self.tasks[node]
        task.status, task.result = COMPLETED, value
        self.unfinished -= 1
        if self.record_events:
            self._record(node, COMPLETED, now, None, None, cached, reused)
        waiting, ready, rank = self.waiting, self._ready, self._rank
        for child in self.children[node]:
            waiting[child] -= 1
            if waiting[child] == 0 and phase[child] == _WAITING:
                phase[child] = _READY
                heappush(ready, rank[child])

    def fail(self, node: int, now: float, error: str, *, retryable: bool) -> None:
        """The current attempt of ``node`` failed with ``error``."""
        self._stop_executing(node)
        task = self.tasks[node]
        attempt = self.attempt[node]
        if retryable and attempt <= task.retries and not self.stopped:
            delay = task.retry_delay_for(attempt)
            if task.retry_jitter and delay:
                delay *= 1 + self.rng.uniform(-task.retry_jitter, task.retry_jitter)
            self.phase[node] = _RETRY_WAIT
            task.error = error
            heappush(self.retries, (now + delay, node, attempt))
            if self.record_events:
                self._record(node, RUNNING, now, error, delay, False, False)
            return
        self._finish(node, FAILED, now, error)
        self.failed.append(node)
        for below in graph.descendants(self.children, node):
            if self.phase[below] in (_WAITING, _READY):
                self._finish(below, SKIPPED, now, f"upstream task {task.name!r} did not complete")
        if self.fail_fast:
            self._cancel_all(now, "cancelled: fail-fast after a failure", include_executing=False)

    def expired(self, now: float) -> list[int]:
        """Executing tasks whose deadline has passed (their attempt is to be failed)."""
        late: list[int] = []
        deadlines = self.deadlines
        while deadlines and deadlines[0][0] <= now:
            entry = heappop(deadlines)
            if self._is_live(entry):
                late.append(entry[1])
        return late

    def hold_clock(self, node: int, attempt: int) -> None:
        """Attempt ``attempt`` of ``node`` has not really started (its backend holds it
        until a worker is ready): no deadline for it until :meth:`start_clock`."""
        if self.is_current(node, attempt):
            self.deadline_at[node] = math.inf  # the deadline pushed at its start is stale

    def start_clock(self, node: int, attempt: int, now: float) -> None:
        """A held attempt really started at ``now``: its timeout counts from then."""
        timeout = self.tasks[node].timeout
        if timeout is not None and self.is_current(node, attempt):
            deadline = self.deadline_at[node] = now + timeout
            heappush(self.deadlines, (deadline, node, attempt))

    def interrupt(self, now: float, reason: str) -> list[int]:
        """Cancel every unfinished task; returns the ones that were executing."""
        executing = [n for n, phase in enumerate(self.phase) if phase == _EXECUTING]
        self._cancel_all(now, reason, include_executing=True)
        return executing

    # -- internals ----------------------------------------------------------------

    def _make_ready(self, node: int) -> None:
        self.phase[node] = _READY
        heappush(self._ready, self._rank[node])

    def _wake_retries(self, now: float) -> None:
        retries = self.retries
        while retries and retries[0][0] <= now:
            _, node, attempt = heappop(retries)
            if self.phase[node] == _RETRY_WAIT and self.attempt[node] == attempt:
                self._make_ready(node)

    def _stop_executing(self, node: int) -> None:
        self.phase[node] = _DONE
        self.executing -= 1

    def _finish(self, node: int, status: TaskStatus, now: float, error: str) -> None:
        """End ``node`` without a result: FAILED, SKIPPED or CANCELLED with ``error``."""
        self.phase[node] = _DONE
        task = self.tasks[node]
        task.status, task.result, task.error = status, None, error
        self.unfinished -= 1
        if self.record_events:
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
        attempt = self.attempt[node]
        wall = now + self.wall_offset
        if retry_in is not None or status is RUNNING:
            duration = None
        else:
            duration = now - self.first_start[node] if attempt else 0.0
        event = (self.names[node], status, attempt, wall, error, duration, retry_in, cached, reused)
        self.events.append(_event(TaskEvent, event))
        self.event_nodes.append(node)

    def _cancel_all(self, now: float, reason: str, *, include_executing: bool) -> None:
        self.stopped = True
        cancellable = {_WAITING, _READY, _RETRY_WAIT}
        if include_executing:
            cancellable.add(_EXECUTING)
        for node, phase in enumerate(self.phase):
            if phase in cancellable:
                if phase == _EXECUTING:
                    self.executing -= 1
                self._finish(node, CANCELLED, now, self.tasks[node].error or reason)

    def _drop_stale_deadlines(self) -> None:
        deadlines = self.deadlines
        while deadlines and not self._is_live(deadlines[0]):
            heappop(deadlines)

    def _is_live(self, entry: tuple[float, int, int]) -> bool:
        """Whether a deadline entry still stands: its attempt is executing and its clock
        was not restarted since."""
        deadline, node, attempt = entry
        return self.is_current(node, attempt) and deadline == self.deadline_at[node]
