"""The async example (``specs/async_io.yaml``): concurrent I/O on one event loop.

Each region "fetch" reads the CSV off the loop (``asyncio.to_thread``) and waits a
simulated network latency; a subprocess runs alongside. Together they take about
as long as the slowest one, not the sum.
"""

from __future__ import annotations

import asyncio
import csv
import sys
import time
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data" / "states.csv"


def _read_region(region: str) -> list[str]:
    with open(DATA, newline="", encoding="utf-8") as file:
        return [row["state"] for row in csv.DictReader(file) if row["region"] == region]


async def fetch_region(region: str, latency: float) -> dict[str, Any]:
    """The states of ``region``, after a simulated network round trip of ``latency`` s."""
    started = time.perf_counter()
    states, _ = await asyncio.gather(
        asyncio.to_thread(_read_region, region), asyncio.sleep(latency)
    )
    return {"region": region, "states": states, "seconds": time.perf_counter() - started}


async def interpreter_version() -> str:
    """Ask a child Python for its version through an asyncio subprocess."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "import platform; print(platform.python_version())",
        stdout=asyncio.subprocess.PIPE,
    )
    output, _ = await process.communicate()
    return output.decode().strip()


async def combine(
    northeast: dict[str, Any],
    midwest: dict[str, Any],
    south: dict[str, Any],
    west: dict[str, Any],
    python: str,
) -> str:
    """One line per region, and the interpreter that answered."""
    lines = [f"{r['region']}: {len(r['states'])} states" for r in (northeast, midwest, south, west)]
    return "; ".join(lines) + f" (child Python {python})"
