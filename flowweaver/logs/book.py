"""A run's captured output: :class:`RunLog`, and one :class:`AttemptLog` per attempt.

``RunLog`` is an attempt hook of the run (see ``executors.contract.AttemptHook``):
when an attempt starts it binds a fresh :class:`AttemptLog` to the attempt's
context (:data:`~flowweaver.logs.routing.CURRENT`), and when the attempt ends it
writes the rest of its output and its traceback, and closes its file.

An ``AttemptLog`` takes what the attempt writes, a line at a time: each whole line
is masked (the run's :class:`~flowweaver.masking.Masker`), appended to the task's
log file (opened on the first line: a task that prints nothing has no file), and
passed to the output listeners (``Workflow.subscribe_output``) as
:class:`TaskOutput` batches — or, when nothing listens, echoed to the stream it was
written to, as if nothing captured it. Lines are written as they come; a task that
prints fast has them batched (a write every 1,024 writes, or 50 ms), and a flusher thread
writes what a quiet task left pending within 50 ms, so nothing waits long and a
task ended by a timeout keeps what it printed until then.
"""

from __future__ import annotations

import codecs
import os
import threading
import time
from collections.abc import Callable, Sequence
from contextvars import copy_context
from pathlib import Path
from typing import IO, TYPE_CHECKING, NamedTuple

from flowweaver import _logger
from flowweaver.logs.files import HEADER_START, header, log_file_name
from flowweaver.logs.routing import (
    CURRENT,
    LANE_TEXT,
    LANE_WRITES,
    NO_LANES,
    Lane,
    original_streams,
)
from flowweaver.masking import NO_SECRETS, Masker

if TYPE_CHECKING:
    from flowweaver.executors.contract import Attempt, Failure

RAW_WRITES = LANE_WRITES
"""Pending output is written once it holds this many writes (a ``print`` makes two)…"""
LONG_WRITE = LANE_TEXT
"""… or at once after a write longer than this (what waits is at most 1 MiB)…"""
FLUSH_SECONDS = 0.05
"""… or this long after its first write, by the flusher thread."""
LONGEST_LINE = 64 * 1024
"""A line longer than this (a progress bar redrawn with ``\\r``) is written in pieces."""
_first_writes = threading.Lock()
_set_current = CURRENT.set


class TaskOutput(NamedTuple):
    """A batch of whole lines an attempt printed, in order, secrets masked."""

    task: str
    attempt: int
    lines: list[str]


class AttemptFailure(NamedTuple):
    """How an attempt failed, told to the output listeners before its task event:
    ``error`` (``Type: message``), the whole ``traceback`` (``None`` for a failure
    without one, as a timeout), and ``where`` (``etl.py:42``, in the task's code)."""

    task: str
    attempt: int
    error: str
    traceback: str | None
    where: str | None


OutputItem = TaskOutput | AttemptFailure
OutputListener = Callable[[OutputItem], object]
"""Gets every :class:`TaskOutput` and :class:`AttemptFailure` of a run, from any thread
(an attempt's items in order)."""


class RunLog:
    """A run's captured output: its log files in ``log_dir`` (``None``: no files),
    masked by ``masker``, passed to ``listeners`` (none: echoed)."""

    def __init__(
        self,
        log_dir: Path | None,
        masker: Masker = NO_SECRETS,
        listeners: Sequence[OutputListener] = (),
    ) -> None:
        self.log_dir = log_dir
        self.masker = masker
        self.listeners = tuple(listeners)
        self.echo = not self.listeners
        self._dir_made = False
        self._cond = threading.Condition(threading.Lock())
        self._deferred: dict[AttemptLog, None] = {}
        self._flusher: threading.Thread | None = None
        self._closed = False
        self._warned = False

    # -- the attempt hook -----------------------------------------------------------

    def started(self, attempt: Attempt) -> None:
        # (Attempt.bind, inlined: this runs for every attempt of a capturing run)
        context = attempt.context
        if context is None:
            context = attempt.context = copy_context()
        context.run(_set_current, AttemptLog(self, attempt.name, attempt.number))

    def ended(self, attempt: Attempt, failure: Failure | None) -> None:
        context = attempt.context
        log = None if context is None else context.get(CURRENT)
        if type(log) is not AttemptLog:
            return
        if log._pending is None and failure is None:  # it wrote nothing: nothing to do
            log.ended = True
        else:
            try:
                log.end(failure)
            except OSError as exc:  # a full disk: the run goes on without this log
                self._cannot_write(exc)

    def _cannot_write(self, exc: OSError) -> None:
        if not self._warned:
            self._warned = True
            _logger.logger.warning("task logs not written: %s", exc)

    # -- for the attempts' logs --------------------------------------------------------

    def path(self, task: str) -> Path | None:
        """The log file of ``task`` (its folder made the first time), or ``None``."""
        if self.log_dir is None:
            return None
        if not self._dir_made:
            self.log_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._dir_made = True
        return self.log_dir / log_file_name(task)

    def emit(self, item: OutputItem) -> None:
        for listener in self.listeners:
            try:
                listener(item)
            except Exception:
                _logger.logger.exception("output listener raised; ignored")

    def defer(self, log: AttemptLog) -> None:
        """Have ``log``'s pending lines written within :data:`FLUSH_SECONDS`."""
        with self._cond:
            if self._closed:
                return
            self._deferred[log] = None
            if self._flusher is None:
                self._flusher = threading.Thread(
                    target=self._flush_deferred, name="flowweaver-log-flusher", daemon=True
                )
                self._flusher.start()
            elif len(self._deferred) == 1:
                self._cond.notify()

    def flush(self) -> None:
        """Write what the attempts have pending now (the flusher does it
        :data:`FLUSH_SECONDS` after a write)."""
        with self._cond:
            logs, self._deferred = list(self._deferred), {}
        for log in logs:
            log.flush_deferred()

    def close(self) -> None:
        """The run is over: write what is pending and stop the flusher."""
        with self._cond:
            self._closed = True
            logs, self._deferred = list(self._deferred), {}
            self._cond.notify()
        for log in logs:
            log.flush_deferred()

    def _flush_deferred(self) -> None:
        cond = self._cond
        while True:
            with cond:
                while not self._deferred and not self._closed:
                    cond.wait()
                if not self._closed:
                    cond.wait(FLUSH_SECONDS)  # gather what comes meanwhile; close() wakes it
                if self._closed:
                    return
            self.flush()


class AttemptLog:
    """What one attempt writes (a :class:`~flowweaver.logs.routing.Sink`).

    Made for every attempt of a capturing run, so it is kept small: everything but
    the lock is made when the attempt first writes. It holds no reference to the
    attempt (whose context holds it), so a run leaves no cycles behind.
    """

    __slots__ = (
        "_decoders",
        "_deferred",
        "_err",
        "_file",
        "_lock",
        "_out",
        "_pending",
        "_raw_err",
        "_raw_limit",
        "_raws",
        "book",
        "ended",
        "lanes",
        "number",
        "started",
        "task",
    )
    # set by the first write (_first_write)
    _lock: threading.Lock
    _out: str
    _err: str
    _deferred: bool
    _raws: tuple[list[str], list[str]]  # writes not yet cut into lines, per stream
    _raw_err: bool  # the stream being written (the other's list is empty but for a
    # write a proxy appended as the stream switched, whose writer then catches up)
    _raw_limit: int  # written out once it holds this many writes
    _decoders: tuple[codecs.IncrementalDecoder, codecs.IncrementalDecoder]

    def __init__(self, book: RunLog, task: str, number: int) -> None:
        self.book = book
        self.task = task
        self.number = number
        self.started = time.time()
        self.ended = False
        self._pending: list[str] | None = None  # None until the attempt first writes
        self._file: IO[bytes] | None = None  # open from the first line to the end
        self.lanes: tuple[Lane, Lane] = NO_LANES  # (opened by _written)

    def write(self, text: str, err: bool = False) -> None:
        """Keep ``text`` (it is cut into lines when written out: a write is an append)."""
        try:
            lock = self._lock
        except AttributeError:
            lock = self._first_write()
        with lock:
            self._raws[err].append(text)
            self._written(err, len(text) > LONG_WRITE)

    def catch_up(self, err: bool) -> None:
        """A proxy appended to ``lanes[err]`` as it was closed (by the flusher, the
        attempt's end, or another thread writing to the other stream)."""
        with self._lock:
            self._written(err, False)

    def _written(self, err: bool, long: bool) -> None:
        """A write was appended to ``_raws[err]``: settle, flush or defer, and open the
        lane of ``err`` again when a flush is deferred (under the lock).

        The lanes let the proxies append without this lock (see ``routing.Sink``): a
        lane is open only for the stream being written, while a flush is deferred,
        and is closed before what it holds is taken. So a write to the other stream
        (from another thread of the attempt) never lands in this stream's lines, and
        an append that raced with a close is caught up by its writer.
        """
        self.lanes = NO_LANES
        if err is not self._raw_err:  # the other stream: what came before goes first
            self._settle()
            self._raw_err = err
        raw = self._raws[err]
        if len(raw) >= self._raw_limit or long:
            self._settle()
            self._flush(err)
        elif not self._deferred:
            self._deferred = True
            self.book.defer(self)
        if self._deferred and self._raw_limit > 1:
            self.lanes = (None, raw) if err else (raw, None)

    def _settle(self) -> None:
        """Cut what was written to the stream being written into whole lines (under
        the lock). It takes a prefix: a write a proxy appends meanwhile stays."""
        raw = self._raws[self._raw_err]
        if raw:
            taken = raw[:]
            del raw[: len(taken)]
            self._take(taken[0] if len(taken) == 1 else "".join(taken), self._raw_err)

    def _take(self, text: str, err: bool) -> None:
        partial = self._err if err else self._out
        if "\n" not in text:
            partial += text
            if len(partial) > LONGEST_LINE:
                partial = self._cut(partial, err)
        else:
            whole, _, rest = text.rpartition("\n")
            self._add(f"{partial}{whole}\n", err)
            partial = rest
        if err:
            self._err = partial
        else:
            self._out = partial

    def write_bytes(self, data: bytes, err: bool = False) -> None:
        """Bytes from a child process or a file descriptor, decoded as UTF-8 (a
        character cut between two writes is put back together)."""
        try:
            lock = self._lock
        except AttributeError:
            lock = self._first_write()
        with lock:
            try:
                decoders = self._decoders
            except AttributeError:
                make = codecs.getincrementaldecoder("utf-8")
                decoders = self._decoders = (make("replace"), make("replace"))
            text = decoders[1 if err else 0].decode(data)
        if text:
            self.write(text, err)

    def _first_write(self) -> threading.Lock:
        """Make what only an attempt that writes needs (most attempts never do)."""
        with _first_writes:
            try:
                return self._lock
            except AttributeError:
                pass
            self._out = self._err = ""  # an unfinished line of standard output, of error
            self._pending = []
            self._raws = ([], [])
            self._raw_err = False
            self._raw_limit = 1 if self.book.echo or self.ended else RAW_WRITES
            self._deferred = False
            self._lock = lock = threading.Lock()
            return lock

    def flush_deferred(self) -> None:
        with self._lock:
            self._deferred = False
            self.lanes = NO_LANES
            self._settle()
            self._flush(False)

    def end(self, failure: Failure | None) -> None:
        """The attempt has ended: write its unfinished lines and its traceback, close
        its file. (Abandoned code may still print: that is kept too, marked.)"""
        if self._pending is None and failure is None:  # it wrote nothing
            self.ended = True
            return
        try:
            lock = self._lock
        except AttributeError:
            lock = self._first_write()
        with lock:
            self.lanes = NO_LANES
            self._settle()
            other = not self._raw_err
            if self._raws[other]:  # appended by a proxy as the stream switched
                self._raw_err = other
                self._settle()
            if self._out or self._err:
                pending = self._pending
                assert pending is not None
                pending.extend(f"{partial}\n" for partial in (self._out, self._err) if partial)
                self._out = self._err = ""
            if self._pending:
                self._flush(False)
            if failure is not None:
                trace = failure.traceback or failure.error
                self._write_file(trace if trace.endswith("\n") else f"{trace}\n")
            self.ended = True
            self._raw_limit = 1  # abandoned code still printing: written at once
            if self._file is not None:
                self._file.close()
                self._file = None
        if failure is not None and self.book.listeners:
            self.book.emit(
                AttemptFailure(
                    self.task, self.number, failure.error, failure.traceback, failure.where
                )
            )

    # -- internals (under the lock) -------------------------------------------------------

    def _cut(self, partial: str, err: bool) -> str:
        """Write a too long unfinished line, keeping its end back so that a secret
        across the cut is still seen whole."""
        keep = max((len(v) for v in self.book.masker.values), default=1) - 1
        self._add(f"{partial[: len(partial) - keep]}\n", err)
        return partial[len(partial) - keep :] if keep else ""

    def _add(self, lines: str, err: bool) -> None:
        pending = self._pending
        assert pending is not None  # made by the first write
        pending.append(lines)

    def _flush(self, err: bool) -> None:
        if not self._pending:
            return
        text = "".join(self._pending)
        self._pending = []
        book = self.book
        if book.masker:
            text = book.masker.mask(text)
        if self.ended:  # abandoned code still printing, or a worker's last words
            mark = f"(attempt {self.number}, after its end) "
            text = "".join(f"{mark}{line}" for line in text.splitlines(keepends=True))
        if book.log_dir is not None:
            self._write_file(text)  # first: a listener that reads the file finds the lines
        if book.listeners:
            lines = text.split("\n")
            lines.pop()  # text ends with a newline
            book.emit(TaskOutput(self.task, self.number, lines))
        if book.echo:
            stdout, stderr = original_streams()
            stream = stderr if err else stdout
            stream.write(text)
            stream.flush()

    def _write_file(self, text: str) -> None:
        if text.startswith(HEADER_START) or f"\n{HEADER_START}" in text:
            text = _escape_headers(text)
        file = self._file
        if file is None:
            path = self.book.path(self.task)
            if path is None:
                return
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            file = self._file = os.fdopen(fd, "ab")
            if not self.ended:  # the attempt's first write: its header first
                text = header(self.number, self.started) + text
        file.write(text.encode("utf-8", "replace"))
        file.flush()


def _escape_headers(text: str) -> str:
    """A task's line that reads as an attempt header gets a space in front of it."""
    lines = text.split("\n")
    return "\n".join(f" {line}" if line.startswith(HEADER_START) else line for line in lines)
