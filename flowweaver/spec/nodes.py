"""The located nodes a spec is read into: mappings, lists and scalars, each with its mark."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, TypeAlias

from flowweaver.spec.problems import Mark

Scalar: TypeAlias = "str | int | float | bool | None"
At: TypeAlias = int
"""Where a value is written: its 0-based line and column packed in one int,
``line << 32 | column`` (an int per value, not an object: a 100,000-task spec has
over a million values). A :class:`Mark` is made only for a problem."""

_COLUMN_BITS = 32
_COLUMN_MASK = (1 << _COLUMN_BITS) - 1


def position(line: int, column: int) -> At:
    """The position of 0-based ``line`` and ``column``."""
    return line << _COLUMN_BITS | column


def line_of(at: At) -> int:
    """The 0-based line of a position."""
    return at >> _COLUMN_BITS


def column_of(at: At) -> int:
    """The 0-based column of a position."""
    return at & _COLUMN_MASK


def mark_of(at: At) -> Mark:
    """The 1-based mark of a position."""
    return Mark((at >> _COLUMN_BITS) + 1, (at & _COLUMN_MASK) + 1)


@dataclass(slots=True)
class ScalarNode:
    value: Scalar
    at: At

    @property
    def mark(self) -> Mark:
        return mark_of(self.at)


@dataclass(slots=True)
class ListNode:
    items: list[Node]
    at: At

    @property
    def mark(self) -> Mark:
        return mark_of(self.at)


@dataclass(slots=True)
class MapNode:
    items: dict[str, Node]
    at: At
    keys: dict[str, At] = field(default_factory=dict)
    """Where each key is written (for unknown-key and duplicate problems)."""

    @property
    def mark(self) -> Mark:
        return mark_of(self.at)

    def key_mark(self, key: str) -> Mark:
        return mark_of(self.keys[key])


Node: TypeAlias = "ScalarNode | ListNode | MapNode"

_NOT_AS_IS = {'"': '"\\', "'": "'"}
"""Characters that a quoted string's source writes otherwise than as themselves."""


def mark_within(node: ScalarNode, offset: int, line: str) -> Mark:
    """The mark of character ``offset`` of the string ``node``, whose first source line is
    ``line``: exact when that line writes the whole string as it is (plain, or quoted
    without an escape, on one line); otherwise the string's own mark. A block scalar,
    a folded line, an escape, an anchor or a tag before the value: the string's mark."""
    value, column = node.value, column_of(node.at)
    if not isinstance(value, str):
        return node.mark
    start = column
    quote = line[column : column + 1]
    if quote in _NOT_AS_IS:
        start += 1
        if any(c in value for c in _NOT_AS_IS[quote]) or not line.startswith(
            quote, start + len(value)
        ):
            return node.mark
    elif quote in ("|", ">"):
        return node.mark
    if line[start : start + len(value)] != value:
        return node.mark
    return Mark(line_of(node.at) + 1, start + offset + 1)


def plain(node: Node) -> Any:
    """The plain Python value of a node: dicts, lists and scalars."""
    if isinstance(node, MapNode):
        return {key: plain(value) for key, value in node.items.items()}
    if isinstance(node, ListNode):
        scalars = [item.value for item in node.items if type(item) is ScalarNode]
        if len(scalars) == len(node.items):  # the common case, without a call per item
            return scalars
        return [plain(value) for value in node.items]
    return node.value


def from_plain(value: Any, at: At) -> Node:
    """A node holding ``value`` (e.g. an interpolated parameter), every part at ``at``."""
    if isinstance(value, dict):
        items = {str(k): from_plain(v, at) for k, v in value.items()}
        return MapNode(items, at, dict.fromkeys(items, at))
    if isinstance(value, (list, tuple)):
        return ListNode([from_plain(v, at) for v in value], at)
    return ScalarNode(value, at)
