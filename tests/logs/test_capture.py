"""What tasks print is captured per task and attempt, on every executor.

Each test runs a workflow through the public API with a ``RunStore`` (the run then
writes ``logs/RUN_ID/TASK.log``) and reads the logs back with ``store.log``.
"""

from __future__ import annotations

import functools
import io
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import _log_tasks as lt
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowweaver import (
    AsyncExecutor,
    Executor,
    Map,
    RunStore,
    SequentialExecutor,
    Task,
    ThreadedExecutor,
    Workflow,
    WorkflowError,
)
from flowweaver.logs import AttemptFailure, OutputItem, TaskOutput, sections


def task_lines(log: str) -> list[str]:
    """The lines of a log that are not attempt headers."""
    return [line for line in log.splitlines() if not line.startswith("=== attempt ")]


def talking(
    names: list[str], lines: dict[str, int], *, size: int = 0, folder: Path | None = None
) -> Workflow:
    workflow = Workflow("talk")
    for name in names:
        fn = functools.partial(
            lt.talk, name, lines[name], size, str(folder) if folder else None, len(names)
        )
        workflow.add_task(Task(name, fn))
    return workflow


def check_logs(store: RunStore, lines: dict[str, int], size: int = 0) -> None:
    for name, count in lines.items():
        log = store.log("latest", name)
        assert task_lines(log) == [lt.line(name, n, size) for n in range(count)], name
        if count:
            assert log.startswith("=== attempt 1, started ")


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    with RunStore(tmp_path / "state") as opened:
        yield opened


@pytest.fixture(autouse=True)
def root_logging() -> Iterator[None]:
    """The root logger on standard error, as ``logging.basicConfig()`` sets it up (the
    test runner's own handlers are not on a stream)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)


# -- every line in its own task's log, in order, nothing lost ---------------------------


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    counts=st.lists(st.integers(min_value=0, max_value=300), min_size=2, max_size=6),
    size=st.integers(min_value=0, max_value=3000),
)
def test_threads_printing_at_once_keep_their_lines_apart(
    tmp_path_factory: pytest.TempPathFactory, counts: list[int], size: int
) -> None:
    folder = tmp_path_factory.mktemp("meet")
    names = [f"t{i}" for i in range(len(counts))]
    lines = dict(zip(names, counts, strict=True))
    with RunStore(tmp_path_factory.mktemp("state")) as store:
        ThreadedExecutor(len(names)).execute(
            talking(names, lines, size=size, folder=folder), store=store
        )
        check_logs(store, lines, size)


@pytest.fixture
def switching_often() -> Iterator[None]:
    """Threads handing the interpreter to each other every few microseconds, so that a
    write is often cut off between two of its steps by another thread's write."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        yield
    finally:
        sys.setswitchinterval(before)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    outs=st.integers(min_value=0, max_value=3000),
    errs=st.integers(min_value=0, max_value=3000),
    size=st.sampled_from([0, 10, 100, 1100]),
)
def test_two_threads_of_one_attempt_keep_stdout_and_stderr_lines_whole(
    tmp_path_factory: pytest.TempPathFactory,
    switching_often: None,
    outs: int,
    errs: int,
    size: int,
) -> None:
    # A thread started in the attempt's context writes to the same log: a line it
    # prints to stderr while the task's thread prints to stdout is never cut into the
    # other stream's line, lost, or moved out of its thread's order.
    workflow = Workflow("two")
    workflow.add_task(
        Task("two", functools.partial(lt.talk_on_two_threads, "two", outs, errs, size))
    )
    with RunStore(tmp_path_factory.mktemp("state")) as store:
        ThreadedExecutor(1).execute(workflow, store=store)
        lines = task_lines(store.log("latest", "two"))
    expected_out = [lt.line("two-out", n, size) for n in range(outs)]
    expected_err = [lt.line("two-err", n, size) for n in range(errs)]
    assert [line for line in lines if line.startswith("two-out ")] == expected_out
    assert [line for line in lines if line.startswith("two-err ")] == expected_err
    assert len(lines) == outs + errs


CONCURRENT = {
    "threaded": lambda: ThreadedExecutor(3),
    "async": lambda: AsyncExecutor(max_workers=3),
}


@pytest.mark.parametrize("make", CONCURRENT.values(), ids=CONCURRENT.keys())
def test_threads_of_each_executor_keep_their_lines_apart(
    make: Callable[[], Executor], store: RunStore, tmp_path: Path
) -> None:
    lines = {"a": 200, "b": 150, "c": 250}
    make().execute(talking(list(lines), lines, folder=tmp_path), store=store)
    check_logs(store, lines)


def test_the_sequential_executor_keeps_each_tasks_lines(store: RunStore) -> None:
    lines = {"a": 20, "b": 0, "c": 30}
    workflow = talking(list(lines), lines)
    workflow.add_task(Task("timed", functools.partial(lt.talk, "timed", 5), timeout=30))
    SequentialExecutor().execute(workflow, store=store)
    check_logs(store, {**lines, "timed": 5})
    assert store.log("latest", "b") == ""  # it printed nothing: no log at all
    assert not (store.log_dir("latest") / "b.log").exists()


def test_coroutines_on_one_loop_keep_their_lines_apart(store: RunStore) -> None:
    lines = {"a": 200, "b": 300, "c": 100}
    workflow = Workflow("coroutines")
    for name, count in lines.items():  # started together, they take turns line by line
        workflow.add_task(Task(name, functools.partial(lt.talk_async, name, count)))
    workflow.add_task(Task("plain", functools.partial(lt.talk, "plain", 50)))  # a pool thread
    AsyncExecutor().execute(workflow, store=store)
    lines["plain"] = 50
    for name, count in lines.items():
        assert task_lines(store.log("latest", name))[:count] == [
            lt.line(name, n) for n in range(count)
        ]


def test_process_workers_keep_their_lines_apart_and_catch_file_descriptors(
    store: RunStore, tmp_path: Path
) -> None:
    from flowweaver import ProcessExecutor

    lines = {"a": 300, "b": 200}
    workflow = talking(list(lines), lines, folder=tmp_path)
    for name in ("low1", "low2"):
        workflow.add_task(Task(name, functools.partial(lt.talk_low, name, str(tmp_path), 4)))
    ProcessExecutor(4).execute(workflow, store=store)
    check_logs(store, {**lines, "low1": 5, "low2": 5})


@pytest.mark.dask
def test_dask_workers_send_what_a_task_printed_back_with_its_outcome(store: RunStore) -> None:
    pytest.importorskip("distributed")
    from flowweaver import DaskExecutor

    lines = {"a": 40, "b": 30}
    workflow = talking(list(lines), lines)
    workflow.add_task(Task("down", functools.partial(lt.talk, "down", 3), depends_on=["a"]))
    workflow.add_task(Task("bad", lt.fail_with_cause))
    with pytest.raises(WorkflowError):
        DaskExecutor(max_workers=2).execute(workflow, store=store)
    check_logs(store, {**lines, "down": 3})
    bad = store.log("latest", "bad")
    assert "ValueError: invalid literal" in bad and "RuntimeError: could not compute" in bad
    record = next(t for t in store.run("latest").tasks if t.name == "bad")
    assert record.traceback is not None and "_log_tasks.py" in record.traceback


@pytest.mark.parametrize("kind", ["threaded", "process"])
def test_each_item_of_a_mapped_task_has_its_own_log(kind: str, store: RunStore) -> None:
    from flowweaver import ProcessExecutor

    workflow = Workflow("items")
    items = ["a", "b/c", "bad"]
    workflow.add_task(Task("each", lt.say_item, map=Map(over=items), retries=1))
    executor = ThreadedExecutor(3) if kind == "threaded" else ProcessExecutor(2)
    with pytest.raises(WorkflowError):
        executor.execute(workflow, store=store)
    assert task_lines(store.log("latest", "each[a]")) == ["item a"]
    assert (store.log_dir("latest") / "each[a].log").exists()
    assert task_lines(store.log("latest", "each[b/c]")) == ["item b/c"]
    assert (store.log_dir("latest") / "each[b%2Fc].log").exists()  # a "/" is escaped
    bad = store.log("latest", "each[bad]")
    assert [s.attempt for s in sections(bad)] == [1, 2]
    assert "ValueError: bad item bad" in store.log("latest", "each[bad]", attempt=2)
    record = next(t for t in store.run("latest").tasks if t.name == "each[bad]")
    assert record.traceback is not None and "_log_tasks.py" in record.traceback
    assert store.log("latest", "each") == ""  # the mapped task itself printed nothing


# -- attempts, timeouts, tracebacks ---------------------------------------------------


def test_each_attempt_is_headed_and_can_be_read_alone(store: RunStore, tmp_path: Path) -> None:
    workflow = Workflow("retried")
    counter = str(tmp_path / "tries")
    workflow.add_task(Task("flaky", functools.partial(lt.flaky, counter), retries=1))
    ThreadedExecutor(2).execute(workflow, store=store)
    log = store.log("latest", "flaky")
    assert [s.attempt for s in sections(log)] == [1, 2]
    first = store.log("latest", "flaky", attempt=1)
    assert first.startswith("=== attempt 1, started ")
    assert "attempt 1 here" in first and "ValueError: first attempt fails" in first
    second = store.log("latest", "flaky", attempt=2)
    assert second.startswith("=== attempt 2, started ") and "attempt 2 here" in second
    assert "Traceback" not in second
    attempts = store.attempts("latest")
    assert attempts[0].traceback is not None and "first attempt fails" in attempts[0].traceback
    assert attempts[1].traceback is None


def test_a_line_that_looks_like_a_header_cannot_forge_an_attempt(store: RunStore) -> None:
    workflow = Workflow("forged")
    workflow.add_task(Task("liar", lambda: print("=== attempt 7, started yesterday ===")))
    SequentialExecutor().execute(workflow, store=store)
    log = store.log("latest", "liar")
    assert [s.attempt for s in sections(log)] == [1]
    assert " === attempt 7, started yesterday ===" in log


@pytest.mark.parametrize("kind", ["threaded", "process"])
def test_a_timed_out_task_keeps_what_it_printed_until_then(
    kind: str, store: RunStore, tmp_path: Path
) -> None:
    from flowweaver import ProcessExecutor

    marker = tmp_path / "release"
    workflow = Workflow("hangs")
    workflow.add_task(Task("hang", functools.partial(lt.print_then_hang, str(marker)), timeout=1))
    executor = ThreadedExecutor(1) if kind == "threaded" else ProcessExecutor(1)
    try:
        with pytest.raises(WorkflowError):
            executor.execute(workflow, store=store)
    finally:
        marker.touch()
    log = store.log("latest", "hang")
    assert "before the hang" in log
    assert "timed out after 1s" in log


def test_the_whole_traceback_with_its_cause_is_kept(store: RunStore) -> None:
    workflow = Workflow("causes")
    workflow.add_task(Task("bad", lt.fail_with_cause))
    with pytest.raises(WorkflowError):
        ThreadedExecutor(1).execute(workflow, store=store)
    record = store.run("latest").tasks[0]
    assert record.error == "RuntimeError: could not compute the total"
    trace = record.traceback or ""
    assert "ValueError: invalid literal for int()" in trace
    assert "The above exception was the direct cause" in trace
    assert "_log_tasks.py" in trace and "flowweaver/_call.py" not in trace
    assert trace in store.log("latest", "bad")


# -- the output stream ------------------------------------------------------------------


def test_listeners_get_lines_as_they_are_printed_and_failures_with_their_place(
    store: RunStore,
) -> None:
    seen = threading.Event()
    items: list[OutputItem] = []

    def listener(item: OutputItem) -> None:
        items.append(item)
        if isinstance(item, TaskOutput) and "first" in item.lines:
            # the line is in the file before the listener hears of it
            assert "first" in store.log(run_id, "streams")
            seen.set()

    def streams() -> None:
        print("first")
        assert seen.wait(10), "the line did not reach the listener while the task ran"
        print("second")
        raise ValueError("bad row")

    workflow = Workflow("streams")
    workflow.add_task(Task("streams", streams))
    workflow.subscribe_output(listener)
    recorder = store.open_run(workflow)
    run_id = recorder.run_id
    with pytest.raises(WorkflowError):
        ThreadedExecutor(1).execute(workflow, recorder=recorder)
    lines = [line for item in items if isinstance(item, TaskOutput) for line in item.lines]
    assert lines == ["first", "second"]
    failure = items[-1]
    assert isinstance(failure, AttemptFailure)
    assert failure.error == "ValueError: bad row"
    assert failure.where is not None and failure.where.startswith("test_capture.py:")


def test_without_a_listener_output_is_also_echoed(
    store: RunStore, capsys: pytest.CaptureFixture[str]
) -> None:
    workflow = Workflow("echo")
    workflow.add_task(Task("speaks", functools.partial(lt.talk, "speaks", 2)))  # no records
    SequentialExecutor().execute(workflow, store=store)
    captured = capsys.readouterr()
    assert captured.out == lt.line("speaks", 0) + "\n"
    assert captured.err == lt.line("speaks", 1) + "\n"
    check_logs(store, {"speaks": 2})


def test_a_run_without_store_listener_or_secrets_captures_nothing() -> None:
    streams: list[Any] = []

    def look() -> None:
        streams.append((sys.stdout, sys.stderr))

    before = (sys.stdout, sys.stderr)
    workflow = Workflow("plain")
    workflow.add_task(Task("look", look))
    ThreadedExecutor(1).execute(workflow)
    assert streams == [before]


def test_streams_are_given_back_after_the_run(store: RunStore) -> None:
    before = (sys.stdout, sys.stderr)
    workflow = Workflow("back")
    workflow.add_task(Task("t", lambda: print("x")))
    SequentialExecutor().execute(workflow, store=store)
    assert (sys.stdout, sys.stderr) == before


def test_a_task_writing_bytes_to_stdout_buffer_is_captured(store: RunStore) -> None:
    def raw() -> None:
        sys.stdout.buffer.write("héllo\n".encode())

    workflow = Workflow("bytes")
    workflow.add_task(Task("raw", raw))
    out = io.StringIO()
    workflow.subscribe_output(lambda item: out.write(repr(item)))
    SequentialExecutor().execute(workflow, store=store)
    assert task_lines(store.log("latest", "raw")) == ["héllo"]
