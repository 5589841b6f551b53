"""Routing what Python code prints to the task that printed it: one context variable.

:data:`CURRENT` holds the sink of the attempt whose code is running: each attempt's
code runs in a :class:`contextvars.Context` where it is set (see
``Attempt.bind``), whatever runs it — a pool thread, the calling thread, an
asyncio task (context variables follow coroutines), a Dask worker's thread.

While a run captures, :func:`routed` replaces ``sys.stdout`` and ``sys.stderr`` by
proxies that send each write to the current sink, or, outside any task, to the
stream they replaced. The ``logging`` root handlers that write to those streams are
pointed at the proxies for the same time, so a task's log records go to its log
too. The proxies are installed once however many runs capture at the same time, and
removed when the last one ends.

Threads a task starts itself do not inherit a context (before Python 3.14): what they
print goes to the process's streams. What a C extension or a child process writes
to file descriptors 1 and 2 can't be told apart by thread either: only the process
executor captures that (each task has the worker process to itself).
"""

from __future__ import annotations

import contextlib
import io
import logging
import sys
import threading
from collections.abc import Callable, Iterable, Iterator
from contextvars import ContextVar
from typing import Any, Protocol, TextIO

Lane = list[str] | None
LANE_WRITES = 1024
"""A sink's open lane takes at most this many writes from the proxies…"""
LANE_TEXT = 1024
"""… each of at most this many characters; a longer one goes through ``Sink.write``."""
NO_LANES: tuple[Lane, Lane] = (None, None)


class Sink(Protocol):
    """Where one attempt's output goes.

    ``lanes`` is the sink's fast way in: per stream (``lanes[err]``), a list that a
    proxy may append a short write to directly, or ``None``. A proxy that appended
    looks again: if ``lanes[err]`` is no longer that list (the sink closed it
    meanwhile), it calls ``catch_up(err)`` so that the write is not left behind.
    """

    lanes: tuple[Lane, Lane]

    def write(self, text: str, err: bool = False) -> None:
        """What the attempt wrote to standard output (``err``: standard error)."""

    def write_bytes(self, data: bytes, err: bool = False) -> None:
        """The same, as bytes (a child process's output)."""

    def catch_up(self, err: bool) -> None:
        """A proxy appended to ``lanes[err]`` as the sink closed it: see to the write."""


CURRENT: ContextVar[Sink | None] = ContextVar("flowweaver_task_output", default=None)
"""The sink of the attempt whose code runs in this context, if it is captured."""

_current = CURRENT.get


def current_sink() -> Sink | None:
    """The sink of the attempt running here (``None``: not captured)."""
    return _current()


class RoutedStream:
    """``sys.stdout`` or ``sys.stderr`` while runs capture: a write goes to the current
    attempt's sink, or to the replaced stream (``fallback``) outside any task."""

    write: Callable[[str], int]

    def __init__(self, fallback: TextIO, err: bool) -> None:
        self.fallback = fallback
        self.err = err
        # An instance attribute, not a method: ``print`` calls it without making a
        # bound method, and it reads no attribute of the proxy (whose ``__getattr__``
        # makes every attribute read slower). A captured ``print`` is two writes.
        self.write = _router(fallback, err)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if _current() is None:
            self.fallback.flush()

    def isatty(self) -> bool:
        return _current() is None and self.fallback.isatty()

    @property
    def buffer(self) -> Any:
        if _current() is None:
            return self.fallback.buffer
        return _RoutedBuffer(self)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.fallback, name)


class _RoutedBuffer(io.RawIOBase):
    """``sys.stdout.buffer`` inside a task: bytes go to its sink."""

    def __init__(self, stream: RoutedStream) -> None:
        super().__init__()
        self._stream = stream

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        sink = _current()
        data = bytes(data)
        if sink is None:
            return int(self._stream.fallback.buffer.write(data))
        sink.write_bytes(data, self._stream.err)
        return len(data)


class _Installed:
    """What :func:`routed` replaced, to put back when the last capturing run ends."""

    def __init__(self) -> None:
        self.stdout = RoutedStream(sys.stdout, err=False)
        self.stderr = RoutedStream(sys.stderr, err=True)
        sys.stdout, sys.stderr = self.stdout, self.stderr
        self.handlers: list[tuple[logging.StreamHandler[Any], Any]] = []
        for handler in logging.getLogger().handlers:
            if not isinstance(handler, logging.StreamHandler):
                continue
            stream = handler.stream
            if stream is self.stdout.fallback or stream is self.stderr.fallback:
                proxy = self.stdout if stream is self.stdout.fallback else self.stderr
                handler.setStream(proxy)
                self.handlers.append((handler, stream))

    def remove(self) -> None:
        for handler, stream in self.handlers:
            if handler.stream is self.stdout or handler.stream is self.stderr:
                handler.setStream(stream)
        if sys.stdout is self.stdout:
            sys.stdout = self.stdout.fallback
        if sys.stderr is self.stderr:
            sys.stderr = self.stderr.fallback


_lock = threading.Lock()
_users = 0
_installed: _Installed | None = None


@contextlib.contextmanager
def routed() -> Iterator[None]:
    """Route printed output to the current attempt's sink for the time of the block."""
    global _users, _installed
    with _lock:
        if _installed is None:
            _installed = _Installed()
        _users += 1
    try:
        yield
    finally:
        with _lock:
            _users -= 1
            if _users == 0 and _installed is not None:
                _installed.remove()
                _installed = None


def _router(fallback: TextIO, err: bool) -> Callable[[str], int]:
    """The ``write`` of a proxy of standard output (``err``: error)."""
    stream = 1 if err else 0  # (a tuple's item at an int is read faster than at a bool)

    def write(text: str) -> int:
        sink = _current()
        if sink is None:
            return fallback.write(text)
        if type(text) is not str:
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        size = len(text)
        lane = sink.lanes[stream]
        if lane is not None and size <= LANE_TEXT and len(lane) < LANE_WRITES:
            lane.append(text)  # the common case: no lock, no call into the sink
            if sink.lanes[stream] is not lane:
                sink.catch_up(err)
        else:
            sink.write(text, err)
        return size

    return write


def original_streams() -> tuple[TextIO, TextIO]:
    """The standard output and error that tasks' output does not reach while routed."""
    installed = _installed
    if installed is not None:
        return installed.stdout.fallback, installed.stderr.fallback
    return sys.stdout, sys.stderr
