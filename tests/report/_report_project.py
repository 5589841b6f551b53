"""A small project whose runs have every kind of task a report shows: completed ones,
a task retried after a failure, a failed one, a skipped one, one that prints, and
text that must be escaped (``<script>alert(1)</script>``) in names, errors and logs.

``make(folder)`` writes it; ``run(folder, *args)`` runs it with ``flowweaver run``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from _cli import fw, write

SCRIPT = "<script>alert(1)</script>"

TASKS = """
import os
import pathlib
import time

SCRIPT = "<script>alert(1)</script>"

def extract():
    time.sleep(0.05)
    return [1, 2, 3]

def clean(extract):
    time.sleep(0.05)
    return extract

def flaky(clean):
    marker = pathlib.Path("flaky.once")
    time.sleep(0.02)
    if not marker.exists():
        marker.write_text("x")
        raise ConnectionError("refused, will retry")
    return sum(clean)

def boom(clean):
    time.sleep(0.02)
    raise ValueError("bad value " + SCRIPT + "\\nsecond line")

def shout(clean):
    print("printed " + SCRIPT, flush=True)
    return SCRIPT

def publish(flaky, boom):
    return "never"

def wait_for_file(path):
    deadline = time.monotonic() + 30
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)
    return "released"
"""

SPEC = """
name: report-demo
params: {day: "2026-11-26", note: "<b>bold</b>"}
tasks:
  extract: {call: rtasks:extract}
  clean: {call: rtasks:clean, depends_on: [extract]}
  flaky: {call: rtasks:flaky, depends_on: [clean], retries: 2, retry_delay: 0.1}
  boom: {call: rtasks:boom, depends_on: [clean]}
  shout: {call: rtasks:shout, depends_on: [clean]}
  publish: {call: rtasks:publish, depends_on: [flaky, boom]}
"""

WAITING = """
name: waiting
tasks:
  first: {call: rtasks:extract}
  hold: {call: rtasks:wait_for_file, kwargs: {path: release.flag}, depends_on: [first]}
  after: {call: rtasks:extract, depends_on: [hold]}
"""


def make(folder: Path) -> Path:
    """``folder`` with the project's module and specs (``demo.yaml``, ``waiting.yaml``)."""
    write(folder, "rtasks.py", TASKS)
    write(folder, "demo.yaml", SPEC)
    write(folder, "waiting.yaml", WAITING)
    return folder


def run(folder: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``flowweaver run demo.yaml ARGS`` in ``folder`` (it fails: ``boom`` fails)."""
    result = fw("run", "demo.yaml", "-o", "plain", *args, cwd=folder)
    assert result.returncode == 1, result.stderr
    return result


def run_id(folder: Path) -> str:
    """The id of the latest run, from ``flowweaver runs``."""
    listing = fw("runs", "--limit", "1", cwd=folder)
    return listing.stdout.splitlines()[1].split()[0]


def add_log(folder: Path, run: str, task: str, text: str) -> Path:
    """A task's log where runs keep them (``.flowweaver/logs/RUN/TASK.log``)."""
    path = folder / ".flowweaver" / "logs" / run / f"{task}.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path
