"""The executor contract: what the waiting loop and a backend say to each other.

A run's loop (:mod:`flowweaver._loop`) asks the engine what to start, makes an
:class:`Attempt` for it and hands it to the executor's :class:`Backend`. The backend
only *submits*: it starts the call somewhere (this thread, a pool thread, an event
loop, a worker process, a Dask cluster) and never waits. When the call ends, the
backend fills in the attempt's outcome (:meth:`Attempt.end`) and sends the attempt
to the loop's inbox; an attempt that ran inline is returned by ``submit`` instead.
A backend that must hold an attempt back before it really starts (no worker is ready
yet) sends :class:`Held`, then :class:`Started`, so that its timeout waits.

An executor is a backend plus a line in the registry (:mod:`flowweaver.executors`).

Attempt hooks (:class:`AttemptHook`) are what a run attaches to each attempt: told
when it starts and ends, on the loop's thread, a hook may :meth:`Attempt.bind` a
context variable that the attempt's code then sees wherever it runs in this process
(the captured output's sink is one; a tracing span can be another). A run without
hooks makes no context at all.
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable
from typing import Any, NamedTuple, Protocol, TypeVar

from flowweaver import _logger
from flowweaver.errors import TaskTimeoutError

T = TypeVar("T")

_abandon_lock = threading.RLock()  # re-entrant: a signal handler may abandon


class Attempt:
    """One call of one task: what to call, with what, how to stop waiting for it, and,
    once it has ended, its outcome: ``ok`` and ``value`` (the result, or the exception)."""

    __slots__ = (
        "_on_abandon",
        "abandoned",
        "context",
        "fn",
        "index",
        "kwargs",
        "name",
        "number",
        "ok",
        "timeout",
        "value",
    )
    _on_abandon: list[Callable[[], object]] | None
    ok: bool
    value: Any

    def __init__(
        self,
        index: int,
        name: str,
        number: int,
        fn: Callable[..., Any],
        kwargs: dict[str, Any],
        timeout: float | None,
    ) -> None:
        self.index = index
        self.name = name
        self.number = number
        self.fn = fn
        self.kwargs = kwargs
        self.timeout = timeout
        self.abandoned = False
        self.context: contextvars.Context | None = None
        """What the attempt's code runs in, once a hook has bound a variable."""
        # ok and value are set when the attempt ends; _on_abandon stays unset until a
        # callback is added (most attempts never have one)

    def end(self, ok: bool, value: Any) -> Attempt:
        """Record how the call ended (``value``: the result, or the exception); returns
        the attempt, ready to be sent to the loop."""
        self.ok = ok
        self.value = value
        return self

    @property
    def ended(self) -> bool:
        return hasattr(self, "ok")

    def bind(self, var: contextvars.ContextVar[T], value: T) -> None:
        """Set ``var`` to ``value`` for the attempt's code (an attempt hook does this
        before the attempt is submitted). Its context is a copy of the loop's."""
        context = self.context
        if context is None:
            context = self.context = contextvars.copy_context()
        context.run(var.set, value)

    def get(self, var: contextvars.ContextVar[T]) -> T | None:
        """What ``var`` is bound to for this attempt, if a hook bound it."""
        context = self.context
        return None if context is None else context.get(var)

    def add_abandon_callback(self, callback: Callable[[], object]) -> None:
        with _abandon_lock:
            if not self.abandoned:
                callbacks = getattr(self, "_on_abandon", None)
                if callbacks is None:
                    callbacks = self._on_abandon = []
                callbacks.append(callback)
                return
        safely(callback, "abandon callback")

    @property
    def stoppable(self) -> bool:
        """Whether the task said how to stop it (a shell command ends its process group)."""
        return bool(getattr(self, "_on_abandon", None))

    def abandon(self) -> None:
        """Stop caring about this attempt; run its abandon callbacks (kill, cancel)."""
        with _abandon_lock:
            if self.abandoned:
                return
            self.abandoned = True
            callbacks = getattr(self, "_on_abandon", None) or []
            self._on_abandon = None
        for callback in callbacks:
            safely(callback, "abandon callback")

    def __repr__(self) -> str:
        return f"Attempt({self.name!r}, {self.number})"


class Held(NamedTuple):
    """A backend's notice, sent from ``submit``: it has to hold ``attempt`` back (no
    worker is ready yet), so its timeout must not run until :class:`Started`."""

    attempt: Attempt


class Started(NamedTuple):
    """A backend's notice that a :class:`Held` attempt really started at ``time``
    (monotonic): its timeout counts from then."""

    attempt: Attempt
    time: float


class Failure(NamedTuple):
    """How an attempt failed, as the run shows and stores it (secrets masked):
    ``error`` (``Type: message``), the whole ``traceback`` with its chained causes
    (``None`` when there is none: a timeout, a cancellation), and ``where`` the error
    was raised in the task's own code (``etl.py:42``), when known."""

    error: str
    traceback: str | None = None
    where: str | None = None


class AttemptHook(Protocol):
    """Something a run does for each attempt, told on the loop's thread."""

    def started(self, attempt: Attempt) -> None:
        """Before the attempt is submitted: may :meth:`Attempt.bind` a variable."""

    def ended(self, attempt: Attempt, failure: Failure | None) -> None:
        """Once, when the run is done with the attempt: ``failure`` is ``None`` when it
        completed (a cancelled attempt fails with the reason, without traceback)."""


class RemoteTraceback(Exception):  # noqa: N818 - not an error: the text of one, set as a cause (as concurrent.futures does)
    """The traceback of an exception raised in another process (set as its cause)."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""'


class PoolSlot(NamedTuple):
    """A host pool's notice: the run got a slot of ``pool`` it waited for."""

    pool: str


Notice = Attempt | Held | Started | PoolSlot
"""What reaches the loop's inbox: an ended attempt, a :class:`Held`/:class:`Started`
notice of a backend, or a :class:`PoolSlot` of a host pool."""

Inbox = Callable[[Notice], object]
"""Where a backend sends ended attempts and notices (from any thread)."""

AttemptWrapper = Callable[[Attempt], object]
"""Told of each attempt on the loop's thread, just before it is submitted (its RUNNING
event has reached the observers): it may replace ``attempt.fn`` with a call that wraps
it, to run the attempt in a context of its own (a tracing span's). The wrapper must
pickle wherever the function does (process and Dask workers). A run without hooks
calls none (see ``Workflow.wrap_attempts``)."""


class Backend(Protocol):
    """How an executor runs attempts. It never waits: ended attempts go to the inbox."""

    slots: int
    """How many attempts it runs at once."""

    # A backend may also say ``inline = True``: its ``submit`` of an attempt without a
    # timeout only calls ``invoke(attempt)`` on the calling thread and returns it. The
    # loop then makes that call itself (one call less per attempt; the sequential
    # executor's backend). Without the attribute, every attempt goes through ``submit``.

    def open(self, inbox: Inbox, tasks: int) -> None:
        """Get ready for a run of ``tasks`` tasks whose attempts are reported to ``inbox``."""

    def submit(self, attempt: Attempt) -> Attempt | None:
        """Start the attempt; return it if it ran to its end inline (then it is not
        also sent to the inbox)."""

    def abandon(self, attempt: Attempt) -> None:
        """Stop waiting for the attempt (a timeout, Ctrl-C): end or write off its call."""

    def close(self) -> None:
        """The run is over: release workers, threads, clusters."""


def error_text(exc: BaseException) -> str:
    """``Type: message``, the form kept in ``task.error``."""
    if isinstance(exc, TaskTimeoutError):
        return str(exc)
    message = str(exc)
    name = type(exc).__name__
    return f"{name}: {message}" if message else name


def checked_workers(max_workers: int | None) -> int | None:
    """``max_workers`` as an executor takes it: ``None`` (its default) or at least 1."""
    if max_workers is not None and (
        isinstance(max_workers, bool) or not isinstance(max_workers, int) or max_workers < 1
    ):
        raise ValueError(f"max_workers must be at least 1, got {max_workers!r}")
    return max_workers


def safely(callback: Callable[[], object], what: str) -> None:
    """Call ``callback``; log what it raises on the ``flowweaver`` logger."""
    try:
        callback()
    except Exception:
        _logger.logger.exception("%s raised; ignored", what)
