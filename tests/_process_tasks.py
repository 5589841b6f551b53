"""Task functions for the process and Dask executor tests: workers import them by name."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time
from pathlib import Path


def one() -> int:
    return 1


def add(a: int, b: int) -> int:
    return a + b


def double(one: int) -> int:
    return one * 2


def pid() -> int:
    return os.getpid()


def total(**parts: int) -> int:
    return sum(parts.values())


def spin() -> None:
    while True:
        pass


def nap(seconds: float) -> float:
    time.sleep(seconds)
    return seconds


def fail(message: str = "boom") -> None:
    raise ValueError(message)


def exit_hard(code: int = 1) -> None:
    os._exit(code)


def kill_self() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def system_exit() -> None:
    raise SystemExit(3)


def unpicklable_result() -> object:
    return threading.Lock()


def flaky(marker: str, succeed_on: int) -> int:
    """Fails until it is called for the ``succeed_on``-th time (counted in a file)."""
    path = Path(marker)
    calls = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(calls))
    if calls < succeed_on:
        raise ConnectionError(f"call {calls}")
    return calls


def touch_then_spin(marker: str) -> None:
    Path(marker).write_text(str(os.getpid()))
    spin()


async def async_double(one: int) -> int:
    await asyncio.sleep(0.01)
    return one * 2


def returns_coroutine(one: int) -> object:
    return async_double(one)


def pooled_nap(seconds: float, fail: bool, item: object = None) -> str:
    """Sleep ``seconds``, then fail if asked (the pools' property test)."""
    time.sleep(seconds)
    if fail:
        raise RuntimeError("failed on purpose")
    return "ok"
