"""Task fingerprints and cache keys: what changes them, and what has no identity."""

from __future__ import annotations

import functools
import threading

from hypothesis import given, settings
from hypothesis import strategies as st

from flowweaver import Task
from flowweaver.history.fingerprint import UnhashableError, cache_key, encode, task_fingerprint
from flowweaver.shell import ShellCommand


def add(x: int, y: int = 1) -> int:
    return x + y


def add_again(x: int, y: int = 1) -> int:
    return x + y


def fingerprint(fn: object, upstream: tuple[str, ...] = (), **fields: object) -> str | None:
    return task_fingerprint(Task("t", fn, **fields), upstream)  # type: ignore[arg-type]


def test_the_same_definition_has_the_same_fingerprint() -> None:
    assert fingerprint(functools.partial(add, 1)) == fingerprint(functools.partial(add, 1))
    assert fingerprint(add) is not None


def test_what_changes_a_fingerprint() -> None:
    base = fingerprint(functools.partial(add, 1))
    assert fingerprint(functools.partial(add, 2)) != base
    assert fingerprint(functools.partial(add, 1, y=2)) != base
    assert fingerprint(functools.partial(add_again, 1)) != base  # another function
    assert fingerprint(functools.partial(add, 1), ("up",)) != base
    assert fingerprint(functools.partial(add, 1), inputs={"y": "up"}) != fingerprint(
        functools.partial(add, 1), inputs={"x": "up"}
    )


def test_upstream_order_and_retry_settings_do_not_matter() -> None:
    fn = functools.partial(add, 1)
    assert fingerprint(fn, ("a", "b")) == fingerprint(fn, ("b", "a"))
    assert fingerprint(fn, retries=3, timeout=5.0) == fingerprint(fn)


def test_a_shell_command_is_its_command() -> None:
    echo = ShellCommand(script="echo hi")
    assert fingerprint(echo) == fingerprint(ShellCommand(script="echo hi"))
    assert fingerprint(echo) != fingerprint(ShellCommand(script="echo bye"))
    assert fingerprint(echo) != fingerprint(ShellCommand(script="echo hi", env={"A": "1"}))


def test_lambda_defaults_and_closures_are_part_of_it() -> None:
    def make(n: int) -> object:
        return lambda: n

    assert fingerprint(make(1)) == fingerprint(make(1))
    assert fingerprint(make(1)) != fingerprint(make(2))
    assert fingerprint(lambda uid=1: uid) != fingerprint(lambda uid=2: uid)


def test_an_object_without_identity_gives_no_fingerprint() -> None:
    def identity(value: object) -> object:
        return value

    lock = threading.Lock()
    assert fingerprint(functools.partial(identity, lock)) is None
    assert cache_key(Task("t", identity), {"value": lock}) is None


def test_the_cache_key_covers_the_values_received() -> None:
    task = Task("t", add)
    assert cache_key(task, {"x": 1}) == cache_key(task, {"x": 1})
    assert cache_key(task, {"x": 1}) != cache_key(task, {"x": 2})
    assert cache_key(task, {"x": 1}) != cache_key(task, {"x": 1.0})
    assert cache_key(task, {"x": [1, 2]}) != cache_key(task, {"x": (1, 2)})


json_like = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text() | st.floats(allow_nan=False),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=20,
)


@settings(max_examples=50, deadline=None)
@given(st.dictionaries(st.text(), json_like))
def test_dict_order_never_changes_an_encoding(value: dict[str, object]) -> None:
    reversed_order = dict(reversed(list(value.items())))
    assert encode(value) == encode(reversed_order)


def test_unhashable_is_an_exception() -> None:
    assert issubclass(UnhashableError, Exception)


def always_true() -> bool:
    return True


def test_conditions_are_part_of_it_and_their_defaults_change_nothing() -> None:
    fn = functools.partial(add, 1)
    base = fingerprint(fn)
    assert fingerprint(fn, run_if="success", when=None, allow_failure=False) == base
    variants = [
        fingerprint(fn, run_if="always"),
        fingerprint(fn, run_if="done"),
        fingerprint(fn, when=True),
        fingerprint(fn, when=False),
        fingerprint(fn, when=always_true),
        fingerprint(fn, when=ShellCommand(script="test -f a")),
        fingerprint(fn, when=ShellCommand(script="test -f b")),
        fingerprint(fn, allow_failure=True),
    ]
    assert base not in variants
    assert len(set(variants)) == len(variants)
    assert fingerprint(fn, when=always_true) == fingerprint(fn, when=always_true)


def test_a_mapped_task_s_param_and_key_are_part_of_it_its_list_is_not() -> None:
    from flowweaver import Map

    plain = fingerprint(add)
    mapped = fingerprint(add, map=Map(over=[1, 2], param="x"))
    assert mapped is not None and mapped != plain  # (and an unmapped task's is unchanged)
    assert fingerprint(add, map=Map(over=[3, 4, 5], param="x")) == mapped
    assert fingerprint(add, map=Map(over=[1, 2], param="x", max_parallel=2)) == mapped
    assert fingerprint(add, map=Map(over=[1, 2], param="y")) != mapped
    assert fingerprint(add, map=Map(over=[1, 2], param="x", key=str)) != mapped


def test_a_function_s_identity_follows_its_defaults_when_they_change() -> None:
    def scaled(x: int = 1, *, factor: list[int] | None = None) -> int:
        return x * (factor or [1])[0]

    task = Task("s", scaled)
    first = task_fingerprint(task, [])
    assert task_fingerprint(task, []) == first  # worked out once, the same after
    scaled.__defaults__ = (2,)
    second = task_fingerprint(task, [])
    assert second != first
    scaled.__kwdefaults__ = {"factor": [3]}
    third = task_fingerprint(task, [])
    assert third not in (first, second)
    scaled.__kwdefaults__["factor"].append(4)  # a mutable default changed in place
    assert task_fingerprint(task, []) != third


def test_a_pool_or_a_priority_is_part_of_it_and_absent_ones_change_nothing() -> None:
    plain = fingerprint(add)
    assert fingerprint(add, pool=None, priority=0) == plain
    pooled = fingerprint(add, pool="db")
    assert pooled not in (plain, fingerprint(add, pool="gpu"))
    assert fingerprint(add, priority=10) not in (plain, pooled, fingerprint(add, priority=5))
