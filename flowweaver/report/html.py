"""HTML pages from Jinja2 templates (``templates/``), with autoescaping on: every value
that comes from a run (task names, errors, logs, params) is escaped where it is
written, and nothing is ever marked safe. This is the one module that imports jinja2.

Each page is one self-contained document: its CSS and its small script are inline,
its charts inline SVG, and its Content-Security-Policy allows nothing else — no
request to any host, no other script — so a page works from a file, an artifact
store or a mail, and stays readable with JavaScript disabled.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from . import text

if TYPE_CHECKING:
    import jinja2

    from flowweaver.history.store import RunOutline, RunRecord, TaskRecord

    from .model import Report

PAGE_SIZE = 200
"""Task rows shown at first; the others are behind a "show more" (paged with JavaScript)."""


def report_page(report: Report, *, dashboard: bool = False, refresh: int | None = None) -> str:
    """The run's report. ``dashboard``: links to the dashboard's pages (runs list, logs);
    ``refresh``: reload every so many seconds (a run in progress)."""
    run_id = report.run.id

    def log_url(task: str) -> str:
        return f"/runs/{quote(run_id, safe='')}/logs/{quote(task, safe='')}"

    return _render(
        "report.html.j2",
        report=report,
        dashboard=dashboard,
        refresh=refresh,
        log_url=log_url,
        page_size=PAGE_SIZE,
        script=True,
    )


def runs_page(
    runs: Sequence[RunOutline],
    *,
    workflow: str | None,
    workflows: Sequence[str],
    state_dir: str,
    refresh: int | None = None,
) -> str:
    """The dashboard's list of runs (of one workflow, or of all)."""
    return _render(
        "runs.html.j2",
        runs=runs,
        workflow=workflow,
        workflows=workflows,
        state_dir=state_dir,
        refresh=refresh,
        script=False,
    )


def log_page(
    run: RunRecord, task: TaskRecord, log: str | None, *, refresh: int | None = None
) -> str:
    """The dashboard's page of one task's log."""
    return _render("log.html.j2", run=run, task=task, log=log, refresh=refresh, script=False)


def message_page(title: str, message: str) -> str:
    """A page that says one thing (not found, the history is unreadable)."""
    return _render("message.html.j2", title=title, message=message, refresh=None, script=False)


def _render(name: str, **values: Any) -> str:
    from flowweaver import __version__

    environment = _environment()
    return environment.get_template(name).render(
        version=__version__, csp=content_security_policy(), **values
    )


@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("flowweaver.report", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters.update(
        duration=_duration,
        when=text.when,
        first_line=text.first_line,
        last_line=_last_line,
        status_class=text.status_class,
        status_word=text.status_word,
        number=_number,
        px=_px,
        segment=lambda value: quote(str(value), safe=""),
        json_text=_json_text,
        counts_line=text.counts_line,
    )
    return environment


@functools.cache
def content_security_policy() -> str:
    """The pages' Content-Security-Policy: their own inline style and script (by hash),
    images from ``data:`` only, and nothing from anywhere else."""
    environment = _environment()
    style = _hash(environment.get_template("report.css").render())
    script = _hash(environment.get_template("report.js").render())
    return (
        "default-src 'none'; "
        f"style-src '{style}'; script-src '{script}'; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )


def _hash(source: str) -> str:
    digest = hashlib.sha256(source.encode("utf-8")).digest()
    return "sha256-" + base64.b64encode(digest).decode("ascii")


def _duration(value: object) -> str:
    return text.duration(float(value)) if isinstance(value, (int, float)) else ""


def _number(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else str(value)


def _px(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _last_line(value: str, width: int) -> str:
    lines = [line for line in value.splitlines() if line.strip()]
    return text.shorten(lines[-1].strip(), width) if lines else ""


def _json_text(value: object) -> str:
    """A param's value as written in a spec: strings bare, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, default=str)
