"""The pure state machine (``flowweaver.engine.Engine``) and the graph helpers.

The engine is driven by hand with a fake ``now``: no threads, no sleeps.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowweaver import Task, TaskStatus, graph
from flowweaver.engine import Engine
from flowweaver.events import TaskEvent

S = TaskStatus


def noop() -> None:
    return None


def tasks_named(*names: str, **options: object) -> list[Task]:
    return [Task(name, noop, **options) for name in names]  # type: ignore[arg-type]


def longest_first(parents: Sequence[Sequence[int]]) -> list[float]:
    return [-w for w in graph.longest_path_below(parents)]


class Probe(Engine):
    """The engine, with what these tests look at: its outbox of events, every task's
    status and attempt number, and a batch start (the run starts one task at a time)."""

    def __init__(
        self,
        tasks: list[Task],
        parents: Sequence[Sequence[int]],
        order: Sequence[float],
        *,
        record_events: bool = True,
        **options: object,
    ) -> None:
        self.tasks = tasks
        self.events: list[TaskEvent] = []
        self.event_nodes: list[int] = []
        outbox = (self.events, self.event_nodes) if record_events else None
        super().__init__(tasks, parents, order, outbox=outbox, **options)  # type: ignore[arg-type]

    @property
    def status(self) -> list[TaskStatus]:
        return [task.status for task in self.tasks]

    @property
    def attempt(self) -> list[int]:
        return [task.attempts for task in self.tasks]

    def start(self, now: float, limit: int) -> list[int]:
        """Start up to ``limit`` ready tasks, best first; their positions."""
        started: list[int] = []
        while len(started) < limit and (node := self.start_next(now)) >= 0:
            started.append(node)
        return started


def make_engine(
    tasks: list[Task],
    parents: Sequence[Sequence[int]],
    order: Sequence[float] | None = None,
    **options: object,
) -> Probe:
    return Probe(
        tasks,
        parents,
        order if order is not None else longest_first(parents),
        **options,
    )


def drain(engine: Probe) -> list[TaskEvent]:
    events = list(engine.events)
    engine.events.clear()
    return events


# -- ready order ----------------------------------------------------------------------


def test_longest_path_starts_first() -> None:
    # a alone; b -> c -> d: b heads the longest chain and starts before a
    tasks = tasks_named("a", "b", "c", "d")
    parents = [[], [], [1], [2]]
    engine = make_engine(tasks, parents)
    assert engine.start(0.0, 1) == [1]
    assert engine.start(0.0, 1) == [0]
    assert engine.start(0.0, 5) == []  # c waits for b
    engine.succeed(1, 1.0)
    assert engine.start(1.0, 5) == [2]


def test_plan_order_keys_start_by_depth_then_position() -> None:
    tasks = tasks_named("a", "b", "c", "d")
    parents = [[], [], [1], [2]]
    depth = [0.0, 0.0, 1.0, 2.0]
    engine = make_engine(tasks, parents, depth)
    assert engine.start(0.0, 1) == [0]
    assert engine.start(0.0, 1) == [1]


def test_start_respects_the_limit_and_emits_running_events() -> None:
    engine = make_engine(tasks_named("a", "b", "c"), [[], [], []], wall_offset=100.0)
    assert engine.start(2.0, 2) == [0, 1]
    assert engine.executing == 2
    events = drain(engine)
    assert [(e.task, e.status, e.attempt, e.time) for e in events] == [
        ("a", S.RUNNING, 1, 102.0),
        ("b", S.RUNNING, 1, 102.0),
    ]
    assert engine.status == [S.RUNNING, S.RUNNING, S.PENDING]


def test_a_task_becomes_ready_when_all_its_parents_completed() -> None:
    engine = make_engine(tasks_named("a", "b", "c"), [[], [], [0, 1]])
    assert sorted(engine.start(0.0, 9)) == [0, 1]
    engine.succeed(0, 1.0)
    assert not engine.has_ready(1.0)
    engine.succeed(1, 2.0)
    assert engine.has_ready(2.0)
    assert engine.start(2.0, 9) == [2]
    engine.succeed(2, 3.0)
    assert engine.finished
    completed = [e for e in drain(engine) if e.status is S.COMPLETED]
    assert [(e.task, e.duration) for e in completed] == [("a", 1.0), ("b", 2.0), ("c", 1.0)]


# -- retries --------------------------------------------------------------------------


def test_retry_waits_its_delay_with_backoff_and_cap() -> None:
    task = Task("t", noop, retries=3, retry_delay=1.0, retry_backoff=2.0, max_retry_delay=3.0)
    engine = make_engine([task], [[]])
    now = 0.0
    delays = []
    for attempt in (1, 2, 3):
        assert engine.start(now, 1) == [0]
        assert engine.attempt[0] == attempt
        engine.fail(0, now + 0.5, "ValueError: x", retryable=True)
        event = drain(engine)[-1]
        assert (event.status, event.attempt, event.error) == (S.RUNNING, attempt, "ValueError: x")
        assert event.retry_in is not None
        delays.append(event.retry_in)
        due = now + 0.5 + event.retry_in
        assert engine.next_wakeup() == pytest.approx(due)
        assert not engine.has_ready(due - 1e-6)
        assert engine.start(due - 1e-6, 1) == []
        assert engine.has_ready(due)
        now = due
    assert delays == [1.0, 2.0, 3.0]
    assert engine.status[0] is S.RUNNING  # between attempts the task stays RUNNING
    assert engine.start(now, 1) == [0]
    engine.fail(0, now + 1, "ValueError: last", retryable=True)
    final = drain(engine)[-1]
    assert (final.status, final.attempt, final.error) == (S.FAILED, 4, "ValueError: last")
    assert engine.finished


def test_not_retryable_fails_at_once() -> None:
    engine = make_engine(tasks_named("t", retries=5), [[]])
    engine.start(0.0, 1)
    engine.fail(0, 1.0, "KeyError: k", retryable=False)
    assert engine.status == [S.FAILED]
    assert engine.attempt == [1]


def test_zero_delay_retry_is_ready_at_once() -> None:
    engine = make_engine(tasks_named("t", retries=1), [[]])
    engine.start(0.0, 1)
    engine.fail(0, 1.0, "E", retryable=True)
    assert engine.has_ready(1.0)
    assert engine.start(1.0, 1) == [0]
    engine.succeed(0, 2.0)
    events = drain(engine)
    assert [(e.status, e.attempt) for e in events] == [
        (S.RUNNING, 1),
        (S.RUNNING, 1),
        (S.RUNNING, 2),
        (S.COMPLETED, 2),
    ]
    assert events[-1].duration == 2.0  # from the first start


@pytest.mark.parametrize("seed", range(20))
def test_jitter_stays_within_its_fraction(seed: int) -> None:
    task = Task("t", noop, retries=1, retry_delay=10.0, retry_jitter=0.1)
    engine = make_engine([task], [[]], rng=random.Random(seed))
    engine.start(0.0, 1)
    engine.fail(0, 0.0, "E", retryable=True)
    retry_in = drain(engine)[-1].retry_in
    assert retry_in is not None and 9.0 <= retry_in <= 11.0


def test_jitter_spreads_the_delays() -> None:
    seen = set()
    for seed in range(10):
        task = Task("t", noop, retries=1, retry_delay=10.0, retry_jitter=0.5)
        engine = make_engine([task], [[]], rng=random.Random(seed))
        engine.start(0.0, 1)
        engine.fail(0, 0.0, "E", retryable=True)
        seen.add(drain(engine)[-1].retry_in)
    assert len(seen) > 1


# -- deadlines ----------------------------------------------------------------------------


def test_deadline_expires_at_the_timeout() -> None:
    engine = make_engine(tasks_named("slow", timeout=5.0), [[]])
    engine.start(10.0, 1)
    assert engine.next_wakeup() == 15.0
    assert engine.expired(14.999) == []
    assert engine.expired(15.0) == [0]
    assert engine.expired(16.0) == []  # reported once


def test_deadline_of_a_finished_attempt_is_dropped() -> None:
    engine = make_engine(tasks_named("quick", timeout=5.0), [[]])
    engine.start(0.0, 1)
    engine.succeed(0, 1.0)
    assert engine.next_wakeup() is None
    assert engine.expired(100.0) == []


def test_each_attempt_gets_its_own_deadline() -> None:
    engine = make_engine(tasks_named("t", timeout=2.0, retries=1), [[]])
    engine.start(0.0, 1)
    assert engine.expired(2.0) == [0]
    engine.fail(0, 2.0, "timed out after 2s", retryable=True)
    assert engine.start(2.0, 1) == [0]
    assert engine.is_current(0, 2) and not engine.is_current(0, 1)
    assert engine.next_wakeup() == 4.0
    assert engine.expired(3.9) == []
    assert engine.expired(4.0) == [0]


def test_a_held_attempt_is_timed_from_when_it_really_started() -> None:
    # the backend held the attempt back (no worker ready) and started it at 3.0
    engine = make_engine(tasks_named("held", timeout=2.0, retries=1), [[]])
    engine.start(0.0, 1)
    engine.hold_clock(0, 1)
    assert engine.next_wakeup() is None  # the deadline at 2.0 no longer stands
    assert engine.expired(10.0) == []
    engine.start_clock(0, 1, 3.0)
    assert engine.next_wakeup() == 5.0
    assert engine.expired(4.9) == []
    assert engine.expired(5.0) == [0]
    engine.fail(0, 5.0, "timed out after 2s", retryable=True)
    engine.start_clock(0, 1, 6.0)  # a late notice for an attempt already over: ignored
    assert engine.start(5.0, 1) == [0]
    assert engine.next_wakeup() == 7.0


# -- failure policy ------------------------------------------------------------------------


def test_failure_skips_everything_downstream_only() -> None:
    #   a -> b -> c,  a -> d,  e independent
    names = ("a", "b", "c", "d", "e")
    engine = make_engine(tasks_named(*names), [[], [0], [1], [0], []])
    assert sorted(engine.start(0.0, 9)) == [0, 4]
    engine.fail(0, 1.0, "ValueError: a broke", retryable=False)
    assert engine.status == [S.FAILED, S.SKIPPED, S.SKIPPED, S.SKIPPED, S.RUNNING]
    skipped = [e for e in drain(engine) if e.status is S.SKIPPED]
    assert sorted(e.task for e in skipped) == ["b", "c", "d"]
    assert {e.task: (e.error, e.reason) for e in skipped} == {
        "b": ("upstream failed", "upstream failed"),
        "c": ("upstream skipped", "upstream skipped"),
        "d": ("upstream failed", "upstream failed"),
    }
    assert all(e.attempt == 0 for e in skipped)
    assert not engine.finished
    engine.succeed(4, 2.0)
    assert engine.finished


def test_fail_fast_cancels_what_has_not_started() -> None:
    engine = make_engine(tasks_named("a", "b", "c", "d"), [[], [], [1], []], fail_fast=True)
    assert engine.start(0.0, 2) == [1, 0]
    engine.fail(0, 1.0, "E", retryable=False)
    assert engine.status == [S.FAILED, S.RUNNING, S.CANCELLED, S.CANCELLED]
    assert engine.start(1.0, 9) == []
    assert not engine.has_ready(1.0)
    engine.succeed(1, 2.0)  # the running one may still end
    assert engine.status[1] is S.COMPLETED
    assert engine.status[2] is S.CANCELLED
    assert engine.finished


def test_fail_fast_cancels_a_task_waiting_to_retry() -> None:
    tasks = [Task("a", noop), Task("b", noop, retries=3, retry_delay=60.0)]
    engine = make_engine(tasks, [[], []], fail_fast=True)
    engine.start(0.0, 2)
    engine.fail(1, 1.0, "E", retryable=True)
    engine.fail(0, 2.0, "E", retryable=False)
    assert engine.status == [S.FAILED, S.CANCELLED]
    assert engine.finished


def test_interrupt_cancels_everything_unfinished_and_names_the_executing() -> None:
    engine = make_engine(tasks_named("a", "b", "c", "d"), [[], [], [0], []])
    assert sorted(engine.start(0.0, 2)) == [0, 1]
    engine.succeed(1, 0.5)
    assert engine.interrupt(1.0, "interrupted by SIGINT") == [0]
    assert engine.status == [S.CANCELLED, S.COMPLETED, S.CANCELLED, S.CANCELLED]
    assert engine.finished and engine.executing == 0
    cancelled = [e for e in drain(engine) if e.status is S.CANCELLED]
    assert {e.error for e in cancelled} == {"interrupted by SIGINT"}
    assert engine.start(2.0, 9) == []


def test_outcome_after_interrupt_is_not_current() -> None:
    engine = make_engine(tasks_named("a"), [[]])
    engine.start(0.0, 1)
    engine.interrupt(1.0, "stop")
    assert not engine.is_current(0, 1)


def test_an_unobserved_run_applies_every_transition_to_its_tasks_without_events() -> None:
    tasks = [Task("a", noop, retries=1), *tasks_named("b", "c")]
    engine = make_engine(tasks, [[], [0], [1]], record_events=False)
    assert engine.start(0.0, 9) == [0]
    assert (tasks[0].status, tasks[0].attempts) == (S.RUNNING, 1)
    engine.fail(0, 1.0, "OSError: flaky", retryable=True)
    assert (tasks[0].status, tasks[0].error) == (S.RUNNING, "OSError: flaky")
    assert engine.start(5.0, 9) == [0]
    engine.fail(0, 6.0, "OSError: down", retryable=False)
    assert [(t.status, t.attempts, t.error) for t in tasks] == [
        (S.FAILED, 2, "OSError: down"),
        (S.SKIPPED, 0, "upstream failed"),
        (S.SKIPPED, 0, "upstream skipped"),
    ]
    assert engine.finished
    assert engine.events == [] and engine.event_nodes == []


# -- run_if, when, allow_failure (the full table: test_run_if_model) -------------------


def test_a_root_skipped_by_a_false_condition_ends_its_children_once() -> None:
    # a: when false (skipped as the run starts); b below it; c independent
    tasks = [Task("a", noop, when=False), Task("b", noop, run_if="no_failure"), Task("c", noop)]
    engine = make_engine(tasks, [[], [0], []])
    assert engine.status == [S.SKIPPED, S.SKIPPED, S.PENDING]
    assert [t.error for t in tasks[:2]] == ["condition false", "rule not met"]
    assert engine.start(0.0, 9) == [2]
    engine.succeed(2, 1.0)
    assert engine.finished  # (b was once ended twice, and the run never finished)


def test_fail_fast_spares_failure_and_always_tasks_and_skips_below_the_failure_first() -> None:
    #   bad -> child (success), bad -> alert (failure), bad -> clean (always)
    #   slow -> after (success), slow -> report (done)
    tasks = [
        Task("bad", noop),
        Task("child", noop),
        Task("alert", noop, run_if="failure"),
        Task("clean", noop, run_if="always"),
        Task("slow", noop),
        Task("after", noop),
        Task("report", noop, run_if="done"),
    ]
    parents = [[], [0], [0], [0], [], [4], [4]]
    engine = make_engine(tasks, parents, [0.0, 1.0, 1.0, 1.0, 0.0, 1.0, 1.0], fail_fast=True)
    assert engine.start(0.0, 2) == [0, 4]
    engine.fail(0, 1.0, "E", retryable=False)
    assert engine.status == [
        S.FAILED, S.SKIPPED, S.PENDING, S.PENDING, S.RUNNING, S.CANCELLED, S.CANCELLED
    ]  # fmt: skip
    assert tasks[1].error == "upstream failed"
    assert tasks[5].error == "fail-fast after a failure"
    assert sorted(engine.start(1.0, 9)) == [2, 3]
    engine.succeed(2, 2.0)
    engine.succeed(3, 2.0)
    engine.succeed(4, 2.0)
    assert engine.finished
    assert engine.failed() == [0]


def test_an_allowed_failure_neither_fails_the_run_nor_stops_a_fail_fast_one() -> None:
    tasks = [Task("lint", noop, allow_failure=True), Task("after", noop), Task("other", noop)]
    engine = make_engine(tasks, [[], [0], []], fail_fast=True)
    assert sorted(engine.start(0.0, 9)) == [0, 2]
    engine.fail(0, 1.0, "E", retryable=False)
    assert not engine.stopped
    assert engine.status[:2] == [S.FAILED, S.SKIPPED]  # it is failed to those below it
    engine.succeed(2, 1.0)
    assert engine.finished and engine.failed() == [] and engine.allowed_failures == 1
    events = drain(engine)
    assert [(e.task, e.allowed) for e in events if e.status is S.FAILED] == [("lint", True)]


def test_interrupt_spares_always_tasks_and_abort_cancels_them_too() -> None:
    tasks = [Task("work", noop), Task("clean", noop, run_if="always"), Task("more", noop)]
    engine = make_engine(tasks, [[], [0], [1]])
    assert engine.start(0.0, 9) == [0]
    assert engine.interrupt(1.0, "interrupted by SIGINT") == [0]
    assert engine.status == [S.CANCELLED, S.PENDING, S.CANCELLED]
    assert engine.start(1.0, 9) == [1]  # the clean-up still runs
    assert engine.abort(2.0, "interrupted by SIGINT") == [1]  # until a second signal
    assert engine.status == [S.CANCELLED, S.CANCELLED, S.CANCELLED]
    assert engine.finished


# -- preset (resume) ----------------------------------------------------------------------


def test_preset_completes_a_task_without_running_it() -> None:
    tasks = tasks_named("a", "b")
    engine = make_engine(tasks, [[], [0]])
    engine.preset(0, 0.0, "kept")
    assert (tasks[0].status, tasks[0].result) == (S.COMPLETED, "kept")
    events = drain(engine)
    assert [(e.task, e.status, e.reused, e.attempt) for e in events] == [
        ("a", S.COMPLETED, True, 0)
    ]
    assert engine.start(0.0, 9) == [1]
    engine.succeed(1, 1.0)
    assert engine.finished


# -- graph ----------------------------------------------------------------------------------


def test_a_cycle_has_no_order_and_no_longest_path() -> None:
    from flowweaver import CycleError

    assert graph.topological_order([[1], [0]]) is None
    with pytest.raises(CycleError) as caught:
        graph.longest_path_below([[], [2], [1]])
    assert caught.value.cycle == ["1", "2", "1"]
    assert isinstance(caught.value, ValueError)


def test_topological_order_is_kahn_with_ties_by_id() -> None:
    assert graph.topological_order([[], [], [0, 1], [2], []]) == [0, 1, 4, 2, 3]


def test_longest_path_below() -> None:
    parents = [[], [], [1], [2], [0, 3]]
    assert graph.longest_path_below(parents) == [2.0, 4.0, 3.0, 2.0, 1.0]
    weighted = graph.longest_path_below(parents, [10.0, 1.0, 1.0, 1.0, 1.0])
    assert weighted == [11.0, 4.0, 3.0, 2.0, 1.0]


def test_find_cycle_returns_the_path() -> None:
    deps = {"a": ["c"], "b": ["a"], "c": ["b"], "d": []}
    cycle = graph.find_cycle(deps)
    assert cycle is not None
    assert cycle[0] == cycle[-1] and sorted(cycle[:-1]) == ["a", "b", "c"]
    assert cycle == ["a", "c", "b", "a"]
    assert graph.find_cycle({"a": ["a"]}) == ["a", "a"]
    assert graph.find_cycle({"a": [], "b": ["a", "zzz"]}) is None


def test_find_cycle_walks_deep_graphs_without_recursion() -> None:
    n = 5000
    deps = {f"n{i}": [f"n{i + 1}"] for i in range(n)}
    deps[f"n{n}"] = ["n0"]
    cycle = graph.find_cycle(deps)
    assert cycle is not None and len(cycle) == n + 2


@st.composite
def dags(draw: st.DrawFn) -> list[list[int]]:
    """Random DAGs with ids shuffled, so that parents are not always smaller ids."""
    size = draw(st.integers(0, 25))
    perm = draw(st.permutations(range(size)))
    parents: list[list[int]] = [[] for _ in range(size)]
    for i in range(size):
        ups = draw(st.sets(st.integers(0, i - 1), max_size=4)) if i else set()
        parents[perm[i]] = sorted(perm[u] for u in ups)
    return parents


@settings(max_examples=150, deadline=None)
@given(dags())
def test_plan_is_a_topological_order_with_every_node_once(parents: list[list[int]]) -> None:
    order = graph.topological_order(parents)
    assert order is not None
    assert sorted(order) == list(range(len(parents)))
    position = {node: i for i, node in enumerate(order)}
    for node, ups in enumerate(parents):
        assert all(position[up] < position[node] for up in ups)


@settings(max_examples=150, deadline=None)
@given(dags(), st.data())
def test_find_cycle_returns_a_real_cycle(parents: list[list[int]], data: st.DataObject) -> None:
    size = len(parents)
    if size == 0:
        parents = [[]]
        size = 1
    # plant a back edge: pick a path end and make it reach an ancestor (or itself)
    order = graph.topological_order(parents)
    assert order is not None
    low = data.draw(st.integers(0, size - 1))
    high = data.draw(st.integers(low, size - 1))
    a, b = order[low], order[high]  # b comes no earlier than a
    # b -> ... path needed: add b as a dependency of a, and a as a dependency of b
    deps = {str(n): [str(u) for u in ups] for n, ups in enumerate(parents)}
    deps[str(a)].append(str(b))
    deps[str(b)].append(str(a))
    cycle = graph.find_cycle(deps)
    assert cycle is not None
    assert cycle[0] == cycle[-1]
    assert len(set(cycle[:-1])) == len(cycle) - 1
    for here, there in itertools.pairwise(cycle):
        assert there in deps[here]
    assert graph.topological_order([[int(d) for d in deps[str(n)]] for n in range(size)]) is None


# -- illegal transitions ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setup", "transition", "message"),
    [
        ("none", lambda e: e.succeed(0, 1.0, "x"), "task 'a' can't succeed: it is ready"),
        ("none", lambda e: e.fail(0, 1.0, "E"), "task 'a' can't fail: it is ready"),
        ("done", lambda e: e.succeed(0, 2.0), "task 'a' can't succeed: it is done"),
        ("done", lambda e: e.fail(0, 2.0, "E"), "task 'a' can't fail: it is done"),
        ("done", lambda e: e.preset(0, 2.0, "x"), "task 'a' can't preset: it is done"),
        ("retry", lambda e: e.succeed(0, 2.0), "task 'a' can't succeed: it is waiting to retry"),
    ],
)
def test_a_transition_in_the_wrong_phase_raises_and_changes_nothing(
    setup: str, transition: object, message: str
) -> None:
    from flowweaver.engine import TransitionError

    tasks = tasks_named("a", "b", retries=1, retry_delay=60.0)
    engine = make_engine(tasks, [[], [0]])
    if setup in ("done", "retry"):
        engine.start(0.0, 1)
        if setup == "done":
            engine.succeed(0, 1.0, "kept")
        else:
            engine.fail(0, 1.0, "E")
    before = (engine.status, engine.attempt, engine.finished, engine.executing)
    with pytest.raises(TransitionError, match=f"^{message}$"):
        transition(engine)  # type: ignore[operator]
    assert (engine.status, engine.attempt, engine.finished, engine.executing) == before


def test_events_are_made_from_their_fields_by_name() -> None:
    import inspect

    from flowweaver.events import new_event

    fields = TaskEvent._fields
    assert tuple(inspect.signature(new_event).parameters)[: len(fields)] == fields
    event = new_event(task="a", status=S.FAILED, attempt=2, time=5.0, error="E", duration=1.5)
    assert event == TaskEvent("a", S.FAILED, 2, 5.0, "E", 1.5)


def test_a_task_skipped_as_the_run_starts_skips_what_is_below_it_once() -> None:
    # a (run_if failure, nothing upstream) is skipped when the engine is made; b, below
    # it, was skipped twice (two final events, one task counted as two) and the run
    # could never finish
    tasks = [Task("a", noop, run_if="failure"), Task("b", noop, depends_on=["a"])]
    engine = make_engine(tasks, [[], [0]])
    assert [(e.task, e.status, e.reason) for e in engine.events] == [
        ("a", S.SKIPPED, "rule not met"),
        ("b", S.SKIPPED, "upstream skipped"),
    ]
    assert engine.finished
    assert engine.start_next(0.0) == -1
