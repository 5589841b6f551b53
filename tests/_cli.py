"""Helpers for the command-line tests: run ``python -m flowweaver`` in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

TIMEOUT = 60


def fw(
    *args: str,
    cwd: Path,
    timeout: float = TIMEOUT,
    preexec_fn: Callable[[], None] | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``flowweaver ARGS`` run in ``cwd``; its exit code, stdout and stderr.
    ``preexec_fn`` runs in the child first (limits, dropped capabilities); ``env`` is
    added to its environment."""
    return subprocess.run(
        [sys.executable, "-m", "flowweaver", *args],
        cwd=cwd,
        env={**cli_env(), **(env or {})},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=preexec_fn,
    )


def start_fw(*args: str, cwd: Path) -> subprocess.Popen[str]:
    """``flowweaver ARGS`` started in ``cwd`` with piped, line-buffered output."""
    return subprocess.Popen(
        [sys.executable, "-m", "flowweaver", *args],
        cwd=cwd,
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )


def cli_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("FLOWWEAVER_HOME", None)
    env["PYTHONUNBUFFERED"] = "1"
    env["TERM"] = "dumb"
    return env


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


TASKS_MODULE = """
import os
import time

def ok():
    return 1

def boom():
    raise ValueError("bad thing\\nsecond line")

def typed(value):
    print(f"type={type(value).__name__}")
    return type(value).__name__

def wait_for(path, limit=30.0):
    deadline = time.monotonic() + limit
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)
    return os.path.exists(path)

def noisy():
    print("task output on stdout")
    return "done"

def child():
    os.system("echo from a child process")
    return "done"

def counted():
    return "value"
"""


def project(folder: Path) -> Path:
    """``folder`` with the ``clitasks`` module that the test specs call."""
    write(folder, "clitasks.py", TASKS_MODULE)
    return folder
