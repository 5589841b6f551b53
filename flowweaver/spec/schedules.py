"""Schedules: the ``schedule:`` key, read as Debian's cron reads a crontab line.

    parse_schedule(text) -> Schedule        # ValueError: why cron would not run it
    Schedule.due_after(moment, count)       # the next due times (seconds since the epoch)
    Schedule.next_due(moment)               # the first of them, or None
    Schedule.latest_due(before)             # the latest due time before ``before``
    missed_due(schedule, installed, now, last_started)   # the due time that has no run
    local_minute(moment)                    # ``2026-11-27 02:00``, as due times are shown

A schedule is five fields (minute hour day-of-month month day-of-week) or one of
``@hourly``, ``@daily``, ``@weekly``, ``@monthly``. ``cronsim`` evaluates it (it mimics
Debian's cron); it is imported here, when a schedule is read, and nowhere else. What
cronsim accepts beyond cron (a seconds field, ``L``, ``W``, ``#``, a step after a
single value) is refused, since the crontab line must mean what the spec says.

Due times are local wall-clock times, as cron reads a crontab.
"""

from __future__ import annotations

import datetime
import math
import re
from dataclasses import dataclass

from flowweaver.spec.problems import did_you_mean

ALIASES = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
}
"""The @-words a schedule may be, and the five fields each stands for."""

FIELDS = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day-of-month", "1-31"),
    ("month", "1-12 or jan-dec"),
    ("day-of-week", "0-7 or sun-sat"),
)

SHAPE = "five fields (minute hour day-of-month month day-of-week) or " + ", ".join(ALIASES)

PATTERN = r"\s*(?:@(?:hourly|daily|weekly|monthly)|\S+(?:\s+\S+){4})\s*"
"""What a schedule looks like (the JSON Schema's pattern; the loader checks more)."""

_FIELD = re.compile(r"[0-9A-Za-z*,/-]+")
_STEP_AFTER_ONE = re.compile(r"(?:^|,)[0-9A-Za-z]+/")


@dataclass(frozen=True)
class Schedule:
    """A checked schedule: ``text`` as cron is given it, ``fields`` the five it means."""

    text: str
    fields: str

    def due_after(self, moment: float, count: int) -> list[float]:
        """The next ``count`` due times after ``moment`` (fewer if cron never runs it)."""
        from cronsim import CronSim

        start = datetime.datetime.fromtimestamp(int(moment))
        found: list[float] = []
        for due in CronSim(self.fields, start):
            if len(found) == count:
                break
            found.append(due.timestamp())
        return found

    def next_due(self, moment: float) -> float | None:
        """The next due time after ``moment``; ``None`` if cron never runs it."""
        found = self.due_after(moment, 1)
        return found[0] if found else None

    def latest_due(self, before: float) -> float | None:
        """The latest due time before ``before``; ``None`` if none in 50 years."""
        from cronsim import CronSim

        start = datetime.datetime.fromtimestamp(math.ceil(before))
        return next((due.timestamp() for due in CronSim(self.fields, start, reverse=True)), None)


GRACE = 60.0
"""Seconds a due time may pass before its run counts as missed: cron starts a line
within a second or two of its minute, and a slow start is not a missed one."""


def missed_due(
    schedule: Schedule, installed: float, now: float, last_started: float | None
) -> float | None:
    """The due time whose run is missing, or ``None``.

    That is the latest due time after ``installed`` that passed more than
    :data:`GRACE` seconds before ``now``, when no run started at or after it
    (``last_started``: when the newest run of the workflow started).
    """
    due = schedule.latest_due(now - GRACE)
    if due is None or due <= installed:
        return None
    if last_started is not None and last_started >= due:
        return None
    return due


def parse_schedule(text: str) -> Schedule:
    """The schedule ``text`` writes; ``ValueError`` saying why cron would not run it."""
    written = " ".join(text.split())
    if written.startswith("@"):
        if written not in ALIASES:
            hint = did_you_mean(written, ALIASES)
            raise ValueError(f"{written!r} is not a schedule{hint}: write {SHAPE}")
        return Schedule(written, ALIASES[written])
    parts = written.split(" ")
    if len(parts) != len(FIELDS):
        extra = ": cron has no seconds field" if len(parts) == 6 else ""
        raise ValueError(f"{written!r} has {len(parts)} fields{extra}; write {SHAPE}")
    for part, (name, allowed) in zip(parts, FIELDS, strict=True):
        _check_field(written, part, name, allowed)
    _check_with_cronsim(written)
    return Schedule(written, written)


def _check_field(written: str, part: str, name: str, allowed: str) -> None:
    """Refuse what cronsim reads but cron does not."""
    bad = _FIELD.sub("", part)
    if bad:
        raise ValueError(f"{written!r}: bad {name} {part!r}: {bad[0]!r} is not cron syntax")
    if name in ("day-of-month", "day-of-week") and re.search(
        "[LW]", part.upper().replace("WED", "")
    ):
        raise ValueError(f"{written!r}: bad {name} {part!r}: 'L' and 'W' are not cron syntax")
    if _STEP_AFTER_ONE.search(part):
        raise ValueError(
            f"{written!r}: bad {name} {part!r}: a step needs '*' or a range before it "
            f"('*/15', '5-59/15'); {name} is {allowed}"
        )


def _check_with_cronsim(written: str) -> None:
    from cronsim import CronSim, CronSimError

    now = datetime.datetime(2000, 1, 1)
    try:
        CronSim(written, now)
    except CronSimError as exc:
        raise ValueError(f"{written!r}: {_reason(written, str(exc))}") from None


def _reason(written: str, message: str) -> str:
    """cronsim's reason (``Bad hour``) in words, with the field's value and range."""
    parts = written.split(" ")
    for part, (name, allowed) in zip(parts, FIELDS, strict=True):
        if message.lower() == f"bad {name}":
            if name == "day-of-month" and _day_exists(part):
                return f"bad {name} {part!r}: no month it names has that day"
            return f"bad {name} {part!r}: {name} is {allowed}"
    return message.lower()


def _day_exists(part: str) -> bool:
    from cronsim import CronSim, CronSimError

    try:
        CronSim(f"0 0 {part} * *", datetime.datetime(2000, 1, 1))
    except CronSimError:
        return False
    return True


def local_minute(moment: float | None) -> str:
    """``moment`` as a local ``YYYY-MM-DD HH:MM``, how due times are shown; ``never``
    for ``None``."""
    if moment is None:
        return "never"
    return datetime.datetime.fromtimestamp(moment).strftime("%Y-%m-%d %H:%M")
