"""YAML text → a tree of located nodes, safely.

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

from dataclasses import dataclass, field
from typing import Any, TypeAlias

import yaml
from yaml.constructor import SafeConstructor

from flowweaver.spec.problems import FILE_START, TOP, Mark, Path, Report, mark_at

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_DEPTH = 64
"""Deeper nesting than this is refused: no spec needs it, and walking it costs stack."""

EXPANSION_ALLOWANCE = 4_000_000
"""Aliases may expand a document by this many characters or nodes beyond twice its size."""

_YAML = "tag:yaml.org,2002:"
_STR, _MAP, _SEQ, _MERGE = _YAML + "str", _YAML + "map", _YAML + "seq", _YAML + "merge"
_AS_TEXT = {_STR, _YAML + "timestamp", _YAML + "value"}

Scalar: TypeAlias = "str | int | float | bool | None"
At: TypeAlias = yaml.error.Mark
"""PyYAML's 0-based mark, kept as is: a :class:`Mark` is made only for a problem."""


def _mark(at: At) -> Mark:
    return Mark(at.line + 1, at.column + 1)


@dataclass(slots=True)
class ScalarNode:
    value: Scalar
    at: At

    @property
    def mark(self) -> Mark:
        return _mark(self.at)


@dataclass(slots=True)
class ListNode:
    items: list[Node]
    at: At

    @property
    def mark(self) -> Mark:
        return _mark(self.at)


@dataclass(slots=True)
class MapNode:
    items: dict[str, Node]
    at: At
    keys: dict[str, At] = field(default_factory=dict)
    """Where each key is written (for unknown-key and duplicate problems)."""

    @property
    def mark(self) -> Mark:
        return _mark(self.at)

    def key_mark(self, key: str) -> Mark:
        return _mark(self.keys[key])


Node: TypeAlias = "ScalarNode | ListNode | MapNode"


def plain(node: Node) -> Any:
    """The plain Python value of a node: dicts, lists and scalars."""
    if isinstance(node, MapNode):
        return {key: plain(value) for key, value in node.items.items()}
    if isinstance(node, ListNode):
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


def compose(text: str, report: Report) -> Node | None:
    """The node tree of ``text``, or ``None`` when it has none (problems are in ``report``)."""
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.YAMLError as exc:
        report.add(_error_mark(exc, text), TOP, f"not valid YAML: {_error_text(exc)}")
        return None
    except RecursionError:
        report.add(FILE_START, TOP, f"nested more than {MAX_DEPTH} levels deep")
        return None
    if root is None:
        return None
    walker = _Walker(report, limit=2 * len(text) + EXPANSION_ALLOWANCE)
    try:
        tree = walker.convert(root, TOP, 0)
    except _TooDeep as exc:
        report.add(exc.mark, TOP, f"nested more than {MAX_DEPTH} levels deep")
        return None
    if walker.size(root) > walker.limit and not walker.recursive:
        message = (
            f"aliases expand this document past {walker.limit:,} characters; refused "
            "(a 'billion laughs' guard)"
        )
        report.add(_mark(root.start_mark), TOP, message)
        return None
    return tree


def _error_mark(exc: yaml.YAMLError, text: str) -> Mark:
    at = getattr(exc, "problem_mark", None)
    if at is not None:
        return _mark(at)
    position = getattr(exc, "position", None)  # a ReaderError: a character offset
    return mark_at(text, position) if isinstance(position, int) else FILE_START


def _error_text(exc: yaml.YAMLError) -> str:
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


class _TooDeep(Exception):
    def __init__(self, mark: Mark) -> None:
        self.mark = mark


class _Walker:
    """Converts composed YAML nodes, each once, and sizes their expansion as it goes.

    An aliased node is converted once and shared, and its expanded size is known
    from its first visit, so a billion laughs costs microseconds and no memory.
    """

    def __init__(self, report: Report, limit: int) -> None:
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

    def convert(self, node: yaml.Node, path: Path, depth: int) -> Node:
        """The node for ``node`` at ``path``; a collection is converted once, however aliased."""
        if isinstance(node, yaml.ScalarNode):
            return self._scalar(node, path)
        key = id(node)
        done = self._converted.get(key)
        if done is not None:
            return done
        if key in self._active:
            self.recursive = True
            self.report.add(_mark(node.start_mark), path, "recursive alias: a node contains itself")
            return ScalarNode(None, node.start_mark)
        if depth > MAX_DEPTH:
            raise _TooDeep(_mark(node.start_mark))
        self._active.add(key)
        if isinstance(node, yaml.MappingNode):
            result: Node = self._mapping(node, path, depth)
        else:
            result = self._sequence(node, path, depth)
        self._active.discard(key)
        self._converted[key] = result
        return result

    def _child(self, node: yaml.Node, path: Path, step: str | int, depth: int) -> Node:
        if isinstance(node, yaml.ScalarNode):  # the common case, without making its path
            tag = node.tag
            if tag in _AS_TEXT:
                return ScalarNode(node.value, node.start_mark)
            construct = self._construct.get(tag)
            if construct is not None:
                return ScalarNode(construct(node), node.start_mark)
        return self.convert(node, (*path, step), depth + 1)

    def _scalar(self, node: yaml.ScalarNode, path: Path) -> ScalarNode:
        tag = node.tag
        if tag in _AS_TEXT:
            return ScalarNode(node.value, node.start_mark)
        construct = self._construct.get(tag)
        if construct is not None:
            return ScalarNode(construct(node), node.start_mark)
        self.report.add(_mark(node.start_mark), path, _tag_problem(tag))
        return ScalarNode(None, node.start_mark)

    def _sequence(self, node: yaml.Node, path: Path, depth: int) -> Node:
        if node.tag != _SEQ:
            self.report.add(_mark(node.start_mark), path, _tag_problem(node.tag))
        items: list[Node] = []
        size = 1
        for index, value in enumerate(node.value):
            items.append(self._child(value, path, index, depth))
            size += self.size(value)
        self._sizes[id(node)] = size
        return ListNode(items, node.start_mark)

    def _mapping(self, node: yaml.Node, path: Path, depth: int) -> Node:
        if node.tag != _MAP:
            self.report.add(_mark(node.start_mark), path, _tag_problem(node.tag))
        result = MapNode({}, node.start_mark)
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
            keys[key] = key_node.start_mark
            items[key] = self._child(value_node, path, key, depth)
            size += len(key) + self.size(value_node)
        for value_node in merged:
            size += self._merge(result, value_node, path, depth)
        self._sizes[id(node)] = size
        return result

    def _key(self, node: yaml.Node, path: Path) -> str | None:
        if isinstance(node, yaml.ScalarNode) and (
            node.tag in _AS_TEXT or node.tag in self._construct
        ):
            return node.value  # type: ignore[no-any-return]
        self.report.add(_mark(node.start_mark), path, "mapping keys must be plain text")
        return None

    def _duplicate(self, key: str, first: At, again: At, path: Path) -> None:
        what = "task" if path == ("tasks",) else "key"
        message = f"duplicate {what} {key!r} (first on line {first.line + 1})"
        self.report.add(_mark(again), (*path, key), message)

    def _merge(self, target: MapNode, value: yaml.Node, path: Path, depth: int) -> int:
        """Add the keys of the mappings ``value`` names that ``target`` lacks; their size."""
        sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
        size = 0
        for source in sources:
            merged = self.convert(source, path, depth + 1)
            size += self.size(source)
            if not isinstance(merged, MapNode):
                self.report.add(_mark(source.start_mark), path, "'<<' merges mappings only")
                continue
            for key, node in merged.items.items():
                if key not in target.items:
                    target.items[key] = node
                    target.keys[key] = merged.keys[key]
        return size
