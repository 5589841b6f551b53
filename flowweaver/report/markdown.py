"""The report as Markdown (``--format md``): the summary, the failed tasks with their
errors and log tails, and the task table — for ``$GITHUB_STEP_SUMMARY`` and mail.

Text from a run is escaped: in prose and tables, Markdown's punctuation gets a
backslash and ``<``, ``>``, ``&`` become entities (a renderer that allows HTML shows
them as text); errors and logs go in fenced blocks longer than any backtick run
they hold.
"""

from __future__ import annotations

import json
import re

from . import text
from .model import Report
from .tasks import TaskRow

MAX_ROWS = 200
_PUNCTUATION = re.compile(r"([\\`*_\[\]|~])")


def report_markdown(report: Report) -> str:
    """The whole Markdown document."""
    parts = [_summary(report)]
    if report.failures:
        parts.append(_failures(report))
    parts.append(_tasks(report))
    return "\n\n".join(parts) + "\n"


def escape(value: object) -> str:
    """``value`` as literal text in Markdown prose or a table cell (one line)."""
    plain = " ".join(str(value).split())
    plain = plain.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _PUNCTUATION.sub(r"\\\1", plain)


def fenced(body: str, info: str = "text") -> str:
    """``body`` in a fenced block that no backtick run inside it can close."""
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{info}\n{body.rstrip()}\n{fence}"


def _summary(report: Report) -> str:
    run = report.run
    status = text.status_word(run.status)
    lines = [
        f"## {escape(run.workflow)}: run {run.id} {status}",
        "",
        "| | |",
        "|---|---|",
        f"| Status | {status}{_exit_code(run.exit_code)} |",
        f"| Started | {text.when(run.started)} |",
        f"| Duration | {text.duration(report.elapsed)}{' so far' if report.running else ''} |",
        f"| Tasks | {escape(text.counts_line(report.counts)) or 'none'} |",
    ]
    if run.resumed_from:
        lines.append(f"| Resumed from | {run.resumed_from} |")
    if run.spec_path:
        sha = f" (SHA-256 {run.spec_sha256[:16]}…)" if run.spec_sha256 else ""
        lines.append(f"| Spec | {escape(run.spec_path)}{sha} |")
    for name, value in sorted(run.params.items()):
        shown = value if isinstance(value, str) else json.dumps(value, default=str)
        lines.append(f"| Param {escape(name)} | {escape(shown)} |")
    for handler in run.handlers:
        outcome = escape(handler.get("status", ""))
        error = handler.get("error")
        lines.append(
            f"| Handler {escape(handler.get('name', ''))} | {outcome}"
            + (f": {escape(text.first_line(error))}" if error else "")
            + " |"
        )
    if report.resume:
        lines += [
            "",
            "To resume the run (its completed tasks are kept):",
            "",
            fenced(report.resume, "sh"),
        ]
    return "\n".join(lines)


def _exit_code(code: int | None) -> str:
    return "" if code is None else f" (exit code {code})"


def _failures(report: Report) -> str:
    parts = [f"### Failures ({len(report.failures) + report.more_failures:,})"]
    for row in report.failures:
        took = f", {text.duration(row.duration)}" if row.duration is not None else ""
        if row.mapped:
            what = f"items {row.item_counts}"
        else:
            what = f"after {text.count(row.attempts, 'attempt')}"
        parts.append(f"#### {escape(row.name)}: {escape(row.label)} {escape(what)}{took}")
        if row.error:
            parts.append(fenced(row.error))
        if row.log_tail:
            parts += ["Last lines of its log:", fenced(row.log_tail)]
    if report.more_failures:
        parts.append(f"… and {report.more_failures:,} more: see the task table.")
    return "\n\n".join(parts)


def _tasks(report: Report) -> str:
    rows = _chosen(list(report.rows))
    lines = [
        f"### Tasks ({len(report.rows):,})",
        "",
        "| task | status | attempts | duration | error |",
        "|---|---|--:|--:|---|",
    ]
    for row in rows:
        status = escape(row.label) + (f": {escape(row.reason)}" if row.reason else "")
        if row.mapped:
            status += f" ({escape(row.item_counts)})"
        error = "" if row.status == "skipped" else escape(text.first_line(row.error, 160))
        duration = text.duration(row.duration)
        lines.append(
            f"| {escape(row.name)} | {status} | {row.attempts or ''} | {duration} | {error} |"
        )
    left = len(report.rows) - len(rows)
    if left:
        lines += ["", f"… and {left:,} more tasks: the HTML report lists every task."]
    return "\n".join(lines)


def _chosen(rows: list[TaskRow]) -> list[TaskRow]:
    """Every row, or when there are too many, the ones that did not complete first."""
    if len(rows) <= MAX_ROWS:
        return rows
    keep = {id(row) for row in rows if row.status != "completed"}
    for row in rows:
        if len(keep) >= MAX_ROWS:
            break
        keep.add(id(row))
    return [row for row in rows if id(row) in keep][:MAX_ROWS]
