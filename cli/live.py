"""``--output live``: a Rich live table refreshed from the run's tracker, then a summary.

Rendering pulls a snapshot on Rich's refresh thread (``Live(get_renderable=…)``), a
few times a second, so the events themselves cost the run nothing but a counter
update. A run taller than the terminal shows its running and failed tasks only.
"""

from __future__ import annotations

from rich.console import Console, RenderableType
from rich.live import Live

from flowweaver.events import TaskEvent
from flowweaver.logs import OutputItem

from .reporter import RunHeader, RunOutcome
from .store import resume_lines
from .tables import live_view, summary_view
from .tasklogs import TaskLogs
from .tracker import RunTracker, Snapshot

REFRESHES_PER_SECOND = 8
CHROME_LINES = 6
"""Lines of the display that aren't task rows (header, caption, progress line, margin)."""


class LiveReporter:
    """The live table. What tasks print goes to their logs only, never over the table
    (what is printed outside any task goes above it)."""

    def __init__(
        self, tracker: RunTracker, console: Console | None = None, logs: TaskLogs | None = None
    ) -> None:
        self._state = tracker
        self._console = console if console is not None else Console(highlight=False)
        self._live: Live | None = None
        self._logs = logs

    def start(self, header: RunHeader) -> None:
        for line in resume_lines(header.resume):
            self._console.print(line, highlight=False, markup=False)
        self._live = Live(
            console=self._console,
            get_renderable=self._frame,
            refresh_per_second=REFRESHES_PER_SECOND,
            transient=True,
            redirect_stdout=True,
            redirect_stderr=True,
        )
        self._live.start()

    def event(self, event: TaskEvent) -> None:
        """Nothing to do: the table reads the tracker at its next refresh."""

    def output(self, item: OutputItem) -> None:
        """Nothing to show: what tasks print is in their logs (``flowweaver logs``)."""

    def finish(self, snapshot: Snapshot, outcome: RunOutcome) -> None:
        self._stop()
        logs = self._logs
        where, notes = (None, None) if logs is None else (logs.places(), logs.notes())
        view = summary_view(
            snapshot, where=where, notes=notes, handlers=outcome.handlers, message=outcome.message
        )
        self._console.print(view)

    def close(self) -> None:
        self._stop()

    def _frame(self) -> RenderableType:
        rows = max(self._console.size.height - CHROME_LINES, 1)
        return live_view(self._state.snapshot(max_rows=rows))

    def _stop(self) -> None:
        if self._live is not None:
            live, self._live = self._live, None
            live.stop()
