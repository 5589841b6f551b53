"""The run history: runs, their tasks, stored results, the cache and the locks, kept
in one state folder (``.flowweaver/`` unless told otherwise).

    store = RunStore(".flowweaver")
    SequentialExecutor().execute(workflow, store=store)               # recorded
    SequentialExecutor().execute(workflow, store=store, resume=True)  # reuses what completed
    store.runs(limit=10)            # RunRecords, newest first
    store.run("latest").tasks       # one run's TaskRecords

The package, from this door down:

    store        RunStore (reads runs back, opens a run), RunRecord, TaskRecord, RunOutline,
                 CacheEntry
    recorder     RunRecorder: what a run writes as it goes; the engine's Recorder/Store seam
    db           runs.db: the schema, connecting, and every SQL statement
    resume       which tasks of an unfinished run keep their results, and why the rest run
    fingerprint  fingerprints of task definitions (resume) and cache keys (cache: true)
    files        the files tasks read and write: globs matched, hashes remembered
    lock         one exclusive lock per workflow name
    statedir     where the state folder is, and the safety rules it must pass
    status       RunStatus, for runs (TaskStatus is the tasks')

:class:`RunStatus` and :class:`UnknownRunError` (whose home is :mod:`flowweaver.errors`)
come with the door; the other names are imported when first used: the store and
the recorder import sqlite3, which ``import flowweaver`` and the engine never need.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from flowweaver.errors import UnknownRunError
from flowweaver.history.status import RunStatus

if TYPE_CHECKING:
    from flowweaver.history.recorder import Recorder, RunRecorder, Store
    from flowweaver.history.resume import ResumeInfo
    from flowweaver.history.store import (
        CacheEntry,
        OutputRecord,
        RunOutline,
        RunRecord,
        RunStore,
        TaskOutcome,
        TaskRecord,
    )

_MODULES = {
    "CacheEntry": "store",
    "OutputRecord": "store",
    "Recorder": "recorder",
    "ResumeInfo": "resume",
    "RunOutline": "store",
    "RunRecord": "store",
    "RunRecorder": "recorder",
    "RunStore": "store",
    "Store": "recorder",
    "TaskOutcome": "store",
    "TaskRecord": "store",
}

__all__ = [
    "CacheEntry",
    "OutputRecord",
    "Recorder",
    "ResumeInfo",
    "RunOutline",
    "RunRecord",
    "RunRecorder",
    "RunStatus",
    "RunStore",
    "Store",
    "TaskOutcome",
    "TaskRecord",
    "UnknownRunError",
]


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value
