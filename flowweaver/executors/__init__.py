"""Executors: how a run's attempts are carried out. They share one loop (``_loop``)."""

from __future__ import annotations

from flowweaver.executors.async_ import AsyncExecutor
from flowweaver.executors.base import Executor
from flowweaver.executors.sequential import SequentialExecutor
from flowweaver.executors.thread import ThreadedExecutor

__all__ = ["AsyncExecutor", "Executor", "SequentialExecutor", "ThreadedExecutor"]
