"""Looking at processes from tests (Linux ``/proc``)."""

from __future__ import annotations

import os
import select
from pathlib import Path


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie, waiting for its parent to reap it, doesn't)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def ended(pid: int, timeout: float = 10) -> bool:
    """Wait (on a pidfd: an event, not a sleep) until ``pid`` has exited; whether it did.

    A signalled process that isn't our child dies a moment after the signal is sent.
    """
    try:
        handle = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([handle], [], [], timeout)
    finally:
        os.close(handle)
    return bool(readable) or not alive(pid)
