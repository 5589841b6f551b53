"""The retry example (``specs/flaky.yaml``): a step that fails twice, then succeeds.

Attempts are counted in a file in a fresh directory, so the behaviour is the same on
every run and on every executor (threads or processes).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path


def make_workdir() -> str:
    """A fresh, empty directory for this run."""
    return tempfile.mkdtemp(prefix="flowweaver-flaky-")


def download(workdir: str, succeed_on: int = 3) -> str:
    """Raise ``ConnectionError`` until attempt number ``succeed_on``."""
    counter = Path(workdir) / "attempts"
    attempt = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(attempt))
    if attempt < succeed_on:
        raise ConnectionError(f"simulated network blip on attempt {attempt}")
    return f"downloaded on attempt {attempt}"


def remove_workdir(workdir: str, download: str) -> str:
    """Delete the work directory; pass the download's message on."""
    shutil.rmtree(workdir, ignore_errors=True)
    return download
