"""The keeper: it ends our shell commands' process groups if this process dies first.

A shell command runs in a session of its own, so that a signal meant for FlowWeaver
never reaches it by accident and its whole group can be ended at once. The other
side of that: if FlowWeaver is killed with SIGKILL (by hand, by the OOM killer)
before it can end its commands, nothing would. The keeper is a small process started
with the first command. It reads group ids from a pipe (``+pgid`` when a command
starts, ``-pgid`` when it has ended); when the pipe closes, which happens however
this process ends, it sends SIGTERM, then SIGKILL after a grace, to every group
still listed. After a clean exit every command is ended already and it has nothing
to do. Standard library only; if the keeper can't start, commands run without it.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
from typing import IO

_SCRIPT = r"""# flowweaver keeper of process PARENT: ends its shell commands if it dies first
import os, signal, sys, time
groups = set()
for line in sys.stdin.buffer:
    pgid = int(line[1:])
    if line.startswith(b"+"):
        groups.add(pgid)
    else:
        groups.discard(pgid)
def signal_all(signum):
    alive = []
    for pgid in groups:
        try:
            os.killpg(pgid, signum)
            alive.append(pgid)
        except OSError:
            pass
    return alive
if signal_all(signal.SIGTERM):
    time.sleep(GRACE)
    signal_all(signal.SIGKILL)
"""


class Keeper:
    """The keeper process of this process, started on first use; thread-safe."""

    def __init__(self, grace: float) -> None:
        self._grace = grace
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._pipe: IO[bytes] | None = None
        self._broken = False

    def start(self) -> None:
        """Start the keeper now, if it isn't running: call it before a command starts,
        so that telling the keeper about the command's group is only a write."""
        with self._lock:
            if self._pipe is None and not self._broken:
                self._start()

    def watch(self, pgid: int) -> None:
        """A command's group started: end it if this process dies first."""
        self._send(b"+%d\n" % pgid)

    def forget(self, pgid: int) -> None:
        """That group has ended: nothing to do for it any more."""
        self._send(b"-%d\n" % pgid)

    def close(self) -> None:
        """Close the pipe (the keeper ends every group still listed) and reap it."""
        with self._lock:
            pipe, process, self._pipe, self._process = self._pipe, self._process, None, None
            self._broken = True  # and start no other
        if pipe is not None:
            with contextlib.suppress(OSError):
                pipe.close()
        if process is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(self._grace + 1.0)

    def _send(self, line: bytes) -> None:
        with self._lock:
            if self._pipe is None and not self._broken:
                self._start()
            if self._pipe is None:
                return
            try:
                self._pipe.write(line)
                self._pipe.flush()
            except OSError:  # the keeper is gone: carry on without one
                self._pipe, self._broken = None, True

    def _start(self) -> None:
        script = _SCRIPT.replace("GRACE", repr(self._grace)).replace("PARENT", str(os.getpid()))
        try:
            self._process = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", script],
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C for us is not one for it
            )
        except (OSError, ValueError):  # no interpreter to start (an embedded Python)
            self._broken = True
            return
        self._pipe = self._process.stdin
