"""The reference for the spec loader's composer: the composer it replaced, kept as it was.

It asks PyYAML for its whole node graph (``yaml.compose``) and walks it. The loader now
reads the parser's events instead; ``tests/spec/test_yaml_model.py`` checks that both give the same
tree, positions and problems. Original description:

YAML text → a tree of located nodes, safely.

``yaml.compose`` builds a graph of nodes with their marks and constructs nothing.
:func:`compose` walks that graph once into :class:`MapNode`, :class:`ListNode`
and :class:`ScalarNode` values, each with its 1-based :class:`Mark`, and reports:

- YAML syntax errors, at the parser's line and column;
- duplicate mapping keys (PyYAML would silently keep the last one);
- tags other than plain YAML types: ``!!python/object`` and friends never build anything;
- documents that aliases expand past a bound (a "billion laughs"), before expanding them;
- recursive aliases and absurd nesting.

Merge keys (``<<: *defaults``) are resolved: the mapping's own keys win, then the
merged mappings in the order given. Aliased nodes are converted once and shared.
Timestamps stay strings (``2026-11-26`` is the text, as in JSON).
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from flowweaver.spec.nodes import ListNode, MapNode, Node, ScalarNode, position
from flowweaver.spec.problems import (
    FILE_START,
    TOP,
    KeyPath,
    Mark,
    Problems,
    character_at,
    mark_at,
)

At = Any


def mark_of(at: Any) -> Mark:
    return Mark(at.line + 1, at.column + 1)


def _pos(at: Any) -> int:
    return position(at.line, at.column)


_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_DEPTH = 64
"""Deeper nesting than this is refused: no spec needs it, and walking it costs stack."""

EXPANSION_ALLOWANCE = 4_000_000
"""Aliases may expand a document by this many characters or nodes beyond twice its size."""

_YAML = "tag:yaml.org,2002:"
_STR, _MAP, _SEQ, _MERGE = _YAML + "str", _YAML + "map", _YAML + "seq", _YAML + "merge"
_AS_TEXT = {_STR, _YAML + "timestamp", _YAML + "value"}


def compose(text: str, report: Problems) -> Node | None:
    """The node tree of ``text``, or ``None`` when it has none (problems are in ``report``)."""
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        mark = _errormark_of(exc, text)
        report.add(mark, TOP, f"not valid YAML: {_error_text(exc, character_at(text, mark))}")
        return None
    except RecursionError:
        report.add(FILE_START, TOP, f"nested more than {MAX_DEPTH} levels deep")
        return None
    if root is None:
        return None
    walker = _Walker(report, limit=2 * len(text) + EXPANSION_ALLOWANCE)
    try:
        tree = walker.convert(root, TOP, 0)
    except _TooDeepError as exc:
        report.add(exc.mark, TOP, f"nested more than {MAX_DEPTH} levels deep")
        return None
    if walker.size(root) > walker.limit and not walker.recursive:
        message = (
            f"aliases expand this document past {walker.limit:,} characters; refused "
            "(a 'billion laughs' guard)"
        )
        report.add(mark_of(root.start_mark), TOP, message)
        return None
    return tree


def _errormark_of(exc: yaml.YAMLError, text: str) -> Mark:
    at = getattr(exc, "problem_mark", None)
    if at is not None:
        return mark_of(at)
    position = getattr(exc, "position", None)  # a ReaderError: a character offset
    return mark_at(text, position) if isinstance(position, int) else FILE_START


def _error_text(exc: yaml.YAMLError, character: str) -> str:
    if character == "\t":  # the parser says "found character that cannot start any token"
        return "found a tab character: YAML indents with spaces, not tabs"
    quote = "put the value in quotes, as in schedule: '*/5 * * * *' or '@daily'"
    if character in "@`":  # reserved indicators
        return f"a value can't start with {character!r}: {quote}"
    if getattr(exc, "context", None) == "while scanning an alias":
        return f"a value starting with '*' is read as an alias: {quote}"
    if isinstance(exc, yaml.MarkedYAMLError):
        parts = [exc.context, exc.problem]
        return "; ".join(p.strip() for p in parts if p)
    if isinstance(exc, yaml.reader.ReaderError):
        return f"character #x{exc.character:04x} is not allowed in YAML"
    return str(exc).splitlines()[0]


def _tag_problem(tag: str) -> str:
    short = "!!" + tag[len(_YAML) :] if tag.startswith(_YAML) else tag
    if short.startswith("!!python/"):
        return f"tag {short!r} would build a Python object: spec files are loaded safely"
    return f"unsupported tag {short!r}: use plain YAML values"


class _TooDeepError(Exception):
    def __init__(self, mark: Mark) -> None:
        self.mark = mark


class _Walker:
    """Converts composed YAML nodes, each once, and sizes their expansion as it goes.

    An aliased node is converted once and shared, and its expanded size is known
    from its first visit, so a billion laughs costs microseconds and no memory.
    """

    def __init__(self, report: Problems, limit: int) -> None:
        self.report = report
        self.limit = limit
        self.recursive = False
        self._converted: dict[int, Node] = {}
        self._sizes: dict[int, int] = {}
        self._active: set[int] = set()
        constructor = SafeConstructor()
        self._construct = {
            _YAML + "int": constructor.construct_yaml_int,
            _YAML + "float": constructor.construct_yaml_float,
            _YAML + "bool": constructor.construct_yaml_bool,
            _YAML + "null": constructor.construct_yaml_null,
        }

    def size(self, node: yaml.Node) -> int:
        """How large ``node`` is with every alias expanded (nodes plus characters)."""
        if isinstance(node, yaml.ScalarNode):
            return len(node.value) + 1
        return self._sizes.get(id(node), 1)

    def convert(self, node: yaml.Node, path: KeyPath, depth: int) -> Node:
        """The node for ``node`` at ``path``; a collection is converted once, however aliased."""
        if isinstance(node, yaml.ScalarNode):
            scalar = self._scalar(node)
            if scalar is None:
                problem = (
                    _tag_problem(node.tag)
                    if node.tag not in self._construct
                    else f"{node.value!r} is not a valid !!{node.tag[len(_YAML) :]} value"
                )
                self.report.add(mark_of(node.start_mark), path, problem)
                return ScalarNode(None, _pos(node.start_mark))
            return scalar
        key = id(node)
        done = self._converted.get(key)
        if done is not None:
            return done
        if key in self._active:
            self.recursive = True
            self.report.add(
                mark_of(node.start_mark), path, "recursive alias: a node contains itself"
            )
            return ScalarNode(None, _pos(node.start_mark))
        if depth > MAX_DEPTH:
            raise _TooDeepError(mark_of(node.start_mark))
        self._active.add(key)
        if isinstance(node, yaml.MappingNode):
            result: Node = self._mapping(node, path, depth)
        else:
            result = self._sequence(node, path, depth)
        self._active.discard(key)
        self._converted[key] = result
        return result

    def _child(self, node: yaml.Node, path: KeyPath, step: str | int, depth: int) -> Node:
        if isinstance(node, yaml.ScalarNode):  # the common case: no path to make
            scalar = self._scalar(node)
            if scalar is not None:
                return scalar
        return self.convert(node, (*path, step), depth + 1)

    def _scalar(self, node: yaml.ScalarNode) -> ScalarNode | None:
        """The scalar's value; ``None`` when its tag isn't a plain YAML type."""
        if node.tag in _AS_TEXT:
            return ScalarNode(node.value, _pos(node.start_mark))
        construct = self._construct.get(node.tag)
        if construct is None:
            return None
        try:
            return ScalarNode(construct(node), _pos(node.start_mark))
        except (ValueError, KeyError, IndexError, TypeError, yaml.YAMLError):
            return None  # a plain YAML type that cannot read this text (!!int 'x')

    def _sequence(self, node: yaml.Node, path: KeyPath, depth: int) -> Node:
        if node.tag != _SEQ:
            self.report.add(mark_of(node.start_mark), path, _tag_problem(node.tag))
        items: list[Node] = []
        size = 1
        for index, value in enumerate(node.value):
            items.append(self._child(value, path, index, depth))
            size += self.size(value)
        self._sizes[id(node)] = size
        return ListNode(items, _pos(node.start_mark))

    def _mapping(self, node: yaml.Node, path: KeyPath, depth: int) -> Node:
        if node.tag != _MAP:
            self.report.add(mark_of(node.start_mark), path, _tag_problem(node.tag))
        result = MapNode({}, _pos(node.start_mark))
        items, keys = result.items, result.keys
        merged: list[yaml.Node] = []
        size = 1
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged.append(value_node)
                continue
            key = self._key(key_node, path)
            if key is None:
                continue
            if key in items:
                self._duplicate(key, keys[key], key_node.start_mark, path)
                self._child(value_node, path, key, depth)  # for the problems inside it
                continue
            keys[key] = _pos(key_node.start_mark)
            items[key] = self._child(value_node, path, key, depth)
            size += len(key) + self.size(value_node)
        for value_node in merged:
            size += self._merge(result, value_node, path, depth)
        self._sizes[id(node)] = size
        return result

    def _key(self, node: yaml.Node, path: KeyPath) -> str | None:
        if isinstance(node, yaml.ScalarNode) and (
            node.tag in _AS_TEXT or node.tag in self._construct
        ):
            return node.value  # type: ignore[no-any-return]
        self.report.add(mark_of(node.start_mark), path, "mapping keys must be plain text")
        return None

    def _duplicate(self, key: str, first: At, again: At, path: KeyPath) -> None:
        what = "task" if path == ("tasks",) else "key"
        message = f"duplicate {what} {key!r} (first on line {(first >> 32) + 1})"
        self.report.add(mark_of(again), (*path, key), message)

    def _merge(self, target: MapNode, value: yaml.Node, path: KeyPath, depth: int) -> int:
        """Add the keys of the mappings ``value`` names that ``target`` lacks; their size."""
        sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
        size = 0
        for source in sources:
            merged = self.convert(source, path, depth + 1)
            size += self.size(source)
            if not isinstance(merged, MapNode):
                self.report.add(mark_of(source.start_mark), path, "'<<' merges mappings only")
                continue
            for key, node in merged.items.items():
                if key not in target.items:
                    target.items[key] = node
                    target.keys[key] = merged.keys[key]
        return size
