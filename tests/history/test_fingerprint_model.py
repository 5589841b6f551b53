"""Fingerprints' and cache keys' fast paths give the digests of the general encoding
(``tests/_fingerprint_reference.py``, the code before them): for every value, and
for tasks of every shape, so a run recorded before them resumes after them."""

from __future__ import annotations

import enum
import functools
import math
from typing import Any

from _fingerprint_reference import UnhashableError as ReferenceUnhashable
from _fingerprint_reference import cache_key as reference_cache_key
from _fingerprint_reference import encode as reference_encode
from _fingerprint_reference import task_fingerprint as reference_fingerprint
from hypothesis import given, settings
from hypothesis import strategies as st

from flowweaver import Map, Task
from flowweaver.history.fingerprint import (
    Fingerprints,
    UnhashableError,
    cache_key,
    encode,
    task_fingerprint,
)
from flowweaver.shell import ShellCommand


class Tag(list[Any]):
    """A list subclass: encoded by its own type's name."""


class Level(enum.IntEnum):
    LOW = 1


def step(i: int = 0, prev: Any = None) -> int:
    return i


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from([math.nan, -0.0, math.inf])
    | st.text(max_size=8)
    | st.binary(max_size=8)
    | st.complex_numbers(max_magnitude=10)
    | st.just(Level.LOW)
    | st.just(step)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=4) | st.integers(), inner, max_size=3)
        | st.frozensets(st.integers() | st.text(max_size=3), max_size=3)
        | st.builds(Tag, st.lists(inner, max_size=2))
    ),
    max_leaves=10,
)


def outcome(fn: Any, *args: Any) -> Any:
    """What ``fn(*args)`` gives, or that it raised the unhashable error."""
    try:
        return fn(*args)
    except (UnhashableError, ReferenceUnhashable):
        return "unhashable"


@settings(max_examples=300, deadline=None)
@given(values)
def test_a_value_encodes_as_the_general_encoding_does(value: Any) -> None:
    assert outcome(encode, value) == outcome(reference_encode, value)


def test_values_nested_past_the_bound_are_unhashable_on_both_paths() -> None:
    for make in (list, tuple, lambda v: {"k": v}):
        value: Any = 1
        for _ in range(70):
            value = make([value]) if make is not tuple else (value,)
        assert outcome(encode, value) == outcome(reference_encode, value) == "unhashable"


@st.composite
def tasks(draw: st.DrawFn) -> tuple[Task, list[str]]:
    args = draw(st.lists(values, max_size=2))
    kwargs = draw(st.dictionaries(st.sampled_from(["i", "prev", "x"]), values, max_size=2))
    fn = draw(st.sampled_from([step, len, ShellCommand(script="echo hi")]))
    if draw(st.booleans()):
        fn = functools.partial(step, *args, **kwargs)
    fields: dict[str, Any] = {}
    if draw(st.booleans()):
        fields["inputs"] = draw(
            st.dictionaries(st.sampled_from(["prev", "x"]), st.text(max_size=3))
        )
    if draw(st.booleans()):
        fields["run_if"] = draw(st.sampled_from(["success", "always", "done"]))
        fields["allow_failure"] = draw(st.booleans())
    if draw(st.booleans()):
        fields["priority"] = draw(st.integers(-3, 3))
    if draw(st.booleans()):
        fields["map"] = Map(over=[1, 2], param="i")
    upstream = draw(st.lists(st.text(max_size=4), max_size=3))
    return Task("t", fn, **fields), upstream


@settings(max_examples=200, deadline=None)
@given(tasks(), st.binary(max_size=6))
def test_a_task_s_fingerprint_is_the_general_one(
    made: tuple[Task, list[str]], files: bytes
) -> None:
    task, upstream = made
    assert task_fingerprint(task, upstream) == reference_fingerprint(task, upstream)
    assert task_fingerprint(task, upstream, files) == reference_fingerprint(task, upstream, files)


@settings(max_examples=100, deadline=None)
@given(tasks(), st.dictionaries(st.text(max_size=4), values, max_size=3))
def test_a_cache_key_is_the_general_one(
    made: tuple[Task, list[str]], kwargs: dict[str, Any]
) -> None:
    task, _ = made
    assert cache_key(task, kwargs) == reference_cache_key(task, kwargs)


@st.composite
def plain_tasks(draw: st.DrawFn) -> tuple[Task, list[str]]:
    """A spec's usual task: a partial of one function with its own arguments, nothing
    else set (the shape :class:`Fingerprints` shares work for); sometimes not quite."""
    args = draw(st.lists(values, max_size=2))
    kwargs = draw(st.dictionaries(st.sampled_from(["i", "prev", "x"]), values, max_size=3))
    fn: Any = functools.partial(draw(st.sampled_from([step, other_step])), *args, **kwargs)
    fields: dict[str, Any] = {}
    if draw(st.integers(0, 5)) == 0:  # now and then a task the general path takes
        fn = draw(st.sampled_from([step, len, functools.partial(len), functools.partial(fn)]))
        fields["priority"] = draw(st.integers(0, 1))
    upstream = draw(st.lists(st.sampled_from(["a", "b", "é'\"", "task-10", ""]), max_size=3))
    return Task(draw(st.sampled_from(["t", "u"])), fn, **fields), upstream


def other_step(i: int = 1, *, prev: Any = ()) -> int:
    return i


@settings(max_examples=200, deadline=None)
@given(st.lists(plain_tasks() | tasks(), min_size=1, max_size=6))
def test_a_run_s_fingerprints_are_each_task_s_general_one(
    made: list[tuple[Task, list[str]]],
) -> None:
    fingerprint = Fingerprints()  # one for the run: what it shares is shared across tasks
    for task, upstream in made:
        assert fingerprint(task, upstream) == reference_fingerprint(task, upstream)
