"""The CPU-bound example (``specs/cpu.yaml``): the longest Collatz chain, in parts.

Pure Python on purpose: the loops hold the GIL, so threads can't run the parts side
by side, while worker processes (``executor: process``) or a Dask cluster can.
"""

from __future__ import annotations


def longest_chain(numbers: range) -> tuple[int, int]:
    """``(n, steps)`` for the ``n`` in ``numbers`` whose Collatz chain is longest."""
    best, best_steps = 0, -1
    for n in numbers:
        steps, value = 0, n
        while value != 1:
            value = value // 2 if value % 2 == 0 else 3 * value + 1
            steps += 1
        if steps > best_steps:
            best, best_steps = n, steps
    return best, best_steps


def part(limit: int, parts: int, index: int) -> tuple[int, int]:
    """Part ``index`` of ``parts``: every ``parts``-th number of ``[1, limit)`` from
    ``1 + index`` (interleaved, so that the parts weigh the same)."""
    return longest_chain(range(1 + index, limit, parts))


def best(**parts: tuple[int, int]) -> dict[str, int]:
    """Fan-in: the longest chain over every part (each arrives under its task's name)."""
    n, steps = max(parts.values(), key=lambda found: (found[1], -found[0]))
    return {"n": n, "steps": steps}
