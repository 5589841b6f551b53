"""The worker-process side of :mod:`flowweaver.executors.process`.

A worker reads one pickled job at a time from its connection, runs it with
:func:`flowweaver._call.invoke` (awaitables are awaited on the worker's own loop)
and sends back ``(ok, value, traceback_text)``, pickled. It ignores SIGINT (the
parent owns Ctrl-C). On SIGTERM, or when the parent dies, it abandons the current
attempt (a shell task ends its process group), waits a bounded time for the
threads doing that, and exits.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import pickle
import signal
import sys
import threading
import time
import traceback
from multiprocessing.connection import Connection, wait
from typing import Any

from flowweaver._call import invoke
from flowweaver.executors.contract import Attempt, error_text
from flowweaver.shell import GRACE_SECONDS

READY = b"ready"
"""The first message of a worker: it has started and can take jobs (outcomes are pickles)."""

_current: Attempt | None = None
_idle = threading.Event()  # set while no attempt runs
_idle.set()


def serve(conn: Connection) -> None:
    """The worker's main function: run jobs until the connection closes."""
    global _current
    signal.signal(signal.SIGINT, _ignore)  # a handler, not SIG_IGN: commands it runs get SIGINT
    signal.signal(signal.SIGTERM, _terminate_soon)
    parent = multiprocessing.parent_process()
    if parent is not None:
        watch = threading.Thread(target=_watch_parent, args=(parent.sentinel,), daemon=True)
        watch.start()
    conn.send_bytes(READY)
    while True:
        try:
            job = conn.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            name, number, fn, kwargs = pickle.loads(job)
        except BaseException as exc:
            conn.send_bytes(dump(False, exc))
            continue
        _current = Attempt(0, name, number, fn, kwargs, None)
        _idle.clear()
        try:
            ended = invoke(_current)
        finally:
            _current = None
            _idle.set()
        conn.send_bytes(dump(ended.ok, ended.value))


def dump(ok: bool, value: Any) -> bytes:
    """The pickled outcome; a value or exception that can't be pickled becomes an error."""
    if ok:
        try:
            return pickle.dumps((True, value, None), pickle.HIGHEST_PROTOCOL)
        except Exception as exc:
            kind = type(value).__name__
            value = TypeError(
                f"the task's result (a {kind}) can't be sent back from the worker process:"
                f" {error_text(exc)}; return picklable data"
            )
    text = "".join(traceback.format_exception(type(value), value, value.__traceback__))
    try:
        data = pickle.dumps((False, value, text), pickle.HIGHEST_PROTOCOL)
        pickle.loads(data)  # an exception class that pickles but can't be rebuilt
    except Exception:
        plain = RuntimeError(f"{error_text(value)} (the exception could not be pickled)")
        data = pickle.dumps((False, plain, text), pickle.HIGHEST_PROTOCOL)
    return data


def _ignore(signum: int, frame: Any) -> None:
    """SIGINT: the parent handles Ctrl-C, and ends this worker if it must."""


def _terminate_soon(signum: int, frame: Any) -> None:
    # Not here: the handler runs on the main thread, which may hold the lock that
    # abandoning takes. A thread does it, and ends the process.
    threading.Thread(target=end, name="flowweaver-worker-end", daemon=True).start()


def _watch_parent(sentinel: int) -> None:
    wait([sentinel])
    end()


def end() -> None:
    """Abandon the running attempt, give its kill threads the grace, and exit."""
    attempt = _current
    deadline = time.monotonic() + GRACE_SECONDS + 0.5
    if attempt is not None:
        attempt.abandon()
        if attempt.stoppable:  # a shell command ends its group itself, even mid-start
            _idle.wait(GRACE_SECONDS + 0.5)
    shell = sys.modules.get("flowweaver.shell")
    if shell is not None:  # commands started by tasks, even one caught mid-start
        shell.end_all_commands()
    for thread in threading.enumerate():
        if thread.daemon or thread is threading.main_thread():
            continue
        thread.join(max(deadline - time.monotonic(), 0.0))
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # exiting anyway
            stream.flush()
    os._exit(0)
