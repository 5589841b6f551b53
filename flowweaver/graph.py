"""The one topological sort: dependency graphs over integer ids.

A graph here is ``parents[i]``, the ids node ``i`` depends on. Everything that
needs an order (execution plans, cycle checks, ready-queue priorities) is a
linear pass over such lists; nothing here is quadratic.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flowweaver.errors import CycleError

if TYPE_CHECKING:
    from flowweaver.task import Task


def children_of(parents: Sequence[Sequence[int]]) -> list[list[int]]:
    """Invert ``parents`` into ``children``."""
    children: list[list[int]] = [[] for _ in parents]
    for node, ups in enumerate(parents):
        for up in ups:
            children[up].append(node)
    return children


def topological_order(parents: Sequence[Sequence[int]]) -> list[int] | None:
    """Kahn's order, ties broken by id; ``None`` when there is a cycle."""
    children = children_of(parents)
    waiting = [len(ups) for ups in parents]
    order = [node for node, count in enumerate(waiting) if count == 0]
    position = 0
    while position < len(order):
        for child in children[order[position]]:
            waiting[child] -= 1
            if waiting[child] == 0:
                order.append(child)
        position += 1
    return order if len(order) == len(parents) else None


def layers(parents: Sequence[Sequence[int]]) -> list[list[int]]:
    """Kahn layers: layer k holds the nodes whose longest path from a root is k.

    Within a layer, nodes keep their id order. Raises :class:`CycleError` on a cycle.
    """
    order = topological_order(parents)
    if order is None:
        raise _cycle_error(parents)
    depth = [0] * len(parents)
    for node in order:
        ups = parents[node]
        if ups:
            depth[node] = 1 + max(depth[up] for up in ups)
    result: list[list[int]] = [[] for _ in range(max(depth, default=-1) + 1)]
    for node, level in enumerate(depth):
        result[level].append(node)
    return result


def longest_path_below(
    parents: Sequence[Sequence[int]], weights: Sequence[float] | None = None
) -> list[float]:
    """For each node, the heaviest path from it down to a sink, itself included.

    With no weights every node weighs 1, so this is the count of tasks on the
    longest chain that waits on the node: the critical-path priority.
    """
    order = topological_order(parents)
    if order is None:
        raise _cycle_error(parents)
    weight = weights if weights is not None else [1.0] * len(parents)
    below = list(weight)
    for node in reversed(order):
        for up in parents[node]:
            candidate = weight[up] + below[node]
            below[up] = max(below[up], candidate)
    return below


def _cycle_error(parents: Sequence[Sequence[int]]) -> CycleError:
    cycle = find_cycle({str(node): [str(up) for up in ups] for node, ups in enumerate(parents)})
    return CycleError(cycle or [])


def descendants(children: Sequence[Sequence[int]], start: int) -> list[int]:
    """Every node reachable from ``start`` (not ``start`` itself), each once."""
    seen = {start}
    stack = [start]
    found: list[int] = []
    while stack:
        for child in children[stack.pop()]:
            if child not in seen:
                seen.add(child)
                found.append(child)
                stack.append(child)
    return found


def find_cycle(deps: Mapping[str, Iterable[str]]) -> list[str] | None:
    """A cycle in a name → dependency-names mapping, as ``[a, b, ..., a]``, or ``None``.

    Dependencies naming unknown nodes are ignored (they are a different problem).
    The search is an iterative depth-first walk, so deep graphs don't overflow.
    """
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(deps, white)
    edges = {name: [d for d in ups if d in colour] for name, ups in deps.items()}
    for root in deps:
        if colour[root] != white:
            continue
        path = [root]
        iters = [iter(edges[root])]
        colour[root] = grey
        while iters:
            nxt = next(iters[-1], None)
            if nxt is None:
                colour[path.pop()] = black
                iters.pop()
            elif colour[nxt] == grey:
                return [*path[path.index(nxt) :], nxt]
            elif colour[nxt] == white:
                colour[nxt] = grey
                path.append(nxt)
                iters.append(iter(edges[nxt]))
    return None


@dataclass(frozen=True)
class Graph:
    """A workflow's dependencies by position: read-only views for the engine."""

    tasks: list[Task]
    names: list[str]
    parents: list[list[int]]
    children: list[list[int]]
    depth: list[float]
    index: dict[str, int]
