"""Issue 5's check: the CPU-bound example spec, process executor against sequential.

``specs/cpu.yaml`` splits a pure-Python search into four parts. On a machine with
two cores the process executor should take close to half the sequential time; the
reference here is the same spec on ``SequentialExecutor``, so the "ratio" column is
process time / sequential time and the target is at most 0.6 (a speed-up of 1.67 times
or more). Worker start-up is included: it is part of what a user waits for.
"""

from __future__ import annotations

import os
from pathlib import Path

from benchmarks.harness import Case, executing, paired_case
from flowweaver import load_workflow
from flowweaver.executors import make_executor

SPEC = Path(__file__).resolve().parent.parent / "specs" / "cpu.yaml"
TARGET = 0.6
LIMIT = 1_500_000  # --param limit: about 10 s of work, so start-up is a small share


def run(quick: bool) -> list[Case]:
    workflow = load_workflow(SPEC, {"limit": LIMIT})
    cores = os.cpu_count() or 1
    return [
        paired_case(
            "cpu",
            f"specs/cpu.yaml on {cores} cores, process executor",
            "the same spec, sequential",
            executing(make_executor("sequential"), workflow),
            executing(make_executor("process"), workflow),
            1 if quick else 3,
            target=f"≤ {TARGET:g}x sequential",
            check=lambda engine, reference: engine <= TARGET * reference,
            note=f"--param limit={LIMIT:_}; worker start-up included",
        )
    ]
