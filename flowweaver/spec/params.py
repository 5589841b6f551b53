"""``--param NAME=VALUE`` values, read as YAML scalars: ``5`` is an integer, ``true`` a bool."""

from __future__ import annotations

from typing import Any

from flowweaver.spec.nodes import ScalarNode
from flowweaver.spec.problems import Problems
from flowweaver.spec.yamlnodes import compose


def parse_param_value(text: str) -> Any:
    """``text`` as a YAML scalar (``5`` → 5, ``1.5``, ``true``, ``null`` → None).

    Anything that isn't a plain scalar (a list, a mapping, a tag, bad YAML) stays the
    text itself, as does an empty value; dates stay text as everywhere in specs.
    """
    if not text.strip():
        return text
    report = Problems("--param", text)
    node = compose(text, report)
    if report or not isinstance(node, ScalarNode):
        return text
    return node.value
