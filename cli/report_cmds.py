"""``flowweaver report`` and ``run --report``: a run's report, written to a file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

from .errors import CliError, ExitCode, write_warning
from .options import ReportFormat
from .store import open_store

if TYPE_CHECKING:
    from flowweaver.report import Format


def report(
    state_dir: Path | None,
    run_id: str,
    *,
    output: str | None,
    format: ReportFormat | None,
    history: int,
) -> int:
    """Write the report of ``run_id`` to ``output`` (``-``: standard output; default
    ``flowweaver-report-RUN_ID.html``); print the path written."""
    from flowweaver.report import render_report, write_report

    chosen = _format(format, output)
    store = open_store(state_dir)
    if output == "-":
        _, document = render_report(store, run_id, format=chosen, history=history)
        sys.stdout.write(document)
        return ExitCode.OK
    if output is not None:
        check_report_path(Path(output), "--output")
    try:
        path = write_report(store, run_id, output, format=chosen, history=history)
    except OSError as exc:
        raise CliError(f"cannot write the report: {exc.strerror or exc}") from None
    sys.stdout.write(f"{path}\n")
    return ExitCode.OK


def _format(format: ReportFormat | None, output: str | None) -> Format:
    """The ``--format`` asked for, else the output file's suffix (``.md``), else HTML."""
    from flowweaver.report import report_format

    if format is not None:
        return "md" if format is ReportFormat.MD else "html"
    return report_format(output) if output and output != "-" else "html"


def check_report_path(path: Path, option: str) -> None:
    """A report can be written there: its folder exists (checked before a run starts)."""
    folder = path.parent
    if path.is_dir():
        raise CliError(f"{option} {path}: is a folder", hint="name the report's file")
    if not folder.is_dir():
        raise CliError(f"{option} {path}: the folder {folder} does not exist")


def write_run_report(path: Path, run_id: str, state_dir: Path | None) -> None:
    """``run --report``: the run has ended (whatever its outcome); write its report.
    A report that can't be written is a warning: the run's exit code stays its own."""
    from flowweaver.errors import FlowWeaverError
    from flowweaver.report import write_report

    try:
        write_report(open_store(state_dir), run_id, path)
    except (OSError, FlowWeaverError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        write_warning(f"report {path} not written: {reason}")
