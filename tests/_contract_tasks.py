"""Module-level task functions for the executor contract suite.

Process executors pickle a task's function by reference, so everything a
contract test runs lives here. State shared between attempts (counting calls
across processes) goes through files whose paths are bound with
``functools.partial``.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any


def constant() -> int:
    return 7


def no_params() -> str:
    return "no args"


def source() -> int:
    return 2


def double(source: int) -> int:
    return source * 2


def add(double: int, source: int) -> int:
    return double + source


def dashed_source() -> str:
    return "dashed"


def dotted_source() -> str:
    return "dotted"


def takes_dashed_and_dotted(my_src: str, pkg_src: str) -> str:
    return f"{my_src}+{pkg_src}"


def takes_x(x: int) -> int:
    return x + 100


def takes_kwargs(**kwargs: Any) -> list[str]:
    return sorted(kwargs)


async def async_source() -> int:
    await asyncio.sleep(0)
    return 5


async def async_double(source: int) -> int:
    await asyncio.sleep(0)
    return source * 2


def returns_awaitable(source: int) -> Any:
    return async_double(source)


def sleep_then(seconds: float, value: str = "done") -> str:
    time.sleep(seconds)
    return value


async def async_sleep_then(seconds: float, value: str = "done") -> str:
    await asyncio.sleep(seconds)
    return value


def fail() -> None:
    raise ValueError("boom")


async def async_fail() -> None:
    raise ValueError("async boom")


def count_call(path: str) -> int:
    """Append one line to ``path``; return how many calls there have been."""
    with open(path, "a") as f:
        f.write("x\n")
    return len(Path(path).read_text().splitlines())


def flaky(path: str, failures: int, exc: str = "ValueError") -> str:
    """Fail the first ``failures`` calls (counted in ``path``) with ``exc``, then succeed."""
    calls = count_call(path)
    if calls <= failures:
        raise {"ValueError": ValueError, "KeyError": KeyError, "OSError": OSError}[exc](
            f"failure {calls}"
        )
    return f"ok after {calls}"


def counted_sleep(path: str, seconds: float) -> str:
    count_call(path)
    time.sleep(seconds)
    return "slept"


async def async_counted_sleep(path: str, seconds: float) -> str:
    count_call(path)
    await asyncio.sleep(seconds)
    return "slept"


class CustomBaseError(BaseException):
    """Not an Exception: a task raising it must still fail only itself."""


def raise_system_exit() -> None:
    raise SystemExit(3)


def raise_keyboard_interrupt() -> None:
    raise KeyboardInterrupt


def raise_custom_base() -> None:
    raise CustomBaseError("custom base")


async def async_raise_system_exit() -> None:
    raise SystemExit(3)


async def async_raise_keyboard_interrupt() -> None:
    raise KeyboardInterrupt


async def async_raise_custom_base() -> None:
    raise CustomBaseError("custom base")


def slow_first_call(path: str, seconds: float) -> str:
    """The first call (counted in ``path``) sleeps ``seconds`` and returns "late"."""
    if count_call(path) == 1:
        time.sleep(seconds)
        return "late"
    return "fresh"


def where() -> str:
    """Where this call runs: ``PID THREAD-NAME``."""
    import os
    import threading

    return f"{os.getpid()} {threading.current_thread().name}"


def predicate_at(path: str, answer: bool) -> bool:
    """A ``when`` predicate: append where it runs to ``path``; answer ``answer``."""
    with open(path, "a") as f:
        f.write(where() + "\n")
    return answer


def predicate_of_source(source: int) -> bool:
    """A ``when`` predicate that reads an upstream result: true for an even one."""
    return source % 2 == 0


def broken_predicate() -> bool:
    raise LookupError("no flag")


def received(**upstream: Any) -> dict[str, Any]:
    """Every upstream result it got (``None`` from a task that did not complete)."""
    return upstream


def record_run(path: str, run: dict[str, Any]) -> str:
    """A handler: append the run dict it got, as a JSON line, to ``path``."""
    import json

    with open(path, "a") as f:
        f.write(json.dumps(run, default=str) + "\n")
    return "recorded"
