"""Keeping standard output for the command's own lines (``--output json``)."""

from __future__ import annotations

import io
import os
import sys
from typing import TextIO


class StdoutToStderr:
    """While active, whatever tasks print (Python code and child processes alike)
    goes to standard error; :attr:`real` writes to the original standard output."""

    def __init__(self) -> None:
        self.real: TextIO = sys.stdout
        self._saved_stdout: TextIO = sys.stdout
        self._saved_fd: int | None = None

    def __enter__(self) -> TextIO:
        self._saved_stdout = sys.stdout
        sys.stdout.flush()
        try:
            fd = sys.stdout.fileno()
            self._saved_fd = os.dup(fd)
            os.dup2(sys.stderr.fileno(), fd)
        except (OSError, ValueError, io.UnsupportedOperation):
            self._saved_fd = None  # not a real file: swapping sys.stdout is all we can do
        else:
            self.real = open(os.dup(self._saved_fd), "w", encoding="utf-8", closefd=True)
        sys.stdout = sys.stderr
        return self.real

    def __exit__(self, *exc: object) -> None:
        sys.stdout = self._saved_stdout
        if self._saved_fd is None:
            return
        self.real.flush()
        self.real.close()
        sys.stderr.flush()
        os.dup2(self._saved_fd, self._saved_stdout.fileno())
        os.close(self._saved_fd)
        self._saved_fd = None
        self.real = self._saved_stdout
