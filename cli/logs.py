"""The ``flowweaver`` logger on stderr: warnings always, one line each; with
``--verbose`` also DEBUG records (the tracebacks of failed attempts)."""

from __future__ import annotations

import logging
import sys
from typing import TextIO


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at the time (the live display swaps it),
    or to a fixed stream (``--quiet`` holds its output back)."""

    def __init__(self, fixed: TextIO | None = None) -> None:
        super().__init__()
        self._fixed = fixed

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = self._fixed if self._fixed is not None else sys.stderr
        super().emit(record)


class _OneLine(logging.Formatter):
    """``warning: message`` — no traceback: those are for ``--verbose``."""

    def format(self, record: logging.LogRecord) -> str:
        message = record.getMessage().splitlines() or [""]
        return f"{record.levelname.lower()}: {message[0]}"


def log_to_stderr(*, verbose: bool = False, stream: TextIO | None = None) -> None:
    """The ``flowweaver`` logger's records on standard error (or on ``stream``)."""
    logger = logging.getLogger("flowweaver")
    for old in [h for h in logger.handlers if isinstance(h, _StderrHandler)]:
        logger.removeHandler(old)  # the command may run more than once in one process
    handler = _StderrHandler(stream)
    if verbose:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(_OneLine())
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG if verbose else logging.WARNING)
