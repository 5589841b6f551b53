"""YAML text → a tree of located nodes, safely.

:func:`compose` reads the parser's event stream (libyaml's when PyYAML has it) and
builds :class:`MapNode`, :class:`ListNode` and :class:`ScalarNode` values directly, each
with its position (one int, see :data:`~flowweaver.spec.nodes.At`): PyYAML's own node
graph, with two mark objects per value, is never made, so a big spec costs a fraction
of the memory and time. It reports:

- YAML syntax errors, at the parser's line and column (and then nothing else);
- duplicate mapping keys (PyYAML would silently keep the last one);
- tags other than plain YAML types: ``!!python/object`` and friends never build anything;
- documents that aliases would expand past a bound (a "billion laughs"), without
  expanding them;
- recursive aliases and absurd nesting.

Merge keys (``<<: *defaults``) are resolved: the mapping's own keys win, then the
merged mappings in the order given. Aliased nodes are built once and shared.
Timestamps stay strings (``2026-11-26`` is the text, as in JSON).
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.constructor import SafeConstructor
from yaml.events import (
    AliasEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

from flowweaver.spec.nodes import ListNode, MapNode, Node, ScalarNode, line_of, mark_of
from flowweaver.spec.problems import (
    FILE_START,
    TOP,
    KeyPath,
    Mark,
    Problems,
    character_at,
    mark_at,
)
from flowweaver.spec.yamllines import block_tree

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_DEPTH = 64
"""Deeper nesting than this is refused: no spec needs it, and walking it costs stack."""

EXPANSION_ALLOWANCE = 4_000_000
"""Aliases may expand a document by this many characters or nodes beyond twice its size."""

_YAML = "tag:yaml.org,2002:"
_STR, _MAP, _SEQ, _MERGE = _YAML + "str", _YAML + "map", _YAML + "seq", _YAML + "merge"
_INT, _BOOL, _NULL = _YAML + "int", _YAML + "bool", _YAML + "null"
_AS_TEXT = frozenset({_STR, _YAML + "timestamp", _YAML + "value"})
_IMPLICIT: dict[str, list[tuple[str, Any]]] = yaml.resolver.Resolver.yaml_implicit_resolvers
"""The safe loaders' implicit tags of plain scalars, by first character (PyYAML's table)."""
_WORD_TAGS = (_BOOL, _NULL)
_WORD_FIRSTS = frozenset(
    first
    for first, resolvers in _IMPLICIT.items()
    if first and all(tag in _WORD_TAGS for tag, _ in resolvers)
)
"""First characters of plain scalars that only a word (``true``, ``null``…) makes typed."""
_LONGEST_WORD = max(
    len(word)
    for resolvers in _IMPLICIT.values()
    for tag, regexp in resolvers
    if tag in _WORD_TAGS
    for word in re.findall(r"\w+", regexp.pattern)
)
"""The longest of those words: longer text starting like one is text (``task-1``)."""
_DIGITS = frozenset("123456789")
"""What a plain decimal integer without a leading zero starts with (read without a regexp)."""
_KEY_TAGS = _AS_TEXT | {_INT, _BOOL, _NULL, _YAML + "float"}
"""The tags of a key that is read as its text (``1: x`` has the key ``'1'``)."""
_KEY_CHECKED = frozenset(
    first
    for first, resolvers in _IMPLICIT.items()
    if any(tag not in _KEY_TAGS for tag, _ in resolvers)
)
"""First characters of a plain key that may resolve to another tag (``<<``): checked."""


def compose(text: str, report: Problems) -> Node | None:
    """The node tree of ``text``, or ``None`` when it has none (problems are in ``report``).

    A text written wholly in the common block style is read line by line
    (:mod:`flowweaver.spec.yamllines`: the same tree, at a fraction of the cost); any
    other text by the parser's events.
    """
    tree = block_tree(text, _plain_scalar)
    if tree is not None:
        return tree
    loader = _Loader(text)
    composer = _Composer(loader, limit=2 * len(text) + EXPANSION_ALLOWANCE)
    try:
        tree = composer.document()
    except yaml.YAMLError as exc:
        mark = _errormark_of(exc, text)
        report.add(mark, TOP, f"not valid YAML: {_error_text(exc, character_at(text, mark))}")
        return None
    finally:
        loader.dispose()
    for at, path, message in composer.problems:
        report.add(mark_of(at), path, message)
    if composer.too_deep is not None:
        report.add(mark_of(composer.too_deep), TOP, f"nested more than {MAX_DEPTH} levels deep")
        return None
    if tree is None:
        return None
    if composer.size > composer.limit and not composer.recursive:
        message = (
            f"aliases expand this document past {composer.limit:,} characters; refused "
            "(a 'billion laughs' guard)"
        )
        report.add(mark_of(tree.at), TOP, message)
        return None
    return tree


def _errormark_of(exc: yaml.YAMLError, text: str) -> Mark:
    at = getattr(exc, "problem_mark", None)
    if at is not None:
        return Mark(at.line + 1, at.column + 1)
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


def _value_problem(tag: str, text: str) -> str:
    return f"{text!r} is not a valid {_short(tag)} value"


def _short(tag: str) -> str:
    return "!!" + tag[len(_YAML) :] if tag.startswith(_YAML) else tag


def _tag_problem(tag: str) -> str:
    short = _short(tag)
    if short.startswith("!!python/"):
        return f"tag {short!r} would build a Python object: spec files are loaded safely"
    return f"unsupported tag {short!r}: use plain YAML values"


def _at(event: Any) -> int:
    mark = event.start_mark
    where: int = mark.line << 32 | mark.column  # as nodes.position(), without a call per value
    return where


def _scalar_tag(event: Any) -> str:
    """The resolved tag of a scalar event, as PyYAML's composer and resolver give it."""
    tag: str | None = event.tag
    if tag is not None and tag != "!":
        return tag
    if event.implicit[0]:  # plain: the implicit resolvers of its first character
        value: str = event.value
        for resolved, regexp in _IMPLICIT.get(value[:1], ()):
            if regexp.match(value):
                return resolved
    return _STR


_CONSTRUCT = {
    tag: getattr(SafeConstructor(), name)
    for tag, name in (
        (_INT, "construct_yaml_int"),
        (_YAML + "float", "construct_yaml_float"),
        (_BOOL, "construct_yaml_bool"),
        (_NULL, "construct_yaml_null"),
    )
}
"""How a scalar of each typed tag is read (PyYAML's safe constructor's methods)."""


def _plain_scalar(text: str, known: dict[str, str]) -> Any:
    """The value of a plain scalar written ``text``, as the composer reads it (a text as
    the one string ``known`` keeps for it); raises :class:`ValueError` when reading it
    would be a problem (an unsupported tag, ``<<``)."""
    first = text[:1]
    if first not in _IMPLICIT or (first in _WORD_FIRSTS and len(text) > _LONGEST_WORD):
        return known.setdefault(text, text)
    if first in _DIGITS and text.isdigit() and text.isascii():
        return int(text)
    tag = _STR
    for resolved, regexp in _IMPLICIT[first]:
        if regexp.match(text):
            tag = resolved
            break
    if tag in _AS_TEXT:
        return known.setdefault(text, text)
    construct = _CONSTRUCT.get(tag)
    if construct is None:
        raise ValueError(f"{tag} is not read here")
    try:
        return construct(yaml.ScalarNode(tag, text))
    except (KeyError, IndexError, TypeError, yaml.YAMLError) as exc:
        raise ValueError(text) from exc


_SLOW: Any = object()
"""What :func:`_plain_value` says of a scalar it leaves to :meth:`_Composer._typed`."""


def _plain_value(event: Any, text: str, known: dict[str, str]) -> Any:
    """The value of a scalar event without a tag: its text when it can only be text
    (one string for each text in ``known``), a decimal integer read at once,
    :data:`_SLOW` for the rest (the resolver's regexps)."""
    if event.tag is not None:
        return _SLOW
    if not event.implicit[0]:  # quoted
        return known.setdefault(text, text)
    first = text[:1]
    if first not in _IMPLICIT or (first in _WORD_FIRSTS and len(text) > _LONGEST_WORD):
        return known.setdefault(text, text)
    if first in _DIGITS and text.isdigit() and text.isascii():
        return int(text)
    return _SLOW


class _Anchor:
    """What an anchor names: a built node, its expanded size, and its tag if a scalar.
    ``size`` is ``None`` while the anchored collection is still being read."""

    __slots__ = ("node", "pending", "size", "tag", "text", "where")

    def __init__(self, node: Node, size: int | None, tag: str | None, text: str, where: int):
        self.node, self.size, self.tag, self.text, self.where = node, size, tag, text, where
        self.pending: str | None = None
        """A problem of a merge key's list, reported where the list is first aliased:
        the list itself is read only as the mappings it merges."""


class _Composer:
    """Builds nodes from the events of one document, sizing their expansion as it goes.

    An aliased node is built once and shared, and its expanded size is known from its
    anchor, so a billion laughs costs microseconds and no memory. Problems are kept
    (not reported) until the whole stream has parsed: a YAML error is then the only one.
    """

    def __init__(self, loader: Any, limit: int) -> None:
        self._next = loader.get_event
        # PyYAML's words for a bad alias: the pure-Python composer names the anchor
        self._named = isinstance(loader, yaml.composer.Composer)
        self.limit = limit
        self.size = 0
        self.recursive = False
        self.too_deep: int | None = None
        self.problems: list[tuple[int, KeyPath, str]] = []
        self._muted = 0
        self._anchors: dict[str, _Anchor] = {}
        self._first_document = 0
        self._last_size = 0  # the expanded size of the node a method last returned
        self._known: dict[str, str] = {}
        """One string for each text of a key or a value: a big spec repeats them (the
        same call, the task names its dependencies name)."""
        self._construct = _CONSTRUCT

    def _report(self, at: int, path: KeyPath, message: str) -> None:
        if not self._muted:
            self.problems.append((at, path, message))

    # -- the stream --------------------------------------------------------------------

    def document(self) -> Node | None:
        """The one document's root node (``None`` for an empty stream)."""
        self._next()  # the stream's start
        event = self._next()
        if type(event) is StreamEndEvent:
            return None
        start = event.start_mark  # a DocumentStartEvent
        root = self._node(self._next(), TOP, 0)
        self.size = self._last_size
        self._next()  # the document's end
        event = self._next()
        if type(event) is not StreamEndEvent:
            raise ComposerError(
                "expected a single document in the stream",
                start,
                "but found another document",
                event.start_mark,
            )
        return root

    # -- nodes -------------------------------------------------------------------------

    def _node(self, event: Any, path: KeyPath, depth: int) -> Node:
        """The node that starts with ``event``, at ``path``; its size in ``_last_size``."""
        kind = type(event)
        if kind is ScalarEvent:
            return self._scalar(event, path)
        if kind is AliasEvent:
            return self._alias(event, path)
        mark = event.start_mark
        where: int = mark.line << 32 | mark.column
        if depth > MAX_DEPTH:
            return self._too_deep(event, where)
        node: Node
        anchor = None
        if kind is MappingStartEvent:
            node = MapNode({}, where, {})
            if event.anchor is not None:
                anchor = self._anchor(event, node, None, "")
            if event.tag is not None and event.tag not in ("!", _MAP):
                self._report(where, path, _tag_problem(event.tag))
            self._mapping(node, path, depth)
        else:
            node = ListNode([], where)
            if event.anchor is not None:
                anchor = self._anchor(event, node, None, "")
            if event.tag is not None and event.tag not in ("!", _SEQ):
                self._report(where, path, _tag_problem(event.tag))
            self._sequence(node, path, depth)
        if anchor is not None:
            anchor.size = self._last_size
        return node

    def _too_deep(self, event: Any, where: int) -> ScalarNode:
        """The collection ``event`` starts, nested too deep: skipped (the tree is refused)."""
        if self.too_deep is None:
            self.too_deep = where
            self._muted += 1  # no more problems after this one
        self._skip(event)
        self._last_size = 1
        return ScalarNode(None, where)

    def _skip(self, event: Any) -> None:
        """Read the events of the collection ``event`` starts, without recursion, checking
        only what makes it bad YAML (a duplicate anchor, an undefined alias)."""
        level = 0
        while True:
            kind = type(event)
            if kind is AliasEvent:
                self._alias(event, TOP)
            elif kind is ScalarEvent or kind is MappingStartEvent or kind is SequenceStartEvent:
                anchor = self._anchor(event, ScalarNode(None, _at(event)), None, "")
                if anchor is not None:
                    anchor.size = 1
                level += kind is not ScalarEvent
            else:  # the end of a mapping or a list
                level -= 1
            if level == 0:
                return
            event = self._next()

    def _anchor(self, event: Any, node: Node, tag: str | None, text: str) -> _Anchor | None:
        name = event.anchor
        if name is None:
            return None
        first = self._anchors.get(name)
        if first is not None:
            raise ComposerError(
                f"found duplicate anchor {name!r}; first occurrence"
                if self._named
                else "found duplicate anchor; first occurrence",
                None,
                "second occurrence",
                event.start_mark,
            )
        anchor = _Anchor(node, None, tag, text, node.at)
        self._anchors[name] = anchor
        return anchor

    def _scalar(self, event: Any, path: KeyPath) -> ScalarNode:
        text: str = event.value
        tag = _scalar_tag(event)
        node = self._typed(tag, text, _at(event), path)
        if event.anchor is not None:
            self._anchor(event, node, tag, text).size = len(text) + 1  # type: ignore[union-attr]
        self._last_size = len(text) + 1
        return node

    def _typed(self, tag: str, text: str, where: int, path: KeyPath) -> ScalarNode:
        """A scalar's node: its text, or the value its tag gives (a problem if unsupported)."""
        if tag in _AS_TEXT:
            return ScalarNode(text, where)
        if tag == _INT and text.isdigit() and text.isascii() and (text[0] != "0" or text == "0"):
            return ScalarNode(int(text), where)  # the common case, without a yaml.ScalarNode
        construct = self._construct.get(tag)
        if construct is None:
            self._report(where, path, _tag_problem(tag))
            return ScalarNode(None, where)
        try:
            value = construct(yaml.ScalarNode(tag, text))
        except (ValueError, KeyError, IndexError, TypeError, yaml.YAMLError):  # (!!int 'x')
            self._report(where, path, _value_problem(tag, text))
            return ScalarNode(None, where)
        return ScalarNode(value, where)

    def _alias(self, event: Any, path: KeyPath) -> Node:
        anchor = self._anchors.get(event.anchor)
        if anchor is None:
            raise self._undefined(event)
        if anchor.tag is not None:  # a scalar: its value again (a problem again, if any)
            self._last_size = len(anchor.text) + 1
            return self._typed(anchor.tag, anchor.text, anchor.where, path)
        if anchor.size is None:
            self.recursive = True
            self._report(anchor.where, path, "recursive alias: a node contains itself")
            self._last_size = 1
            return ScalarNode(None, anchor.where)
        if anchor.pending is not None:
            self._report(anchor.where, path, anchor.pending)
            anchor.pending = None
        self._last_size = anchor.size
        return anchor.node

    def _undefined(self, event: Any) -> ComposerError:
        what = f"found undefined alias {event.anchor!r}" if self._named else "found undefined alias"
        return ComposerError(None, None, what, event.start_mark)

    def _sequence(self, node: ListNode, path: KeyPath, depth: int) -> None:
        items = node.items
        known = self._known
        size = 1
        index = 0
        while True:
            event = self._next()
            kind = type(event)
            if kind is SequenceEndEvent:
                break
            if kind is ScalarEvent and event.anchor is None:  # the common case, inline
                text = event.value
                mark = event.start_mark
                value = _plain_value(event, text, known)
                if value is not _SLOW:
                    items.append(ScalarNode(value, mark.line << 32 | mark.column))
                else:
                    where = mark.line << 32 | mark.column
                    items.append(self._typed(_scalar_tag(event), text, where, (*path, index)))
                size += len(text) + 1
            else:
                items.append(self._node(event, (*path, index), depth + 1))
                size += self._last_size
            index += 1
        self._last_size = size

    def _mapping(self, node: MapNode, path: KeyPath, depth: int) -> None:
        items, keys = node.items, node.keys
        size = 1
        merged: list[Node] = []
        read = self._next
        known = self._known
        while True:
            event = read()
            kind = type(event)
            if kind is MappingEndEvent:
                break
            if (
                kind is ScalarEvent
                and event.tag is None
                and event.anchor is None
                and (not event.implicit[0] or event.value[:1] not in _KEY_CHECKED)
            ):  # the common case, inline: a key that is its text
                key: str | None = known.setdefault(event.value, event.value)  # one string a name
                mark: Any = event.start_mark
                where = mark.line << 32 | mark.column
            else:
                key, where = self._key(event, kind, path)
            if key is None:
                if where == -1:  # a merge key: its value is merged after the own keys
                    size += self._merge_sources(self._next(), path, depth, merged)
                else:  # not a key: its value is not read as anything
                    self._muted += 1
                    self._node(self._next(), path, depth + 1)
                    self._muted -= 1
                continue
            event = read()
            if key in items:
                self._duplicate(key, keys[key], where, path)
                self._node(event, (*path, key), depth + 1)  # for the problems inside it
                continue
            keys[key] = where
            if type(event) is ScalarEvent and event.anchor is None:  # the common case
                text = event.value
                mark = event.start_mark
                value = _plain_value(event, text, known)
                if value is not _SLOW:
                    items[key] = ScalarNode(value, mark.line << 32 | mark.column)
                else:
                    at = mark.line << 32 | mark.column
                    items[key] = self._typed(_scalar_tag(event), text, at, (*path, key))
                size += len(key) + len(text) + 1
            else:
                items[key] = self._node(event, (*path, key), depth + 1)
                size += len(key) + self._last_size
        for source in merged:
            self._merge(node, source, path)
        self._last_size = size

    def _key(self, event: Any, kind: type, path: KeyPath) -> tuple[str | None, int]:
        """A key's text and position; ``(None, -1)`` for a merge key ``<<``, ``(None, 0)``
        when it is not plain text (reported; its events are read)."""
        if kind is ScalarEvent:
            tag = _scalar_tag(event)
            where = _at(event)
            if event.anchor is not None:
                self._anchor(event, ScalarNode(event.value, where), tag, event.value)
            if tag in _AS_TEXT or tag in self._construct:
                return event.value, where
            if tag == _MERGE:
                return None, -1
        elif kind is AliasEvent:
            anchor = self._anchors.get(event.anchor)
            if anchor is None:
                raise self._undefined(event)
            where = anchor.where
            if anchor.tag is not None and (anchor.tag in _AS_TEXT or anchor.tag in self._construct):
                return anchor.text, where
            if anchor.tag == _MERGE:
                return None, -1
        else:
            where = _at(event)
            self._skip(event)  # a collection as a key: read, not built
        self._report(where, path, "mapping keys must be plain text")
        return None, 0

    def _duplicate(self, key: str, first: int, again: int, path: KeyPath) -> None:
        what = "task" if path == ("tasks",) else "key"
        message = f"duplicate {what} {key!r} (first on line {line_of(first) + 1})"
        self._report(again, (*path, key), message)

    def _merge_sources(self, event: Any, path: KeyPath, depth: int, merged: list[Node]) -> int:
        """Read the value of a merge key into ``merged``: a mapping, or each of a list's
        items; the sources' expanded size."""
        if type(event) is not SequenceStartEvent:
            source = self._node(event, path, depth + 1)
            if type(event) is AliasEvent and isinstance(source, ListNode):
                merged.extend(source.items)  # an aliased list of mappings: each is merged
                return self._last_size - 1
            merged.append(source)
            return self._last_size
        sources = ListNode([], _at(event))
        anchor = self._anchor(event, sources, None, "")
        if anchor is not None and event.tag is not None and event.tag not in ("!", _SEQ):
            anchor.pending = _tag_problem(event.tag)
        size = 0
        while True:
            item = self._next()
            if type(item) is SequenceEndEvent:
                break
            sources.items.append(self._node(item, path, depth + 1))
            size += self._last_size
        if anchor is not None:
            anchor.size = size + 1
        merged.extend(sources.items)
        return size

    def _merge(self, target: MapNode, source: Node, path: KeyPath) -> None:
        """Add the keys of ``source`` that ``target`` lacks."""
        if not isinstance(source, MapNode):
            self._report(source.at, path, "'<<' merges mappings only")
            return
        items, keys = target.items, target.keys
        for key, node in source.items.items():
            if key not in items:
                items[key] = node
                keys[key] = source.keys[key]
