"""Ctrl-C and SIGTERM: one handler that routes the signal to the run in progress.

While :func:`catch_signals` is active (the command line holds it for a whole
``flowweaver run``; every run holds it while it lasts), SIGINT and SIGTERM do not
kill the process. A signal during a run asks that run to stop: no new task starts,
running ones are cancelled or abandoned, and ``execute`` raises ``RunInterrupted``.
A signal before a run starts is kept, and the next run starts interrupted, so a
signal that lands between the command's set-up and the run is never lost. A
second signal stops waiting at once.

Handlers a program installed itself are left alone, and only the main thread can
handle signals: elsewhere these context managers do nothing.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

from flowweaver._call import current_attempt, stop_calls_here
from flowweaver.errors import RunInterrupted

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interruptible(Protocol):
    signum: int | None

    @property
    def stopping(self) -> bool:
        """Whether a signal or the run's deadline already asks it to stop."""

    @property
    def deadline(self) -> float | None:
        """When the run is to be stopped (``time.monotonic``), if it has a timeout."""

    def request_interrupt(self, signum: int) -> None: ...

    def request_timeout(self) -> None: ...


class _Router:
    """The process's one handler for SIGINT and SIGTERM while anything catches them."""

    def __init__(self) -> None:
        self.depth = 0
        self.previous: dict[int, Any] = {}
        self.pending: int | None = None
        self.run: Interruptible | None = None
        self.wake: Callable[[], object] = lambda: None
        self.waiting = False

    def handle(self, signum: int, frame: Any) -> None:
        run = self.run
        if run is None:
            if self.pending is not None or self.waiting:
                raise RunInterrupted(signum)  # a second signal, or a wait to give up
            self.pending = signum
            return
        if run.stopping:
            raise RunInterrupted(signum)  # a second signal (or one after the deadline)
        run.request_interrupt(signum)
        self._stop_inline()

    def handle_deadline(self, signum: int, frame: Any) -> None:
        """SIGALRM at the run's deadline: stop it as a first signal does."""
        run = self.run
        if run is None or run.stopping:
            return
        run.request_timeout()
        self._stop_inline()

    def _stop_inline(self) -> None:
        """Wake the run's loop, and stop what runs on this thread (the loop's own)."""
        self.wake()
        stop_calls_here()  # no task starts on this thread until the run has stopped
        attempt = current_attempt()
        if attempt is None:
            return
        if attempt.stoppable:
            attempt.abandon()  # e.g. a shell command: its process group is ended
        else:
            raise KeyboardInterrupt  # stop the Python task running inline on this thread


_router = _Router()


@contextmanager
def catch_signals() -> Iterator[None]:
    """While inside, SIGINT and SIGTERM interrupt runs instead of ending the process."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    if _router.depth == 0:
        _router.pending = None
        for signum in SIGNALS:
            current = signal.getsignal(signum)
            if current in (signal.SIG_DFL, signal.default_int_handler):
                _router.previous[signum] = signal.signal(signum, _router.handle)
    _router.depth += 1
    try:
        yield
    finally:
        _router.depth -= 1
        if _router.depth == 0:
            for number, handler in _router.previous.items():
                signal.signal(number, handler)
            _router.previous.clear()


def pending_signal() -> int | None:
    """A signal that arrived while no run was going (the command exits 128 + it)."""
    return _router.pending


@contextmanager
def interruptible_wait() -> Iterator[None]:
    """While blocked outside a run (waiting for a lock), a signal stops the wait at once
    with ``RunInterrupted`` instead of being kept for the run; so does one kept from
    just before the wait (after the message that says it waits, say)."""
    if _router.pending is not None:
        signum, _router.pending = _router.pending, None
        raise RunInterrupted(signum)
    waiting, _router.waiting = _router.waiting, True
    try:
        yield
    finally:
        _router.waiting = waiting


@contextmanager
def routed_to(run: Interruptible, wake: Callable[[], object]) -> Iterator[None]:
    """While ``run`` lasts, signals go to it; one kept from before interrupts it at once."""
    with catch_signals():
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        outer = (_router.run, _router.wake)
        _router.run, _router.wake = run, wake
        if _router.pending is not None:
            run.request_interrupt(_router.pending)
            _router.pending = None
        try:
            with _alarm_at(run.deadline):
                yield
        finally:
            _router.run, _router.wake = outer
            stop_calls_here(False)


@contextmanager
def _alarm_at(deadline: float | None) -> Iterator[None]:
    """SIGALRM at ``deadline`` (monotonic), routed to the run: so a run's timeout also
    stops a task running inline on the loop's thread (the sequential executor's)."""
    if deadline is None or signal.getsignal(signal.SIGALRM) not in (signal.SIG_DFL, None):
        yield  # no deadline, or the program uses SIGALRM itself: the loop still checks
        return
    previous = signal.signal(signal.SIGALRM, _router.handle_deadline)
    signal.setitimer(signal.ITIMER_REAL, max(deadline - time.monotonic(), 1e-3))
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
