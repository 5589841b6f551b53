"""One exclusive lock per workflow name, so two runs of a job never overlap.

The lock is ``fcntl.flock`` on a file in the state folder's ``locks/`` folder.
The operating system releases it when its holder exits, however it exits
(``kill -9`` included), so a stale lock never blocks. After taking the lock its
holder writes its pid, start time and run id into the file, for the message the
next run shows and for telling a killed run from a running one.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import json
import os
import re
from pathlib import Path
from typing import IO, Any

from flowweaver._logger import logger
from flowweaver.errors import LockedError
from flowweaver.interrupts import interruptible_wait

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def lock_path(state_dir: Path, workflow: str) -> Path:
    """The lock file of ``workflow``: its name made file-safe, plus a short hash."""
    digest = hashlib.sha256(workflow.encode()).hexdigest()[:8]
    safe = _UNSAFE.sub("_", workflow).strip("._")[:60] or "workflow"
    return state_dir / "locks" / f"{safe}-{digest}.lock"


class WorkflowLock:
    """The exclusive lock of one workflow. Not reentrant; release it once."""

    def __init__(self, path: Path, workflow: str) -> None:
        self.path = path
        self.workflow = workflow
        self._file: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._file is not None

    def acquire(self, *, wait: bool = False, run_id: str = "") -> None:
        """Take the lock, or raise :class:`LockedError` naming its holder.

        ``wait=True`` blocks until the holder is done instead.
        """
        if self._file is not None:
            raise RuntimeError(f"the lock of {self.workflow!r} is already held")
        self.path.parent.mkdir(mode=0o700, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        handle = os.fdopen(fd, "r+", encoding="utf-8")
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = describe(read_holder(handle))
                if not wait:
                    raise LockedError(self.workflow, holder) from None
                with interruptible_wait():  # Ctrl-C gives up waiting, once this is said:
                    logger.warning("waiting for workflow %r: %s", self.workflow, holder)
                    fcntl.flock(fd, fcntl.LOCK_EX)
            _write_holder(handle, run_id)
        except BaseException:
            handle.close()
            raise
        self._file = handle

    def release(self) -> None:
        """Let the next run in (closing the file releases the lock)."""
        handle, self._file = self._file, None
        if handle is not None:
            with contextlib.suppress(OSError):
                handle.truncate(0)  # the holder's details are stale from now on
            handle.close()

    def __del__(self) -> None:
        # A lock never released (a run abandoned before its end) closes quietly.
        self.release()

    def __enter__(self) -> WorkflowLock:
        self.acquire()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.release()


def probe(path: Path) -> dict[str, Any] | None:
    """Who holds the lock at ``path`` (pid, started, run), or ``None`` when it is free.

    A lock held in this process through another open file counts as held.
    """
    try:
        handle = open(path, encoding="utf-8")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return None
    with handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return read_holder(handle)
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return None


def read_holder(handle: IO[str]) -> dict[str, Any]:
    """The holder's details written in the lock file (empty if not written yet)."""
    try:
        handle.seek(0)
        data = json.loads(handle.read() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def describe(holder: dict[str, Any]) -> str:
    """``pid 123, started 2026-05-01 02:00:00``: the holder, for a message."""
    pid = holder.get("pid", "unknown")
    started = holder.get("started")
    when = _local_time(started) if isinstance(started, (int, float)) else "at an unknown time"
    return f"pid {pid}, started {when}"


def _write_holder(handle: IO[str], run_id: str) -> None:
    holder = {"pid": os.getpid(), "started": datetime.datetime.now().timestamp(), "run": run_id}
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps(holder))
    handle.flush()


def _local_time(timestamp: float) -> str:
    return datetime.datetime.fromtimestamp(timestamp).strftime("%Y-%m-%d %H:%M:%S")
