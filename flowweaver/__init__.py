"""FlowWeaver: a zero-infrastructure workflow runner.

``import flowweaver`` loads the standard library only: the spec loader imports
``yaml`` when called, the Dask executor imports ``distributed`` when made.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False  # (typing itself is not imported: ``flowweaver --version`` is fast)
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    from flowweaver.errors import (
        AttemptError,
        CycleError,
        FlowWeaverError,
        LockedError,
        MissingOutputError,
        Problem,
        RunInterrupted,
        RunTimeoutError,
        SecretError,
        SpecError,
        StateError,
        TaskNotPicklableError,
        TaskTimeoutError,
        UnknownRunError,
        UnknownTaskError,
        WorkerCrashedError,
        WorkflowError,
    )
    from flowweaver.events import TaskEvent
    from flowweaver.executors import (
        AsyncExecutor,
        DaskExecutor,
        Executor,
        ProcessExecutor,
        SequentialExecutor,
        ThreadedExecutor,
    )
    from flowweaver.history import RunStore
    from flowweaver.pools import Pool
    from flowweaver.shell import ShellCommandError
    from flowweaver.task import ItemFailed, Map, Task, TaskStatus
    from flowweaver.workflow import SpecInfo, Workflow

__version__ = "0.3.0"

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
    "SecretError",
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
    "UnknownTaskError",
    "WorkerCrashedError",
    "Workflow",
    "WorkflowError",
    "__version__",
    "load_workflow",
]


_ERRORS = (
    "AttemptError",
    "CycleError",
    "FlowWeaverError",
    "LockedError",
    "MissingOutputError",
    "Problem",
    "RunInterrupted",
    "RunTimeoutError",
    "SecretError",
    "SpecError",
    "StateError",
    "TaskNotPicklableError",
    "TaskTimeoutError",
    "UnknownRunError",
    "UnknownTaskError",
    "WorkerCrashedError",
    "WorkflowError",
)
_LAZY = {
    **dict.fromkeys(_ERRORS, "flowweaver.errors"),
    "TaskEvent": "flowweaver.events",
    "Pool": "flowweaver.pools",
    "ItemFailed": "flowweaver.task",
    "Map": "flowweaver.task",
    "Task": "flowweaver.task",
    "TaskStatus": "flowweaver.task",
    "SpecInfo": "flowweaver.workflow",
    "Workflow": "flowweaver.workflow",
    "RunStore": "flowweaver.history",
    "ShellCommandError": "flowweaver.shell",
}


def __getattr__(name: str) -> Any:
    """Every name is imported when first used: ``flowweaver --version`` loads none of
    them, ``plan`` and ``validate`` never load the executors, the run history or shell
    tasks (asyncio, threading machinery, subprocess, sqlite3)."""
    module = _LAZY.get(name)
    if module is None and name.endswith("Executor"):  # the executors' registry says
        from flowweaver.executors import REGISTRY

        if name == "Executor" or any(entry.cls == name for entry in REGISTRY.values()):
            module = "flowweaver.executors"
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


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
