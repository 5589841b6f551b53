"""Shell tasks: a command run in its own process group, its standard output the result.

A :class:`ShellCommand` is a picklable callable, so it runs on any executor. The
command gets a session (and process group) of its own; when the engine abandons the
attempt (a timeout, Ctrl-C) or the call is interrupted, the whole group is sent
SIGTERM, then SIGKILL after a short grace, so no child outlives the task; if this
process is killed before it can do that, the keeper (``keeper``) does it. When the
attempt's output is captured, both of its streams go to the attempt's log as they
come (standard output is also the result); else its standard error passes through
to ours. The last lines of standard error are kept for the error of a failed command.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import IO

from flowweaver._call import current_attempt, on_abandon
from flowweaver.errors import AttemptError
from flowweaver.keeper import Keeper
from flowweaver.logs.routing import Sink, current_sink

GRACE_SECONDS = 1.0
"""How long a process group has between SIGTERM and SIGKILL."""

TAIL_LINES = 5
"""How many last lines of standard error a failure's message keeps."""

attempt_environment: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "flowweaver_attempt_environment", default=None
)
"""Variables the running attempt adds to its commands' environment, over the command's
own (set by a wrapper of the attempt's call: a tracing span's ``TRACEPARENT``)."""


class ShellCommandError(AttemptError, RuntimeError):
    """A shell command failed: ``returncode`` (negative: killed by that signal) and
    ``stderr_tail``, the last lines of its standard error."""

    def __init__(self, command: str, returncode: int, stderr_tail: list[str]) -> None:
        self.command = command
        self.returncode = returncode
        self.stderr_tail = list(stderr_tail)
        super().__init__(self._message())

    def _message(self) -> str:
        if self.returncode < 0:
            name = signal.Signals(-self.returncode).name
            first = f"killed by {name}"
        elif self.returncode == 127 and not self.stderr_tail:
            first = f"command not found: {self.command}"
        else:
            first = f"exit code {self.returncode}"
        if not self.stderr_tail:
            return first
        last = f"{first}: {self.stderr_tail[-1]}"
        if len(self.stderr_tail) == 1:  # the one line is said already
            return last
        lines = "\n".join(f"  {line}" for line in self.stderr_tail)
        return f"{last}\nlast lines of stderr:\n{lines}"

    def __reduce__(self) -> tuple[type[ShellCommandError], tuple[str, int, list[str]]]:
        return type(self), (self.command, self.returncode, self.stderr_tail)


@dataclass
class ShellCommand:
    """Run ``argv`` (no shell) or ``script`` (with ``/bin/sh -c``); return its output.

    ``env`` is added to the inherited environment; ``cwd`` ``None`` is the current directory.
    """

    argv: list[str] | None = None
    script: str | None = None
    env: dict[str, str] = field(default_factory=dict)
    cwd: str | None = None

    def __post_init__(self) -> None:
        if (self.argv is None) == (self.script is None):
            raise ValueError("a ShellCommand needs exactly one of argv and script")

    @property
    def command(self) -> list[str]:
        """The argument vector that is run."""
        return self.argv if self.argv is not None else ["/bin/sh", "-c", str(self.script)]

    def __str__(self) -> str:
        return self.script if self.script is not None else shlex.join(self.command)

    def __call__(self) -> str:
        # Say how to stop this command before starting it: a Ctrl-C that lands while
        # the process is being started then ends it rather than interrupting Popen
        # half-way (which would leave the child running, unseen).
        started: list[subprocess.Popen[bytes]] = []

        def stop() -> None:
            if started:
                _end_group_in_background(started[0])

        on_abandon(stop)
        try:
            with _spawning:  # exit waits for a command being started, then ends it
                # the keeper first: started only after the command (a Python process
                # to start, tens of milliseconds), a SIGKILL meanwhile left the
                # command's group to nobody; now telling it is one write
                _keeper.start()
                process = subprocess.Popen(
                    self.command,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.PIPE,
                    env={**os.environ, **self.env, **(attempt_environment.get() or {})},
                    cwd=self.cwd,
                    start_new_session=True,
                )
                _live.add(process)
                _keeper.watch(process.pid)  # its group is ended even if we are killed
        except OSError as exc:  # the program itself is missing or not executable
            reason = f"{exc.strerror}: {self.command[0]}"
            raise ShellCommandError(str(self), 127, [reason]) from None
        started.append(process)
        attempt = current_attempt()
        try:
            if attempt is not None and attempt.abandoned:  # given up while it started
                end_group(process)  # (its pipes were never read: closed, not left to GC)
                for pipe in (process.stdout, process.stderr):
                    if pipe is not None:
                        pipe.close()
                raise ShellCommandError(str(self), process.returncode or -signal.SIGKILL, [])
            output, tail = _collect(process, current_sink())
        except BaseException:
            end_group(process)
            raise
        finally:
            _live.discard(process)
            if process.returncode is not None:
                _keeper.forget(process.pid)
        if process.returncode != 0:
            raise ShellCommandError(str(self), process.returncode, tail)
        return output.rstrip()


_live: set[subprocess.Popen[bytes]] = set()
"""Commands running now. Whatever is left at exit is ended with its group, so that
no command outlives FlowWeaver, even one whose thread was abandoned mid-start."""


_spawning = threading.Lock()
"""Held while a command is started and registered in ``_live``."""

_keeper = Keeper(GRACE_SECONDS)
"""Ends the commands' groups if this process is killed before it can (see ``keeper``)."""


@atexit.register
def end_all_commands() -> None:
    """End every command still running, with its group; start no more. (At exit, and
    when a worker process is told to stop.)"""
    # A thread abandoned mid-start may still be in Popen: let it register its command
    # (and start no other), so that what it started is ended below, not left behind.
    _spawning.acquire(timeout=GRACE_SECONDS)
    leftovers = [process for process in list(_live) if process.poll() is None]
    for process in leftovers:
        _signal_group(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    for process in leftovers:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(max(deadline - time.monotonic(), 0.0))
        _signal_group(process.pid, signal.SIGKILL)
    _keeper.close()


def _collect(process: subprocess.Popen[bytes], sink: Sink | None) -> tuple[str, list[str]]:
    """The process's whole standard output, and its last lines of standard error; both
    written to ``sink`` as they come, when the attempt's output is captured."""
    assert process.stdout is not None and process.stderr is not None  # both are pipes
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    reader = threading.Thread(
        target=_pass_through,
        args=(process.stderr, tail, sink),
        name="flowweaver-stderr",
        daemon=True,
    )
    reader.start()
    with process.stdout:
        output = process.stdout.read() if sink is None else _tee(process.stdout.fileno(), sink)
    process.wait()
    reader.join()
    return output.decode(errors="replace"), list(tail)


def _tee(fd: int, sink: Sink) -> bytes:
    """Read ``fd`` to its end, passing each chunk to ``sink``; the bytes read."""
    chunks = []
    while chunk := os.read(fd, 65536):
        chunks.append(chunk)
        sink.write_bytes(chunk)
    return b"".join(chunks)


def _pass_through(stream: IO[bytes], tail: deque[str], sink: Sink | None) -> None:
    with stream:
        for raw in stream:
            if sink is not None:
                sink.write_bytes(raw, True)
            line = raw.decode(errors="replace")
            if sink is None:
                sys.stderr.write(line)
            if line.strip():
                tail.append(line.rstrip())
    if sink is None:
        sys.stderr.flush()


def end_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process's group, wait up to the grace for its leader, then SIGKILL it."""
    _signal_group(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(GRACE_SECONDS)
    _signal_group(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(GRACE_SECONDS)  # reaped: its id can't name another group yet
    if process.returncode is not None:
        _keeper.forget(process.pid)


def _end_group_in_background(process: subprocess.Popen[bytes]) -> None:
    # Not a daemon: the interpreter waits (at most the grace) so the SIGKILL is sent.
    threading.Thread(target=end_group, args=(process,), name="flowweaver-shell-kill").start()


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group is gone
        os.killpg(pgid, signum)


NOT_RUN_CODES = (126, 127)
"""Exit codes of a shell that could not run the program (not executable, not found)."""


@dataclass
class ShellTest:
    """A ``when: {shell: …}`` condition: true when ``command`` exits 0, false when it
    exits with another code. A command that could not run (126, 127) or was killed
    raises :class:`ShellCommandError`: a mistyped test fails its task rather than
    skip it. Picklable, so it runs on every executor's workers."""

    command: ShellCommand

    def __call__(self) -> bool:
        try:
            self.command()
        except ShellCommandError as exc:
            if exc.returncode > 0 and exc.returncode not in NOT_RUN_CODES:
                return False
            raise
        return True

    def __str__(self) -> str:
        return str(self.command)
