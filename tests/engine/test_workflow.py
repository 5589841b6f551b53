"""The Workflow API, Task validation and TaskStatus."""

from __future__ import annotations

import asyncio
import functools
import inspect
from typing import Any

import pytest

from flowweaver import SequentialExecutor, Task, TaskEvent, TaskStatus, Workflow, WorkflowError
from flowweaver._call import accepted_keywords


def noop() -> None:
    return None


def names(layer: list[Task]) -> list[str]:
    return [task.name for task in layer]


def diamond() -> Workflow:
    wf = Workflow("diamond")
    wf.add_task(Task("a", noop))
    wf.add_task(Task("b", noop))
    wf.add_task(Task("c", noop), depends_on=["a", "b"])
    wf.add_task(Task("d", noop), depends_on=["c"])
    return wf


# -- add_task -------------------------------------------------------------------------


def test_duplicate_name_is_refused() -> None:
    wf = Workflow()
    wf.add_task(Task("a", noop))
    with pytest.raises(ValueError, match=r"duplicate.*'a'"):
        wf.add_task(Task("a", noop))
    assert len(wf.get_all_tasks()) == 1


def test_unknown_dependency_says_dependencies_must_be_added_first() -> None:
    wf = Workflow()
    wf.add_task(Task("a", noop))
    with pytest.raises(ValueError, match=r"unknown task 'ghost'") as info:
        wf.add_task(Task("b", noop), depends_on=["a", "ghost"])
    assert "'b'" in str(info.value)
    assert "dependencies must be added" in str(info.value) and "first" in str(info.value)
    assert wf.get_task("b") is None
    # the failed add left nothing behind: the name is still free
    wf.add_task(Task("b", noop), depends_on=["a"])
    assert wf.get_dependencies("b") == ["a"]


def test_self_dependency_is_refused_as_a_cycle() -> None:
    from flowweaver import CycleError

    wf = Workflow()
    with pytest.raises(CycleError, match=r"^task 'a' cannot depend on itself: a -> a$") as info:
        wf.add_task(Task("a", noop), depends_on=["a"])
    assert info.value.cycle == ["a", "a"]
    assert isinstance(info.value, ValueError)
    with pytest.raises(ValueError, match="itself"):
        wf.add_task(Task("a", noop, depends_on=["a"]))
    assert wf.get_all_tasks() == {}


def test_add_task_wants_a_task() -> None:
    with pytest.raises(TypeError):
        Workflow().add_task(noop)  # type: ignore[arg-type]


def test_dependencies_are_the_union_of_both_lists() -> None:
    wf = Workflow()
    for name in "abc":
        wf.add_task(Task(name, noop))
    wf.add_task(Task("d", noop, depends_on=["a", "b"]), depends_on=["b", "c"])
    assert sorted(wf.get_dependencies("d")) == ["a", "b", "c"]
    assert len(wf.get_dependencies("d")) == 3


def test_inputs_are_dependencies_too() -> None:
    wf = Workflow()
    wf.add_task(Task("a", noop))
    wf.add_task(Task("b", noop))
    wf.add_task(Task("c", lambda x: x, inputs={"x": "b"}), depends_on=["a"])
    assert sorted(wf.get_dependencies("c")) == ["a", "b"]
    with pytest.raises(ValueError, match="unknown task 'nope'"):
        wf.add_task(Task("d", lambda y: y, inputs={"y": "nope"}))


def test_inputs_and_name_matching_pass_results() -> None:
    wf = Workflow()
    wf.add_task(Task("numbers", lambda: [1, 2, 3]))

    def total(values: list[int]) -> int:
        return sum(values)

    def count(numbers: list[int]) -> int:
        return len(numbers)

    wf.add_task(Task("total", total, inputs={"values": "numbers"}))
    wf.add_task(Task("count", count), depends_on=["numbers"])
    SequentialExecutor().execute(wf)
    assert wf.get_task_result("total") == 6
    assert wf.get_task_result("count") == 3


def _shapes(
    a: int, b: int, /, c: int, d: int = 1, *args: int, e: int, g: int = 2, **kw: int
) -> None:
    return None


def _plain(x: int, y: int = 2, *, z: int) -> None:
    return None


@pytest.mark.parametrize(
    "fn",
    [
        functools.partial(_shapes, 1),
        functools.partial(_shapes, 1, 2, 3),
        functools.partial(_shapes, e=1),
        functools.partial(_plain, 1),
        functools.partial(_plain, y=3),
        functools.partial(functools.partial(_plain, 1), z=2),
        functools.partial(_plain),
    ],
)
def test_a_partial_offers_the_keywords_its_signature_does(fn: functools.partial[Any]) -> None:
    # a partial is read from its function's code; inspect.signature is the reference
    signature = inspect.signature(fn)
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    expected = {p.name for p in signature.parameters.values() if p.kind in kinds}
    names, var_kw = accepted_keywords(fn)
    assert names == expected - set(fn.keywords)
    assert var_kw == any(p.kind is p.VAR_KEYWORD for p in signature.parameters.values())


def test_a_partial_receives_upstream_results_by_name() -> None:
    def scale(factor: int, n: int) -> int:
        return factor * n

    wf = Workflow()
    wf.add_task(Task("n", lambda: 7))
    wf.add_task(Task("scaled", functools.partial(scale, 3)), depends_on=["n"])
    wf.add_task(Task("fixed", functools.partial(scale, n=5, factor=2)), depends_on=["n"])
    SequentialExecutor().execute(wf)
    assert wf.get_task_result("scaled") == 21
    assert wf.get_task_result("fixed") == 10  # its own keyword wins over the upstream result


# -- plan ------------------------------------------------------------------------------


def test_execution_plan_is_kahn_layers_in_added_order() -> None:
    wf = Workflow()
    wf.add_task(Task("z", noop))
    wf.add_task(Task("m", noop))
    wf.add_task(Task("a", noop), depends_on=["z"])
    wf.add_task(Task("b", noop), depends_on=["m", "a"])
    wf.add_task(Task("c", noop))
    plan = wf.get_execution_plan()
    assert [names(layer) for layer in plan] == [["z", "m", "c"], ["a"], ["b"]]
    assert all(isinstance(task, Task) for layer in plan for task in layer)


def test_design_document_plan() -> None:
    assert [names(layer) for layer in diamond().get_execution_plan()] == [["a", "b"], ["c"], ["d"]]
    assert Workflow().get_execution_plan() == []


# -- lookups ----------------------------------------------------------------------------


def test_get_task_result_is_none_until_completed_and_keyerror_for_unknown() -> None:
    wf = Workflow()
    wf.add_task(Task("a", lambda: 42))
    wf.add_task(Task("bad", lambda: 1 / 0))
    assert wf.get_task_result("a") is None
    with pytest.raises(KeyError, match="nope"):
        wf.get_task_result("nope")
    with pytest.raises(WorkflowError):
        SequentialExecutor().execute(wf)
    assert wf.get_task_result("a") == 42
    assert wf.get_task_result("bad") is None


def test_lookups() -> None:
    wf = diamond()
    c = wf.get_task("c")
    assert c is not None and c.name == "c"
    assert wf.get_task("nope") is None
    assert sorted(wf.get_dependencies("c")) == ["a", "b"]
    assert wf.get_dependencies("a") == []
    with pytest.raises(KeyError):
        wf.get_dependencies("nope")
    all_tasks = wf.get_all_tasks()
    assert list(all_tasks) == ["a", "b", "c", "d"]
    all_tasks.clear()  # a copy: the workflow keeps its tasks
    assert len(wf.get_all_tasks()) == 4
    assert wf.get_task_status("a") is TaskStatus.PENDING
    assert wf.get_task_status("nope") is None
    wf.execute()
    assert wf.get_task_status("d") is TaskStatus.COMPLETED


def test_execute_defaults_to_sequential_and_execute_async_runs_on_the_loop() -> None:
    wf = Workflow()
    wf.add_task(Task("a", lambda: 1))
    wf.execute()
    assert wf.get_task_result("a") == 1

    async def coro() -> str:
        return "async"

    wf2 = Workflow()
    wf2.add_task(Task("b", coro))
    asyncio.run(wf2.execute_async())
    assert wf2.get_task_result("b") == "async"


# -- observers ---------------------------------------------------------------------------


def test_subscribe_and_unsubscribe() -> None:
    wf = Workflow()
    wf.add_task(Task("a", noop))
    first: list[TaskEvent] = []
    second: list[TaskEvent] = []
    unsubscribe = wf.subscribe(first.append)
    wf.subscribe(second.append)
    wf.execute()
    assert [(e.task, e.status) for e in first] == [
        ("a", TaskStatus.RUNNING),
        ("a", TaskStatus.COMPLETED),
    ]
    assert first == second
    unsubscribe()
    unsubscribe()  # twice is harmless
    wf.execute()
    assert len(first) == 2
    assert len(second) == 4


def test_events_carry_name_status_attempt_time_and_error() -> None:
    wf = Workflow()
    wf.add_task(Task("bad", lambda: 1 / 0))
    events: list[TaskEvent] = []
    wf.subscribe(events.append)
    with pytest.raises(WorkflowError):
        wf.execute()
    last = events[-1]
    assert (last.task, last.status, last.attempt) == ("bad", TaskStatus.FAILED, 1)
    assert last.error == "ZeroDivisionError: division by zero"
    assert isinstance(last.time, float) and last.time > 1e9  # wall clock
    assert last.to_dict()["status"] == "failed"


# -- Task validation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"retries": -1}, ValueError),
        ({"timeout": 0}, ValueError),
        ({"timeout": -1.5}, ValueError),
        ({"retry_delay": -1}, ValueError),
        ({"max_retry_delay": 0}, ValueError),
        ({"retries": 1.5}, TypeError),
        ({"timeout": "5"}, TypeError),
        ({"retry_on": ("ValueError",)}, TypeError),
    ],
    ids=str,
)
def test_bad_task_fields_are_refused(options: dict[str, Any], error: type[Exception]) -> None:
    with pytest.raises(error):
        Task("t", noop, **options)


def test_empty_name_and_uncallable_fn_are_refused() -> None:
    with pytest.raises(ValueError, match="name"):
        Task("", noop)
    with pytest.raises(TypeError, match="callable"):
        Task("t", 42)  # type: ignore[arg-type]


def test_task_defaults() -> None:
    task = Task("t", noop)
    assert (task.retries, task.timeout, task.status, task.result, task.error) == (
        0,
        None,
        TaskStatus.PENDING,
        None,
        None,
    )
    assert (task.retry_delay, task.retry_backoff, task.max_retry_delay, task.retry_jitter) == (
        0,
        1,
        None,
        0,
    )
    assert task.depends_on == [] and task.inputs == {}
    assert task.retry_on == (Exception,)
    assert not task.is_async()

    async def coro() -> None:
        return None

    assert Task("c", coro).is_async()


def test_task_execute_runs_the_task_alone() -> None:
    task = Task("t", lambda: "alone")
    task.execute()
    assert (task.status, task.result) == (TaskStatus.COMPLETED, "alone")


def test_task_status_values() -> None:
    assert [s.value for s in TaskStatus] == [
        "pending",
        "running",
        "completed",
        "failed",
        "skipped",
        "cancelled",
    ]
    assert TaskStatus("running") is TaskStatus.RUNNING


def test_every_error_survives_pickling_as_itself() -> None:
    """Worker processes and Dask workers send errors back pickled."""
    import pickle

    from flowweaver import (
        CycleError,
        LockedError,
        Problem,
        RunInterrupted,
        RunTimeoutError,
        ShellCommandError,
        SpecError,
        TaskNotPicklableError,
        TaskTimeoutError,
        UnknownRunError,
        WorkerCrashedError,
        WorkflowError,
    )

    errors: list[BaseException] = [
        SpecError([Problem("a.yaml", 1, 2, "tasks", "bad")]),
        CycleError(["a", "b", "a"]),
        TaskNotPicklableError({"t": "a lambda"}),
        LockedError("w", "pid 1"),
        WorkflowError("w", {"t": "ValueError: x"}),
        RunTimeoutError("w", 30.0),
        RunInterrupted(15),
        TaskTimeoutError(5.0),
        WorkerCrashedError("died"),
        ShellCommandError("false", 1, ["oops"]),
        UnknownRunError("run 'x' is not in the history"),
    ]
    for error in errors:
        copy = pickle.loads(pickle.dumps(error))
        assert type(copy) is type(error)
        assert str(copy) == str(error)
        assert vars(copy) == vars(error)


class _Doubler:
    def __call__(self, root: int) -> int:
        return 2 * root


def test_a_builtin_or_class_is_asked_its_signature_once_not_every_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # inspect.signature of a C function parses its text signature: about 100 µs a task
    # on every run when it was asked each time
    import operator
    from collections import Counter

    asked: list[object] = []
    real = inspect.signature

    def counting(fn: Any, **kwargs: Any) -> inspect.Signature:
        asked.append(fn)
        return real(fn, **kwargs)

    monkeypatch.setattr(inspect, "signature", counting)
    wf = Workflow()
    wf.add_task(Task("root", lambda: 1))
    for i in range(20):
        wf.add_task(Task(f"truth-{i}", functools.partial(operator.truth, i)), depends_on=["root"])
        wf.add_task(Task(f"abs-{i}", functools.partial(abs, -i)), depends_on=["root"])
        wf.add_task(Task(f"counter-{i}", Counter), depends_on=["root"])
    wf.add_task(Task("doubled", _Doubler()), depends_on=["root"])
    wf.execute()  # the first run asks each kind of callable once
    for _ in range(2):
        del asked[:]
        wf.execute()
        assert wf.get_task_result("abs-3") == 3
        assert wf.get_task_result("truth-0") is False
        assert wf.get_task_result("counter-0") == Counter(root=1)  # it takes **kwargs
        assert wf.get_task_result("doubled") == 2
        # an instance is asked each run (its answer could change); the others never again
        assert asked
        assert [fn for fn in asked if not isinstance(fn, _Doubler)] == []


def test_a_subset_keeps_the_settings_and_the_listeners_with_the_wanted_tasks() -> None:
    workflow = Workflow("w", "d", timeout=5, keep_runs=2, pools={"db": 1}, workdir="/tmp")
    seen: list[str] = []
    workflow.subscribe(lambda event: seen.append(event.task))
    workflow.wrap_attempts(lambda attempt: seen.append(f"wrap {attempt.name}"))
    workflow.add_task(Task("a", lambda: 1))
    workflow.add_task(Task("b", lambda a: a + 1, depends_on=["a"]))
    workflow.add_task(Task("c", lambda: 3))
    part = workflow.subset({"a", "b"})
    assert list(part.get_all_tasks()) == ["a", "b"]
    assert (part.name, part.description, part.timeout, part.keep_runs, part.workdir) == (
        "w",
        "d",
        5,
        2,
        "/tmp",
    )
    assert part.pools == workflow.pools
    SequentialExecutor().execute(part)
    assert "wrap a" in seen and "b" in seen and "c" not in seen
