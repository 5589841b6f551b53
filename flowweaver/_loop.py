"""The one waiting loop, in a blocking and an asyncio flavour, over the engine.

Both loops do the same four things until the engine says the run is over:
start what is ready (the backend only *submits*), wait for an outcome or the
next deadline (never a polling sleep), settle outcomes, expire late attempts.
Everything they share lives in :class:`~flowweaver._run.Run`; the loops differ
only in how they wait. This is the only code in FlowWeaver that waits on tasks.
"""

from __future__ import annotations

import signal
import threading
import time
from collections import deque
from collections.abc import Callable
from queue import Empty, SimpleQueue
from typing import TYPE_CHECKING

from flowweaver._run import Run
from flowweaver.errors import RunInterrupted
from flowweaver.executors.contract import Backend, Notice
from flowweaver.interrupts import routed_to

if TYPE_CHECKING:
    import asyncio  # imported by the asyncio loop only: a blocking run never loads it

_monotonic = time.monotonic


# -- the loops --------------------------------------------------------------------


def drive(run: Run, backend: Backend) -> None:
    """The blocking loop: wait on a queue of outcomes, with the next deadline as timeout.

    A backend that ran an attempt inline returns it, ended, from ``submit``; the
    loop then goes straight round without waiting.
    """
    inbox: SimpleQueue[Notice | None] = SimpleQueue()
    run.open(inbox.put)
    backend.open(inbox.put, len(run.tasks))
    engine = run.engine
    with run.capturing():
        try:
            with routed_to(run, lambda: inbox.put(None)):
                while True:
                    now = _start_ready(run, backend)
                    if engine.finished:
                        break
                    if _must_wait(run, now, not inbox.empty()):
                        try:
                            item = inbox.get(timeout=run.wait_time(now))
                        except Empty:
                            item = None
                        now = _monotonic()
                        if item is not None:
                            run.receive(item, now)
                    while not inbox.empty():
                        item = inbox.get_nowait()
                        if item is not None:  # None only wakes the loop (a signal)
                            run.receive(item, now)
                    _expire_and_interrupt(run, backend, now)
        finally:
            _end(run, backend)


async def drive_async(run: Run, backend: Backend) -> None:
    """The asyncio loop: the same steps, waiting on one future instead of a queue."""
    import asyncio

    loop = asyncio.get_running_loop()
    inbox: deque[Notice] = deque()
    wakeup: list[asyncio.Future[None]] = [loop.create_future()]

    def wake() -> None:
        if not wakeup[0].done():
            wakeup[0].set_result(None)

    def report(notice: Notice) -> None:
        inbox.append(notice)
        if threading.get_ident() != loop_thread:
            loop.call_soon_threadsafe(wake)
        elif not wakeup[0].done():  # (wake(), without the call: this runs per outcome)
            wakeup[0].set_result(None)

    loop_thread = threading.get_ident()
    run.open(report)
    backend.open(report, len(run.tasks))
    engine = run.engine
    with run.capturing():
        try:
            with routed_to(run, lambda: loop.call_soon_threadsafe(wake)):
                while True:
                    now = _start_ready(run, backend)
                    if engine.finished:
                        break
                    if _must_wait(run, now, bool(inbox)):
                        await _wait(wakeup, run.wait_time(now), wake)
                        now = _monotonic()
                    while inbox:
                        run.receive(inbox.popleft(), now)
                    _expire_and_interrupt(run, backend, now)
        finally:
            _end(run, backend)


def _end(run: Run, backend: Backend) -> None:
    """However the loop ended: cancel what is unfinished (a second signal stops waiting
    for ``always`` tasks too), stop the backend, pass the last events on (so they reach
    the history before the run's end is recorded)."""
    try:
        if not run.engine.finished:
            for attempt in run.abort(_monotonic()):
                backend.abandon(attempt)
    finally:
        run.close_pools()
        backend.close()
        run.flush()
        if run.placement is not None:
            run.placement.return_home()


def _start_ready(run: Run, backend: Backend) -> float:
    """Start what can start (a backend may run it inline); returns the time."""
    now = _monotonic()
    ended = run.launch(now, backend)
    if run.host_pools:
        while run.balance_pools():  # free slots on the machine: what they let start, starts
            ended = run.launch(now if ended is None else ended, backend) or ended
        run.say_waits(now if ended is None else ended)
    run.flush()
    if run.aborted:
        raise RunInterrupted(run.signum or signal.SIGINT)
    return now if ended is None else ended


def _must_wait(run: Run, now: float, has_outcomes: bool) -> bool:
    """Whether to wait: no outcome is in, and tasks are out or nothing can start yet
    (a retry's delay is running)."""
    engine = run.engine
    return not has_outcomes and (bool(engine.executing) or not engine.has_ready(now))


def _expire_and_interrupt(run: Run, backend: Backend, now: float) -> None:
    """Fail attempts past their deadline; on a signal, or past the run's own deadline,
    stop the run. All three abandon attempts."""
    if run.engine.timed:
        for attempt in run.expire(now):
            backend.abandon(attempt)
    deadline = run.deadline
    if deadline is not None and now >= deadline:
        run.request_timeout()
    if run.stopping and not run.stopped:
        stop = run.interrupt if run.signum is not None else run.time_out
        for attempt in stop(now):
            backend.abandon(attempt)


async def _wait(
    wakeup: list[asyncio.Future[None]], timeout: float | None, wake: Callable[[], None]
) -> None:
    import asyncio

    future = wakeup[0]
    handle = None if timeout is None else asyncio.get_running_loop().call_later(timeout, wake)
    try:
        await future
    finally:
        if handle is not None:
            handle.cancel()
        wakeup[0] = asyncio.get_running_loop().create_future()
