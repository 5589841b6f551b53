"""Run reports: a run's whole story in one HTML file (or Markdown), and the pages of
the ``flowweaver ui`` dashboard, read from the run history.

    from flowweaver import RunStore
    from flowweaver.report import write_report
    write_report(RunStore(".flowweaver"), "latest", "report.html")

The package, from this door down:

    model     Report: what a report shows of one run, read from the history
    tasks     the task rows, a mapped task's items folded into it
    timeline  the Gantt chart's geometry and the critical path
    dag       the task graph: where its edges come from, its layered layout
    trends    the workflow's last runs: the grid of runs by tasks, duration trends
    logs      reading a task's log (tails for the table, whole for the dashboard)
    html      the HTML pages, from Jinja2 templates (the one module that imports jinja2)
    markdown  the Markdown report
    text      durations, times and labels as the pages write them

Only the standard library is imported until a page is rendered: ``html`` imports
jinja2 when it first renders one.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from flowweaver.history import RunStore

Format = Literal["html", "md"]

HISTORY_RUNS = 10
"""How many of the workflow's runs the history grid shows, by default."""


def report_format(path: str | os.PathLike[str]) -> Format:
    """``md`` for a ``.md`` or ``.markdown`` file, else ``html``."""
    return "md" if Path(path).suffix.lower() in (".md", ".markdown") else "html"


def render_report(
    store: RunStore,
    run_id: str = "latest",
    *,
    format: Format = "html",
    history: int = HISTORY_RUNS,
) -> tuple[str, str]:
    """The report of run ``run_id`` (an id, a unique prefix, or ``latest``): ``(the
    run's id, the document)``. Raises :class:`~flowweaver.UnknownRunError`."""
    from .model import build_report

    report = build_report(store, run_id, history_runs=history)
    if format == "md":
        from .markdown import report_markdown

        return report.run.id, report_markdown(report)
    from .html import report_page

    return report.run.id, report_page(report)


def default_name(run_id: str, format: Format = "html") -> str:
    """``flowweaver-report-RUN_ID.html`` (``.md``)."""
    return f"flowweaver-report-{run_id}.{format}"


def write_report(
    store: RunStore,
    run_id: str = "latest",
    path: str | os.PathLike[str] | None = None,
    *,
    format: Format | None = None,
    history: int = HISTORY_RUNS,
) -> Path:
    """Write the report of run ``run_id`` to ``path`` (default:
    ``flowweaver-report-RUN_ID.html`` in the current folder); returns the path.

    ``format`` defaults to the path's suffix (``.md``: Markdown), else HTML. The file
    is replaced at once (written beside it, then renamed), never left half written.
    """
    chosen: Format = format or (report_format(path) if path is not None else "html")
    run, document = render_report(store, run_id, format=chosen, history=history)
    target = Path(path) if path is not None else Path(default_name(run, chosen))
    write_atomically(target, document)
    return target


def write_atomically(path: Path, document: str) -> None:
    """``document`` into ``path`` through a temporary file beside it and a rename."""
    folder = path.parent if str(path.parent) else Path(".")
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=folder)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(document)
        os.chmod(temporary, 0o666 & ~_umask())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _umask() -> int:
    """The process's umask, read without changing it (``os.umask`` would change it for
    every thread for a moment); 022 where the system doesn't say."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    return 0o022
