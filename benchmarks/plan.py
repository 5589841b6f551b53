"""Case 6: plan and cycle check of a random DAG, against ``graphlib``.

The graph is ``{name: [dependency names]}``, edges drawn at random from a lower-
numbered node to a higher one (fixed seed). The engine's figure is ``Workflow``
build (``add_task`` of ready-made ``Task`` objects: adding checks each
dependency, and cycles by construction) plus ``get_execution_plan()``; the
reference is ``list(graphlib.TopologicalSorter(graph).static_order())`` on the
same mapping. ``flowweaver.graph.find_cycle`` (the spec loader's cycle check)
is timed on the same mapping too.
"""

from __future__ import annotations

import graphlib
import random
import time
from collections.abc import Callable

from benchmarks.harness import Case, paired_case
from flowweaver import Task, Workflow
from flowweaver.graph import find_cycle

SHAPES = ((10_000, 30_000), (10_000, 1_000))
SEED = 6
PLAN_TARGET = 0.5  # Workflow build + plan against graphlib's static_order


def random_dag(nodes: int, edges: int, seed: int = SEED) -> dict[str, list[str]]:
    """``nodes`` names, ``edges`` distinct dependencies from a lower node to a higher one."""
    rng = random.Random(seed)
    chosen: set[tuple[int, int]] = set()
    while len(chosen) < edges:
        a, b = rng.randrange(nodes), rng.randrange(nodes)
        if a != b:
            chosen.add((min(a, b), max(a, b)))
    deps: list[list[str]] = [[] for _ in range(nodes)]
    for up, down in sorted(chosen):
        deps[down].append(f"n{up}")
    return {f"n{i}": deps[i] for i in range(nodes)}


def noop() -> None:
    return None


def graphlib_reference(graph: dict[str, list[str]]) -> Callable[[], float]:
    def run() -> float:
        start = time.perf_counter()
        list(graphlib.TopologicalSorter(graph).static_order())
        return time.perf_counter() - start

    return run


def engine_run(graph: dict[str, list[str]]) -> Callable[[], float]:
    tasks = [Task(name, noop, depends_on=list(ups)) for name, ups in graph.items()]

    def run() -> float:
        start = time.perf_counter()
        workflow = Workflow("plan")
        for task in tasks:
            workflow.add_task(task)
        workflow.get_execution_plan()
        return time.perf_counter() - start

    return run


def find_cycle_run(graph: dict[str, list[str]]) -> Callable[[], float]:
    def run() -> float:
        start = time.perf_counter()
        assert find_cycle(graph) is None
        return time.perf_counter() - start

    return run


def run(quick: bool) -> list[Case]:
    cases = []
    runs = 5 if quick else 9
    for nodes, edges in SHAPES:
        graph = random_dag(nodes, edges)
        shape = f"{nodes:,} nodes / {edges:,} edges"
        cases.append(
            paired_case(
                "plan",
                f"{shape}: Workflow build + plan",
                "graphlib static_order",
                graphlib_reference(graph),
                engine_run(graph),
                runs,
                target=f"≤ {PLAN_TARGET:g}x",
                check=lambda e, r: e <= PLAN_TARGET * r,
                tasks=nodes,
            )
        )
        cases.append(
            paired_case(
                "plan",
                f"{shape}: graph.find_cycle",
                "graphlib static_order",
                graphlib_reference(graph),
                find_cycle_run(graph),
                runs,
                target="≤ 1x",
                check=lambda e, r: e <= r,
                tasks=nodes,
            )
        )
    return cases
