"""Case 3: N coroutines each awaiting ``asyncio.sleep(0.1)``, against ``asyncio.gather``.

Both figures include ``asyncio.run`` (making and closing the loop); the ratio is of
the time beyond the 0.1 s sleep.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from typing import Any

from benchmarks.harness import Case, executing, interleaved, median
from flowweaver import AsyncExecutor, Task, Workflow

SLEEP = 0.1
SIZES = (10, 1_000, 10_000)
TARGET_RATIO = 1.5  # at 1,000 and 10,000
RUNS = 7  # async timings swing more than the others: a median of more runs

AsyncFn = Callable[[], Coroutine[Any, Any, None]]


def sleepers(count: int) -> list[AsyncFn]:
    def make() -> AsyncFn:
        async def task() -> None:
            await asyncio.sleep(SLEEP)

        return task

    return [make() for _ in range(count)]


def gather_reference(fns: list[AsyncFn]) -> Callable[[], float]:
    async def main() -> None:
        await asyncio.gather(*(fn() for fn in fns))

    def run() -> float:
        start = time.perf_counter()
        asyncio.run(main())
        return time.perf_counter() - start

    return run


def sleepers_workflow(fns: list[AsyncFn]) -> Workflow:
    workflow = Workflow(f"sleepers-{len(fns)}")
    for i, fn in enumerate(fns):
        workflow.add_task(Task(f"t{i}", fn))
    return workflow


def run(quick: bool) -> list[Case]:
    cases = []
    for size in SIZES:
        fns = sleepers(size)
        refs, engines = interleaved(
            gather_reference(fns), executing(AsyncExecutor(), sleepers_workflow(fns)), RUNS
        )
        engine_s, reference_s = median(engines), median(refs)
        over_engine, over_reference = engine_s - SLEEP, reference_s - SLEEP
        checked = size >= 1_000
        ratio = over_engine / over_reference
        cases.append(
            Case(
                "async",
                f"sleep(0.1) x {size:,}",
                engine_s,
                reference_s,
                "asyncio.gather",
                f"beyond sleep ≤ {TARGET_RATIO:g}x" if checked else "",
                ratio <= TARGET_RATIO if checked else None,
                tasks=size,
                baseline=SLEEP,
                note=(
                    f"ratio of the time beyond the sleep: engine {over_engine * 1e3:.1f} ms, "
                    f"gather {over_reference * 1e3:.1f} ms"
                ),
                engine_runs=tuple(engines),
                reference_runs=tuple(refs),
            )
        )
    return cases
