"""Durations: a number of seconds, or text such as ``500ms``, ``30s``, ``5m``, ``1h30m``, ``1d``."""

from __future__ import annotations

import functools
import math
import re

UNITS = {"d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*(ms|d|h|m|s)")
_NUMBER = re.compile(r"\s*\d+(?:\.\d+)?\s*")
PATTERN = r"^\s*(\d+(\.\d+)?\s*(ms|d|h|m|s)?\s*)+$"
"""A loose pattern of duration text for the JSON Schema; :func:`parse_duration` is exact."""

HINT = "a number of seconds, or text like 500ms, 30s, 5m, 1h30m, 1d"


def parse_duration(value: object) -> float:
    """Seconds in ``value``; ``ValueError`` saying why not.

    Units go from largest to smallest, each at most once: ``1h30m``, not ``30m1h``.
    A number, or text that is only a number, counts seconds.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"expected a duration ({HINT}), got {_kind(value)}")
    if isinstance(value, str):
        return _parse_text(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"a duration must be zero or more seconds, got {value}")
    return float(value)


@functools.lru_cache(maxsize=1024)  # specs repeat their few durations thousands of times
def _parse_text(text: str) -> float:
    if _NUMBER.fullmatch(text):
        return float(text)
    total = 0.0
    position = 0
    order = list(UNITS)
    last = -1
    for match in _PART.finditer(text):
        rank = order.index(match.group(2))
        if match.start() != position or rank <= last:
            break
        total += float(match.group(1)) * UNITS[match.group(2)]
        position, last = match.end(), rank
    else:
        if position and text[position:].strip() == "":
            return total
    raise ValueError(f"bad duration {text!r}: use {HINT}")


def _kind(value: object) -> str:
    return "nothing" if value is None else type(value).__name__
