"""The fan-out/fan-in example (``specs/fanout.yaml``): counting primes in parallel parts,
one item of a mapped task per range."""

from __future__ import annotations

import math


def plan_ranges(limit: int, parts: int) -> list[tuple[int, int]]:
    """``parts`` half-open ranges that cover ``[0, limit)``."""
    step = math.ceil(limit / parts)
    return [(start, min(start + step, limit)) for start in range(0, limit, step)]


def count_primes(span: tuple[int, int]) -> int:
    """How many primes lie in ``[start, stop)``: a segmented sieve of Eratosthenes."""
    start, stop = span
    if stop <= 2:
        return 0
    start = max(start, 2)
    small = _primes_below(math.isqrt(stop - 1) + 1)
    is_prime = bytearray([1]) * (stop - start)
    for p in small:
        first = max(p * p, (start + p - 1) // p * p)
        is_prime[first - start :: p] = bytes(len(range(first, stop, p)))
    return sum(is_prime)


def _primes_below(n: int) -> list[int]:
    sieve = bytearray([1]) * max(n, 2)
    sieve[0:2] = b"\0\0"
    for p in range(2, math.isqrt(n - 1) + 1 if n > 1 else 0):
        if sieve[p]:
            sieve[p * p :: p] = bytes(len(range(p * p, n, p)))
    return [i for i in range(n) if sieve[i]]


def total(count: list[int]) -> dict[str, int]:
    """Fan-in: the mapped task's list of counts, one per range."""
    return {"parts": len(count), "primes": sum(count)}
