"""The reference scheduler of the DAG cases: start ready tasks in declared order.

A few lines over ``ThreadPoolExecutor``: whenever a worker is free, the first
ready task in the order the tasks were declared starts. No priorities.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait


def run_declared(
    fns: Sequence[Callable[[], object]], parents: Sequence[Sequence[int]], workers: int
) -> float:
    """Run the DAG (``parents[i]``: what task ``i`` needs); returns the makespan."""
    start = time.perf_counter()
    waiting = [len(ups) for ups in parents]
    children: list[list[int]] = [[] for _ in parents]
    for node, ups in enumerate(parents):
        for up in ups:
            children[up].append(node)
    ready = [node for node, count in enumerate(waiting) if count == 0]
    running: dict[Future[object], int] = {}
    with ThreadPoolExecutor(workers) as pool:
        while ready or running:
            while ready and len(running) < workers:
                node = ready.pop(0)
                running[pool.submit(fns[node])] = node
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                future.result()
                for child in children[running.pop(future)]:
                    waiting[child] -= 1
                    if waiting[child] == 0:
                        ready.append(child)
            ready.sort()  # declared order among everything ready
    return time.perf_counter() - start


def critical_path(durations: Sequence[float], parents: Sequence[Sequence[int]]) -> float:
    """The longest sum of durations along a dependency path (nodes in a valid order)."""
    finish: list[float] = []
    for node, ups in enumerate(parents):
        finish.append(durations[node] + max((finish[up] for up in ups), default=0.0))
    return max(finish, default=0.0)


def simulate(
    durations: Sequence[float],
    parents: Sequence[Sequence[int]],
    workers: int,
    rank: Sequence[float],
) -> float:
    """The makespan of list scheduling with exact durations: whenever a worker is free,
    the ready task with the smallest ``rank`` starts (ties by position). No overhead."""
    waiting = [len(ups) for ups in parents]
    children: list[list[int]] = [[] for _ in parents]
    for node, ups in enumerate(parents):
        for up in ups:
            children[up].append(node)
    ready = [node for node, count in enumerate(waiting) if count == 0]
    running: list[tuple[float, int]] = []
    now = 0.0
    while ready or running:
        ready.sort(key=lambda node: (rank[node], node))
        while ready and len(running) < workers:
            node = ready.pop(0)
            running.append((now + durations[node], node))
        running.sort()
        now, node = running.pop(0)
        for child in children[node]:
            waiting[child] -= 1
            if waiting[child] == 0:
                ready.append(child)
    return now


def longest_below(durations: Sequence[float], parents: Sequence[Sequence[int]]) -> list[float]:
    """For each node, the heaviest path from it to a sink, itself included."""
    below = list(durations)
    for node in reversed(range(len(parents))):
        for up in parents[node]:
            below[up] = max(below[up], durations[up] + below[node])
    return below
