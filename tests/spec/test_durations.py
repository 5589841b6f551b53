"""Durations: numbers of seconds, or text with units."""

from __future__ import annotations

import pytest

from flowweaver.spec.durations import parse_duration


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (30, 30.0),
        (0, 0.0),
        (1.5, 1.5),
        ("30", 30.0),
        ("2.5", 2.5),
        ("500ms", 0.5),
        ("30s", 30.0),
        ("5m", 300.0),
        ("1h", 3600.0),
        ("1h30m", 5400.0),
        ("1h 30m", 5400.0),
        ("1d", 86400.0),
        ("1d2h3m4s5ms", 93784.005),
        ("1.5h", 5400.0),
        (" 10s ", 10.0),
    ],
)
def test_valid(value: object, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "value",
    ["", "s", "5 minutes", "30m1h", "1h1h", "-5s", "5x", "1e3", "inf", "nan", "1h30", "m5"],
)
def test_invalid_text(value: str) -> None:
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration(value)


@pytest.mark.parametrize("value", [-1, float("inf"), float("nan"), True, None, [1], {"s": 1}])
def test_invalid_values(value: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(value)
