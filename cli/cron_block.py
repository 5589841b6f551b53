"""The lines of FlowWeaver's crontab block: written by ``cron install``, read by ``cron status``.

    # BEGIN flowweaver                       (the markers: see crontab.py)
    # Written by 'flowweaver cron install': … (what owns the block)
    # installed: 2026-11-26T14:03:12+01:00   (when: the start of what "missed" looks at)
    # workflow: nightly-etl
    0 2 * * * cd /srv/shop && /srv/shop/.venv/bin/python -m flowweaver run \
        /srv/shop/nightly.yaml --state-dir /srv/shop/.flowweaver --quiet   (one line)
    # END flowweaver

Each line works in cron's bare environment: it changes to the spec's folder and names
the interpreter, the spec and the state folder by absolute paths, shell-quoted, with
``%`` (which cron turns into a newline) escaped.
"""

from __future__ import annotations

import datetime
import os
import re
import shlex
import sys
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import CliError, write_warning

OWNER = (
    "# Written by 'flowweaver cron install', which replaces this block whole; "
    "'flowweaver cron remove' removes it."
)
INSTALLED = "# installed: "
WORKFLOW = "# workflow: "

ESCAPED_PERCENT = "\\%"
"""How a crontab line says ``%``: cron turns a bare one into a newline."""

_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\s*=")


@dataclass(frozen=True)
class Entry:
    """One scheduled workflow: what it is, when it runs, and the paths its line names."""

    workflow: str
    schedule: str
    spec: str
    state_dir: str


def interpreter() -> str:
    """The Python that runs ``flowweaver`` now, by the path it was started as: a virtual
    environment's ``bin/python`` is a symlink that must not be resolved, or the
    environment's packages would be lost."""
    if not sys.executable:
        raise CliError("can't tell which Python runs flowweaver (sys.executable is empty)")
    return os.path.abspath(sys.executable)


def cron_line(entry: Entry, python: str) -> str:
    """The crontab line that runs ``entry``'s spec on its schedule, from its folder."""
    run = [python, "-m", "flowweaver", "run", entry.spec, "--state-dir", entry.state_dir]
    command = f"cd {shlex.quote(os.path.dirname(entry.spec))} && {shlex.join([*run, '--quiet'])}"
    return f"{entry.schedule} {command.replace('%', ESCAPED_PERCENT)}"


def block_lines(entries: Iterable[Entry], python: str, installed: float) -> list[str]:
    """The block's lines, markers excluded."""
    when = datetime.datetime.fromtimestamp(installed).astimezone().isoformat(timespec="seconds")
    lines = [OWNER, INSTALLED + when]
    for entry in entries:
        for text in (entry.workflow, entry.spec, entry.state_dir, python):
            _check_one_line(text)
        lines += [WORKFLOW + entry.workflow, cron_line(entry, python)]
    return lines


def read_block(lines: list[str]) -> tuple[float | None, list[Entry]]:
    """When the block was installed (``None``: unknown), and its entries, in order."""
    installed: float | None = None
    entries: list[Entry] = []
    name: str | None = None
    for line in lines:
        text = line.strip()
        if text.startswith(INSTALLED):
            installed = _timestamp(text[len(INSTALLED) :])
        elif text.startswith(WORKFLOW):
            name = text[len(WORKFLOW) :].strip()
        elif text and not text.startswith("#") and not _ASSIGNMENT.match(text):
            entry = _entry(text, name)
            if entry is None:
                write_warning(f"the crontab's flowweaver block has a line it can't read: {text}")
            else:
                entries.append(entry)
            name = None
    return installed, entries


def _entry(line: str, name: str | None) -> Entry | None:
    """The entry a cron line of the block stands for, read back from its command."""
    fields = line.split(None, 1 if line.startswith("@") else 5)
    if len(fields) < 2:
        return None
    schedule = " ".join(fields[:-1])
    try:
        words = shlex.split(fields[-1].replace(ESCAPED_PERCENT, "%"))
    except ValueError:
        return None
    spec = _after(words, "run")
    state_dir = _after(words, "--state-dir")
    if spec is None or state_dir is None:
        return None
    workflow = name or os.path.splitext(os.path.basename(spec))[0]
    return Entry(workflow, schedule, spec, state_dir)


def _after(words: list[str], word: str) -> str | None:
    index = words.index(word) if word in words else len(words)
    return words[index + 1] if index + 1 < len(words) else None


def _timestamp(text: str) -> float | None:
    try:
        return datetime.datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        return None


def _check_one_line(text: str) -> None:
    if "\n" in text or "\r" in text:
        raise CliError(
            f"{text!r} contains a line break: it can't be written into a crontab line",
            hint="rename the folder, file or workflow",
        )
