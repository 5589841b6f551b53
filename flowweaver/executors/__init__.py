"""Executors: how a run's attempts are carried out. They share one loop (``_loop``).

Each executor's module is imported on first use, so that ``import flowweaver``
(and the command line's ``--version``, ``plan`` and ``validate``) stay light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flowweaver.executors.async_ import AsyncExecutor
    from flowweaver.executors.base import Executor
    from flowweaver.executors.dask import DaskExecutor
    from flowweaver.executors.process import ProcessExecutor
    from flowweaver.executors.sequential import SequentialExecutor
    from flowweaver.executors.thread import ThreadedExecutor

EXECUTOR_NAMES = ("sequential", "threaded", "async", "process", "dask")

_MODULES = {
    "AsyncExecutor": "async_",
    "DaskExecutor": "dask",
    "Executor": "base",
    "ProcessExecutor": "process",
    "SequentialExecutor": "sequential",
    "ThreadedExecutor": "thread",
}

__all__ = [
    "EXECUTOR_NAMES",
    "AsyncExecutor",
    "DaskExecutor",
    "Executor",
    "ProcessExecutor",
    "SequentialExecutor",
    "ThreadedExecutor",
    "make_executor",
]


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def make_executor(
    name: str,
    *,
    max_workers: int | None = None,
    fail_fast: bool = False,
    address: str | None = None,
) -> Executor:
    """The executor a spec or the command line names (``EXECUTOR_NAMES``)."""
    if name == "sequential":
        from flowweaver.executors.sequential import SequentialExecutor

        return SequentialExecutor(fail_fast=fail_fast)
    if name == "threaded":
        from flowweaver.executors.thread import ThreadedExecutor

        return ThreadedExecutor(max_workers, fail_fast=fail_fast)
    if name == "async":
        from flowweaver.executors.async_ import AsyncExecutor

        return AsyncExecutor(max_workers=max_workers, fail_fast=fail_fast)
    if name == "process":
        from flowweaver.executors.process import ProcessExecutor

        return ProcessExecutor(max_workers, fail_fast=fail_fast)
    if name == "dask":
        from flowweaver.executors.dask import DaskExecutor

        return DaskExecutor(address, max_workers=max_workers, fail_fast=fail_fast)
    choices = ", ".join(EXECUTOR_NAMES)
    raise ValueError(f"unknown executor {name!r} (choose from {choices})")
