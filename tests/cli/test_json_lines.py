"""``--output json``'s direct path: task lines written field by field are the text
``json`` makes of the same records, and lines reach a reader soon, flushed in bursts."""

from __future__ import annotations

import enum
import json
import math
import os
import queue
import threading
import time
from pathlib import Path

from _cli import TIMEOUT, project, start_fw, write
from hypothesis import given, settings
from hypothesis import strategies as st

from flowweaver.cli.jsonl import dumps, event_record, task_line
from flowweaver.cli.pipe import FLUSH_SECONDS, BatchedLines
from flowweaver.events import TaskEvent
from flowweaver.task import TaskStatus


class Level(enum.IntEnum):
    LOW = 1


class Name(str):
    """A str subclass: json writes it as a string, the direct path leaves it to json."""


texts = st.text(st.characters(codec=None, categories=None), max_size=12) | st.sampled_from(
    ['"', "\\", "\n", "\x00", "\x7f", "\u2028", "é", "\ud800", "\U0001f600", ""]
)
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([math.nan, math.inf, -math.inf])
    | texts
    | st.builds(Name, texts)
    | st.just(Level.LOW)
    | st.just(TaskStatus.FAILED)
    | st.just(object())  # json writes str() of it (default=str)
)
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)


def general_line(event: TaskEvent, where: object = None) -> str:
    """The general path: the event's record, encoded by ``json``."""
    record = event_record(event)
    if where is not None:
        record["where"] = where
    return dumps(record) + "\n"


floats = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [math.nan, math.inf, -math.inf, -0.0, 1e300, 5e-324, 1795658401.2345]
)
typed_events = st.builds(
    TaskEvent,
    task=texts,
    status=st.sampled_from(TaskStatus),
    attempt=st.integers(0, 5) | st.integers(),
    time=floats,
    error=st.none() | texts,
    duration=st.none() | floats,
    retry_in=st.none() | floats,
    cached=st.booleans(),
    reused=st.booleans(),
    reason=st.none() | texts,
    allowed=st.booleans(),
    parent=st.none() | texts,
    items=st.none() | st.integers(),
)
"""Events as the engine makes them: each field of its declared type."""

any_events = st.builds(
    TaskEvent,
    task=texts | values,
    status=st.sampled_from(TaskStatus),
    attempt=values,
    time=values,
    error=values,
    duration=values,
    retry_in=values,
    cached=values,
    reused=values,
    reason=values,
    allowed=values,
    parent=values,
    items=values,
)
"""Events with anything in their fields (nested values, subclasses, objects)."""


@settings(max_examples=150, deadline=None)
@given(typed_events, st.none() | texts)
def test_a_task_line_is_the_text_json_makes_of_its_record(event: TaskEvent, where: object) -> None:
    assert task_line(event, where) == general_line(event, where)  # type: ignore[arg-type]


@settings(max_examples=100, deadline=None)
@given(any_events | typed_events, st.none() | values)
def test_any_values_in_an_event_give_the_text_json_makes(event: TaskEvent, where: object) -> None:
    assert task_line(event, where) == general_line(event, where)  # type: ignore[arg-type]


look_alikes: dict[str, st.SearchStrategy[object]] = {
    "task": st.builds(Name, texts),
    "attempt": st.booleans() | st.just(Level.LOW),
    "time": st.sampled_from([math.nan, math.inf, -math.inf]) | st.integers(-2, 2),
    "duration": st.sampled_from([math.nan, math.inf]) | st.integers(-2, 2),
    "error": texts,
    "retry_in": floats,
    "cached": st.sampled_from([0, 0.0, True]),
    "reused": st.sampled_from([0, True]),
    "reason": texts,
    "allowed": st.sampled_from([0, True]),
    "parent": texts,
    "items": st.integers(0, 3),
}


@st.composite
def usual_events(draw: st.DrawFn) -> TaskEvent:
    """A task's usual event (started, or ended with nothing else to say: the direct
    path's shortcut), often with one field of a look-alike value or type (``0`` for
    ``False``, a bool or an int enum for the attempt, an int or infinity for a time)."""
    event = TaskEvent(
        draw(texts),
        draw(st.sampled_from(TaskStatus)),
        draw(st.integers()),
        draw(st.floats(allow_nan=False, allow_infinity=False)),
        duration=draw(st.none() | st.floats(allow_nan=False, allow_infinity=False)),
    )
    field = draw(st.sampled_from([None, *look_alikes]))
    if field is None:
        return event
    return event._replace(**{field: draw(look_alikes[field])})


@settings(max_examples=200, deadline=None)
@given(usual_events(), st.none() | st.none() | texts)
def test_a_usual_event_s_line_is_the_text_json_makes(event: TaskEvent, where: object) -> None:
    assert task_line(event, where) == general_line(event, where)  # type: ignore[arg-type]


def test_the_usual_events_take_the_direct_path_and_give_the_same_text() -> None:
    events = [
        TaskEvent("load", TaskStatus.RUNNING, 1, 1795658401.25),
        TaskEvent("load", TaskStatus.COMPLETED, 1, 1795658401.5, duration=0.25, cached=True),
        TaskEvent("x", TaskStatus.RUNNING, 1, 2.0, error="boom", retry_in=0.5),
        TaskEvent("y", TaskStatus.SKIPPED, 0, 3.0, "upstream failed", reason="upstream failed"),
        TaskEvent("m[a]", TaskStatus.FAILED, 2, 4.0, 'bad "row"\n', 1.5, parent="m"),
        TaskEvent("m", TaskStatus.RUNNING, 1, 5.0, items=3),
        TaskEvent("n", TaskStatus.COMPLETED, 1, math.inf, duration=math.nan),
    ]
    for event in events:
        assert task_line(event) == general_line(event)
        assert task_line(event, "etl.py:42") == general_line(event, "etl.py:42")


def read_available(fd: int, timeout: float) -> bytes:
    """What can be read from ``fd`` within ``timeout`` seconds (until it goes quiet)."""
    import select

    data = b""
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        ready, _, _ = select.select([fd], [], [], left)
        if not ready:
            break
        data += os.read(fd, 65536)
    return data


def test_batched_lines_reach_a_pipe_within_the_flush_time_then_together() -> None:
    reader, writer = os.pipe()
    stream = open(writer, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    lines = BatchedLines(stream)
    try:
        lines.write("first\n")  # after a pause: at once
        assert read_available(reader, 1.0).startswith(b"first\n")
        for i in range(100):  # a burst: flushed together, soon, by the flusher thread
            lines.write(f"{i}\n")
        data = b""
        deadline = time.monotonic() + 10
        while not data.endswith(b"99\n") and time.monotonic() < deadline:
            data += read_available(reader, FLUSH_SECONDS * 4)
        assert data == "".join(f"{i}\n" for i in range(100)).encode()
    finally:
        lines.close()
        stream.close()
        os.close(reader)


def test_closing_batched_lines_flushes_and_later_writes_are_dropped() -> None:
    reader, writer = os.pipe()
    stream = open(writer, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    lines = BatchedLines(stream)
    for i in range(50):
        lines.write(f"{i}\n")
    lines.close()
    lines.write("late\n")
    stream.close()
    with os.fdopen(reader, "rb") as pipe:
        assert pipe.read() == "".join(f"{i}\n" for i in range(50)).encode()
    assert not any(t.name == "flowweaver-output" for t in threading.enumerate())


def test_batched_lines_after_the_reader_went_away_drop_the_rest() -> None:
    reader, writer = os.pipe()
    stream = open(writer, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    lines = BatchedLines(stream)
    os.close(reader)
    for _ in range(3):
        lines.write("x" * 100_000 + "\n")  # more than the pipe and the buffer hold
    lines.close()
    assert lines.broken
    stream.close()


def test_a_running_task_s_line_reaches_a_json_reader_while_it_runs(tmp_path: Path) -> None:
    """`flowweaver run --output json | consumer`: the line of a task that started comes
    while it runs (here: a task that waits for the reader to answer), not at the end."""
    project(tmp_path)
    write(
        tmp_path,
        "gate.yaml",
        """
        name: gate
        executor: sequential
        tasks:
          first:
            call: clitasks:ok
          gate:
            call: clitasks:wait_for
            kwargs: {path: go}
            depends_on: [first]
        """,
    )
    process = start_fw("run", "gate.yaml", "--output", "json", cwd=tmp_path)
    assert process.stdout is not None
    lines: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [lines.put(line) for line in process.stdout or ()])
    reader.start()
    try:
        while True:
            record = json.loads(lines.get(timeout=TIMEOUT))
            if record.get("task") == "gate" and record["status"] == "running":
                break
        (tmp_path / "go").touch()  # only now may the task end
        assert process.wait(timeout=TIMEOUT) == 0
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=TIMEOUT)
        reader.join(timeout=TIMEOUT)
        process.stdout.close()
        if process.stderr is not None:
            process.stderr.close()
    rest = [json.loads(lines.get_nowait()) for _ in range(lines.qsize())]
    assert [r.get("status") for r in rest] == ["completed", "completed"]
    assert rest[-1]["type"] == "summary"
