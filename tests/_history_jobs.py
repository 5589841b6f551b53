"""Task functions and child-process programs for the history, resume, cache and lock tests.

Every task appends its name to a call log (a file), so tests count calls across
processes. ``load`` fails while ``<log>.fail`` exists, and with ``FW_BLOCK=1``
it says ``load started`` on standard output and waits for a line on standard
input (a test kills the process there).

Child programs: ``python -m _history_jobs COMMAND STATE_DIR ARG``
    hold-lock  WORKFLOW  take the lock, print ``locked``, hold it until stdin closes
    wait-lock  WORKFLOW  wait for the lock (logging the wait on stderr), print ``acquired``
    run        LOG       run :func:`build` with a store (sequentially)
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path

from flowweaver import RunStore, SequentialExecutor, Task, Workflow, WorkflowError
from flowweaver.history import RunStatus


def log_call(log: str, name: str) -> None:
    with open(log, "a", encoding="utf-8") as handle:
        handle.write(name + "\n")


def calls(log: str | Path) -> list[str]:
    """The task names called so far, in order."""
    path = Path(log)
    return path.read_text(encoding="utf-8").split() if path.exists() else []


def extract(log: str) -> list[int]:
    log_call(log, "extract")
    return [1, 2, 3]


def transform(log: str, extract: list[int], factor: int = 2) -> list[int]:
    log_call(log, "transform")
    return [x * factor for x in extract]


def load(log: str, transform: list[int]) -> int:
    log_call(log, "load")
    if os.environ.get("FW_BLOCK") == "1":
        print("load started", flush=True)
        sys.stdin.readline()
    if os.path.exists(log + ".fail"):
        raise RuntimeError("load failed")
    return sum(transform)


def load_fixed(log: str, transform: list[int]) -> int:
    log_call(log, "load")
    return sum(transform)


def side(log: str) -> str:
    log_call(log, "side")
    return "side"


def build(log: str | Path, *, factor: int = 2, name: str = "etl") -> Workflow:
    """extract -> transform -> load, and an independent ``side`` task."""
    log = str(log)
    workflow = Workflow(name)
    workflow.add_task(Task("extract", functools.partial(extract, log)))
    workflow.add_task(
        Task("transform", functools.partial(transform, log, factor=factor), depends_on=["extract"])
    )
    workflow.add_task(Task("load", functools.partial(load, log), depends_on=["transform"]))
    workflow.add_task(Task("side", functools.partial(side, log)))
    return workflow


class Unpicklable:
    """A result that cannot be stored."""

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("Unpicklable objects cannot be pickled")


def _explode() -> None:
    raise RuntimeError("this result cannot be loaded")


class LoadsBadly:
    """A result that pickles but fails to load back."""

    def __reduce__(self) -> str | tuple[object, ...]:
        return (_explode, ())


def produce_unpicklable(log: str) -> Unpicklable:
    log_call(log, "produce")
    return Unpicklable()


def produce_loads_badly(log: str) -> LoadsBadly:
    log_call(log, "produce")
    return LoadsBadly()


def consume(log: str, produce: object) -> str:
    log_call(log, "consume")
    raise RuntimeError("fails until fixed")


def build_odd(log: str | Path, produce: Callable[[str], object]) -> Workflow:
    """``produce`` (one of the ``produce_*`` functions) -> ``consume`` (fails)."""
    workflow = Workflow("odd-results")
    workflow.add_task(Task("produce", functools.partial(produce, str(log))))
    workflow.add_task(Task("consume", functools.partial(consume, str(log)), depends_on=["produce"]))
    return workflow


def main(argv: list[str]) -> int:
    command, state_dir, arg = argv
    store = RunStore(state_dir)
    if command == "hold-lock":
        recorder = store.open_run(Workflow(arg))
        print("locked", flush=True)
        sys.stdin.read()
        recorder.end(RunStatus.COMPLETED, 0.0)
        return 0
    if command == "wait-lock":
        logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
        recorder = store.open_run(Workflow(arg), wait=True)
        print("acquired", flush=True)
        recorder.end(RunStatus.COMPLETED, 0.0)
        return 0
    if command == "run":
        try:
            SequentialExecutor().execute(build(arg), store=store)
        except WorkflowError:
            return 1
        return 0
    raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    # Run the functions of the importable module, not of ``__main__``: a task's
    # fingerprint names its function's module, and the tests import this one.
    import _history_jobs

    sys.exit(_history_jobs.main(sys.argv[1:]))
