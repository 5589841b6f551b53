"""Writing to a reader that may go away: ``flowweaver run … | head``."""

from __future__ import annotations

import contextlib
import os
from typing import TextIO


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
            self.broken = True
            _to_devnull(self.stream)

    def flush(self) -> None:
        self.write("")


def _to_devnull(stream: TextIO) -> None:
    """Point the stream's descriptor at /dev/null, so no later flush (at exit) fails."""
    with contextlib.suppress(OSError, ValueError):
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, stream.fileno())
        os.close(null)
