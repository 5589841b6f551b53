"""Dependencies between a spec's tasks: unknown names, self-dependencies, cycles, order."""

from __future__ import annotations

import heapq
import itertools

from flowweaver import graph
from flowweaver.spec.document import TaskDef
from flowweaver.spec.problems import KeyPath, Mark, Problems, did_you_mean

MAX_CYCLES = 5
"""At most this many cycles are reported: each further one is found by ignoring a link."""


def order_tasks(tasks: list[TaskDef], report: Problems) -> list[TaskDef]:
    """``tasks`` in the order to add them to the workflow: each after its dependencies,
    and otherwise in file order (see :func:`file_order`).

    Reports unknown dependencies (with a did-you-mean), self-dependencies and cycles.
    """
    index = {task.name: position for position, task in enumerate(tasks)}
    written_in_order = True
    for position, task in enumerate(tasks):
        for dep in _known_dependencies(task, index, report):
            written_in_order = written_in_order and index[dep] < position
    if written_in_order:  # each task after its dependencies: kept as written
        return tasks
    parents = [[index[dep] for dep in _known_dependencies(task, index, report)] for task in tasks]
    order = file_order(parents)
    if order is None:  # a cycle: found again by name, to report each one's path
        deps = {
            task.name: [tasks[up].name for up in ups]
            for task, ups in zip(tasks, parents, strict=True)
        }
        _report_cycles(deps, index, tasks, report)
        return tasks
    return [tasks[position] for position in order]


def file_order(parents: list[list[int]]) -> list[int] | None:
    """The file positions in an order that keeps the file's order wherever the
    dependencies allow; ``None`` when there is a cycle.

    The plan lists a layer's tasks in the order they were added, so the tasks of
    one layer are added in file order even when one of them is written before a
    dependency; past that, the task written first is added first (a valid file
    order is kept as it is).
    """
    if all(up < node for node, ups in enumerate(parents) for up in ups):
        return list(range(len(parents)))  # each task written after its dependencies
    try:
        layers = graph.layers(parents)
    except ValueError:  # a cycle
        return None
    before = [list(ups) for ups in parents]
    for layer in layers:
        for earlier, later in itertools.pairwise(layer):
            before[later].append(earlier)
    children = graph.children_of(before)
    waiting = [len(ups) for ups in before]
    ready = [node for node, count in enumerate(waiting) if count == 0]
    order: list[int] = []
    while ready:
        node = heapq.heappop(ready)  # ``ready`` is sorted, hence a heap, to start with
        order.append(node)
        for child in children[node]:
            waiting[child] -= 1
            if waiting[child] == 0:
                heapq.heappush(ready, child)
    return order


def _known_dependencies(task: TaskDef, index: dict[str, int], report: Problems) -> list[str]:
    known: list[str] = []
    for dep in task.dependencies():
        if dep == task.name:
            _report(task, dep, report, "a task cannot depend on itself")
        elif dep not in index:
            _report(task, dep, report, f"unknown task {dep!r}{did_you_mean(dep, index)}")
        else:
            known.append(dep)
    return known


def _where(task: TaskDef, dep: str) -> tuple[Mark, KeyPath]:
    """The mark and path of the first place ``task`` names ``dep``."""
    for position, name in enumerate(task.values.get("depends_on", ())):
        if name == dep:
            return task.locate("depends_on", position), task.path("depends_on", position)
    for parameter, name in task.values.get("inputs", {}).items():
        if name == dep:
            return task.locate("inputs", parameter), task.path("inputs", parameter)
    if task.values.get("map", {}).get("over") == dep:
        return task.locate("map", "over"), task.path("map", "over")
    if dep in task.references:
        mark, path = task.references[dep]
        return mark, task.path(*path)
    return task.locate(), task.path()


def _report(task: TaskDef, dep: str, report: Problems, message: str) -> None:
    mark, path = _where(task, dep)
    report.add(mark, path, message)


def _report_cycles(
    deps: dict[str, list[str]], index: dict[str, int], tasks: list[TaskDef], report: Problems
) -> None:
    remaining = {name: list(ups) for name, ups in deps.items()}
    for _ in range(MAX_CYCLES):
        cycle = graph.find_cycle(remaining)
        if cycle is None:
            return
        cycle = _rotate(cycle, index)
        first = tasks[index[cycle[0]]]
        _report(first, cycle[1], report, f"circular dependency: {' -> '.join(cycle)}")
        remaining[cycle[0]].remove(cycle[1])


def _rotate(cycle: list[str], index: dict[str, int]) -> list[str]:
    """The cycle ``[a, b, …, a]`` starting from the task written first in the file."""
    ring = cycle[:-1]
    start = min(range(len(ring)), key=lambda i: index[ring[i]])
    ring = ring[start:] + ring[:start]
    return [*ring, ring[0]]
