"""Writing to a reader that may go away: ``flowweaver run … | head``."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import TextIO

_monotonic = time.monotonic

FLUSH_SECONDS = 0.005
"""How long a line of :class:`BatchedLines` may wait to be flushed with the next ones."""


class Lines:
    """Flushed writes to ``stream``. After a broken pipe the rest is dropped quietly, as
    ``cat`` does, and the run goes on (its history is still written)."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.broken = False

    def write(self, text: str) -> None:
        if self.broken:
            return
        try:
            self.stream.write(text)
            self.stream.flush()
        except BrokenPipeError:
            self._break()

    def flush(self) -> None:
        self.write("")

    def _break(self) -> None:
        self.broken = True
        _to_devnull(self.stream)


class BatchedLines(Lines):
    """Writes to ``stream`` that reach it within :data:`FLUSH_SECONDS`: the first write
    after a pause is flushed at once, those that follow it within that time together,
    by a flusher thread (a 10,000-task run makes a few hundred flushes, not 20,000).
    Thread-safe. :meth:`close` flushes what is left and stops the thread."""

    def __init__(self, stream: TextIO) -> None:
        super().__init__(stream)
        self._lock = threading.Lock()
        self._last = 0.0  # time.monotonic() of the last flush
        self._dirty = False  # written since the last flush
        self._due = threading.Event()  # the flusher thread has a flush to make
        self._closed = threading.Event()
        self._stopped = False  # closed, or the pipe broke: later writes are dropped
        self._flusher: threading.Thread | None = None

    def write(self, text: str) -> None:
        with self._lock:
            if self._stopped:
                return
            try:
                self.stream.write(text)
                now = _monotonic()
                if now - self._last >= FLUSH_SECONDS:
                    self.stream.flush()
                    self._last, self._dirty = now, False
                elif not self._dirty:
                    self._dirty = True
                    self._flush_soon()
            except BrokenPipeError:
                self._break()

    def flush(self) -> None:
        with self._lock:
            self._flush()

    def close(self) -> None:
        """Flush what is left; later writes are dropped."""
        with self._lock:
            self._flush()
            self._stopped = True
            self._closed.set()
            self._due.set()  # the flusher thread, if any, stops
        if self._flusher is not None:
            self._flusher.join(timeout=5)

    def _break(self) -> None:
        self._stopped = True
        super()._break()

    def _flush(self) -> None:
        if self._stopped:
            return
        try:
            self.stream.flush()
        except BrokenPipeError:
            self._break()
        self._last, self._dirty = _monotonic(), False

    def _flush_soon(self) -> None:
        if self._flusher is None:
            self._flusher = threading.Thread(
                target=self._flush_later, name="flowweaver-output", daemon=True
            )
            self._flusher.start()
        self._due.set()

    def _flush_later(self) -> None:
        """The flusher thread: wait for a write, flush it :data:`FLUSH_SECONDS` after the
        last flush."""
        while True:
            self._due.wait()
            wait = self._last + FLUSH_SECONDS - time.monotonic()
            if self._closed.wait(wait) if wait > 0 else self._closed.is_set():
                return
            with self._lock:
                self._due.clear()
                if self._dirty:
                    self._flush()


def _to_devnull(stream: TextIO) -> None:
    """Point the stream's descriptor at /dev/null, so no later flush (at exit) fails."""
    with contextlib.suppress(OSError, ValueError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.fileno())
        os.close(null)
