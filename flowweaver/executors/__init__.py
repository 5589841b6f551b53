"""Executors: how a run's attempts are carried out. They share one loop (``_loop``).

``ProcessExecutor`` and ``DaskExecutor`` are imported on first use, so that
``import flowweaver`` stays light.
"""

from __future__ import annotations

from typing import Any

from flowweaver.executors.async_ import AsyncExecutor
from flowweaver.executors.base import Executor
from flowweaver.executors.sequential import SequentialExecutor
from flowweaver.executors.thread import ThreadedExecutor

EXECUTOR_NAMES = ("sequential", "threaded", "async", "process", "dask")

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


def make_executor(
    name: str,
    *,
    max_workers: int | None = None,
    fail_fast: bool = False,
    address: str | None = None,
) -> Executor:
    """The executor a spec or the command line names (``EXECUTOR_NAMES``)."""
    if name == "sequential":
        return SequentialExecutor(fail_fast=fail_fast)
    if name == "threaded":
        return ThreadedExecutor(max_workers, fail_fast=fail_fast)
    if name == "async":
        return AsyncExecutor(max_workers=max_workers, fail_fast=fail_fast)
    if name == "process":
        from flowweaver.executors.process import ProcessExecutor

        return ProcessExecutor(max_workers, fail_fast=fail_fast)
    if name == "dask":
        from flowweaver.executors.dask import DaskExecutor

        return DaskExecutor(address, max_workers=max_workers, fail_fast=fail_fast)
    choices = ", ".join(EXECUTOR_NAMES)
    raise ValueError(f"unknown executor {name!r} (choose from {choices})")


def __getattr__(name: str) -> Any:
    if name == "ProcessExecutor":
        from flowweaver.executors.process import ProcessExecutor

        return ProcessExecutor
    if name == "DaskExecutor":
        from flowweaver.executors.dask import DaskExecutor

        return DaskExecutor
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
