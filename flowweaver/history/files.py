"""The files tasks read and write: what their globs match, and the files' hashes.

A task's ``reads`` join its cache key and its resume fingerprint as the matched
paths (relative to the task's folder) and their SHA-256 digests, so a changed
input is never served from the cache or reused by ``--resume``.

Hashing every input on every run would read a 1 GB file every night. So a file's
digest is kept in ``runs.db`` (the ``files`` table) with its size and modification
time in nanoseconds, and while both are unchanged the file is taken as unchanged
and not read again. That shortcut can be fooled: a write that keeps the size and
lands within the file system's time granularity of the hashed version, or a tool
that puts an old modification time back (``cp -p``, ``rsync -t``, ``tar``). Two
guards: a file modified less than :data:`RACY_SECONDS` before it was hashed is not
remembered (it is hashed again next time), and ``flowweaver cache clear --files``
(or ``touch``) makes every file (or one) be hashed again.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable, Sequence

from flowweaver.folders import expand, shown
from flowweaver.history import db

RACY_SECONDS = 2.0
"""A file modified this recently when hashed may change again within its time
granularity, unseen: its digest is used but not remembered."""

_CHUNK = 1 << 20


class FileHashes:
    """SHA-256 digests of files, remembered by (path, size, mtime) in ``runs.db``."""

    def __init__(self, database: db.Database, clock: Callable[[], float] = time.time) -> None:
        self._database = database
        self._clock = clock
        self._seen: dict[tuple[str, int, int], str] = {}  # within this process

    def digest(self, path: str) -> tuple[int, str]:
        """The file's size and SHA-256 (hex); ``OSError`` when it can't be read."""
        info = os.stat(path)
        key = (path, info.st_size, info.st_mtime_ns)
        known = self._seen.get(key)
        if known is not None:
            return info.st_size, known
        with self._database.reading() as conn:
            row = db.file_get(conn, path)
        if row is not None and (row["size"], row["mtime_ns"]) == key[1:]:
            self._seen[key] = row["sha256"]
            return info.st_size, row["sha256"]
        sha256 = _hash(path)
        if self._clock() - info.st_mtime_ns / 1e9 >= RACY_SECONDS:
            self._seen[key] = sha256
            with self._database.transaction() as conn:
                db.file_put(conn, path, size=info.st_size, mtime_ns=info.st_mtime_ns, sha256=sha256)
        return info.st_size, sha256

    def listing(self, patterns: Sequence[str], folder: str) -> list[tuple[str, int, str]]:
        """``(path relative to folder, size, sha256)`` of each file ``patterns`` match."""
        rows = []
        for path in expand(patterns, folder):
            size, sha256 = self.digest(path)
            rows.append((shown(path, folder), size, sha256))
        return rows


def _hash(path: str) -> str:
    hasher = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(_CHUNK):
            hasher.update(chunk)
    return hasher.hexdigest()
