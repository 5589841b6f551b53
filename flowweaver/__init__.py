"""FlowWeaver: a zero-infrastructure workflow runner.

``import flowweaver`` loads the standard library only: the spec loader imports
``yaml`` when called, the Dask executor imports ``distributed`` when made.
"""

from __future__ import annotations

import importlib
import logging
from typing import TYPE_CHECKING, Any

from flowweaver.errors import (
    AttemptError,
    CycleError,
    FlowWeaverError,
    LockedError,
    MissingOutputError,
    Problem,
    RunInterrupted,
    RunTimeoutError,
    SpecError,
    StateError,
    TaskNotPicklableError,
    TaskTimeoutError,
    UnknownRunError,
    WorkerCrashedError,
    WorkflowError,
)
from flowweaver.events import TaskEvent
from flowweaver.executors import REGISTRY as _EXECUTORS
from flowweaver.pools import Pool
from flowweaver.task import ItemFailed, Map, Task, TaskStatus
from flowweaver.workflow import SpecInfo, Workflow

if TYPE_CHECKING:
    from pathlib import Path

    from flowweaver.executors import (
        AsyncExecutor,
        DaskExecutor,
        Executor,
        ProcessExecutor,
        SequentialExecutor,
        ThreadedExecutor,
    )
    from flowweaver.history import RunStore
    from flowweaver.shell import ShellCommandError

__version__ = "0.3.0"

logging.getLogger("flowweaver").addHandler(logging.NullHandler())

__all__ = [
    "AsyncExecutor",
    "AttemptError",
    "CycleError",
    "DaskExecutor",
    "Executor",
    "FlowWeaverError",
    "ItemFailed",
    "LockedError",
    "Map",
    "MissingOutputError",
    "Pool",
    "Problem",
    "ProcessExecutor",
    "RunInterrupted",
    "RunStore",
    "RunTimeoutError",
    "SequentialExecutor",
    "ShellCommandError",
    "SpecError",
    "SpecInfo",
    "StateError",
    "Task",
    "TaskEvent",
    "TaskNotPicklableError",
    "TaskStatus",
    "TaskTimeoutError",
    "ThreadedExecutor",
    "UnknownRunError",
    "WorkerCrashedError",
    "Workflow",
    "WorkflowError",
    "__version__",
    "load_workflow",
]


_LAZY = {
    **{entry.cls: "flowweaver.executors" for entry in _EXECUTORS.values()},
    "Executor": "flowweaver.executors",
    "RunStore": "flowweaver.history",
    "ShellCommandError": "flowweaver.shell",
}


def __getattr__(name: str) -> Any:
    """Executors, the run history and shell tasks are imported when first named (they
    pull in asyncio, threading machinery, subprocess and sqlite3, which ``plan`` and
    ``validate`` never need)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'flowweaver' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def load_workflow(
    path: str | Path, params: dict[str, Any] | None = None, *, check_imports: bool = True
) -> Workflow:
    """Load a YAML spec file into a :class:`Workflow`; raises :class:`SpecError`."""
    from flowweaver.spec import load_workflow as load

    return load(path, params, check_imports=check_imports)
