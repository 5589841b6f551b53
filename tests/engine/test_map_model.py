"""Mapped tasks against a direct model of SPEC §8: items, retries, fail-fast, resume.

The model says, from the item list alone, which items run how many times, how each
ends, what the mapped task ends as and what its list holds; the runs must agree.
"""

from __future__ import annotations

import contextlib
import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowweaver import (
    ItemFailed,
    Map,
    RunInterrupted,
    RunStore,
    SequentialExecutor,
    Task,
    TaskStatus,
    ThreadedExecutor,
    Workflow,
    WorkflowError,
)
from flowweaver.interrupts import catch_signals

S = TaskStatus

# An item: its key, how many of its first attempts fail, and whether it interrupts
# the run (a Ctrl-C arriving while it runs).
Item = dict[str, Any]


def items_strategy(max_size: int = 8) -> st.SearchStrategy[list[Item]]:
    item = st.fixed_dictionaries({"fail": st.integers(0, 3)})
    return st.lists(item, max_size=max_size).map(
        lambda items: [{**it, "k": f"i{n}"} for n, it in enumerate(items)]
    )


class Calls:
    """What the mapped function was called with."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def __call__(self, item: Item) -> str:
        self.counts[item["k"]] += 1
        if item.get("interrupt") and self.counts[item["k"]] == 1:
            signal.raise_signal(signal.SIGINT)
        if self.counts[item["k"]] <= item["fail"]:
            raise RuntimeError(f"{item['k']} attempt {self.counts[item['k']]}")
        return item["k"].upper()


def workflow(items: list[Item], calls: Calls, retries: int, **options: Any) -> Workflow:
    wf = Workflow("mapped")
    wf.add_task(Task("source", lambda: items))
    wf.add_task(
        Task(
            "each",
            calls,
            map=Map(over="source", key=lambda item: item["k"], **options),
            retries=retries,
        )
    )
    wf.add_task(Task("after", lambda each: each, depends_on=["each"], run_if="done"))
    return wf


def model(
    items: list[Item], retries: int, fail_fast: bool
) -> tuple[dict[str, int], dict[str, S], S, list[Any]]:
    """Calls per item, each item's status, the mapped task's status and its list, for
    items run one at a time in their order (the sequential executor)."""
    calls: dict[str, int] = {}
    status: dict[str, S] = {}
    stopped = False
    for item in items:
        key = item["k"]
        if stopped:
            status[key] = S.CANCELLED
            continue
        attempts = min(item["fail"], retries) + 1
        calls[key] = attempts
        status[key] = S.COMPLETED if item["fail"] <= retries else S.FAILED
        stopped = fail_fast and status[key] is S.FAILED
    values = list(status.values())
    mapped = (
        S.CANCELLED if S.CANCELLED in values else S.FAILED if S.FAILED in values else S.COMPLETED
    )
    result = [
        item["k"].upper()
        if status[item["k"]] is S.COMPLETED
        else ItemFailed(item["k"], item, f"RuntimeError: {item['k']} attempt {calls[item['k']]}")
        if status[item["k"]] is S.FAILED
        else None
        for item in items
    ]
    return calls, status, mapped, result


@settings(max_examples=120, deadline=None)
@given(items_strategy(), st.integers(0, 2), st.booleans())
def test_items_run_retry_and_end_as_the_model_says(
    items: list[Item], retries: int, fail_fast: bool
) -> None:
    calls = Calls()
    wf = workflow(items, calls, retries)
    seen: list[Any] = []
    wf.subscribe(lambda e: seen.append(e) if e.parent == "each" and e.status.is_final else None)
    expected_calls, expected_status, expected_mapped, expected_list = model(
        items, retries, fail_fast
    )
    try:
        SequentialExecutor(fail_fast=fail_fast).execute(wf)
    except WorkflowError as exc:
        assert "each" in exc.failed_tasks
    assert dict(calls.counts) == expected_calls
    assert {e.task: e.status for e in seen} == {
        f"each[{key}]": status for key, status in expected_status.items()
    }
    assert wf.get_task_status("each") is expected_mapped
    if expected_mapped is S.COMPLETED:
        assert wf.get_task_result("each") == expected_list
        assert wf.get_task_result("after") == expected_list
    elif expected_mapped is S.FAILED:
        assert wf.get_task_result("each") is None  # did not complete, as any task
        if fail_fast:  # fail-fast cancels every task not started but failure/always ones
            assert wf.get_task_status("after") is S.CANCELLED
        else:
            assert wf.get_task_result("after") == expected_list  # run_if: done sees the slots
        failed = [key for key, s in expected_status.items() if s is S.FAILED]
        error = wf.get_task("each").error  # type: ignore[union-attr]
        assert error is not None
        assert error.startswith(f"{len(failed)} of {len(items)} items failed: each[{failed[0]}]")


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(items_strategy(6), st.integers(0, 5))
def test_resume_after_an_interruption_runs_only_what_did_not_complete(
    tmp_path_factory: pytest.TempPathFactory, items: list[Item], stop_at: int
) -> None:
    for item in items:
        item["fail"] = 0
    if items:
        items[stop_at % len(items)]["interrupt"] = True
    store = RunStore(tmp_path_factory.mktemp("state"))
    first = Calls()
    with catch_signals(), contextlib.suppress(RunInterrupted):
        SequentialExecutor().execute(workflow(items, first, 0), store=store)
    done_before = {e.name for e in store.run("latest").tasks if e.status == "completed"}
    for item in items:
        item.pop("interrupt", None)
    again = Calls()
    wf = workflow(items, again, 0)
    SequentialExecutor().execute(wf, store=store, resume=True)
    assert wf.get_task_result("each") == [item["k"].upper() for item in items]
    for item in items:
        ran_again = again.counts[item["k"]] > 0
        assert ran_again is (f"each[{item['k']}]" not in done_before)
    store.close()


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 12), st.integers(1, 4), st.integers(1, 6))
def test_max_parallel_bounds_the_items_running_at_once(
    count: int, max_parallel: int, workers: int
) -> None:
    import threading
    import time

    running = [0]
    most = [0]
    lock = threading.Lock()

    def item_fn(item: int) -> int:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.002)  # long enough for others to start, if they may
        with lock:
            running[0] -= 1
        return item

    wf = Workflow("bounded")
    wf.add_task(Task("each", item_fn, map=Map(over=list(range(count)), max_parallel=max_parallel)))
    ThreadedExecutor(workers).execute(wf)
    assert wf.get_task_result("each") == list(range(count))
    assert most[0] <= min(max_parallel, workers)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ({"a": 1}, "map over 'source': expected a list, got dict"),
        ("text", "map over 'source': expected a list, got str"),
        (None, "map over 'source': expected a list, got None"),
        (["x", "y", "x"], "items 1 and 3 have the same key 'x'"),
    ],
)
def test_items_that_cannot_be_had_fail_the_task_before_any_runs(
    source: object, message: str
) -> None:
    ran: list[object] = []
    wf = Workflow("bad")
    wf.add_task(Task("source", lambda: source))
    wf.add_task(Task("each", ran.append, map=Map(over="source")))
    wf.add_task(Task("after", lambda: None, depends_on=["each"]))
    with pytest.raises(WorkflowError, match="each"):
        SequentialExecutor().execute(wf)
    task = wf.get_task("each")
    assert task is not None and task.status is S.FAILED
    assert task.error is not None and message in task.error
    assert ran == []
    assert wf.get_task("after").error == "upstream failed"  # type: ignore[union-attr]


def test_a_matrix_is_every_combination_first_list_outermost() -> None:
    wf = Workflow("matrix")
    matrix = Map(
        over={"os": ["linux", "mac"], "py": ["3.11", "3.12"]}, key=lambda i: "-".join(i.values())
    )
    wf.add_task(Task("build", lambda item: f"{item['os']}/{item['py']}", map=matrix))
    events: list[str] = []
    wf.subscribe(lambda e: events.append(e.task) if e.status is S.COMPLETED else None)
    SequentialExecutor().execute(wf)
    assert wf.get_task_result("build") == ["linux/3.11", "linux/3.12", "mac/3.11", "mac/3.12"]
    assert events[:4] == [
        "build[linux-3.11]",
        "build[linux-3.12]",
        "build[mac-3.11]",
        "build[mac-3.12]",
    ]


def test_an_empty_list_completes_with_an_empty_list() -> None:
    wf = Workflow("empty")
    wf.add_task(Task("each", lambda item: item, map=Map(over=[])))
    wf.add_task(Task("after", lambda each: each, depends_on=["each"]))
    SequentialExecutor().execute(wf)
    assert wf.get_task_result("each") == [] and wf.get_task_result("after") == []


def test_the_default_key_is_the_item_or_a_short_hash_of_its_json() -> None:
    wf = Workflow("keys")
    wf.add_task(Task("each", lambda item: item, map=Map(over=["a", 2, {"b": [1]}])))
    names: list[str] = []
    wf.subscribe(lambda e: names.append(e.task) if e.status is S.COMPLETED else None)
    SequentialExecutor().execute(wf)
    assert names[:2] == ["each[a]", "each[2]"]
    assert len(names[2]) == len("each[]") + 10 and names[3] == "each"


def test_the_mapped_task_says_how_many_items_it_has_and_items_name_it_parent() -> None:
    wf = Workflow("events")
    wf.add_task(Task("each", lambda item: item, map=Map(over=[1, 2, 3])))
    events: list[Any] = []
    wf.subscribe(events.append)
    SequentialExecutor().execute(wf)
    first = events[0]
    assert (first.task, first.status, first.items) == ("each", S.RUNNING, 3)
    items = [e for e in events if e.parent == "each"]
    assert {e.task for e in items} == {"each[1]", "each[2]", "each[3]"}
    assert (events[-1].task, events[-1].status) == ("each", S.COMPLETED)


_CACHED_CALLS = Counter[int]()


def _cached_work(item: int) -> int:
    # (module level: a closure's values are part of a cache key, and a counter changes)
    _CACHED_CALLS[item] += 1
    return item * 10


def test_cache_true_caches_each_item(tmp_path: Path) -> None:
    _CACHED_CALLS.clear()
    store = RunStore(tmp_path / "state")
    for items in ([1, 2], [2, 3]):
        wf = Workflow("cached")
        wf.add_task(Task("each", _cached_work, map=Map(over=items), cache=True))
        SequentialExecutor().execute(wf, store=store)
        assert wf.get_task_result("each") == [i * 10 for i in items]
    assert Counter({1: 1, 2: 1, 3: 1}) == _CACHED_CALLS
    store.close()
