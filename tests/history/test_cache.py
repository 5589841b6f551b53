"""The result cache: ``Task(cache=True, cache_ttl=...)`` with a store."""

from __future__ import annotations

import functools
import threading
from pathlib import Path

import pytest
from _history_jobs import calls, log_call

from flowweaver import RunStore, SequentialExecutor, Task, TaskEvent, ThreadedExecutor, Workflow


class Clock:
    """Seconds since the epoch, moved by hand."""

    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def read_source(log: str, path: str) -> str:
    log_call(log, "source")
    return Path(path).read_text(encoding="utf-8")


def expensive(log: str, source: str, scale: int = 1) -> str:
    log_call(log, "expensive")
    return source.upper() * scale


def report(log: str, expensive: str) -> str:
    log_call(log, "report")
    return f"report: {expensive}"


def build(
    log: Path, source: Path, *, ttl: float | None = None, scale: int = 1, name: str = "cached"
) -> Workflow:
    workflow = Workflow(name)
    workflow.add_task(Task("source", functools.partial(read_source, str(log), str(source))))
    workflow.add_task(
        Task(
            "expensive",
            functools.partial(expensive, str(log), scale=scale),
            depends_on=["source"],
            cache=True,
            cache_ttl=ttl,
        )
    )
    workflow.add_task(Task("report", functools.partial(report, str(log)), depends_on=["expensive"]))
    return workflow


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "calls.log"


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "source.txt"
    path.write_text("abc", encoding="utf-8")
    return path


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(tmp_path: Path, clock: Clock) -> RunStore:
    return RunStore(tmp_path / "state", clock=clock)


def test_a_cache_hit_skips_the_call_and_is_marked_cached(
    store: RunStore, log: Path, source: Path
) -> None:
    SequentialExecutor().execute(build(log, source), store=store)
    assert calls(log) == ["source", "expensive", "report"]

    events: list[TaskEvent] = []
    workflow = build(log, source)
    workflow.subscribe(events.append)
    SequentialExecutor().execute(workflow, store=store)

    assert calls(log) == ["source", "expensive", "report", "source", "report"]
    assert workflow.get_task_result("report") == "report: ABC"
    final = {e.task: e for e in events if e.status.is_final}
    assert final["expensive"].cached
    assert not final["report"].cached
    tasks = {t.name: t for t in store.run("latest").tasks}
    assert tasks["expensive"].cached and tasks["expensive"].status == "completed"
    assert not tasks["source"].cached


def test_the_key_covers_the_results_received_and_the_arguments(
    store: RunStore, log: Path, source: Path
) -> None:
    SequentialExecutor().execute(build(log, source), store=store)
    source.write_text("xyz", encoding="utf-8")
    SequentialExecutor().execute(build(log, source), store=store)
    SequentialExecutor().execute(build(log, source, scale=2), store=store)
    assert calls(log).count("expensive") == 3

    workflow = build(log, source, scale=2)
    SequentialExecutor().execute(workflow, store=store)
    assert calls(log).count("expensive") == 3
    assert workflow.get_task_result("expensive") == "XYZXYZ"


def test_the_cache_is_shared_by_workflows_and_executors(
    store: RunStore, log: Path, source: Path
) -> None:
    SequentialExecutor().execute(build(log, source, name="one"), store=store)
    ThreadedExecutor().execute(build(log, source, name="two"), store=store)
    assert calls(log).count("expensive") == 1


def test_an_entry_expires_after_its_ttl(
    store: RunStore, clock: Clock, log: Path, source: Path
) -> None:
    SequentialExecutor().execute(build(log, source, ttl=60), store=store)
    clock.now += 59
    SequentialExecutor().execute(build(log, source, ttl=60), store=store)
    assert calls(log).count("expensive") == 1
    clock.now += 2  # 61 seconds after it was stored
    SequentialExecutor().execute(build(log, source, ttl=60), store=store)
    assert calls(log).count("expensive") == 2
    clock.now += 30  # the fresh result is 30 seconds old
    SequentialExecutor().execute(build(log, source, ttl=60), store=store)
    assert calls(log).count("expensive") == 2


def test_clear_cache_removes_every_entry(store: RunStore, log: Path, source: Path) -> None:
    SequentialExecutor().execute(build(log, source), store=store)
    SequentialExecutor().execute(build(log, source, scale=3), store=store)
    assert store.clear_cache() == 2
    assert store.clear_cache() == 0
    SequentialExecutor().execute(build(log, source), store=store)
    assert calls(log).count("expensive") == 3


def test_a_task_without_cache_is_never_cached(store: RunStore, log: Path, source: Path) -> None:
    for _ in range(2):
        SequentialExecutor().execute(build(log, source), store=store)
    assert calls(log).count("source") == 2
    assert calls(log).count("report") == 2


def kind(log: str, value: object) -> str:
    log_call(log, "kind")
    return type(value).__name__


def test_arguments_without_identity_are_simply_not_cached(store: RunStore, log: Path) -> None:
    def make() -> Workflow:
        workflow = Workflow("locks")
        workflow.add_task(Task("lock", threading.Lock))
        workflow.add_task(
            Task("kind", functools.partial(kind, str(log)), inputs={"value": "lock"}, cache=True)
        )
        return workflow

    for _ in range(2):
        workflow = make()
        SequentialExecutor().execute(workflow, store=store)
        assert workflow.get_task_result("kind") == "lock"
    assert calls(log) == ["kind", "kind"]


def test_an_unhashable_cached_result_runs_every_time(store: RunStore, log: Path) -> None:
    def make() -> Workflow:
        workflow = Workflow("unhashable-result")
        workflow.add_task(Task("lock", functools.partial(_new_lock, str(log)), cache=True))
        return workflow

    for _ in range(2):
        SequentialExecutor().execute(make(), store=store)
    assert calls(log) == ["lock", "lock"]
    assert store.clear_cache() == 0


def _new_lock(log: str) -> object:
    log_call(log, "lock")
    return threading.Lock()


def flag_is_up(path: str) -> bool:
    """A ``when`` predicate: the flag file exists."""
    return Path(path).exists()


def test_a_cached_task_still_checks_its_condition_first(tmp_path: Path, log: Path) -> None:
    flag = tmp_path / "ready.flag"
    flag.touch()
    store = RunStore(tmp_path / "state")

    def run_once(executor: object) -> tuple[Workflow, list[TaskEvent]]:
        workflow = Workflow("guarded")
        workflow.add_task(
            Task(
                "expensive",
                functools.partial(expensive, str(log), "abc"),
                cache=True,
                when=functools.partial(flag_is_up, str(flag)),
            )
        )
        events: list[TaskEvent] = []
        workflow.subscribe(events.append)
        executor.execute(workflow, store=store)  # type: ignore[attr-defined]
        return workflow, events

    for executor in (SequentialExecutor(), ThreadedExecutor(2)):
        log.unlink(missing_ok=True)
        run_once(executor)  # runs (or is served from the last loop's cache)
        flag.unlink()
        skipped, _ = run_once(executor)  # cached, but its condition is false now
        task = skipped.get_all_tasks()["expensive"]
        assert (task.status.value, task.error) == ("skipped", "condition false")
        flag.touch()
        served, events = run_once(executor)  # the condition holds: the cache serves it
        assert served.get_task_result("expensive") == "ABC"
        assert [e.cached for e in events if e.status.value == "completed"] == [True]
        assert calls(log).count("expensive") <= 1  # called at most by the first run
