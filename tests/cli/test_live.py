"""``--output live`` (and ``auto``) under a pseudo-terminal."""

from __future__ import annotations

import fcntl
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from _cli import TIMEOUT, cli_env, project, write

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07")

SPEC = """
name: live-demo
tasks:
  extract: {call: clitasks:ok}
  transform: {call: clitasks:ok, depends_on: [extract]}
  explode: {call: clitasks:boom, depends_on: [extract]}
  load: {call: clitasks:ok, depends_on: [explode]}
"""


def run_in_pty(args: list[str], cwd: Path, rows: int = 30, cols: int = 100) -> tuple[int, str]:
    """Run ``flowweaver ARGS`` with a terminal as stdin/stdout/stderr; (exit code, screen)."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = {**cli_env(), "TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows)}
    process = subprocess.Popen(
        [sys.executable, "-m", "flowweaver", *args],
        cwd=cwd,
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the terminal closed: the process is gone
                    break
                if not data:
                    break
                chunks.append(data)
            elif process.poll() is not None:
                break
        code = process.wait(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    return code, b"".join(chunks).decode("utf-8", errors="replace")


def test_live_table_shows_the_tasks_and_the_totals(tmp_path: Path) -> None:
    project(tmp_path)
    write(tmp_path, "live.yaml", SPEC)
    code, screen = run_in_pty(["run", "live.yaml"], tmp_path)  # auto: a terminal → live
    text = ANSI.sub("", screen)
    assert code == 1, text
    assert "\x1b[" in screen, "live mode draws with terminal codes"
    for name in ("extract", "transform", "explode", "load"):
        assert name in text
    assert "4 tasks: 2 completed, 1 failed, 1 skipped, 0 cancelled in " in text
    assert "ValueError: bad thing" in text
    assert "failed: explode: ValueError: bad thing" in text  # after the table, as plain says
    assert "Traceback" not in text


def test_plain_output_on_a_terminal_has_no_escape_codes(tmp_path: Path) -> None:
    project(tmp_path)
    write(tmp_path, "live.yaml", SPEC)
    code, screen = run_in_pty(["run", "live.yaml", "--output", "plain"], tmp_path)
    assert code == 1
    assert "\x1b" not in screen
    assert "4 tasks: 2 completed, 1 failed, 1 skipped, 0 cancelled in " in screen
