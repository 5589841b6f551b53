"""The common block style of a spec, read line by line without the YAML parser.

Most spec files are written in one plain style: block mappings of ``key: value``,
lists of ``- value``, one-line ``[a, b]`` and ``{k: v}``, plain or simply quoted
scalars, comments. :func:`block_tree` reads a text written only in that style into the
same located nodes the composer makes (:mod:`flowweaver.spec.yamlnodes`), a line at a
time with string methods, at a fraction of the parser's cost: libyaml makes a Python
event object, with two marks, for every value.

It never judges YAML: anything outside the style — an anchor, an alias, a tag, a
merge key, a block scalar, a folded line, an escape, a duplicate key, a key that is
not a plain name, an empty value, a tab, a document marker, anything it would have to
think about — makes it answer ``None``, and the composer reads the whole text as
before, with every check and exact problem. So every tree it returns is one the
composer gives for that text, value for value and position for position (a model
test compares the two on generated documents, and ``make fuzz`` on every input).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flowweaver.spec.nodes import ListNode, MapNode, Node, ScalarNode

MAX_DEPTH = 64  # as the composer's bound: deeper nesting is left to it

_LINE = re.compile(r"^( *)(?:([A-Za-z_][A-Za-z0-9_.\-]*):( +|$)|(-)( +|$))?(.*)$", re.M)
"""A line: its indent, then a plain name as a key with its colon and the spaces after
it, or a list item's dash and its spaces; then the rest of the line."""

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")

_OUTSIDE = re.compile(
    "[^\n\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)
"""A character this reader leaves to the parser: a tab, a carriage return, YAML's other
line breaks (``\\x85``, ``\\u2028``, ``\\u2029``), a byte-order mark, and what YAML does
not allow in a file at all."""

_INDICATORS = frozenset(",[]{}#&*!|>'\"%@`")
"""Characters that don't start a plain scalar (YAML's indicators, but for ``-?:``)."""

_BEFORE_TEXT = frozenset("-?:")
"""Indicators that start a plain scalar when text follows at once (``-5``, ``:x``)."""

_IN_FLOW_LIST = re.compile(r"[\[\]{}#&*!|>'\"%@`:?]")
"""What makes ``[…]`` more than plain scalars and commas, for this reader."""

_IN_FLOW_MAP = re.compile(r"[\[\]{}#&*!|>'\"%@`?]|:(?! )|: [^,]*:")
"""The same for ``{…}``, whose entries are ``name: value``."""


class _DeclinedError(Exception):
    """The text is outside the style this reader knows: the composer reads it."""


def block_tree(text: str, scalar: Callable[[str, dict[str, str]], Any]) -> Node | None:
    """The node tree of ``text``, when every line of it is written in the plain block
    style; ``None`` otherwise (the composer then reads it).

    ``scalar(text, known)`` is the value of a plain scalar as the composer gives it (a
    text as the one string ``known`` keeps for it), or raises :class:`ValueError` when
    that value needs the composer (a problem, a merge key).
    """
    if _OUTSIDE.search(text) is not None:
        return None
    try:
        return _Reader(scalar).tree(text)
    except _DeclinedError:
        return None


class _Reader:
    """One text's lines, read top to bottom with a stack of the open collections."""

    def __init__(self, scalar: Callable[[str, dict[str, str]], Any]) -> None:
        self._scalar = scalar
        self._known: dict[str, str] = {}  # one string for each text, as the composer

    def tree(self, text: str) -> Node:  # noqa: C901 - one frame for every line, on purpose
        # Each open collection: (indent, node, is a list, a list at its key's indent).
        stack: list[tuple[int, Any, bool, bool]] = []
        pending: tuple[MapNode, str, int] | None = None  # `key:` waiting for its value
        scalar_indent = -1  # the indent of the last line that ended in a value
        known = self._known
        value = self._value
        root: Node | None = None
        for number, line in enumerate(_LINE.finditer(text)):  # (not findall: a list of
            spaces, name, gap, dash, dash_gap, rest = line.groups()  # every line's parts)
            item = bool(dash)
            if not name and not item:
                if not rest or rest[0] == "#":
                    continue  # a blank line or a comment
                raise _DeclinedError  # a scalar alone, a quoted key, a `? key`...
            indent = len(spaces)
            if indent <= scalar_indent:
                scalar_indent = -1
            elif scalar_indent >= 0:
                raise _DeclinedError  # a plain scalar continued on this line
            if pending is not None:
                parent, key, key_indent = pending
                pending = None
                if indent < key_indent or (indent == key_indent and not item):
                    raise _DeclinedError  # an empty value
                at = number << 32 | indent
                child: Any = ListNode([], at) if item else MapNode({}, at, {})
                parent.items[key] = child
                stack.append((indent, child, item, indent == key_indent))
                if len(stack) > MAX_DEPTH:
                    raise _DeclinedError
            elif root is None:
                if indent:
                    raise _DeclinedError
                root = ListNode([], number << 32) if item else MapNode({}, number << 32, {})
                stack.append((0, root, item, False))
            else:
                while stack and (
                    stack[-1][0] > indent or (stack[-1][0] == indent and stack[-1][3] and not item)
                ):
                    stack.pop()
                if not stack or stack[-1][0] != indent or stack[-1][2] is not item:
                    raise _DeclinedError  # out of line, or a key among items (or the reverse)
            top = stack[-1][1]
            if item:
                if not rest or rest[0] == "#" or rest.startswith("- ") or _LINE_KEY(rest):
                    raise _DeclinedError  # a collection inside an item
                top.items.append(value(rest, number, indent + 1 + len(dash_gap)))
                scalar_indent = indent
                continue
            key = known.setdefault(name, name)
            if key in top.keys:
                raise _DeclinedError  # a duplicate: the composer reports it
            top.keys[key] = number << 32 | indent
            if not rest or rest[0] == "#":
                pending = (top, key, indent)
                continue
            top.items[key] = value(rest, number, indent + len(name) + 1 + len(gap))
            scalar_indent = indent
        if pending is not None or root is None:
            raise _DeclinedError
        return root

    def _value(self, rest: str, number: int, column: int) -> Node:
        """The value written at ``column`` of line ``number``: ``rest`` is the line from
        there (it starts with no space), comment included."""
        first = rest[0]
        at = number << 32 | column
        if first in "[{":  # (first is one character)
            end = rest.find("]" if first == "[" else "}")
            if end < 0:
                raise _DeclinedError
            _comment_only(rest[end + 1 :])
            return self._flow(rest[1:end], first == "{", number, column)
        if first in "'\"":
            end = rest.find(first, 1)
            if end < 0 or (first == '"' and "\\" in rest[1:end]):
                raise _DeclinedError  # ('' inside '…' is read as one ': the check
            _comment_only(rest[end + 1 :])  # of what follows sends it to the composer)
            text = rest[1:end]
            return ScalarNode(self._known.setdefault(text, text), at)
        cut = rest.find(" #")
        text = (rest if cut < 0 else rest[:cut]).rstrip(" ")
        if first in _INDICATORS or ": " in text or text[-1] == ":":
            raise _DeclinedError
        if first in _BEFORE_TEXT and (len(text) == 1 or text[1] == " "):
            raise _DeclinedError
        return ScalarNode(self._plain(text), at)

    def _plain(self, text: str) -> Any:
        try:
            return self._scalar(text, self._known)
        except ValueError:
            raise _DeclinedError from None

    def _flow(self, inner: str, mapping: bool, number: int, column: int) -> Node:
        """``[…]`` or ``{…}`` on one line, of plain scalars (``inner``: between the brackets)."""
        base = number << 32
        if (_IN_FLOW_MAP if mapping else _IN_FLOW_LIST).search(inner) is not None:
            raise _DeclinedError
        if not inner.strip(" "):
            return MapNode({}, base | column, {}) if mapping else ListNode([], base | column)
        entries: list[tuple[int, str]] = []
        offset = column + 1
        for part in inner.split(","):
            text = part.strip(" ")
            if not text or (text[0] == "-" and not text[1:2].isalnum()):
                raise _DeclinedError  # [a, , b], [a,], [- a]
            entries.append((offset + len(part) - len(part.lstrip(" ")), text))
            offset += len(part) + 1
        plain = self._plain
        if not mapping:
            return ListNode(
                [ScalarNode(plain(text), base | at) for at, text in entries], base | column
            )
        node = MapNode({}, base | column, {})
        known = self._known
        for at, text in entries:
            name, _, written = text.partition(": ")
            value = written.lstrip(" ")
            if not value or _NAME.fullmatch(name) is None:
                raise _DeclinedError
            key = known.setdefault(name, name)
            if key in node.keys:
                raise _DeclinedError
            node.keys[key] = base | at
            where = at + len(text) - len(value)
            node.items[key] = ScalarNode(plain(value), base | where)
        return node


_LINE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*:(?: |$)").match


def _comment_only(after: str) -> None:
    """What follows a closed value on its line must be nothing or a comment."""
    rest = after.lstrip(" ")
    if rest and (rest[0] != "#" or rest == after):
        raise _DeclinedError
