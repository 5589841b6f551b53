"""Pools: at no moment does a pool run more attempts than its size, whatever ends them,
and every task ends; priorities order the ready tasks; host pools are shared."""

from __future__ import annotations

import contextlib
import fcntl
import functools
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import _process_tasks
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowweaver import (
    Map,
    Pool,
    ProcessExecutor,
    RunStore,
    RunTimeoutError,
    SequentialExecutor,
    Task,
    TaskEvent,
    TaskStatus,
    ThreadedExecutor,
    Workflow,
    WorkflowError,
)
from flowweaver.engine import Engine


class Spans:
    """Every attempt's pool, start and end, kept as they happen."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.running: dict[str, int] = defaultdict(int)
        self.most: dict[str, int] = defaultdict(int)

    def task(self, pool: str | None, seconds: float, fails: int) -> Any:
        tries = [0]

        def run(item: Any = None) -> str:
            with self.lock:
                if pool is not None:
                    self.running[pool] += 1
                    self.most[pool] = max(self.most[pool], self.running[pool])
                tries[0] += 1
                failing = tries[0] <= fails
            try:
                time.sleep(seconds)
                if failing:
                    raise RuntimeError("failed on purpose")
                return "ok"
            finally:
                with self.lock:
                    if pool is not None:
                        self.running[pool] -= 1

        return run


@st.composite
def pooled_dags(draw: st.DrawFn, process: bool = False) -> dict[str, Any]:
    sizes = draw(st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(1, 3), min_size=1))
    count = draw(st.integers(1, 6 if process else 12))
    tasks = []
    for i in range(count):
        tasks.append(
            {
                "ups": draw(st.lists(st.integers(0, i - 1), unique=True, max_size=2)) if i else [],
                "pool": draw(st.sampled_from([None, *sizes])),
                "seconds": draw(st.sampled_from([0.0, 0.001, 0.003, 0.05])),
                "timeout": draw(st.sampled_from([None, None, 0.02])),
                "fails": draw(st.integers(0, 2)),
                "retries": draw(st.integers(0, 2)),
                "items": draw(st.one_of(st.none(), st.integers(0, 3))),
                "priority": draw(st.integers(-1, 1)),
                "run_if": draw(st.sampled_from(["done", "done", "success", "failure", "always"])),
            }
        )
    return {
        "sizes": sizes,
        "tasks": tasks,
        "workers": draw(st.integers(1, 4 if process else 6)),
        "fail_fast": draw(st.booleans()),
    }


def attempt_spans(events: list[TaskEvent]) -> list[tuple[TaskEvent, float]]:
    """Each attempt that ran (a task's, an item's): its RUNNING event and when it ended,
    from the events; every attempt that started has ended."""
    started: dict[str, TaskEvent] = {}
    spans = []
    for event in events:
        if event.status is TaskStatus.PENDING or event.items is not None:
            continue  # a wait for a slot; a mapped task starting its items
        if event.status is TaskStatus.RUNNING and event.retry_in is None:
            assert event.task not in started
            started[event.task] = event
        elif event.task in started and (event.retry_in is not None or event.status.is_final):
            spans.append((started.pop(event.task), event.time))
    assert not started, started
    return spans


def most_at_once(spans: list[tuple[float, float]]) -> int:
    """The most spans ``[start, end)`` that overlap at any moment."""
    edges = sorted([(end, -1) for _, end in spans] + [(start, 1) for start, _ in spans])
    running = most = 0
    for _, step in edges:
        running += step
        most = max(most, running)
    return most


def check_pools_held(case: dict[str, Any], events: list[TaskEvent]) -> None:
    """From the recorded start and end of every attempt: no pool ever had more attempts
    at once than its size; each attempt that waited for a slot said so once."""
    pool_of = {f"t{i}": spec["pool"] for i, spec in enumerate(case["tasks"])}
    by_pool: dict[str, list[tuple[float, float]]] = defaultdict(list)
    for event, end in attempt_spans(events):
        pool = pool_of[event.parent or event.task]
        if pool is not None:
            by_pool[pool].append((event.time, end))
    for pool, spans in by_pool.items():
        assert most_at_once(spans) <= case["sizes"][pool], (pool, spans)
    waits = [(e.task, e.attempt) for e in events if e.status is TaskStatus.PENDING]
    assert len(waits) == len(set(waits)), waits
    for task, _ in waits:
        assert pool_of[task.split("[", 1)[0]] is not None


RUN_LIMIT = 30


def run_to_the_end(executor: Any, wf: Workflow) -> None:
    """Execute ``wf``, failing the test (instead of hanging it) if the run never ends."""
    done = threading.Event()

    def execute() -> None:
        with contextlib.suppress(WorkflowError):
            executor.execute(wf)
        done.set()

    threading.Thread(target=execute, daemon=True).start()
    assert done.wait(RUN_LIMIT), "the run never ended"
    assert all(task.status.is_final for task in wf.get_all_tasks().values())


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pooled_dags())
def test_a_pool_never_runs_more_attempts_than_its_size(case: dict[str, Any]) -> None:
    spans = Spans()
    events: list[TaskEvent] = []
    wf = Workflow("pooled", pools=case["sizes"])
    for i, spec in enumerate(case["tasks"]):
        mapped = Map(over=list(range(spec["items"]))) if spec["items"] is not None else None
        wf.add_task(
            Task(
                f"t{i}",
                spans.task(spec["pool"], spec["seconds"], spec["fails"]),
                retries=spec["retries"],
                timeout=spec["timeout"],
                pool=spec["pool"],
                priority=spec["priority"],
                map=mapped,
                depends_on=[f"t{up}" for up in spec["ups"]],
                run_if=spec["run_if"],
            )
        )
    wf.subscribe(events.append)
    run_to_the_end(ThreadedExecutor(case["workers"], fail_fast=case["fail_fast"]), wf)
    check_pools_held(case, events)
    soft = {spec["pool"] for spec in case["tasks"] if spec["timeout"] is not None}
    for name, size in case["sizes"].items():
        if name not in soft:  # (a timed-out call goes on running on its thread)
            assert spans.most[name] <= size


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pooled_dags(process=True))
def test_a_pool_never_runs_more_attempts_than_its_size_in_worker_processes(
    case: dict[str, Any],
) -> None:
    # a timeout ends the attempt's process: the slot is free when it is given back
    events: list[TaskEvent] = []
    wf = Workflow("pooled", pools=case["sizes"])
    for i, spec in enumerate(case["tasks"]):
        mapped = Map(over=list(range(spec["items"]))) if spec["items"] is not None else None
        fn = functools.partial(_process_tasks.pooled_nap, spec["seconds"], bool(spec["fails"]))
        wf.add_task(
            Task(
                f"t{i}",
                fn,
                retries=min(spec["retries"], 1),
                timeout=spec["timeout"],
                pool=spec["pool"],
                priority=spec["priority"],
                map=mapped,
                depends_on=[f"t{up}" for up in spec["ups"]],
                run_if=spec["run_if"],
            )
        )
    wf.subscribe(events.append)
    run_to_the_end(ProcessExecutor(case["workers"], fail_fast=case["fail_fast"]), wf)
    check_pools_held(case, events)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.lists(st.integers(0, 30), max_size=2), st.integers(-2, 2)),
        min_size=1,
        max_size=12,
    )
)
def test_the_sequential_executor_starts_the_ready_task_of_highest_priority(
    shape: list[tuple[list[int], int]],
) -> None:
    # a reference model: of the tasks whose upstream tasks completed, the one of highest
    # priority starts, ties in plan order (layer, then the order they were added)
    wf = Workflow("prio")
    started: list[str] = []
    for i, (ups, priority) in enumerate(shape):
        deps = sorted({f"t{up % i}" for up in ups}) if i else []
        wf.add_task(Task(f"t{i}", lambda: None, depends_on=deps, priority=priority))
    wf.subscribe(lambda e: started.append(e.task) if e.status is TaskStatus.RUNNING else None)
    SequentialExecutor().execute(wf)
    layer = {t.name: n for n, tasks in enumerate(wf.get_execution_plan()) for t in tasks}
    tasks = wf.get_all_tasks()
    position = {name: n for n, name in enumerate(tasks)}
    done: set[str] = set()
    for name in started:
        ready = [t for t in tasks if t not in done and set(tasks[t].depends_on) <= done]
        best = min(ready, key=lambda t: (-tasks[t].priority, layer[t], position[t]))
        assert name == best, (name, ready)
        done.add(name)


def test_a_slot_is_given_back_whatever_ends_the_attempt() -> None:
    # a timeout, a failure with retries and a success share one slot, in turn
    wf = Workflow("one", pools={"db": 1})
    wf.add_task(Task("slow", lambda: time.sleep(5), timeout=0.05, pool="db"))
    wf.add_task(Task("flaky", lambda: 1 / 0, retries=2, pool="db"))
    wf.add_task(Task("fine", lambda: "ok", pool="db"))
    with pytest.raises(WorkflowError):
        ThreadedExecutor(4).execute(wf)
    assert wf.get_task_result("fine") == "ok"
    assert wf.get_task("flaky").attempts == 3  # type: ignore[union-attr]


def test_a_crashed_worker_gives_its_slot_back() -> None:
    # the worker process running "crash" dies; "after" needs the one slot it held
    wf = Workflow("crash", pools={"db": 1})
    wf.add_task(Task("crash", _process_tasks.exit_hard, pool="db", priority=1))
    wf.add_task(Task("after", functools.partial(_process_tasks.nap, 0.0), pool="db"))
    with pytest.raises(WorkflowError, match="crash"):
        ProcessExecutor(2).execute(wf)
    assert wf.get_task_result("after") == 0.0


def test_a_timeout_starts_when_the_task_gets_its_slot() -> None:
    # "second" waits about 0.6 s for the slot, then runs well within its 0.4 s timeout
    wf = Workflow("late", pools={"db": 1})
    wf.add_task(Task("first", lambda: time.sleep(0.6), pool="db", priority=1))
    wf.add_task(Task("second", lambda: time.sleep(0.01) or "ok", timeout=0.4, pool="db"))
    ThreadedExecutor(2).execute(wf)
    assert wf.get_task_result("second") == "ok"


def test_a_stopped_run_gives_its_host_slots_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the run's deadline stops it (as a signal does) while a task holds the host slot
    # and another waits for it: afterwards the machine's slot is free
    monkeypatch.setenv("FLOWWEAVER_POOLS", str(tmp_path / "pools"))
    go = threading.Event()
    wf = Workflow("stopped", pools={"gpu": Pool(1, scope="host")}, timeout=0.2)
    wf.add_task(Task("holds", lambda: go.wait(10), pool="gpu", priority=1))
    wf.add_task(Task("waits", lambda: None, pool="gpu"))
    try:
        with pytest.raises(RunTimeoutError):
            ThreadedExecutor(2).execute(wf)
        with open(tmp_path / "pools" / "gpu" / "0.lock", "a+b") as slot:
            fcntl.flock(slot.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)  # free: no OSError
    finally:
        go.set()
    assert wf.get_task("waits").status is TaskStatus.CANCELLED  # type: ignore[union-attr]


def test_higher_priority_starts_first_among_tasks_waiting_for_a_pool() -> None:
    order: list[str] = []
    wf = Workflow("prio", pools={"db": 1})
    for name, priority in [("low", 0), ("high", 10), ("mid", 5)]:
        wf.add_task(Task(name, lambda name=name: order.append(name), pool="db", priority=priority))
    SequentialExecutor().execute(wf)
    assert order == ["high", "mid", "low"]


def test_a_task_waiting_for_a_pool_says_so_once() -> None:
    wf = Workflow("waits", pools={"db": 1})
    wf.add_task(Task("first", lambda: time.sleep(0.05), pool="db"))
    wf.add_task(Task("second", lambda: None, pool="db"))
    waits: list[tuple[str, str | None]] = []
    wf.subscribe(
        lambda e: waits.append((e.task, e.reason)) if e.status is TaskStatus.PENDING else None
    )
    ThreadedExecutor(2).execute(wf)
    assert waits == [("second", "waiting for pool db (1/1)")]


def test_an_unknown_pool_is_refused_when_the_task_is_added() -> None:
    wf = Workflow("unknown", pools={"db": 2})
    with pytest.raises(ValueError, match=r"task 'x' names pool 'dbb'.*its pools: db"):
        wf.add_task(Task("x", lambda: None, pool="dbb"))


def test_two_runs_share_a_host_pool(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOWWEAVER_POOLS", str(tmp_path / "pools"))
    spans = Spans()

    def workflow(name: str) -> Workflow:
        wf = Workflow(name, pools={"gpu": Pool(1, scope="host")})
        for i in range(3):
            wf.add_task(Task(f"t{i}", spans.task("gpu", 0.02, 0), pool="gpu"))
        return wf

    runs = [threading.Thread(target=ThreadedExecutor(3).execute, args=(workflow(n),)) for n in "ab"]
    for run in runs:
        run.start()
    for run in runs:
        run.join(timeout=30)
    assert spans.most["gpu"] == 1
    assert sorted(p.name for p in (tmp_path / "pools" / "gpu").iterdir()) == ["0.lock"]


# -- the engine, driven by hand ---------------------------------------------------------


def _noop() -> None:
    return None


def _engine(
    tasks: list[Task], parents: list[list[int]], **options: Any
) -> tuple[Engine, list[Any]]:
    events: list[Any] = []
    order = [(-task.priority, position) for position, task in enumerate(tasks)]
    engine = Engine(tasks, parents, order, outbox=(events, []), **options)
    return engine, events


def test_a_task_waiting_for_a_slot_starts_when_those_before_it_in_the_queue_are_cancelled() -> None:
    # b and c wait for db behind a; fail-fast cancels b (not c, run_if failure): when a
    # ends, its slot goes to c, not to the cancelled b (the run would wait forever)
    tasks = [
        Task("a", _noop, pool="db"),
        Task("b", _noop, pool="db"),
        Task("x", _noop),
        Task("c", _noop, pool="db", run_if="failure"),
    ]
    engine, _ = _engine(tasks, [[], [], [], [2]], fail_fast=True, pools={"db": Pool(1)})
    assert [engine.start_next(0), engine.start_next(0), engine.start_next(0)] == [0, 2, -1]
    engine.fail(2, 1, "boom", False)
    assert engine.start_next(1) == -1  # c waits for the slot a holds
    engine.succeed(0, 2)
    assert engine.start_next(3) == 3
    engine.succeed(3, 4)
    assert engine.finished
    assert [t.status for t in tasks] == [
        TaskStatus.COMPLETED,
        TaskStatus.CANCELLED,
        TaskStatus.FAILED,
        TaskStatus.COMPLETED,
    ]


def test_a_task_that_waits_for_a_slot_again_says_so_once() -> None:
    # a frees db as c (higher priority) becomes ready: c takes the slot, b waits on
    tasks = [Task("a", _noop, pool="db"), Task("b", _noop, pool="db"), Task("y", _noop)]
    tasks.append(Task("c", _noop, pool="db", priority=10, depends_on=["y"]))
    engine, events = _engine(tasks, [[], [], [], [2]], pools={"db": Pool(1)})
    assert [engine.start_next(0) for _ in range(3)] == [0, 2, -1]
    engine.succeed(2, 1)
    engine.succeed(0, 1)
    assert [engine.start_next(1) for _ in range(2)] == [3, -1]
    waits = [(e.task, e.attempt) for e in events if e.status is TaskStatus.PENDING]
    assert waits == [("b", 1)]


# -- what a wait for a slot is, and is not ----------------------------------------------


def _busy_pool(pools: dict[str, Any], store: RunStore | None = None) -> tuple[Workflow, list[Any]]:
    """``first`` holds the one slot of ``db`` while ``second`` waits for it."""
    statuses: list[Any] = []
    wf = Workflow("busy", pools=pools)
    wf.add_task(Task("first", lambda: time.sleep(0.2), pool="db"))
    wf.add_task(
        Task(
            "second",
            lambda: None,
            pool="db",
            on_status_change=lambda _name, status: statuses.append(status),
        )
    )
    ThreadedExecutor(2).execute(wf, store=store)
    return wf, statuses


def test_waiting_for_a_slot_is_no_change_of_status() -> None:
    _, statuses = _busy_pool({"db": 1})
    assert statuses == [TaskStatus.RUNNING, TaskStatus.COMPLETED]


def test_the_history_shows_a_task_waiting_for_a_slot_as_pending(tmp_path: Path) -> None:
    store = RunStore(tmp_path / "state")
    go, waited = threading.Event(), threading.Event()
    wf = Workflow("busy", pools={"db": 1})
    wf.add_task(Task("first", lambda: go.wait(10), pool="db"))
    wf.add_task(Task("second", lambda: None, pool="db"))
    recorder = store.open_run(wf)
    commit, seen = recorder.commit, []
    wf.subscribe(lambda e: seen.append(e) if e.status is TaskStatus.PENDING else None)

    def committed() -> None:  # the batch with the wait is in the history
        commit()
        if seen:
            waited.set()

    recorder.commit = committed  # type: ignore[method-assign]
    run = threading.Thread(
        target=ThreadedExecutor(2).execute, args=(wf,), kwargs={"recorder": recorder}
    )
    run.start()
    try:
        assert waited.wait(10)
        second = {t.name: t for t in store.run("latest").tasks}["second"]
        assert (second.status, second.started, second.attempts) == ("pending", None, 0)
    finally:
        go.set()
        run.join(timeout=10)
    tasks = {t.name: t for t in store.run("latest").tasks}
    assert tasks["second"].started >= tasks["first"].ended  # type: ignore[operator]


def test_a_task_says_it_waits_for_a_host_pool_only_when_the_machine_has_no_free_slot(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOWWEAVER_POOLS", str(tmp_path / "pools"))
    waits: list[tuple[str, str | None]] = []

    def workflow(name: str, *tasks: str) -> Workflow:
        wf = Workflow(name, pools={"db": Pool(1, scope="host")})
        for task in tasks:
            wf.add_task(Task(task, lambda: time.sleep(0.05), pool="db"))
        wf.subscribe(
            lambda e: waits.append((e.task, e.reason)) if e.status is TaskStatus.PENDING else None
        )
        return wf

    ThreadedExecutor(2).execute(workflow("alone", "only"))
    assert waits == []  # the slot was free: no wait said
    ThreadedExecutor(2).execute(workflow("two", "first", "second"))
    assert waits == [("second", "waiting for pool db (1/1 on this machine)")]
    waits.clear()
    folder = tmp_path / "pools" / "db"
    with open(folder / "0.lock", "a+b") as held:  # another process holds the slot
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        run = threading.Thread(target=ThreadedExecutor(2).execute, args=(workflow("x", "t"),))
        run.start()
        while not waits:
            time.sleep(0.01)  # (the test waits for the run's event to hold the slot longer)
        assert waits == [("t", "waiting for pool db (1/1 on this machine)")]
        assert run.is_alive()
    run.join(timeout=10)
    assert not run.is_alive()


@settings(max_examples=300, deadline=None)
@given(pooled_dags(), st.data())
def test_the_engine_never_stalls_nor_overfills_a_pool(case: dict[str, Any], data: Any) -> None:
    # the engine driven by hand: attempts end in a random order, succeed or fail (and
    # are retried), the run may be interrupted; at every step no pool holds more
    # executing units than its size, and while tasks are unfinished something executes
    # or can start: the run never waits for nothing
    tasks = [
        Task(
            f"t{i}",
            _noop,
            retries=spec["retries"],
            pool=spec["pool"],
            priority=spec["priority"],
            map=Map(over=[]) if spec["items"] is not None else None,
            run_if=spec["run_if"],
        )
        for i, spec in enumerate(case["tasks"])
    ]
    parents = [spec["ups"] for spec in case["tasks"]]
    engine, _ = _engine(
        tasks,
        parents,
        pools={name: Pool(size) for name, size in case["sizes"].items()},
        slots=case["workers"],
        fail_fast=case["fail_fast"],
    )
    pool_of = [spec["pool"] for spec in case["tasks"]]
    now = 0.0
    for _ in range(500):
        now += 1
        while (node := engine.start_next(now)) >= 0:
            if node < len(tasks) and tasks[node].map is not None:
                count = case["tasks"][node]["items"]
                units = engine.expand(node, [f"t{node}[{k}]" for k in range(count)], now)
                pool_of.extend([pool_of[node]] * len(units))
        executing = engine.executing_nodes()
        for name, size in case["sizes"].items():
            assert sum(pool_of[unit] == name for unit in executing) <= size
        if engine.finished:
            break
        assert executing, "unfinished tasks, none executing, none can start"
        unit = data.draw(st.sampled_from(executing))
        outcome = data.draw(st.sampled_from(["ok", "ok", "fail", "interrupt"]))
        if outcome == "interrupt":
            engine.interrupt(now, "interrupted by SIGINT")
        elif outcome == "fail":
            engine.fail(unit, now, "E")
        elif engine.is_current(unit, engine.attempt_of(unit)):
            engine.succeed(unit, now)
    assert engine.finished


def test_a_task_waiting_for_a_host_slot_blocks_no_other_task(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # another process holds the machine's one slot: "free" (no pool) and "after" (below
    # it) run to the end while "waits" waits; the slot handed back, "waits" runs
    monkeypatch.setenv("FLOWWEAVER_POOLS", str(tmp_path / "pools"))
    ended = threading.Event()
    order: list[str] = []
    wf = Workflow("around", pools={"gpu": Pool(1, scope="host")})
    wf.add_task(Task("waits", lambda: order.append("waits"), pool="gpu"))
    wf.add_task(Task("free", lambda: order.append("free")))
    wf.add_task(Task("after", lambda: order.append("after"), depends_on=["free"]))
    wf.subscribe(
        lambda e: ended.set() if (e.task, e.status) == ("after", TaskStatus.COMPLETED) else None
    )
    (tmp_path / "pools" / "gpu").mkdir(parents=True)
    with open(tmp_path / "pools" / "gpu" / "0.lock", "a+b") as held:
        fcntl.flock(held.fileno(), fcntl.LOCK_EX)
        run = threading.Thread(target=ThreadedExecutor(2).execute, args=(wf,))
        run.start()
        assert ended.wait(10)
        assert order == ["free", "after"]
    run.join(timeout=10)
    assert not run.is_alive()
    assert order == ["free", "after", "waits"]
