"""Executors: how a run's attempts are carried out. They share one loop (``_loop``)
and speak one contract (:mod:`flowweaver.executors.contract`).

:data:`REGISTRY` is the one list of executors: the names a spec and ``--executor``
accept, :func:`make_executor`, the lazy ``from flowweaver import …`` and the command's
help are all read from it. An executor is a module here plus a line there (and its
typing import below). Each module is imported on first use, so that ``import
flowweaver`` (and the command's ``--version``, ``plan`` and ``validate``) stay light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from flowweaver.executors.async_ import AsyncExecutor
    from flowweaver.executors.base import Executor
    from flowweaver.executors.dask import DaskExecutor
    from flowweaver.executors.process import ProcessExecutor
    from flowweaver.executors.sequential import SequentialExecutor
    from flowweaver.executors.thread import ThreadedExecutor


class Entry(NamedTuple):
    """One executor: its module (in this package), its class, and what it is for."""

    module: str
    cls: str
    help: str
    threads: bool
    """Plain functions run on threads here, so a timeout can't stop them (it is soft)."""


REGISTRY: dict[str, Entry] = {
    "sequential": Entry("sequential", "SequentialExecutor", "one at a time, in plan order", True),
    "threaded": Entry("thread", "ThreadedExecutor", "on a pool of threads", True),
    "async": Entry("async_", "AsyncExecutor", "coroutines on one event loop", True),
    "process": Entry("process", "ProcessExecutor", "in worker processes (CPU-bound)", False),
    "dask": Entry("dask", "DaskExecutor", "on a dask.distributed cluster", False),
}

EXECUTOR_NAMES = tuple(REGISTRY)

_MODULES = {entry.cls: entry.module for entry in REGISTRY.values()} | {"Executor": "base"}

__all__ = [
    "EXECUTOR_NAMES",
    "REGISTRY",
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


def executor_class(name: str) -> type[Executor]:
    """The class of the executor named ``name`` (imported now)."""
    entry = REGISTRY.get(name)
    if entry is None:
        choices = ", ".join(EXECUTOR_NAMES)
        raise ValueError(f"unknown executor {name!r} (choose from {choices})")
    cls: type[Executor] = getattr(importlib.import_module(f"{__name__}.{entry.module}"), entry.cls)
    return cls


def make_executor(
    name: str,
    *,
    max_workers: int | None = None,
    fail_fast: bool = False,
    address: str | None = None,
) -> Executor:
    """The executor a spec or the command line names (:data:`EXECUTOR_NAMES`)."""
    return executor_class(name).from_options(
        max_workers=max_workers, fail_fast=fail_fast, address=address
    )
