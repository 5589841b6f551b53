"""Task functions for the folder tests: importable in worker processes (process, Dask)."""

from __future__ import annotations

import asyncio
import os


def where() -> str:
    return os.getcwd()


def write(name: str) -> str:
    with open(name, "w", encoding="utf-8") as file:
        file.write(os.getcwd())
    return name


async def write_later(name: str) -> str:
    await asyncio.sleep(0)
    return write(name)
