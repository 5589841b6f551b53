"""``--quiet``: what ``plain`` would print, held back and printed only if the run fails.

So a crontab line without any redirection mails nothing on a good night, and the
whole story on a bad one (as ``chronic`` from moreutils does). What is held is
kept in memory, then in a temporary file past a mebibyte, in the order it was
written to either stream.
"""

from __future__ import annotations

import sys
import tempfile
import threading
from typing import IO, TextIO, cast

_SPOOL_BYTES = 1 << 20


class HeldOutput:
    """Two streams (:attr:`out`, :attr:`err`) whose writes are kept, in order."""

    def __init__(self) -> None:
        # closed with this object (a command's lifetime)
        self._file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115
        self._lock = threading.Lock()
        self.out = cast(TextIO, _HeldStream(self, 0))
        self.err = cast(TextIO, _HeldStream(self, 1))

    def keep(self, stream: int, text: str) -> None:
        if not text:
            return
        data = text.encode("utf-8", "replace")
        with self._lock:
            self._file.write(bytes((stream,)) + len(data).to_bytes(4, "big") + data)

    def replay(self, out: TextIO | None = None, err: TextIO | None = None) -> None:
        """Write what was kept to the real streams, in order; forget it."""
        targets = (out or sys.stdout, err or sys.stderr)
        with self._lock:
            self._file.seek(0)
            while head := self._file.read(5):
                data = self._file.read(int.from_bytes(head[1:], "big"))
                target = targets[head[0]]
                if head[0] == 1:
                    targets[0].flush()
                target.write(data.decode("utf-8", "replace"))
                target.flush()
            self._file.seek(0)
            self._file.truncate()


class _HeldStream:
    """A write-only text stream into a :class:`HeldOutput`."""

    def __init__(self, held: HeldOutput, stream: int) -> None:
        self._held = held
        self._stream = stream

    def write(self, text: str) -> int:
        self._held.keep(self._stream, text)
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False
