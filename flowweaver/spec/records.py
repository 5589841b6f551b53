"""Kinds of mappings: tables of names to values, and records of known keys.

A :class:`Record` is where references are resolved: each :class:`Key` says whether
its value's strings are interpolated (and shell-quoted) before its kind checks it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from flowweaver.spec.kinds import INVALID, REFERENCE_SCHEMA, Context, Kind, Text, describe
from flowweaver.spec.nodes import MapNode, Node, ScalarNode, plain
from flowweaver.spec.problems import KeyPath, closest, did_you_mean


@dataclass(frozen=True)
class Table(Kind):
    """A mapping from names (matching ``keys``) to values of kind ``values`` (any: ``None``)."""

    values: Kind | None = None
    keys: Text = field(default_factory=Text)
    nonempty: str = ""
    """The problem when empty; empty tables are fine when this is empty."""

    def check(self, node: Node, path: KeyPath, ctx: Context) -> Any:
        if isinstance(node, ScalarNode) and node.value is None and not self.nonempty:
            return {}
        if not isinstance(node, MapNode):
            return ctx.fail(node, path, f"expected a mapping, got {describe(node)}")
        if not node.items and self.nonempty:
            return ctx.fail(node, path, self.nonempty)
        result: dict[str, Any] = {}
        names = self.keys
        for name, value in node.items.items():
            where = (*path, name)
            if not names.accepts(name) and (
                names.check(ScalarNode(name, node.keys[name]), where, ctx) is INVALID
            ):
                continue
            checked = plain(value) if self.values is None else self.values.check(value, where, ctx)
            if checked is not INVALID:
                result[name] = checked
        return result

    def schema(self) -> dict[str, Any]:
        result: dict[str, Any] = {"type": "object", "propertyNames": self.keys.schema()}
        if self.values is not None:
            result["additionalProperties"] = self.values.schema()
        if self.nonempty:
            result["minProperties"] = 1
        return result


@dataclass(frozen=True)
class Key:
    """One key of a :class:`Record`: its kind, its help text and how it is interpolated.

    ``interpolate`` is ``"text"`` (references in strings are replaced), ``"shell"`` (and
    the values are shell-quoted when the command is a string) or ``"none"``.
    ``runtime``: the kinds of run-time references (``item``, ``tasks``) its strings
    may hold, kept for when the task starts.
    """

    kind: Kind
    help: str
    interpolate: str = "text"
    runtime: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Record(Kind):
    """A mapping with known keys: unknown ones are problems, with a did-you-mean."""

    keys: Mapping[str, Key]
    required: tuple[str, ...] = ()
    one_of: tuple[str, ...] = ()
    """Exactly one of these keys must be given."""
    ignore_prefix: str | None = None
    noun: str = "key"
    """What its keys are called in a problem (``unknown handler 'on_fail'``)."""

    _shapes: dict[tuple[str, ...], tuple[tuple[str, Key], ...]] = field(
        default_factory=dict, compare=False, repr=False
    )
    """The keys to check of each set of keys seen with no unknown, missing or doubled
    one: the tasks of a big spec share a few shapes, so each shape's presence rules
    are checked once, not once per task."""

    def check(self, node: Node, path: KeyPath, ctx: Context, skip: Collection[str] = ()) -> Any:
        if not isinstance(node, MapNode):
            return ctx.fail(node, path, f"expected a mapping, got {describe(node)}")
        shape = tuple(node.items)
        keys = None if skip else self._shapes.get(shape)
        if keys is None:
            return self._check_all(node, path, ctx, skip, shape)
        result: dict[str, Any] = {}
        items = node.items
        for name, key in keys:
            checked = self._check_key(key, items[name], (*path, name), ctx)
            if checked is not INVALID:
                result[name] = checked
        return result

    def _check_all(
        self,
        node: MapNode,
        path: KeyPath,
        ctx: Context,
        skip: Collection[str],
        shape: tuple[str, ...],
    ) -> Any:
        result: dict[str, Any] = {}
        for name, value in node.items.items():
            key = self.keys.get(name)
            if key is None:
                self._unknown(node, name, path, ctx)
            elif name not in skip:
                checked = self._check_key(key, value, (*path, name), ctx)
                if checked is not INVALID:
                    result[name] = checked
        clean = self._check_presence(node, path, ctx) and not skip
        if clean and all(name in self.keys for name in shape) and len(self._shapes) < _MAX_SHAPES:
            self._shapes[shape] = tuple((name, self.keys[name]) for name in shape)
        return result

    def _check_key(self, key: Key, node: Node, path: KeyPath, ctx: Context) -> Any:
        if ctx.scope is not None and key.interpolate != "none":
            shell = key.interpolate == "shell"
            node = ctx.scope.resolve(node, path, ctx.report, shell=shell, runtime=key.runtime)
        return key.kind.check(node, path, ctx)

    def _unknown(self, node: MapNode, name: str, path: KeyPath, ctx: Context) -> None:
        if self.ignore_prefix is not None and name.startswith(self.ignore_prefix):
            return
        hint = did_you_mean(name, self.keys)
        message = f"unknown {self.noun} {name!r}{hint}"
        ctx.report.add(node.key_mark(name), (*path, name), message)

    def _check_presence(self, node: MapNode, path: KeyPath, ctx: Context) -> bool:
        """Whether the required keys and one of ``one_of`` are there (else reported)."""
        ok = True
        for name in self.required:
            if name not in node.items:
                ctx.report.add(node.mark, path, f"missing required key {name!r}")
                ok = False
        if not self.one_of:
            return ok
        given = [name for name in self.one_of if name in node.items]
        choices = " or ".join(repr(name) for name in self.one_of)
        if not given and not self._misspelt_one_of(node):
            ctx.report.add(node.mark, path, f"needs {choices}")
        for name in given[1:]:
            where = (*path, name)
            ctx.report.add(node.key_mark(name), where, f"give only one of {choices}")
        return ok and len(given) == 1

    def _misspelt_one_of(self, node: MapNode) -> bool:
        """Whether an unknown key stands for one of ``one_of`` (its problem says so)."""
        unknown = [name for name in node.items if name not in self.keys]
        return any(closest(name, list(self.one_of)) is not None for name in unknown)

    def schema(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "type": "object",
            "properties": {
                name: {"description": key.help, **key.kind.schema()}
                for name, key in self.keys.items()
            },
            "additionalProperties": False,
        }
        if self.ignore_prefix is not None:
            result["patternProperties"] = {f"^{re.escape(self.ignore_prefix)}": {}}
        if self.required:
            result["required"] = list(self.required)
        if self.one_of:
            result["oneOf"] = [{"required": [name]} for name in self.one_of]
        return result


_MAX_SHAPES = 256
"""Shapes kept per record: a spec whose tasks all differ in shape is checked key by key."""

_TRUTH = {"true": True, "false": False}


@dataclass(frozen=True)
class Condition(Kind):
    """A task's ``when``: a boolean (after interpolation; the text ``true`` or ``false``
    counts), or a :class:`Record` such as ``{call: …}`` or ``{shell: …}``, whose keys
    are interpolated each in its own way. Its key must not interpolate (``none``)."""

    record: Record

    def check(self, node: Node, path: KeyPath, ctx: Context) -> Any:
        if isinstance(node, MapNode):
            value = self.record.check(node, path, ctx)
            given = [name for name in self.record.one_of if name in value]
            return value if len(given) == 1 else INVALID  # (else reported)
        if ctx.scope is not None:
            resolved = ctx.scope.resolve(node, path, ctx.report)
            if resolved is node and isinstance(node, ScalarNode) and "${" in str(node.value):
                return INVALID  # a reference that doesn't resolve: reported already
            node = resolved
        value = node.value if isinstance(node, ScalarNode) else None
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUTH:
            return _TRUTH[value.strip().lower()]
        forms = " or ".join(f"{{{name}: ...}}" for name in self.record.one_of)
        return ctx.fail(node, path, f"expected true, false, {forms}, got {describe(node)}")

    def schema(self) -> dict[str, Any]:
        text = {"type": "string", "pattern": "^\\s*([Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee])\\s*$"}
        return {"anyOf": [{"type": "boolean"}, text, REFERENCE_SCHEMA, self.record.schema()]}
