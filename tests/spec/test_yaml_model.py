"""The spec loader's composer against its reference: the composer it replaced, which
walked PyYAML's whole node graph (``tests/_yaml_reference.py``). On random YAML documents —
nested mappings and lists, typed and quoted scalars, tags, anchors and aliases,
merge keys, duplicate keys, broken syntax — both must give the same tree, the same
position for every value and key, and the same problems (with one difference of path,
explained in the test).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import _yaml_reference
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowweaver.spec import yamlnodes
from flowweaver.spec.nodes import ListNode, MapNode, Node, ScalarNode
from flowweaver.spec.problems import Problems

SCALARS = [
    "a",
    "b",
    "task-1",
    "5",
    "-3",
    "0x1f",
    "1_000",
    "012",
    "1.5",
    ".inf",
    "true",
    "no",
    "on",
    "null",
    "~",
    "",
    "2026-11-26",
    "=",
    "'5'",
    '"x\\ty"',
    "!!str 5",
    "!!int '7'",
    "!env X",
    "!!python/name:os.system",
    "!!binary aGk=",
    "! x",
    "'<<'",
    "|\n  block\n",
    "*",
]
KEYS = ["a", "b", "c", "<<", "tasks", "5", "true", "'a'", "null", "x-1"]


def scalar(draw: st.DrawFn, anchors: list[str]) -> str:
    """A scalar's text, or an alias when ``*`` is drawn and an anchor exists."""
    text = draw(st.sampled_from(SCALARS))
    if text.startswith("|"):
        return '"block"'
    if text == "*":
        return f"*{draw(st.sampled_from(anchors))}" if anchors else "x"
    return text


def mapping(draw: st.DrawFn, anchors: list[str], value: Callable[[], str]) -> str:
    pairs = []
    for _ in range(draw(st.integers(0, 4))):
        key = draw(st.sampled_from(KEYS))
        if key == "<<" and anchors and draw(st.booleans()):
            merged = draw(st.lists(st.sampled_from(anchors), min_size=1, max_size=2))
            refs = ", ".join(f"*{a}" for a in merged)
            pairs.append(f"<<: [{refs}]" if len(merged) > 1 else f"<<: {refs}")
        else:
            pairs.append(f"{key}: {value()}")
    return "{" + ", ".join(pairs) + "}"


@st.composite
def documents(draw: st.DrawFn) -> str:
    """A YAML document in flow style, with anchors used later, sometimes broken."""
    anchors: list[str] = []

    def node(depth: int) -> str:
        choice = draw(st.integers(0, 9 if depth < 4 else 4))
        if 3 <= choice <= 4 and anchors:
            return f"*{draw(st.sampled_from(anchors))}"
        anchor = f"n{len(anchors)}" if draw(st.integers(0, 5)) == 0 else ""
        if choice <= 4:
            text = scalar(draw, anchors)
            value = text if text.startswith("*") else (f"&{anchor} " if anchor else "") + text
            anchor = "" if text.startswith("*") else anchor
        elif choice <= 6:
            items = ", ".join(node(depth + 1) for _ in range(draw(st.integers(0, 3))))
            tag = draw(st.sampled_from(["", "", "", "!!seq ", "!!set "]))
            value = (f"&{anchor} " if anchor else "") + tag + "[" + items + "]"
        else:
            tag = draw(st.sampled_from(["", "", "", "!!map ", "!!omap "]))
            body = mapping(draw, anchors, lambda: node(depth + 1))
            value = (f"&{anchor} " if anchor else "") + tag + body
        if anchor:
            anchors.append(anchor)
        return value

    root = node(0)
    if draw(st.integers(0, 15)) == 0:  # broken syntax somewhere
        cut = draw(st.integers(0, len(root)))
        root = (
            root[:cut] + draw(st.sampled_from(["{", "]", ": :", "\t", "@", "`", "&"])) + root[cut:]
        )
    if draw(st.integers(0, 20)) == 0:
        root += "\n---\nb: 1"
    return "top: " + root + "\n" if draw(st.booleans()) else root + "\n"


def shape(node: Node | None) -> Any:
    """A node as plain values with every position: what the loader reads of it."""
    if node is None:
        return None
    if isinstance(node, MapNode):
        return ("map", node.at, {k: (node.keys[k], shape(v)) for k, v in node.items.items()})
    if isinstance(node, ListNode):
        return ("list", node.at, [shape(v) for v in node.items])
    assert isinstance(node, ScalarNode)
    return ("scalar", node.at, type(node.value).__name__, node.value)


def outcome(compose: Any, text: str) -> tuple[Any, list[str]]:
    report = Problems("t.yaml", text)
    tree = compose(text, report)
    return shape(tree), [str(problem) for problem in report.problems]


@pytest.fixture(params=["c", "python"])
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "c" and not yaml.__with_libyaml__:
        pytest.skip("PyYAML is built without libyaml")
    if request.param == "python":
        monkeypatch.setattr(yamlnodes, "_Loader", yaml.SafeLoader)
    return str(request.param)


EXAMPLES = int(os.environ.get("YAML_MODEL_EXAMPLES", "300"))
"""``make fuzz`` runs many more (``YAML_MODEL_EXAMPLES``)."""


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(documents())
def test_the_event_composer_agrees_with_the_node_graph_walker(loader: str, text: str) -> None:
    _yaml_reference._Loader = yamlnodes._Loader  # the same parser on both sides
    tree, problems = outcome(yamlnodes.compose, text)
    expected_tree, expected = outcome(_yaml_reference.compose, text)
    assert tree == expected_tree
    if "<<" in text:
        # The reference read a mapping's merge keys after its own keys, so a problem in
        # an anchored value written in a merge key's value and aliased by a later key of
        # the same mapping was named by the alias's path; it is now named by the path
        # where it is written. Its line, column and message are the same.
        problems, expected = (
            [without_path(p) for p in problems],
            [without_path(p) for p in expected],
        )
    assert problems == expected


def without_path(problem: str) -> tuple[str, str]:
    place, path_and_message = problem.split(": ", 1)
    return place, path_and_message.split(": ", 1)[-1]
