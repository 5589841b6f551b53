"""What an output mode is: a subscriber of task events, and a final summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from flowweaver.events import TaskEvent
from flowweaver.handlers import HandlerOutcome
from flowweaver.history import RunStatus
from flowweaver.logs import OutputItem

from .tracker import Snapshot


@dataclass(frozen=True)
class RunHeader:
    """What is known when the run starts."""

    workflow: str
    tasks: int
    executor: str
    run_id: str | None = None
    resume: dict[str, Any] = field(default_factory=dict)
    """``store.resume_summary``: what a resumed run reuses; empty otherwise."""


@dataclass(frozen=True)
class RunOutcome:
    """How the run ended: ``COMPLETED``, ``FAILED``, ``INTERRUPTED`` or ``TIMED_OUT``,
    the exit code, how its handlers ended, and ``message`` when the tasks alone don't
    say why it ended (``workflow 'x' timed out after 30s``)."""

    status: RunStatus
    exit_code: int
    handlers: tuple[HandlerOutcome, ...] = ()
    message: str | None = None


class Reporter(Protocol):
    """One output mode. ``start`` before the run, ``event`` for every task event
    (from the engine's thread), ``output`` for what tasks print (whole lines, secrets
    masked, from any thread), ``finish`` with the final snapshot, ``close`` always."""

    def start(self, header: RunHeader) -> None: ...

    def event(self, event: TaskEvent) -> None: ...

    def output(self, item: OutputItem) -> None: ...

    def finish(self, snapshot: Snapshot, outcome: RunOutcome) -> None: ...

    def close(self) -> None: ...
