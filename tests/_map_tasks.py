"""Module-level task functions for the map tests (process workers import them by name).

Calls are counted in files, one line per call, so they count across processes."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any


def names() -> list[str]:
    return ["a", "b", "c", "d", "e"]


def upper(item: str) -> str:
    return item.upper()


def fails_on_c(item: str) -> str:
    if item == "c":
        raise ValueError(f"bad {item}")
    return item.upper()


def where(item: int) -> tuple[int, int]:
    """Which process and thread ran the item."""
    return os.getpid(), threading.get_ident()


def counted(log: str, item: Any, fail_first: int = 0) -> Any:
    """Record the call; fail the item's first ``fail_first`` attempts."""
    path = Path(log)
    with path.open("a") as out:
        out.write(f"{item}\n")
    calls = path.read_text().splitlines().count(str(item))
    if calls <= fail_first:
        raise RuntimeError(f"attempt {calls} of {item} fails")
    return item


def span(log: str, item: int) -> int:
    """Write the start and end of the item's call (for concurrency checks)."""
    with Path(log).open("a") as out:
        out.write(f"start {item} {time.monotonic()}\n")
    time.sleep(0.01)
    with Path(log).open("a") as out:
        out.write(f"end {item} {time.monotonic()}\n")
    return item


def collect(load: list[Any]) -> list[Any]:
    return load
