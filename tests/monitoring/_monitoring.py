"""Running the command with monitoring: extra environment, a tasks module, specs."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from _cli import TIMEOUT, cli_env, write

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
PARENT_SPAN = "b7ad6b7169203331"
TRACEPARENT = f"00-{TRACE_ID}-{PARENT_SPAN}-01"

TASKS = """
import os
import time
from pathlib import Path


def ok():
    return 1


def echo(item):
    return item


def boom():
    raise ValueError("bad thing")


def current_span(out):
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    Path(out).write_text(f"{context.trace_id:032x} {context.span_id:016x}")
    return 1


def makes_a_span():
    from opentelemetry import trace

    with trace.get_tracer("user-code").start_as_current_span("user-span"):
        return 2


def wait_for(path, limit=30.0):
    deadline = time.monotonic() + limit
    while not os.path.exists(path) and time.monotonic() < deadline:
        time.sleep(0.01)
    return os.path.exists(path)


def blocks(ready):
    Path(ready).write_text("started")
    time.sleep(60)
"""


def env_with(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The command's environment without any OTEL_*/TRACEPARENT of the test runner's,
    plus ``extra``."""
    env = {
        name: value
        for name, value in cli_env().items()
        if not name.startswith(("OTEL_", "FLOWWEAVER_OTEL")) and name not in ("TRACEPARENT",)
    }
    env.update(extra or {})
    return env


def fw_env(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None, timeout: float = TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """``flowweaver ARGS`` in ``cwd`` with ``env`` added to its environment."""
    return subprocess.run(
        [sys.executable, "-m", "flowweaver", *args],
        cwd=cwd,
        env=env_with(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_fw_env(
    *args: str, cwd: Path, env: Mapping[str, str] | None = None
) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "flowweaver", *args],
        cwd=cwd,
        env=env_with(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
    )


def project(folder: Path) -> Path:
    """The tasks module in ``folder``; returns the folder."""
    write(folder, "mon_tasks.py", TASKS)
    return folder
