"""The worker-process side of :mod:`flowweaver.executors.process`.

A worker reads one pickled job at a time from its connection, runs it with
:func:`flowweaver._call.invoke` (awaitables are awaited on the worker's own loop)
and sends back ``(ok, value, traceback_text)``, pickled. It ignores SIGINT (the
parent owns Ctrl-C). On SIGTERM, or when the parent dies, it abandons the current
attempt (a shell task ends its process group), waits a bounded time for the
threads doing that, and exits.

When the parent captures a job's output, the worker points its file descriptors 1
and 2 at a pipe for the time of the attempt (so that what a C extension or a child
process writes is caught too), and a thread forwards what comes out of the pipe to
the parent as :data:`OUTPUT` messages, tagged with the job's number, before the
outcome. Shell commands write their output there too.
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
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from typing import Any

from flowweaver._call import invoke
from flowweaver.executors.contract import Attempt, error_text
from flowweaver.logs.failures import format_failure
from flowweaver.logs.routing import CURRENT, NO_LANES
from flowweaver.shell import GRACE_SECONDS

READY = b"ready"
"""The first message of a worker: it has started and can take jobs (outcomes are pickles)."""

OUTPUT = b"\x01"
"""The first byte of a message of captured output: then the job's number (4 bytes, big
endian) and the bytes (a pickle never starts with this byte)."""

DRAIN_SECONDS = 1.0
"""How long an attempt's end waits for its output pipe to empty (a process the task
left running may hold it open: what it writes later still goes to the same log)."""

_current: Attempt | None = None
_capture: _Capture | None = None
_idle = threading.Event()  # set while no attempt runs
_idle.set()


def serve(conn: Connection) -> None:
    """The worker's main function: run jobs until the connection closes."""
    global _current, _capture
    signal.signal(signal.SIGINT, _ignore)  # a handler, not SIG_IGN: commands it runs get SIGINT
    signal.signal(signal.SIGTERM, _terminate_soon)
    parent = multiprocessing.parent_process()
    if parent is not None:
        watch = threading.Thread(target=_watch_parent, args=(parent.sentinel,), daemon=True)
        watch.start()
    with contextlib.suppress(AttributeError, ValueError):  # output line by line, in order
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    sending = threading.Lock()

    def send(data: bytes) -> None:
        with sending:
            conn.send_bytes(data)

    send(READY)
    while True:
        try:
            job = conn.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            name, number, fn, kwargs, captured = pickle.loads(job)
        except BaseException as exc:
            send(dump(False, exc))
            continue
        _current = Attempt(0, name, number, fn, kwargs, None)
        if captured is not None:
            _current.bind(CURRENT, _FD_SINK)
            _capture = _Capture(captured, send)
        _idle.clear()
        try:
            ended = invoke(_current)
        finally:
            _current = None
            if _capture is not None:
                _capture.stop(DRAIN_SECONDS)
                _capture = None
            _idle.set()
        send(dump(ended.ok, ended.value))


class _Capture:
    """For one attempt: file descriptors 1 and 2 point at a pipe, and a thread sends
    what comes out of it to the parent, tagged with the job's number."""

    def __init__(self, job: int, send: Callable[[bytes], None]) -> None:
        _flush_streams()
        self._tag = OUTPUT + job.to_bytes(4, "big")
        self._send = send
        self._lock = threading.Lock()  # the attempt's end, and a SIGTERM's, may both stop it
        read, write = os.pipe()
        self._saved: tuple[int, ...] = (os.dup(1), os.dup(2))
        os.dup2(write, 1)
        os.dup2(write, 2)
        os.close(write)
        self._read = read
        self._thread = threading.Thread(
            target=self._forward, name="flowweaver-worker-output", daemon=True
        )
        self._thread.start()

    def _forward(self) -> None:
        try:
            while data := os.read(self._read, 65536):
                with contextlib.suppress(OSError):  # the parent has gone
                    self._send(self._tag + data)
        finally:
            os.close(self._read)

    def stop(self, wait: float) -> None:
        """Give file descriptors 1 and 2 back, and wait (at most ``wait`` seconds) for
        what the attempt wrote to be sent."""
        _flush_streams()
        with self._lock:
            saved, self._saved = self._saved, ()
        if saved:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            os.close(saved[0])
            os.close(saved[1])
        self._thread.join(wait)


class _FdSink:
    """A shell command's output, in a worker that captures: written to file
    descriptors 1 and 2, that is, to the capture's pipe."""

    lanes = NO_LANES  # every write comes through write()

    def write(self, text: str, err: bool = False) -> None:
        stream = sys.stderr if err else sys.stdout
        stream.write(text)
        stream.flush()

    def write_bytes(self, data: bytes, err: bool = False) -> None:
        (sys.stderr if err else sys.stdout).flush()
        view = memoryview(data)
        while view:
            view = view[os.write(2 if err else 1, view) :]

    def catch_up(self, err: bool) -> None:
        pass  # (no lanes)


_FD_SINK = _FdSink()


def _flush_streams() -> None:
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()


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
    text = format_failure(value)
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
    attempt, capture = _current, _capture
    deadline = time.monotonic() + GRACE_SECONDS + 0.5
    if attempt is not None:
        attempt.abandon()
        if attempt.stoppable:  # a shell command ends its group itself, even mid-start
            _idle.wait(GRACE_SECONDS + 0.5)
    if capture is not None:  # what the attempt printed until now reaches its log
        capture.stop(0.5)
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
