"""The executor contract: one parametrised suite that every executor passes.

Each test takes ``make``, a factory ``make(**options) -> Executor`` for one
executor kind. Task functions live in ``_contract_tasks`` so that process-based
executors can pickle them. Tests synchronise on the observer stream, never on
sleeps; a task sleeps only to *be* slow.
"""

from __future__ import annotations

import functools
import json
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _contract_tasks as t
import pytest

from flowweaver import (
    SequentialExecutor,
    Task,
    TaskEvent,
    TaskStatus,
    Workflow,
    WorkflowError,
)
from flowweaver.errors import InputError, RunInterrupted
from flowweaver.executors.base import Executor

FINAL = {TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.SKIPPED, TaskStatus.CANCELLED}
STAT_KEYS = {
    "total_tasks",
    "completed",
    "failed",
    "skipped",
    "cancelled",
    "pending",
    "running",
    "retries",
    "total_time_seconds",
}

Make = Callable[..., Executor]


def run(workflow: Workflow, executor: Executor) -> tuple[list[TaskEvent], WorkflowError | None]:
    """Run and return the observed events and the WorkflowError, if any.

    Anything else escaping ``execute`` (SystemExit, KeyboardInterrupt…) fails the
    test instead of stopping the test session.
    """
    events: list[TaskEvent] = []
    unsubscribe = workflow.subscribe(events.append)
    error = None
    try:
        executor.execute(workflow)
    except WorkflowError as exc:
        error = exc
    except BaseException as exc:
        pytest.fail(f"execute() let {exc!r} escape")
    finally:
        unsubscribe()
    return events, error


def statuses(workflow: Workflow) -> dict[str, TaskStatus]:
    return {name: task.status for name, task in workflow.get_all_tasks().items()}


def of(events: list[TaskEvent], name: str) -> list[TaskEvent]:
    return [e for e in events if e.task == name]


def index_of(events: list[TaskEvent], name: str, status: TaskStatus) -> int:
    return next(i for i, e in enumerate(events) if e.task == name and e.status is status)


def counter(tmp_path: Path, name: str = "calls") -> str:
    return str(tmp_path / name)


def calls(path: str) -> int:
    p = Path(path)
    return len(p.read_text().splitlines()) if p.exists() else 0


# -- data between tasks ------------------------------------------------------------


def test_results_pass_by_parameter_name(make: Make) -> None:
    wf = Workflow("data")
    wf.add_task(Task("source", t.source))
    wf.add_task(Task("double", t.double), depends_on=["source"])
    wf.add_task(Task("add", t.add), depends_on=["double", "source"])
    _, error = run(wf, make())
    assert error is None
    assert wf.get_task_result("double") == 4
    assert wf.get_task_result("add") == 6


def test_dash_and_dot_in_task_names_map_to_underscore_parameters(make: Make) -> None:
    wf = Workflow("names")
    wf.add_task(Task("my-src", t.dashed_source))
    wf.add_task(Task("pkg.src", t.dotted_source))
    wf.add_task(Task("join", t.takes_dashed_and_dotted), depends_on=["my-src", "pkg.src"])
    _, error = run(wf, make())
    assert error is None
    assert wf.get_task_result("join") == "dashed+dotted"


def test_inputs_map_a_parameter_to_an_upstream_task(make: Make) -> None:
    wf = Workflow("inputs")
    wf.add_task(Task("source", t.source))
    wf.add_task(Task("consumer", t.takes_x, inputs={"x": "source"}))
    assert wf.get_dependencies("consumer") == ["source"]
    _, error = run(wf, make())
    assert error is None
    assert wf.get_task_result("consumer") == 102


def test_functions_without_such_parameters_get_no_arguments(make: Make) -> None:
    wf = Workflow("no-args")
    wf.add_task(Task("source", t.source))
    wf.add_task(Task("plain", t.no_params), depends_on=["source"])
    wf.add_task(Task("other", functools.partial(t.sleep_then, 0, "bound")), depends_on=["source"])
    _, error = run(wf, make())
    assert error is None
    assert wf.get_task_result("plain") == "no args"
    assert wf.get_task_result("other") == "bound"


def test_sync_async_and_awaitable_returning_tasks(make: Make) -> None:
    wf = Workflow("kinds")
    wf.add_task(Task("source", t.async_source))
    wf.add_task(Task("sync", t.double), depends_on=["source"])
    wf.add_task(Task("coro", t.async_double), depends_on=["source"])
    wf.add_task(Task("awaitable", t.returns_awaitable), depends_on=["source"])
    _, error = run(wf, make())
    assert error is None
    results = {n: wf.get_task_result(n) for n in ("source", "sync", "coro", "awaitable")}
    assert results == {"source": 5, "sync": 10, "coro": 10, "awaitable": 10}


# -- scheduling ----------------------------------------------------------------------


def test_slow_branch_does_not_hold_back_an_unrelated_chain(make_concurrent: Make) -> None:
    """Ready-queue scheduling: b1 -> b2 -> b3 all end while 'slow' still runs.

    With layer barriers b2 would wait for 'slow' (same layer as b1) to end.
    """
    wf = Workflow("makespan")
    wf.add_task(Task("slow", functools.partial(t.sleep_then, 0.6, "slow")))
    wf.add_task(Task("b1", functools.partial(t.sleep_then, 0.01)))
    wf.add_task(Task("b2", functools.partial(t.sleep_then, 0.01)), depends_on=["b1"])
    wf.add_task(Task("b3", functools.partial(t.sleep_then, 0.01)), depends_on=["b2"])
    events, error = run(wf, make_concurrent())
    assert error is None
    slow_end = index_of(events, "slow", TaskStatus.COMPLETED)
    for name in ("b1", "b2", "b3"):
        assert index_of(events, name, TaskStatus.COMPLETED) < slow_end, events
    assert index_of(events, "slow", TaskStatus.RUNNING) < index_of(
        events, "b1", TaskStatus.COMPLETED
    )
    end_times = {e.task: e.time for e in events if e.status is TaskStatus.COMPLETED}
    assert end_times["b3"] <= end_times["slow"]


def test_sequential_runs_one_at_a_time_in_plan_order() -> None:
    wf = Workflow("order")
    wf.add_task(Task("a", t.constant))
    wf.add_task(Task("c", t.constant))
    wf.add_task(Task("d", t.constant), depends_on=["c"])
    wf.add_task(Task("e", t.constant), depends_on=["d"])
    events, error = run(wf, SequentialExecutor())
    assert error is None
    order = [e.task for e in events if e.status is TaskStatus.RUNNING]
    plan = [task.name for layer in wf.get_execution_plan() for task in layer]
    assert order == plan == ["a", "c", "d", "e"]
    # one at a time: every task ends before the next one starts
    kinds = [(e.task, e.status) for e in events]
    assert kinds == [(n, s) for n in plan for s in (TaskStatus.RUNNING, TaskStatus.COMPLETED)]


# -- failure policy --------------------------------------------------------------------


def test_failure_skips_downstream_and_independent_branches_complete(make: Make) -> None:
    wf = Workflow("policy")
    wf.add_task(Task("bad", t.fail))
    wf.add_task(Task("child", t.constant), depends_on=["bad"])
    wf.add_task(Task("grandchild", t.constant), depends_on=["child"])
    wf.add_task(Task("other", t.source))
    wf.add_task(Task("other2", t.double, inputs={"source": "other"}))
    _, error = run(wf, make())
    assert error is not None
    assert statuses(wf) == {
        "bad": TaskStatus.FAILED,
        "child": TaskStatus.SKIPPED,
        "grandchild": TaskStatus.SKIPPED,
        "other": TaskStatus.COMPLETED,
        "other2": TaskStatus.COMPLETED,
    }
    assert wf.get_task_result("other2") == 4
    assert wf.get_task_result("child") is None


def test_fail_fast_cancels_the_tasks_not_started(make: Make) -> None:
    wf = Workflow("fail-fast")
    wf.add_task(Task("bad", t.fail))
    wf.add_task(Task("slow", functools.partial(t.sleep_then, 0.3)))
    wf.add_task(Task("after_slow", t.constant), depends_on=["slow"])
    wf.add_task(Task("after_bad", t.constant), depends_on=["bad"])
    events, error = run(wf, make(fail_fast=True))
    assert error is not None
    assert set(error.failed_tasks) == {"bad"}
    assert wf.get_task_status("bad") is TaskStatus.FAILED
    assert wf.get_task_status("after_slow") is TaskStatus.CANCELLED
    assert wf.get_task_status("after_bad") in (TaskStatus.SKIPPED, TaskStatus.CANCELLED)
    assert wf.get_task_status("slow") in FINAL
    assert not any(e.task == "after_slow" and e.status is TaskStatus.RUNNING for e in events)


def test_workflow_error_names_the_failed_tasks_and_their_errors(make: Make) -> None:
    wf = Workflow("errors")
    wf.add_task(Task("first_bad", t.fail))
    wf.add_task(Task("second_bad", t.async_fail))
    wf.add_task(Task("fine", t.constant))
    _, error = run(wf, make())
    assert isinstance(error, RuntimeError)
    message = str(error)
    assert "first_bad" in message and "ValueError: boom" in message
    assert "second_bad" in message and "ValueError: async boom" in message
    assert "fine" not in message
    assert error.failed_tasks == {
        "first_bad": "ValueError: boom",
        "second_bad": "ValueError: async boom",
    }
    assert wf.get_task("first_bad").error == "ValueError: boom"  # type: ignore[union-attr]


# -- retries ---------------------------------------------------------------------------


def test_retries_until_success_and_on_retry_numbers(make: Make, tmp_path: Path) -> None:
    path = counter(tmp_path)
    seen: list[tuple[str, int]] = []
    task = Task(
        "flaky",
        functools.partial(t.flaky, path, 2),
        retries=3,
        on_retry=lambda name, attempt: seen.append((name, attempt)),
    )
    wf = Workflow("retries")
    wf.add_task(task)
    _, error = run(wf, make())
    assert error is None
    assert calls(path) == 3
    assert seen == [("flaky", 1), ("flaky", 2)]
    assert wf.get_task_result("flaky") == "ok after 3"
    assert task.attempts == 3
    assert wf.get_workflow_stats()["retries"] == 2


def test_retries_n_means_at_most_n_plus_one_attempts(make: Make, tmp_path: Path) -> None:
    path = counter(tmp_path)
    seen: list[int] = []
    task = Task(
        "always",
        functools.partial(t.flaky, path, 100),
        retries=2,
        on_retry=lambda name, attempt: seen.append(attempt),
    )
    wf = Workflow("exhausted")
    wf.add_task(task)
    events, error = run(wf, make())
    assert error is not None
    assert calls(path) == 3
    assert seen == [1, 2]
    assert task.status is TaskStatus.FAILED
    assert task.error == "ValueError: failure 3"
    assert [e.attempt for e in events if e.retry_in is not None] == [1, 2]


def test_retry_delay_backoff_and_cap(make: Make, tmp_path: Path) -> None:
    path = counter(tmp_path)
    task = Task(
        "flaky",
        functools.partial(t.flaky, path, 4),
        retries=4,
        retry_delay=0.02,
        retry_backoff=2,
        max_retry_delay=0.05,
    )
    wf = Workflow("delays")
    wf.add_task(task)
    events, error = run(wf, make())
    assert error is None
    retry_events = [e for e in events if e.retry_in is not None]
    assert [e.status for e in retry_events] == [TaskStatus.RUNNING] * 4
    assert [e.retry_in for e in retry_events] == pytest.approx([0.02, 0.04, 0.05, 0.05])
    starts = [e for e in events if e.status is TaskStatus.RUNNING and e.retry_in is None]
    assert [e.attempt for e in starts] == [1, 2, 3, 4, 5]
    for failed, restarted in zip(retry_events, starts[1:], strict=True):
        assert failed.retry_in is not None
        assert restarted.time - failed.time >= failed.retry_in - 0.005


def test_retry_on_restricts_which_exceptions_are_retried(make: Make, tmp_path: Path) -> None:
    retried_path = counter(tmp_path, "retried")
    not_retried_path = counter(tmp_path, "not-retried")
    wf = Workflow("retry-on")
    wf.add_task(
        Task(
            "retried",
            functools.partial(t.flaky, retried_path, 1, "ValueError"),
            retries=2,
            retry_on=(ValueError,),
        )
    )
    wf.add_task(
        Task(
            "not_retried",
            functools.partial(t.flaky, not_retried_path, 1, "KeyError"),
            retries=2,
            retry_on=(ValueError,),
        )
    )
    _, error = run(wf, make())
    assert error is not None and set(error.failed_tasks) == {"not_retried"}
    assert calls(retried_path) == 2
    assert calls(not_retried_path) == 1
    assert wf.get_task_status("retried") is TaskStatus.COMPLETED


# -- timeouts --------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [t.counted_sleep, t.async_counted_sleep], ids=["sync", "async"])
def test_timeout_fails_the_attempt_is_retried_and_the_run_goes_on(
    make: Make, tmp_path: Path, fn: Callable[..., Any]
) -> None:
    path = counter(tmp_path)
    wf = Workflow("timeouts")
    wf.add_task(Task("stuck", functools.partial(fn, path, 5.0), timeout=0.5, retries=1))
    wf.add_task(Task("after", t.constant), depends_on=["stuck"])
    wf.add_task(Task("other", t.constant))
    events, error = run(wf, make())
    assert error is not None
    stuck = wf.get_task("stuck")
    assert stuck is not None
    assert stuck.status is TaskStatus.FAILED
    assert "timed out after 0.5s" in (stuck.error or "")
    assert "timed out after 0.5s" in str(error)
    assert stuck.attempts == 2
    assert calls(path) == 2
    retry = [e for e in of(events, "stuck") if e.retry_in is not None]
    assert len(retry) == 1 and "timed out after 0.5s" in (retry[0].error or "")
    assert statuses(wf)["after"] is TaskStatus.SKIPPED
    assert statuses(wf)["other"] is TaskStatus.COMPLETED
    first_start = of(events, "stuck")[0]
    assert retry[0].time - first_start.time >= 0.5 - 0.005
    assert retry[0].time - first_start.time < 4.0  # did not wait for the 5 s call


def test_a_late_result_of_a_timed_out_attempt_is_ignored(make: Make, tmp_path: Path) -> None:
    path = counter(tmp_path)
    wf = Workflow("late")
    wf.add_task(Task("t", functools.partial(t.slow_first_call, path, 2.0), timeout=0.5, retries=1))
    wf.add_task(Task("after", functools.partial(t.sleep_then, 2.0)), depends_on=["t"])
    events, error = run(wf, make())
    assert error is None
    assert wf.get_task_result("t") == "fresh"
    assert [(e.status, e.attempt) for e in of(events, "t")][-1] == (TaskStatus.COMPLETED, 2)
    assert len([e for e in of(events, "t") if e.status is TaskStatus.COMPLETED]) == 1


# -- callbacks, observers, events --------------------------------------------------------


def test_raising_callbacks_and_observers_do_not_change_the_run(make: Make, tmp_path: Path) -> None:
    def bad_status(name: str, status: TaskStatus) -> None:
        raise RuntimeError("status callback broke")

    def bad_retry(name: str, attempt: int) -> None:
        raise RuntimeError("retry callback broke")

    def bad_observer(event: TaskEvent) -> None:
        raise RuntimeError("observer broke")

    path = counter(tmp_path)
    wf = Workflow("callbacks")
    wf.add_task(
        Task(
            "flaky",
            functools.partial(t.flaky, path, 1),
            retries=1,
            on_status_change=bad_status,
            on_retry=bad_retry,
        )
    )
    wf.add_task(Task("double", t.constant, on_status_change=bad_status), depends_on=["flaky"])
    wf.subscribe(bad_observer)
    events, error = run(wf, make())
    assert error is None
    assert statuses(wf) == {"flaky": TaskStatus.COMPLETED, "double": TaskStatus.COMPLETED}
    assert wf.get_task_result("flaky") == "ok after 2"
    assert calls(path) == 2
    # the observer subscribed after the raising one still saw everything
    assert [e.status for e in of(events, "double")] == [TaskStatus.RUNNING, TaskStatus.COMPLETED]


def test_on_status_change_sees_every_transition(make: Make, tmp_path: Path) -> None:
    seen: dict[str, list[TaskStatus]] = {}

    def record(name: str, status: TaskStatus) -> None:
        seen.setdefault(name, []).append(status)

    path = counter(tmp_path)
    wf = Workflow("transitions")
    wf.add_task(Task("ok", t.constant, on_status_change=record))
    wf.add_task(
        Task("bad", functools.partial(t.flaky, path, 9), retries=1, on_status_change=record)
    )
    wf.add_task(Task("skipped", t.constant, on_status_change=record), depends_on=["bad"])
    run(wf, make())
    assert seen == {
        "ok": [TaskStatus.RUNNING, TaskStatus.COMPLETED],
        "bad": [TaskStatus.RUNNING, TaskStatus.FAILED],
        "skipped": [TaskStatus.SKIPPED],
    }


def test_events_arrive_in_order_for_each_task(make: Make, tmp_path: Path) -> None:
    path = counter(tmp_path)
    wf = Workflow("events")
    wf.add_task(Task("a", t.source))
    wf.add_task(Task("b", functools.partial(t.flaky, path, 1), retries=2), depends_on=["a"])
    wf.add_task(Task("c", t.fail))
    wf.add_task(Task("d", t.constant), depends_on=["c"])
    wf.add_task(Task("e", t.async_double, inputs={"source": "a"}))
    events, _ = run(wf, make())
    for name in "abcde":
        mine = of(events, name)
        finals = [e for e in mine if e.status in FINAL]
        assert len(finals) == 1 and mine[-1] is finals[0], mine
        times = [e.time for e in mine]
        assert times == sorted(times)
        attempts = [e.attempt for e in mine]
        assert attempts == sorted(attempts)
        if mine[0].status is TaskStatus.RUNNING:
            assert mine[0].attempt == 1 and mine[0].retry_in is None
    assert [(e.status, e.attempt, e.retry_in is not None) for e in of(events, "b")] == [
        (TaskStatus.RUNNING, 1, False),
        (TaskStatus.RUNNING, 1, True),
        (TaskStatus.RUNNING, 2, False),
        (TaskStatus.COMPLETED, 2, False),
    ]
    assert [e.status for e in of(events, "d")] == [TaskStatus.SKIPPED]
    assert index_of(events, "a", TaskStatus.COMPLETED) < index_of(events, "b", TaskStatus.RUNNING)
    failed = of(events, "c")[-1]
    assert failed.error == "ValueError: boom" and failed.duration is not None


def test_a_second_run_starts_every_task_from_pending(make: Make, tmp_path: Path) -> None:
    path = counter(tmp_path)
    wf = Workflow("rerun")
    wf.add_task(Task("first", functools.partial(t.flaky, path, 1)))
    wf.add_task(Task("second", t.constant), depends_on=["first"])
    executor = make()
    _, error = run(wf, executor)
    assert error is not None
    assert statuses(wf) == {"first": TaskStatus.FAILED, "second": TaskStatus.SKIPPED}
    events, error = run(wf, executor)
    assert error is None
    assert statuses(wf) == {"first": TaskStatus.COMPLETED, "second": TaskStatus.COMPLETED}
    first = wf.get_task("first")
    assert first is not None and first.error is None and first.attempts == 1
    assert [(e.status, e.attempt) for e in of(events, "first")] == [
        (TaskStatus.RUNNING, 1),
        (TaskStatus.COMPLETED, 1),
    ]
    stats = wf.get_workflow_stats()
    assert (stats["completed"], stats["failed"], stats["skipped"], stats["retries"]) == (2, 0, 0, 0)


# -- task code can't stop the engine --------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "kind"),
    [
        (t.raise_system_exit, "SystemExit"),
        (t.raise_keyboard_interrupt, "KeyboardInterrupt"),
        (t.raise_custom_base, "CustomBaseError"),
        (t.async_raise_system_exit, "SystemExit"),
        (t.async_raise_keyboard_interrupt, "KeyboardInterrupt"),
        (t.async_raise_custom_base, "CustomBaseError"),
    ],
    ids=["exit", "interrupt", "base", "async-exit", "async-interrupt", "async-base"],
)
def test_a_task_raising_a_base_exception_fails_only_itself(
    make: Make, fn: Callable[..., Any], kind: str
) -> None:
    wf = Workflow("base")
    wf.add_task(Task("rogue", fn))
    wf.add_task(Task("below", t.constant), depends_on=["rogue"])
    wf.add_task(Task("other", t.source))
    wf.add_task(Task("other2", t.double, inputs={"source": "other"}))
    _, error = run(wf, make())
    assert error is not None and set(error.failed_tasks) == {"rogue"}
    assert kind in (wf.get_task("rogue").error or "")  # type: ignore[union-attr]
    assert statuses(wf) == {
        "rogue": TaskStatus.FAILED,
        "below": TaskStatus.SKIPPED,
        "other": TaskStatus.COMPLETED,
        "other2": TaskStatus.COMPLETED,
    }


# -- stats -------------------------------------------------------------------------------------


def test_stats_count_every_outcome(make: Make, tmp_path: Path) -> None:
    wf = Workflow("stats")
    wf.add_task(Task("ok", t.constant))
    wf.add_task(Task("bad", functools.partial(t.flaky, counter(tmp_path), 9), retries=2))
    wf.add_task(Task("skipped", t.constant), depends_on=["bad"])
    before = wf.get_workflow_stats()
    assert set(before) >= STAT_KEYS
    assert (before["total_tasks"], before["pending"], before["completed"]) == (3, 3, 0)
    run(wf, make())
    stats = wf.get_workflow_stats()
    assert set(stats) >= STAT_KEYS
    assert {k: stats[k] for k in STAT_KEYS - {"total_time_seconds"}} == {
        "total_tasks": 3,
        "completed": 1,
        "failed": 1,
        "skipped": 1,
        "cancelled": 0,
        "pending": 0,
        "running": 0,
        "retries": 2,
    }
    assert isinstance(stats["total_time_seconds"], float)
    assert stats["total_time_seconds"] > 0


# -- run_if, when, allow_failure, handlers (SPEC 7) -------------------------------------


def test_always_tasks_run_after_sigint_and_the_run_is_still_interrupted(make: Make) -> None:
    wf = Workflow("cleanup")
    wf.add_task(Task("first", functools.partial(t.sleep_then, 2.0)))
    wf.add_task(Task("second", t.constant), depends_on=["first"])
    wf.add_task(Task("clean", t.received, run_if="always"), depends_on=["first", "second"])
    wf.add_task(Task("after", t.constant), depends_on=["clean"])

    def ctrl_c(event: TaskEvent) -> None:  # on the loop's thread, as a real Ctrl-C lands
        if event.task == "first" and event.status is TaskStatus.RUNNING:
            signal.raise_signal(signal.SIGINT)

    wf.subscribe(ctrl_c)
    with pytest.raises(RunInterrupted) as caught:
        make().execute(wf)
    assert caught.value.exit_code == 130
    assert statuses(wf) == {
        "first": TaskStatus.CANCELLED,
        "second": TaskStatus.CANCELLED,
        "clean": TaskStatus.COMPLETED,
        "after": TaskStatus.CANCELLED,
    }
    assert wf.get_task_result("clean") == {"first": None, "second": None}
    assert wf.get_all_tasks()["second"].error == "interrupted by SIGINT"


def test_when_predicates_run_on_the_executors_workers(make: Make, tmp_path: Path) -> None:
    log = counter(tmp_path, "predicates")
    wf = Workflow("conditions")
    wf.add_task(Task("source", t.source))
    wf.add_task(Task("yes", t.where, when=functools.partial(t.predicate_at, log, True)))
    wf.add_task(Task("no", t.where, when=functools.partial(t.predicate_at, log, False)))
    wf.add_task(Task("even", t.double, when=t.predicate_of_source), depends_on=["source"])
    wf.add_task(Task("below_no", t.received, run_if="no_failure"), depends_on=["no"])
    executor = make()
    events, error = run(wf, executor)
    assert error is None
    assert statuses(wf) == {
        "source": TaskStatus.COMPLETED,
        "yes": TaskStatus.COMPLETED,
        "no": TaskStatus.SKIPPED,
        "even": TaskStatus.COMPLETED,
        "below_no": TaskStatus.SKIPPED,
    }
    assert wf.get_task_result("even") == 4
    assert [(e.reason, e.error) for e in of(events, "no") if e.status is TaskStatus.SKIPPED] == [
        ("condition false", "condition false")
    ]
    assert wf.get_all_tasks()["below_no"].error == "rule not met"
    # each predicate ran where tasks run: off the loop's thread (or process), but on the
    # sequential executor, which runs everything on the calling thread
    places = set(Path(log).read_text().splitlines())
    loop_place = t.where()
    if isinstance(executor, SequentialExecutor):
        assert places == {loop_place}
    else:
        assert loop_place not in places, places


def test_a_predicate_that_raises_fails_its_task_without_retries(make: Make) -> None:
    wf = Workflow("broken-condition")
    wf.add_task(Task("guarded", t.constant, retries=3, when=t.broken_predicate))
    wf.add_task(Task("after", t.constant), depends_on=["guarded"])
    _, error = run(wf, make())
    assert error is not None and set(error.failed_tasks) == {"guarded"}
    guarded = wf.get_all_tasks()["guarded"]
    assert (guarded.status, guarded.attempts) == (TaskStatus.FAILED, 1)
    assert guarded.error == "LookupError: no flag"
    assert wf.get_all_tasks()["after"].error == "upstream failed"


def test_an_allowed_failure_does_not_fail_the_run(make: Make) -> None:
    wf = Workflow("allowed")
    wf.add_task(Task("lint", t.fail, allow_failure=True))
    wf.add_task(Task("report", t.received, run_if="done"), depends_on=["lint"])
    wf.add_task(Task("on_lint_failure", t.constant, run_if="failure"), depends_on=["lint"])
    events, error = run(wf, make())
    assert error is None
    assert statuses(wf) == {
        "lint": TaskStatus.FAILED,
        "report": TaskStatus.COMPLETED,
        "on_lint_failure": TaskStatus.COMPLETED,
    }
    assert wf.get_task_result("report") == {"lint": None}
    assert [e.allowed for e in of(events, "lint") if e.status is TaskStatus.FAILED] == [True]
    stats = wf.get_workflow_stats()
    assert (stats["failed"], stats["allowed_failures"]) == (1, 1)


def test_handlers_get_the_run_dict(make: Make, tmp_path: Path) -> None:
    log = counter(tmp_path, "handlers")
    handlers = {
        "on_failure": functools.partial(t.record_run, log),
        "on_success": functools.partial(t.record_run, log),
        "on_exit": Task("ignored", functools.partial(t.record_run, log)),
    }
    wf = Workflow("handled", handlers=handlers)
    wf.add_task(Task("ok", t.constant))
    wf.add_task(Task("bad", t.fail))
    wf.add_task(Task("lint", t.fail, allow_failure=True))
    _, error = run(wf, make())
    assert error is not None
    runs = [json.loads(line) for line in Path(log).read_text().splitlines()]
    assert [o.name for o in wf.last_handlers] == ["on_failure", "on_exit"]
    assert [o.status for o in wf.last_handlers] == ["completed", "completed"]
    assert len(runs) == 2 and runs[0] == runs[1]
    info = runs[0]
    assert (info["workflow"], info["status"], info["exit_code"]) == ("handled", "failed", 1)
    assert info["failed"] == {"bad": "ValueError: boom"}
    assert info["allowed_failures"] == {"lint": "ValueError: boom"}
    assert info["stats"]["completed"] == 1 and info["stats"]["allowed_failures"] == 1
    assert info["run_id"] is None and info["previous_status"] is None  # no history here


# -- folders: workdir and writes (see flowweaver.folders) ------------------------------


def test_every_task_runs_in_its_folder_and_its_outputs_are_checked(
    make: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import _folder_tasks as ft

    from flowweaver.shell import ShellCommand

    monkeypatch.chdir(tmp_path)
    home, own = tmp_path / "home", tmp_path / "home" / "own"
    own.mkdir(parents=True)
    wf = Workflow("folders", workdir="home")
    wf.add_task(Task("py", ft.where))
    wf.add_task(Task("sh", ShellCommand(script="pwd")))
    wf.add_task(Task("sh-own", ShellCommand(script="pwd"), workdir="own"))
    wf.add_task(Task("wrote", functools.partial(ft.write, "a.txt"), writes=["a.txt"]))
    wf.add_task(Task("awaited", functools.partial(ft.write_later, "b.txt"), writes=["b.txt"]))
    wf.add_task(Task("forgot", ft.where, writes=["c.txt", "out/*.csv"]))
    _events, error = run(wf, make())
    assert error is not None and set(error.failed_tasks) == {"forgot"}
    assert "declared outputs missing: c.txt, out/*.csv" in error.failed_tasks["forgot"]
    results = {name: wf.get_task_result(name) for name in ("py", "sh", "sh-own")}
    assert results == {"py": str(home), "sh": str(home), "sh-own": str(own)}
    assert (home / "a.txt").read_text() == str(home) and (home / "b.txt").exists()
    assert Path.cwd() == tmp_path  # the process is back where it was


def test_python_tasks_in_different_folders(
    make: Make, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import _folder_tasks as ft

    monkeypatch.chdir(tmp_path)
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
    wf = Workflow("two-folders")
    wf.add_task(Task("a", ft.where, workdir="a"))
    wf.add_task(Task("b", ft.where, workdir="b"))
    wf.add_task(Task("here", ft.where))
    executor = make()
    if executor.folder_mode != "call":  # one process runs them together: refused at once
        with pytest.raises(InputError, match="need different folders"):
            executor.execute(wf)
        assert all(task.status is TaskStatus.PENDING for task in wf.get_all_tasks().values())
        return
    run(wf, executor)
    found = {name: wf.get_task_result(name) for name in ("a", "b", "here")}
    assert found == {"a": str(tmp_path / "a"), "b": str(tmp_path / "b"), "here": str(tmp_path)}
    assert Path.cwd() == tmp_path


def test_a_missing_folder_stops_the_run_before_it_starts(make: Make, tmp_path: Path) -> None:
    wf = Workflow("missing", workdir=tmp_path / "nowhere")
    wf.add_task(Task("a", t.constant))
    with pytest.raises(InputError, match="does not exist"):
        make().execute(wf)
    assert wf.get_task("a").status is TaskStatus.PENDING  # type: ignore[union-attr]
