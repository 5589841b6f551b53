"""Random DAGs: plans are topological orders, cycles are always found, and every
executor ends a run in the same states with the same results.

Task functions are module-level so that the process executor's workers can import
them (``conftest`` puts ``tests/`` on their ``PYTHONPATH``).
"""

from __future__ import annotations

import functools
import graphlib
import hashlib
import itertools
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowweaver import (
    AsyncExecutor,
    SequentialExecutor,
    SpecError,
    Task,
    TaskStatus,
    ThreadedExecutor,
    Workflow,
    WorkflowError,
)
from flowweaver.executors.base import Executor
from flowweaver.executors.process import ProcessExecutor
from flowweaver.graph import find_cycle
from flowweaver.spec import load_workflow

Dag = dict[str, list[str]]  # task -> the tasks it depends on, in an order they can be added


def node(name: str, fail: bool, **upstream: Any) -> str:
    """A task whose result depends on its name and on every result it receives."""
    if fail:
        raise ValueError(f"{name} fails on purpose")
    digest = hashlib.sha256(repr(sorted(upstream.items())).encode()).hexdigest()[:12]
    return f"{name}:{digest}"


@st.composite
def dags(draw: st.DrawFn, max_nodes: int = 10) -> Dag:
    """A random DAG: node i may depend on any node before it."""
    size = draw(st.integers(1, max_nodes))
    names = [f"t{i}" for i in range(size)]
    dag: Dag = {}
    for i, name in enumerate(names):
        ups = draw(st.lists(st.sampled_from(names[:i]), unique=True, max_size=3)) if i else []
        dag[name] = ups
    return dag


def build(dag: Dag, failing: set[str]) -> Workflow:
    workflow = Workflow("random")
    for name, ups in dag.items():
        fn = functools.partial(node, name, name in failing)
        workflow.add_task(Task(name, fn), depends_on=list(ups))
    return workflow


def expected_states(dag: Dag, failing: set[str]) -> dict[str, TaskStatus]:
    """The default failure policy, by hand: a failure skips everything below it."""
    states: dict[str, TaskStatus] = {}
    for name, ups in dag.items():
        if any(states[up] is not TaskStatus.COMPLETED for up in ups):
            states[name] = TaskStatus.SKIPPED
        elif name in failing:
            states[name] = TaskStatus.FAILED
        else:
            states[name] = TaskStatus.COMPLETED
    return states


def outcome(workflow: Workflow, executor: Executor) -> tuple[dict[str, Any], set[str]]:
    failed: set[str] = set()
    try:
        executor.execute(workflow)
    except WorkflowError as exc:
        failed = set(exc.failed_tasks)
    final = {
        name: (task.status, task.result if task.status is TaskStatus.COMPLETED else None)
        for name, task in workflow.get_all_tasks().items()
    }
    return final, failed


def check_plan(plan: list[list[str]], dag: Dag) -> None:
    """Each task once; every dependency in an earlier layer; each task in the first
    layer its dependencies allow (Kahn layers)."""
    flat = [name for layer in plan for name in layer]
    assert sorted(flat) == sorted(dag), plan
    layer_of = {name: i for i, layer in enumerate(plan) for name in layer}
    for name, ups in dag.items():
        assert all(layer_of[up] < layer_of[name] for up in ups), (name, plan)
        assert layer_of[name] == (1 + max(layer_of[up] for up in ups) if ups else 0)


small = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@small
@given(dags(max_nodes=25))
def test_the_plan_is_a_topological_order_with_each_task_once(dag: Dag) -> None:
    workflow = build(dag, set())
    plan = [[task.name for task in layer] for layer in workflow.get_execution_plan()]
    check_plan(plan, dag)
    # within a layer, tasks keep the order they were added in
    order = list(dag)
    for layer in plan:
        assert layer == sorted(layer, key=order.index)


@small
@given(dags(max_nodes=25), st.data())
def test_repeats_count_once_and_plans_follow_each_addition(dag: Dag, data: st.DataObject) -> None:
    """Dependencies named twice (in ``depends_on`` and in ``add_task``'s argument) count
    once, in first-named order; a refused addition leaves nothing behind; the plan and
    the graph asked for between additions are those of the tasks added so far."""
    workflow = Workflow("random")
    added: Dag = {}
    for name, ups in dag.items():
        again = data.draw(st.lists(st.sampled_from(ups), max_size=2)) if ups else []
        workflow.add_task(Task(name, str, depends_on=[*ups, *again]), depends_on=list(again))
        added[name] = ups
        assert workflow.get_dependencies(name) == ups
        if data.draw(st.booleans()):
            with pytest.raises(ValueError, match="unknown task 'ghost'"):
                workflow.add_task(Task("late", str, depends_on=[*ups, "ghost"]))
            assert "late" not in workflow
            check_plan([[t.name for t in layer] for layer in workflow.get_execution_plan()], added)
            graph = workflow.graph()
            names = list(added)
            for i, child_ids in enumerate(graph.children):
                below = {names[c] for c in child_ids}
                assert below == {n for n, deps in added.items() if names[i] in deps}
                assert len(child_ids) == len(below)
            assert graph.depth == [float(len(check_layers(added)[n])) for n in names]
    check_plan([[t.name for t in layer] for layer in workflow.get_execution_plan()], added)


def check_layers(dag: Dag) -> dict[str, list[str]]:
    """Each task's longest chain of dependencies above it, by hand (its layer's length)."""
    chain: dict[str, list[str]] = {}
    for name, ups in dag.items():
        chain[name] = max((chain[up] + [up] for up in ups), key=len, default=[])
    return chain


def write_spec(path: Path, dag: Dag, order: list[str]) -> None:
    lines = ["name: random", "tasks:"]
    for name in order:
        ups = ", ".join(dag[name])
        lines.append(f"  {name}: {{shell: 'true', depends_on: [{ups}]}}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@small
@given(dags(max_nodes=20), st.randoms(use_true_random=False))
def test_a_spec_in_any_task_order_plans_as_a_topological_order(
    tmp_path: Path, dag: Dag, rnd: Any
) -> None:
    order = list(dag)
    rnd.shuffle(order)
    spec = tmp_path / "random.yaml"
    write_spec(spec, dag, order)
    workflow = load_workflow(spec, check_imports=False)
    plan = [[task.name for task in layer] for layer in workflow.get_execution_plan()]
    check_plan(plan, dag)


CYCLE = re.compile(r"circular dependency: (.+)$")


def assert_is_a_cycle(path: list[str], deps: dict[str, list[str]]) -> None:
    assert len(path) >= 2 and path[0] == path[-1], path
    for here, there in itertools.pairwise(path):
        assert there in deps[here], (path, deps)


@small
@given(dags(max_nodes=15), st.data())
def test_a_cycle_in_a_spec_is_always_found_with_its_path(
    tmp_path: Path, dag: Dag, data: st.DataObject
) -> None:
    names = list(dag)
    # a back edge from an ancestor-or-self to a descendant closes a cycle
    low = data.draw(st.sampled_from(names))
    below = [n for n in names if low in _ancestors(dag, n) | {n}]
    high = data.draw(st.sampled_from(below))
    deps = {name: list(ups) for name, ups in dag.items()}
    if high == low:
        other = data.draw(st.sampled_from(names))
        if other == low:
            return  # a self-dependency is its own, tested, problem
        deps[other].append(low)
        deps[low].append(other)
    else:
        deps[low].append(high)
    order = list(dag)
    data.draw(st.randoms(use_true_random=False)).shuffle(order)
    spec = tmp_path / "cyclic.yaml"
    write_spec(spec, deps, order)
    with pytest.raises(SpecError) as caught:
        load_workflow(spec, check_imports=False)
    cycles = [CYCLE.search(p.message) for p in caught.value.problems]
    found = [m.group(1).split(" -> ") for m in cycles if m]
    assert found, [str(p) for p in caught.value.problems]
    for path in found:
        assert_is_a_cycle(path, deps)


def _ancestors(dag: Dag, name: str) -> set[str]:
    seen: set[str] = set()
    todo = list(dag[name])
    while todo:
        up = todo.pop()
        if up not in seen:
            seen.add(up)
            todo.extend(dag[up])
    return seen


@settings(max_examples=150, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from([f"n{i}" for i in range(8)]),
        st.lists(st.sampled_from([f"n{i}" for i in range(9)]), max_size=3),
        max_size=8,
    )
)
def test_find_cycle_agrees_with_graphlib(deps: dict[str, list[str]]) -> None:
    known = {name: [d for d in ups if d in deps] for name, ups in deps.items()}
    try:
        graphlib.TopologicalSorter(known).prepare()
        acyclic = True
    except graphlib.CycleError:
        acyclic = False
    cycle = find_cycle(deps)
    assert (cycle is None) == acyclic, (deps, cycle)
    if cycle is not None:
        assert_is_a_cycle(cycle, known)


# -- every executor, the same outcome -------------------------------------------------

THREAD_BASED: dict[str, Callable[[], Executor]] = {
    "sequential": SequentialExecutor,
    "threaded": lambda: ThreadedExecutor(3),
    "async": AsyncExecutor,
}


@st.composite
def dags_with_failures(draw: st.DrawFn, max_nodes: int) -> tuple[Dag, set[str]]:
    dag = draw(dags(max_nodes=max_nodes))
    failing = set(draw(st.lists(st.sampled_from(list(dag)), max_size=3)))
    return dag, failing


@settings(max_examples=40, deadline=None)
@given(dags_with_failures(max_nodes=12))
def test_thread_based_executors_agree_with_the_failure_policy(case: tuple[Dag, set[str]]) -> None:
    dag, failing = case
    expected = expected_states(dag, failing)
    outcomes = {}
    for kind, make in THREAD_BASED.items():
        final, failed = outcome(build(dag, failing), make())
        assert {name: state for name, (state, _) in final.items()} == expected, kind
        assert failed == {n for n, s in expected.items() if s is TaskStatus.FAILED}, kind
        outcomes[kind] = final
    assert outcomes["threaded"] == outcomes["sequential"] == outcomes["async"]


@pytest.fixture(scope="module")
def process_executor() -> Iterator[ProcessExecutor]:
    executor = ProcessExecutor(2)
    yield executor
    close = getattr(executor, "close", None) or getattr(executor, "shutdown", None)
    if callable(close):
        close()


# Spawning worker processes costs about a second a run: a handful of examples.
@settings(
    max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(dags_with_failures(max_nodes=8))
def test_the_process_executor_agrees_with_the_sequential_one(
    process_executor: ProcessExecutor, case: tuple[Dag, set[str]]
) -> None:
    dag, failing = case
    reference, _ = outcome(build(dag, failing), SequentialExecutor())
    final, failed = outcome(build(dag, failing), process_executor)
    assert final == reference
    assert {name: state for name, (state, _) in final.items()} == expected_states(dag, failing)
    assert failed == {n for n, (s, _) in reference.items() if s is TaskStatus.FAILED}
