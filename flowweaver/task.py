"""A task: one callable, its retry and timeout policy, and its latest outcome."""

from __future__ import annotations

import enum
import math
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple


class TaskStatus(enum.Enum):
    """Where a task stands in a run. ``value`` is the lowercase name."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"

    # Members are singletons, equal only to themselves: hashed by identity, a status is
    # a dict key without Enum's Python-level __hash__ (run observers count by status).
    __hash__ = object.__hash__

    @property
    def is_final(self) -> bool:
        return self not in (TaskStatus.PENDING, TaskStatus.RUNNING)


RUN_IF = ("success", "no_failure", "failure", "done", "always")
"""When a task may run, given how its upstream tasks ended (see :attr:`Task.run_if`)."""


@dataclass(frozen=True)
class Map:
    """A task that runs once per item of a list (see :attr:`Task.map`).

    ``over`` is where the items come from: the name of an upstream task whose result
    is the list (it becomes a dependency), a list of the items themselves, or a mapping
    of lists (a matrix: one item, a dict, per combination, the first list outermost).
    Each item is passed to the function as ``param``. ``key`` names an item in every
    output and the history: a function of the item, or ``None`` for the item itself
    when it is a string or a number, else a short hash of its JSON form. At most
    ``max_parallel`` items run at once (the executor's workers still bound them).
    """

    over: str | Sequence[Any] | Mapping[str, Sequence[Any]]
    param: str = "item"
    key: Callable[[Any], object] | None = None
    max_parallel: int | None = None
    only: frozenset[str] | None = None
    """Run only the items with these keys (``--only task[key]``); ``None``: all."""

    def __post_init__(self) -> None:
        over = self.over
        if not isinstance(over, (str, Sequence, Mapping)) or isinstance(over, bytes):
            raise TypeError("map over must be a task name, a list or a mapping of lists")
        if isinstance(over, Mapping) and not all(
            isinstance(values, Sequence) and not isinstance(values, str) for values in over.values()
        ):
            raise TypeError("map over a mapping (a matrix) needs a list for every key")
        if not (isinstance(self.param, str) and self.param.isidentifier()):
            raise ValueError(f"map param must be a parameter name, got {self.param!r}")
        if self.key is not None and not callable(self.key):
            raise TypeError("map key must be a function of the item, or None")
        if self.max_parallel is not None and (
            isinstance(self.max_parallel, bool)
            or not isinstance(self.max_parallel, int)
            or self.max_parallel < 1
        ):
            raise ValueError(f"map max_parallel must be at least 1, got {self.max_parallel!r}")

    @property
    def upstream(self) -> str | None:
        """The task whose result holds the items, if they come from one."""
        return self.over if isinstance(self.over, str) else None


class ItemFailed(NamedTuple):
    """The slot of a failed item in a mapped task's list of results: its ``key``, the
    ``item`` itself and its ``error`` (what ``task.error`` would say)."""

    key: str
    item: Any
    error: str


StatusCallback = Callable[[str, TaskStatus], object]
RetryCallback = Callable[[str, int], object]


@dataclass(eq=False, slots=True)
class Task:
    """A unit of work in a :class:`~flowweaver.Workflow`.

    ``fn`` may be a plain function, a coroutine function, or a plain function that
    returns an awaitable. It receives upstream results as keyword arguments (see
    "Data between tasks" in ``docs/python-api.md``).

    ``run_if`` says when it may run given how its upstream tasks ended (one of
    :data:`RUN_IF`); ``when`` is a condition on the task itself (a bool, or a
    predicate called like the task, on the executor, before its first attempt);
    ``allow_failure`` lets it fail without failing the run. With ``map`` it runs once
    per item of a list, each item with its own attempts, retries and timeout.
    ``pool`` names a pool of the workflow (``Workflow(pools=...)``): each attempt (each
    item's) takes a slot of it while it runs. Among ready tasks, a higher ``priority``
    starts first.

    ``workdir`` is the folder the task runs in (default: the workflow's, else the
    current directory); ``reads`` names the files it reads (globs, relative to that
    folder), whose contents join its cache key and resume fingerprint; ``writes`` the
    files it must leave behind (see :mod:`flowweaver.folders`).
    """

    name: str
    fn: Callable[..., Any]
    retries: int = 0
    timeout: float | None = None
    status: TaskStatus = TaskStatus.PENDING
    result: Any = None
    error: str | None = None
    on_status_change: StatusCallback | None = None
    on_retry: RetryCallback | None = None
    depends_on: list[str] = field(default_factory=list)
    retry_delay: float = 0.0
    retry_backoff: float = 1.0
    max_retry_delay: float | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    retry_jitter: float = 0.0
    retry_on: tuple[type[BaseException], ...] = (Exception,)
    cache: bool = False
    cache_ttl: float | None = None
    description: str = ""
    run_if: str = "success"
    when: bool | Callable[..., Any] | None = None
    allow_failure: bool = False
    map: Map | None = None
    pool: str | None = None
    priority: int = 0
    reads: tuple[str, ...] = ()
    writes: tuple[str, ...] = ()
    workdir: str | None = None
    attempts: int = 0

    def __post_init__(self) -> None:
        _check(
            isinstance(self.name, str) and self.name != "", "task name must be a non-empty string"
        )
        if not callable(self.fn):
            raise TypeError(
                f"task {self.name!r}: fn must be callable, got {type(self.fn).__name__}"
            )
        _check_int(self.name, "retries", self.retries)
        _check_number(self.name, "retry_delay", self.retry_delay, allow_zero=True)
        _check_number(self.name, "retry_jitter", self.retry_jitter, allow_zero=True)
        _check_number(self.name, "retry_backoff", self.retry_backoff, allow_zero=False)
        if self.retry_backoff < 1:
            raise ValueError(f"task {self.name!r}: retry_backoff must be at least 1")
        for key in ("timeout", "max_retry_delay", "cache_ttl"):
            value = getattr(self, key)
            if value is not None:
                _check_number(self.name, key, value, allow_zero=False)
        self._check_conditions()
        self._check_files()
        self.depends_on = list(self.depends_on)
        self.inputs = dict(self.inputs)
        retry_on: object = self.retry_on
        self.retry_on = (retry_on,) if isinstance(retry_on, type) else tuple(self.retry_on)
        if not all(isinstance(t, type) and issubclass(t, BaseException) for t in self.retry_on):
            raise TypeError(f"task {self.name!r}: retry_on must hold exception classes")

    def _check_conditions(self) -> None:
        """``run_if``, ``when``, ``allow_failure`` and ``map`` (see the class docstring)."""
        if self.run_if not in RUN_IF:
            choices = ", ".join(RUN_IF)
            raise ValueError(
                f"task {self.name!r}: run_if must be one of {choices}, got {self.run_if!r}"
            )
        if not (self.when is None or isinstance(self.when, bool) or callable(self.when)):
            raise TypeError(f"task {self.name!r}: when must be a bool or a callable")
        if self.map is not None and not isinstance(self.map, Map):
            raise TypeError(f"task {self.name!r}: map must be a flowweaver.Map")
        if self.map is not None and callable(self.when):
            raise ValueError(
                f"task {self.name!r}: a mapped task's when must be true or false "
                "(a predicate would be checked once per item)"
            )
        if not isinstance(self.allow_failure, bool):
            raise TypeError(f"task {self.name!r}: allow_failure must be true or false")
        if self.pool is not None and not (isinstance(self.pool, str) and self.pool):
            raise TypeError(f"task {self.name!r}: pool must be a pool's name")
        if isinstance(self.priority, bool) or not isinstance(self.priority, int):
            raise TypeError(f"task {self.name!r}: priority must be an integer")

    def _check_files(self) -> None:
        if not self.reads and not self.writes and self.workdir is None:
            return
        self.reads = _paths(self.name, "reads", self.reads)
        self.writes = _paths(self.name, "writes", self.writes)
        if self.workdir is not None:
            self.workdir = _paths(self.name, "workdir", (self.workdir,))[0]

    def is_async(self) -> bool:
        """Whether ``fn`` is a coroutine function (``async def``)."""
        from flowweaver._call import is_coroutine_function

        return is_coroutine_function(self.fn)

    def execute(self) -> None:
        """Run this task alone (no upstream inputs), with its retries and timeout."""
        from flowweaver.executors.sequential import SequentialExecutor

        SequentialExecutor().run_tasks([self], raise_on_failure=False)

    async def execute_async(self) -> None:
        """Run this task alone on the running event loop."""
        from flowweaver.executors.async_ import AsyncExecutor

        await AsyncExecutor().run_tasks_async([self], raise_on_failure=False)

    def retry_delay_for(self, retry: int) -> float:
        """Seconds to wait before retry number ``retry`` (1-based), before jitter."""
        delay = self.retry_delay * self.retry_backoff ** (retry - 1)
        if self.max_retry_delay is not None:
            delay = min(delay, self.max_retry_delay)
        return delay

    def __repr__(self) -> str:
        return f"Task(name={self.name!r}, status={self.status.value})"


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _check_int(task: str, key: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"task {task!r}: {key} must be an integer")
    if value < 0:
        raise ValueError(f"task {task!r}: {key} must not be negative, got {value}")


def _check_number(task: str, key: str, value: object, *, allow_zero: bool) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"task {task!r}: {key} must be a number of seconds")
    if math.isnan(value) or value < 0 or (value == 0 and not allow_zero):
        bound = "zero or more" if allow_zero else "greater than zero"
        raise ValueError(f"task {task!r}: {key} must be {bound}, got {value}")


def _paths(task: str, key: str, value: object) -> tuple[str, ...]:
    """Paths (or globs) as a tuple of text; a single one is a tuple of one."""
    items: Any = (value,) if isinstance(value, (str, os.PathLike)) else value
    try:
        paths = tuple(os.fspath(item) for item in items)
    except TypeError:
        raise TypeError(f"task {task!r}: {key} must be paths (text)") from None
    if not all(isinstance(path, str) and path for path in paths):
        raise ValueError(f"task {task!r}: {key} must be non-empty paths")
    return paths
