"""The lanes: how a captured ``print`` reaches its attempt's log without a lock.

A proxy (``sys.stdout``/``sys.stderr`` while a run captures) appends a short write to
the open lane of its stream (``sink.lanes[stream]``), then looks again and calls
``sink.catch_up`` when the lane was closed meanwhile (see ``routing.Sink``). Another
thread can run between those steps: the flusher taking what is pending, or a second
thread of the same attempt writing to the other stream. Here each write is cut into
those steps (``Writer.step`` takes the steps of the proxy's ``write``) and hypothesis
interleaves them, a step at a time, with the other writer's and the flusher's, on a
real :class:`AttemptLog` and :class:`RunLog`. (Real threads printing at once are in
``test_capture.py``: they can't choose where a thread is cut off.)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from flowweaver.logs import AttemptLog, OutputItem, RunLog, TaskOutput
from flowweaver.logs.routing import LANE_TEXT, LANE_WRITES


@dataclass
class Writer:
    """A thread printing numbered lines to one stream (``print``: text, then a newline)."""

    name: str
    err: bool
    lines: int
    pieces: list[str] = field(default_factory=list)
    lane: list[str] | None = None  # the lane it looked at, its write not finished
    fast: bool = False
    looking: bool = False

    def __post_init__(self) -> None:
        for number in range(self.lines):
            self.pieces += [f"{self.name} {number:05d}", "\n"]
        self.pieces.reverse()

    def step(self, log: AttemptLog) -> None:
        """The next step of its current write, as the proxy takes them."""
        stream = 1 if self.err else 0
        if not self.looking:  # first step: look at the lane
            self.lane = log.lanes[stream]
            text = self.pieces[-1]
            self.fast = (
                self.lane is not None and len(text) <= LANE_TEXT and len(self.lane) < LANE_WRITES
            )
            self.looking = True
            return
        text = self.pieces.pop()  # second step: append and look again, or write
        if self.fast:
            assert self.lane is not None
            self.lane.append(text)
            if log.lanes[stream] is not self.lane:
                log.catch_up(self.err)
        else:
            log.write(text, self.err)
        self.looking = False

    @property
    def done(self) -> bool:
        return not self.pieces and not self.looking


class Received:
    """What the output listener got: whole lines, in order."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, item: OutputItem) -> None:
        if isinstance(item, TaskOutput):
            with self._lock:
                self.lines += item.lines


@settings(max_examples=300, deadline=None)
@given(
    outs=st.integers(min_value=0, max_value=6),
    errs=st.integers(min_value=0, max_value=6),
    schedule=st.lists(st.sampled_from(["out", "err", "flusher"]), max_size=80),
)
def test_every_interleaving_keeps_each_streams_lines_whole_and_flushes_them(
    outs: int, errs: int, schedule: list[str]
) -> None:
    received = Received()
    book = RunLog(None, listeners=[received])
    log = AttemptLog(book, "task", 1)
    writers = {"out": Writer("out", False, outs), "err": Writer("err", True, errs)}
    try:
        for who in schedule:
            if who == "flusher":
                book.flush()  # what the flusher thread does, at this point
            elif not writers[who].done:
                writers[who].step(log)
        for writer in writers.values():  # the writes still under way end
            while not writer.done:
                writer.step(log)
        book.close()  # writes what the flusher has yet to write
        # every whole line reached the listener before the attempt ends
        assert [line for line in received.lines if line.startswith("out ")] == [
            f"out {n:05d}" for n in range(outs)
        ]
        assert [line for line in received.lines if line.startswith("err ")] == [
            f"err {n:05d}" for n in range(errs)
        ]
        assert len(received.lines) == outs + errs
    finally:
        book.close()
        log.end(None)
