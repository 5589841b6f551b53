"""The nightly example (``specs/nightly.yaml``): the day's orders, totalled into a report.

Every path here is relative: the spec's ``workdir`` says where they are, so the job
does the same wherever cron starts it.
"""

from __future__ import annotations

import csv
import os
from collections import defaultdict


def load(path: str) -> list[tuple[str, float]]:
    """The orders as ``(region, amount)`` rows."""
    with open(path, newline="", encoding="utf-8") as file:
        return [(row["region"], float(row["amount"])) for row in csv.DictReader(file)]


def totals(load: list[tuple[str, float]]) -> dict[str, float]:
    """The amount per region, and ``TOTAL``."""
    sums: dict[str, float] = defaultdict(float)
    for region, amount in load:
        sums[region] += amount
    sums["TOTAL"] = sum(amount for _region, amount in load)
    return {region: round(amount, 2) for region, amount in sums.items()}


def write_report(totals: dict[str, float], day: str, path: str) -> str:
    """Write the day's report (Markdown) to ``path``; returns the path."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    lines = [f"# Orders of {day}", "", "| region | amount |", "|---|---:|"]
    lines += [f"| {region} | {amount:.2f} |" for region, amount in totals.items()]
    with open(path, "w", encoding="utf-8") as file:
        file.write("\n".join(lines) + "\n")
    return path
