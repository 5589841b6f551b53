"""Words and numbers as a report writes them: durations, times, status labels.

Shared by the HTML templates (as filters) and the Markdown writer.
"""

from __future__ import annotations

import datetime

STATUSES = (
    "completed",
    "failed",
    "running",
    "pending",
    "skipped",
    "cancelled",
    "killed",
    "interrupted",
    "timed_out",
)
"""The task and run statuses a report colours; any other word is drawn as ``unknown``."""


def duration(seconds: float | None) -> str:
    """``0.12s``, ``12.3s``, ``2m 03s``, ``1h 02m``; empty for ``None``."""
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.2f}s"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def clock(seconds: float) -> str:
    """An axis label: ``0s``, ``1.5s``, ``45s``, ``2m``, ``2m30s``, ``1h``, ``1h05m``."""
    if seconds < 60:
        return f"{seconds:g}s" if seconds < 10 else f"{round(seconds)}s"
    whole = round(seconds)
    if whole < 3600:
        minutes, rest = divmod(whole, 60)
        return f"{minutes}m{rest:02d}s" if rest else f"{minutes}m"
    hours, rest = divmod(whole, 3600)
    return f"{hours}h{rest // 60:02d}m" if rest // 60 else f"{hours}h"


def when(epoch: float | None) -> str:
    """Local date and time with the UTC offset: ``2026-11-26 02:00:01 +01:00``."""
    if epoch is None:
        return ""
    moment = datetime.datetime.fromtimestamp(epoch).astimezone()
    text = moment.isoformat(sep=" ", timespec="seconds")
    return f"{text[:19]} {text[19:]}"


def first_line(text: str | None, width: int = 200) -> str:
    """The first non-empty line of ``text``, cut to ``width`` characters."""
    for line in (text or "").splitlines():
        if line.strip():
            return shorten(line.strip(), width)
    return ""


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def status_class(status: str) -> str:
    """The CSS class of a status (a fixed word: never text from the history)."""
    return status if status in STATUSES else "unknown"


def status_word(status: str) -> str:
    """``timed_out`` → ``timed out``."""
    return status.replace("_", " ")


def count(number: int, noun: str) -> str:
    """``1 task``, ``10,000 tasks``."""
    return f"{number:,} {noun}{'' if number == 1 else 's'}"


def counts_line(counts: dict[str, int]) -> str:
    """``3 completed, 1 failed, 1 skipped``, in the order of :data:`STATUSES`."""
    order = {status: index for index, status in enumerate(STATUSES)}
    ranked = sorted(counts.items(), key=lambda item: (order.get(item[0], 99), item[0]))
    return ", ".join(f"{n:,} {status_word(status)}" for status, n in ranked if n)
