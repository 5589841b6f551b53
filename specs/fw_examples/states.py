"""The ETL example (``specs/etl.yaml``): the 50 US states and their 2020 census populations.

The data (``data/states.csv``) is public domain: U.S. Census Bureau, 2020 Census
apportionment results, resident population by state.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from pathlib import Path
from typing import Any

State = dict[str, Any]

FIELDS = ("state", "abbreviation", "capital", "region", "admitted", "population_2020")


def extract(path: str) -> list[dict[str, str]]:
    """The CSV's rows as they are written."""
    with open(path, newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    if not rows or tuple(rows[0]) != FIELDS:
        raise ValueError(f"{path}: expected the columns {', '.join(FIELDS)}")
    return rows


def clean(extract: list[dict[str, str]]) -> list[State]:
    """Typed, checked rows: populations as integers, one row per state."""
    states: dict[str, State] = {}
    for row in extract:
        state: State = {key: value.strip() for key, value in row.items()}
        state["admitted"] = int(state["admitted"])
        state["population"] = int(state.pop("population_2020").replace(",", ""))
        if state["abbreviation"] in states:
            raise ValueError(f"{state['abbreviation']} appears twice")
        states[state["abbreviation"]] = state
    return list(states.values())


def by_region(clean: list[State]) -> dict[str, dict[str, Any]]:
    """For each census region: its states, population, and most populous state."""
    groups: dict[str, list[State]] = defaultdict(list)
    for state in clean:
        groups[state["region"]].append(state)
    return {
        region: {
            "states": len(members),
            "population": sum(s["population"] for s in members),
            "largest": max(members, key=lambda s: s["population"])["state"],
        }
        for region, members in sorted(groups.items())
    }


def largest(clean: list[State], top: int = 5) -> list[tuple[str, int]]:
    """The ``top`` most populous states."""
    ranked = sorted(clean, key=lambda s: s["population"], reverse=True)
    return [(s["state"], s["population"]) for s in ranked[:top]]


def write_report(
    by_region: dict[str, dict[str, Any]], largest: list[tuple[str, int]], out_dir: str
) -> str:
    """Write ``states-report.md`` into ``out_dir`` and return its path."""
    total = sum(region["population"] for region in by_region.values())
    lines = [
        "# US states by census region (2020 Census)",
        "",
        "| region | states | population | share | most populous |",
        "|---|---:|---:|---:|---|",
    ]
    for name, region in by_region.items():
        share = region["population"] / total
        lines.append(
            f"| {name} | {region['states']} | {region['population']:,} | {share:.1%} "
            f"| {region['largest']} |"
        )
    lines += ["", f"Total (50 states): {total:,}", "", "## Most populous states", ""]
    lines += [f"{rank}. {state}: {people:,}" for rank, (state, people) in enumerate(largest, 1)]
    path = Path(out_dir) / "states-report.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)
