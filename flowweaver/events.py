"""Task events: the one stream every view (table, plain lines, JSON, history) reads."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from flowweaver.task import TaskStatus


class TaskEvent(NamedTuple):
    """Something happened to a task. Immutable; cheap to make.

    - ``status`` is the task's status after the event. A failed attempt that will
      be retried is a ``RUNNING`` event whose ``error`` is set and whose
      ``retry_in`` says how many seconds until the next attempt.
    - ``time`` is wall-clock seconds since the epoch; ``duration`` (final events)
      is the seconds from the task's first start to its end.
    - ``cached``: the result came from the cache; ``reused``: from a resumed run.
    - ``reason`` (a SKIPPED event): why the task did not run: ``upstream failed``,
      ``upstream skipped``, ``condition false`` or ``rule not met``; ``error`` says
      the same.
    - ``allowed`` (a FAILED event): the task may fail without failing the run.
    - ``parent``: for an item of a mapped task (``task`` is then ``load[b.csv]``), the
      mapped task's name; ``items``: on the RUNNING event of a mapped task, how many
      items it has (its items' events follow, then its own final event).
    """

    task: str
    status: TaskStatus
    attempt: int
    time: float
    error: str | None = None
    duration: float | None = None
    retry_in: float | None = None
    cached: bool = False
    reused: bool = False
    reason: str | None = None
    allowed: bool = False
    parent: str | None = None
    items: int | None = None

    @property
    def is_retry(self) -> bool:
        return self.retry_in is not None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready mapping (status as its lowercase value)."""
        data = self._asdict()
        data["status"] = self.status.value
        return data


def new_event(
    task: str,
    status: TaskStatus,
    attempt: int,
    time: float,
    error: str | None = None,
    duration: float | None = None,
    retry_in: float | None = None,
    cached: bool = False,
    reused: bool = False,
    reason: str | None = None,
    allowed: bool = False,
    parent: str | None = None,
    items: int | None = None,
    _new: Any = tuple.__new__,
) -> TaskEvent:
    """A :class:`TaskEvent`, from its fields by name, made three times faster than
    ``TaskEvent(**fields)`` (which makes a dict for the keywords): the engine makes
    one per transition of an observed run. The parameters are checked against the
    fields when this module is imported, so the two can't drift apart."""
    return _new(  # type: ignore[no-any-return]
        TaskEvent,
        (
            task,
            status,
            attempt,
            time,
            error,
            duration,
            retry_in,
            cached,
            reused,
            reason,
            allowed,
            parent,
            items,
        ),
    )


_FIELDS = TaskEvent._fields
if new_event.__code__.co_varnames[: len(_FIELDS)] != _FIELDS or (new_event.__defaults__ or ())[
    : len(TaskEvent._field_defaults)
] != tuple(TaskEvent._field_defaults.values()):
    raise ImportError("new_event's parameters must be TaskEvent's fields, in order")


Observer = Callable[[TaskEvent], object]
