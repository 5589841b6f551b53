"""A task's ``when``: a condition checked on the executor, in its first attempt.

When a task with a callable ``when`` starts its first attempt, the run calls
:class:`Conditional` instead of the task's function: it calls the predicate (with
the upstream results it asks for, like a task), and the task's function only if
the predicate's answer is true. A false answer ends the attempt with a
:class:`ConditionFalse` value, which skips the task (``condition false``); a
predicate that raises ends it with :class:`ConditionError`, which fails the task
with the predicate's error, not retried. All three pickle, so the check runs on
every executor's workers (threads, processes, Dask), never on the waiting loop.

A cache hit does not skip the condition: the run then calls :class:`FromCache` in
place of the task's function, which ends the attempt with a :class:`CacheHit`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


class ConditionFalse:
    """What an attempt returns when its task's condition was false."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "ConditionFalse()"


class CacheHit:
    """What an attempt returns when the cache held its task's result and the task's
    condition, run first, was true: the task completes with ``value``, as cached."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


@dataclass
class FromCache:
    """The call of a conditional task whose result the cache holds: the condition still
    runs first (on the executor), then this answers without calling the task."""

    value: Any

    def __call__(self, **kwargs: Any) -> CacheHit:
        return CacheHit(self.value)


class ConditionError(Exception):
    """The task's ``when`` predicate raised ``error``: the task fails with it."""

    def __init__(self, error: BaseException) -> None:
        super().__init__(str(error))
        self.error = error

    def __reduce__(self) -> tuple[type[ConditionError], tuple[BaseException]]:
        return type(self), (self.error,)


@dataclass
class Conditional:
    """Call ``predicate(**predicate_kwargs)``; if true, ``fn(**kwargs)``."""

    predicate: Callable[..., Any]
    fn: Callable[..., Any]
    predicate_kwargs: dict[str, Any] = field(default_factory=dict)

    def __call__(self, **kwargs: Any) -> Any:
        try:
            answer = self.predicate(**self.predicate_kwargs)
            if inspect.isawaitable(answer):
                answer = _await(answer)
        except BaseException as exc:
            raise ConditionError(exc) from exc
        if not answer:
            return ConditionFalse()
        return self.fn(**kwargs)


def _await(awaitable: Any) -> Any:
    """A coroutine predicate, awaited on this thread's own loop."""
    import asyncio

    async def wait() -> Any:
        return await awaitable

    return asyncio.run(wait())
