"""Reading what a task printed: the one place a report knows where logs live.

Logs are ``<state folder>/logs/RUN_ID/TASK.log`` (map items: ``TASK[KEY].log``). A run
recorded without logs, or a task that printed nothing, has none: ``None``. A name
that would lead out of the run's log folder (``..``, a ``/``) has none either: the
dashboard passes task names from its URLs through here, and never a path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowweaver.history import RunStore

TAIL_BYTES = 64 * 1024
"""How much of the end of a log file a tail reads, at most."""


def log_file(store: RunStore, run_id: str, task: str) -> Path | None:
    """Where ``task``'s log of run ``run_id`` is, if that is a plain file name in the
    run's log folder; ``None`` for a name that is not."""
    name = f"{task}.log"
    if "/" in name or "\\" in name or "\0" in name or task in ("", ".", ".."):
        return None
    if "/" in run_id or run_id in ("", ".", ".."):
        return None
    return Path(store.path) / "logs" / run_id / name


def logged_tasks(store: RunStore, run_id: str) -> set[str]:
    """The names of the tasks of run ``run_id`` that have a log (one look at its
    folder, however many tasks it has)."""
    if log_file(store, run_id, "x") is None:
        return set()
    try:
        with os.scandir(Path(store.path) / "logs" / run_id) as entries:
            return {entry.name[:-4] for entry in entries if entry.name.endswith(".log")}
    except OSError:
        return set()


def read_log(
    store: RunStore, run_id: str, task: str, *, limit: int = 4 * 1024 * 1024
) -> str | None:
    """The task's whole log (its last ``limit`` bytes when longer), or ``None``."""
    path = log_file(store, run_id, task)
    if path is None:
        return None
    return _read_end(path, limit)


def log_tail(store: RunStore, run_id: str, task: str, lines: int = 15) -> str | None:
    """The last ``lines`` lines of the task's log, or ``None`` when it has none."""
    path = log_file(store, run_id, task)
    if path is None:
        return None
    text = _read_end(path, TAIL_BYTES)
    if text is None:
        return None
    kept = text.rstrip("\n").splitlines()[-lines:]
    return "\n".join(kept) if kept else None


def _read_end(path: Path, limit: int) -> str | None:
    try:
        with path.open("rb") as file:
            size = os.fstat(file.fileno()).st_size
            if size > limit:
                file.seek(size - limit)
                data = file.read(limit)
                data = data[data.find(b"\n") + 1 :] if b"\n" in data else data
            else:
                data = file.read()
    except OSError:  # none, or unreadable: the report goes on without it
        return None
    return data.decode("utf-8", errors="replace")
