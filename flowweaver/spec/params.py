"""``--param NAME=VALUE`` values: YAML scalars, and YAML flow collections for list and
mapping params (``--param 'regions=[eu, us]'``)."""

from __future__ import annotations

from typing import Any

from flowweaver.spec.nodes import ListNode, MapNode, ScalarNode, plain
from flowweaver.spec.problems import Problems
from flowweaver.spec.yamlnodes import compose


def parse_param_value(text: str) -> Any:
    """``text`` as a YAML scalar (``5`` → 5, ``1.5``, ``true``, ``null`` → None).

    Anything that isn't a plain scalar (a list, a mapping, a tag, bad YAML) stays the
    text itself, as does an empty value; dates stay text as everywhere in specs. The
    spec decides later whether the text is a list or a mapping (:func:`override_value`).
    """
    if not text.strip():
        return text
    report = Problems("--param", text)
    node = compose(text, report)
    if report or not isinstance(node, ScalarNode):
        return text
    return node.value


def override_value(name: str, declared: Any, value: Any) -> Any:
    """``value`` given with ``--param`` for the param ``name`` declared as ``declared``.

    For a list or mapping param, text is read as a YAML flow value (``[eu, us]``,
    ``{eu: 5}``) and must be one; any other param keeps the value as it is (so
    ``--param note=[draft]`` stays the text ``[draft]`` for a text param).
    Raises ``ValueError`` saying how to write it.
    """
    if not isinstance(declared, (list, dict)) or not isinstance(value, str):
        return value
    kind, example = ("list", "[a, b]") if isinstance(declared, list) else ("mapping", "{a: 1}")
    report = Problems("--param", value)
    node = compose(value, report) if value.strip() else None
    wanted = ListNode if kind == "list" else MapNode
    if report or not isinstance(node, wanted):
        raise ValueError(
            f"--param {name}: the param is a {kind}, write it as a YAML {kind}: "
            f"--param '{name}={example}' (got {value!r})"
        )
    return plain(node)
