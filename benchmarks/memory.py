"""Case 8: peak memory (RSS) of the 100,000-task sequential chain, build and run.

Each figure is a fresh interpreter reading its peak RSS at its end. The reference
process imports flowweaver and makes the same 100,000 functions, without a workflow.

The peak is ``VmHWM`` from ``/proc/self/status`` where there is one: Linux keeps
``ru_maxrss`` across ``fork``/``exec``, so a child of a big parent (this harness,
after the other cases) reports the parent's peak. Elsewhere, ``ru_maxrss``.
"""

from __future__ import annotations

import resource
import subprocess
import sys

from benchmarks.harness import Case, median

TASKS = 100_000
TARGET_MB = 500
TIMEOUT = 300


def child(mode: str, tasks: int) -> int:
    """Build (and run) in this process; returns the peak RSS in KiB."""
    from benchmarks.chain import chain, functions
    from flowweaver import SequentialExecutor

    fns = functions(tasks)
    if mode == "engine":
        workflow = chain(fns)
        SequentialExecutor().execute(workflow)
        assert workflow.get_workflow_stats()["completed"] == tasks
    return peak_kib()


def peak_kib() -> int:
    """This process's peak resident memory, in KiB."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS


def peak_mb(mode: str) -> float:
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.memory", mode, str(TASKS)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=True,
    )
    return int(done.stdout.split()[-1]) / 1024


def run(quick: bool) -> list[Case]:
    refs: list[float] = []
    engines: list[float] = []
    for _ in range(1 if quick else 3):
        refs.append(peak_mb("reference"))
        engines.append(peak_mb("engine"))
    engine_mb, reference_mb = median(engines), median(refs)
    return [
        Case(
            "memory",
            f"peak RSS, {TASKS:,}-task chain, build + run",
            engine_mb,
            reference_mb,
            "functions only",
            f"< {TARGET_MB} MB",
            engine_mb < TARGET_MB,
            unit="MB",
            note=f"{(engine_mb - reference_mb) * 2**20 / TASKS:.0f} bytes/task beyond it",
            engine_runs=tuple(engines),
            reference_runs=tuple(refs),
        )
    ]


if __name__ == "__main__":
    print(child(sys.argv[1], int(sys.argv[2])))
