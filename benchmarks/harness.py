"""Timing, medians, interleaving, the table and the JSON file: all the cases share these."""

from __future__ import annotations

import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from flowweaver import Executor, Workflow

#: a timed function: does its own set-up, returns the seconds of the part that counts
Timed = Callable[[], float]


@dataclass
class Case:
    """One row of the table: the engine's figure beside its reference's."""

    family: str
    name: str
    engine: float | None  # median, in ``unit``
    reference: float | None
    reference_name: str
    target: str
    passed: bool | None  # None: no target for this row, or not measurable
    tasks: int = 0  # > 0: the row reports the engine's cost per task beyond the reference
    unit: str = "s"
    baseline: float = 0.0  # taken off both figures before the ratio (a fixed sleep)
    note: str = ""
    engine_runs: tuple[float, ...] = ()
    reference_runs: tuple[float, ...] = ()

    @property
    def ratio(self) -> float | None:
        if not self.engine or not self.reference:
            return None
        return (self.engine - self.baseline) / (self.reference - self.baseline)

    @property
    def extra_us_per_task(self) -> float | None:
        if not self.tasks or self.engine is None or self.reference is None:
            return None
        return (self.engine - self.reference) / self.tasks * 1e6

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["ratio"] = self.ratio
        data["extra_us_per_task"] = self.extra_us_per_task
        return data


def timed(fn: Callable[[], object]) -> float:
    """Seconds ``fn()`` takes, with a collection beforehand so no earlier garbage is paid."""
    gc.collect()
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def executing(executor: Executor, workflow: Workflow) -> Timed:
    """A timed run of ``workflow`` on ``executor`` (the engine side of most cases)."""

    def run() -> float:
        start = time.perf_counter()
        executor.execute(workflow)
        return time.perf_counter() - start

    return run


def interleaved(reference: Timed, engine: Timed, runs: int) -> tuple[list[float], list[float]]:
    """``runs`` times each, alternating reference, engine, reference, engine …, each
    after a full collection."""
    refs: list[float] = []
    engines: list[float] = []
    for _ in range(runs):
        gc.collect()  # neither side pays for the garbage the other left
        refs.append(reference())
        gc.collect()
        engines.append(engine())
    return refs, engines


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def paired_case(
    family: str,
    name: str,
    reference_name: str,
    reference: Timed,
    engine: Timed,
    runs: int,
    *,
    target: str = "",
    check: Callable[[float, float], bool] | None = None,
    tasks: int = 0,
    note: str = "",
) -> Case:
    """Run the pair interleaved and make the row; ``check(engine, reference)`` says PASS."""
    refs, engines = interleaved(reference, engine, runs)
    engine_s, reference_s = median(engines), median(refs)
    return Case(
        family,
        name,
        engine_s,
        reference_s,
        reference_name,
        target,
        None if check is None else check(engine_s, reference_s),
        tasks=tasks,
        note=note,
        engine_runs=tuple(engines),
        reference_runs=tuple(refs),
    )


# -- output -----------------------------------------------------------------------------


def _value(value: float | None, unit: str) -> str:
    if value is None:
        return "—"
    if unit != "s":
        return f"{value:.0f} {unit}"
    if value >= 1:
        return f"{value:.2f} s"
    if value >= 1e-3:
        return f"{value * 1e3:.1f} ms"
    return f"{value * 1e6:.0f} µs"


def _number(value: float | None, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def _verdict(case: Case) -> str:
    if not case.target:
        return ""
    if case.passed is None:
        return f"{case.target}: n/a"
    return f"{case.target}: {'PASS' if case.passed else 'FAIL'}"


HEADERS = ("case", "engine", "reference", "µs/task extra", "ratio", "target")


def rows(cases: Sequence[Case]) -> list[tuple[str, ...]]:
    return [
        (
            f"{case.family}: {case.name}",
            _value(case.engine, case.unit),
            f"{_value(case.reference, case.unit)} ({case.reference_name})",
            _number(case.extra_us_per_task, ".2f"),
            _number(case.ratio, ".2f"),
            _verdict(case),
        )
        for case in cases
    ]


def table(cases: Sequence[Case]) -> str:
    """A plain-text table, one row per case, notes below it."""
    body = rows(cases)
    widths = [max(len(row[i]) for row in [HEADERS, *body]) for i in range(len(HEADERS))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        for row in body
    ]
    header = "  ".join(cell.ljust(width) for cell, width in zip(HEADERS, widths, strict=True))
    notes = [f"- {c.family}: {c.name}: {c.note}" for c in cases if c.note]
    return "\n".join([header, "-" * len(header), *lines, *(["", *notes] if notes else [])])


def markdown(cases: Sequence[Case]) -> str:
    """The same table in Markdown, for the README's Performance section."""
    lines = ["| " + " | ".join(HEADERS) + " |", "|" + "---|" * len(HEADERS)]
    lines += ["| " + " | ".join(row) + " |" for row in rows(cases)]
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    """What the figures were taken on."""
    model = platform.processor() or "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
    }


def write_json(path: Path, cases: Sequence[Case], *, quick: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "machine": machine(),
        "quick": quick,
        "taken_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cases": [case.to_dict() for case in cases],
    }
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
