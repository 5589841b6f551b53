"""The log files of a run: where they are, how they are named, how they are read back.

``<state folder>/logs/RUN_ID/TASK.log`` holds every attempt of one task (a map item's
is ``TASK[KEY].log``), each headed by a line ``=== attempt N, started YYYY-MM-DD
HH:MM:SS ===``. A task's own line that would read as such a header is written with a
space in front of it, so that headers can't be forged by output.
"""

from __future__ import annotations

import hashlib
import re
import time
import urllib.parse
from collections import deque
from pathlib import Path
from typing import NamedTuple

LOGS_DIR = "logs"
"""The folder of the state folder that holds one folder of logs per run."""

HEADER_START = "=== attempt "
_HEADER = re.compile(r"=== attempt (\d+), started [^\n]* ===")
_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-\[\]=@+,]*")
_MAX_NAME = 200


def log_file_name(task: str) -> str:
    """The file name of a task's log: the name itself when it is a safe file name
    (a spec's task names are, and so are map items' ``TASK[KEY]``), else the name
    with its unsafe characters %-escaped (and cut, with a hash, when very long)."""
    if _PLAIN_NAME.fullmatch(task) and len(task) <= _MAX_NAME:
        return f"{task}.log"
    quoted = urllib.parse.quote(task, safe="_-[]=@+,")
    if quoted.startswith("."):
        quoted = "%2E" + quoted[1:]
    if len(quoted) > _MAX_NAME:
        digest = hashlib.sha256(task.encode("utf-8", "surrogatepass")).hexdigest()[:12]
        quoted = f"{quoted[: _MAX_NAME - 13]}~{digest}"
    return f"{quoted}.log"


def run_log_dir(state_dir: Path, run_id: str) -> Path:
    """The folder of one run's logs (made when a task first prints)."""
    return state_dir / LOGS_DIR / run_id


def header(attempt: int, started: float) -> str:
    """The line that heads an attempt in its task's log (with its newline)."""
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(started))
    return f"{HEADER_START}{attempt}, started {when} ===\n"


class Section(NamedTuple):
    """One attempt's part of a log: its number and its text, header included."""

    attempt: int
    text: str


def sections(text: str) -> list[Section]:
    """A log's text cut at its attempt headers (text before the first header, if any,
    counts as attempt 0)."""
    found: list[Section] = []
    starts = [m for m in _HEADER.finditer(text) if m.start() == 0 or text[m.start() - 1] == "\n"]
    if not starts or starts[0].start() > 0:
        end = starts[0].start() if starts else len(text)
        if text[:end]:
            found.append(Section(0, text[:end]))
    for position, match in enumerate(starts):
        end = starts[position + 1].start() if position + 1 < len(starts) else len(text)
        found.append(Section(int(match.group(1)), text[match.start() : end]))
    return found


def last_lines(text: str, count: int) -> str:
    """The last ``count`` lines of ``text`` (all of it when it has fewer)."""
    if count <= 0:
        return ""
    kept = deque(text.splitlines(keepends=True), maxlen=count)
    return "".join(kept)


def read_log(path: Path) -> str:
    """A log file's text ('' when the task printed nothing); bytes that are not UTF-8
    are shown as replacement characters."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return ""
    return data.decode("utf-8", errors="replace")
