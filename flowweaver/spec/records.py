"""Kinds of mappings: tables of names to values, and records of known keys.

A :class:`Record` is where references are resolved: each :class:`Key` says whether
its value's strings are interpolated (and shell-quoted) before its kind checks it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from flowweaver.spec.kinds import INVALID, Context, Kind, Text, describe
from flowweaver.spec.nodes import MapNode, Node, ScalarNode, plain
from flowweaver.spec.problems import KeyPath, did_you_mean


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
        for name, value in node.items.items():
            where = (*path, name)
            if self.keys.check(ScalarNode(name, node.keys[name]), where, ctx) is INVALID:
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

    def check(self, node: Node, path: KeyPath, ctx: Context, skip: Collection[str] = ()) -> Any:
        if not isinstance(node, MapNode):
            return ctx.fail(node, path, f"expected a mapping, got {describe(node)}")
        result: dict[str, Any] = {}
        for name, value in node.items.items():
            key = self.keys.get(name)
            if key is None:
                self._unknown(node, name, path, ctx)
            elif name not in skip:
                checked = self._check_key(key, value, (*path, name), ctx)
                if checked is not INVALID:
                    result[name] = checked
        self._check_presence(node, path, ctx)
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
        ctx.report.add(node.key_mark(name), (*path, name), f"unknown key {name!r}{hint}")

    def _check_presence(self, node: MapNode, path: KeyPath, ctx: Context) -> None:
        for name in self.required:
            if name not in node.items:
                ctx.report.add(node.mark, path, f"missing required key {name!r}")
        if not self.one_of:
            return
        given = [name for name in self.one_of if name in node.items]
        choices = " or ".join(repr(name) for name in self.one_of)
        if not given:
            ctx.report.add(node.mark, path, f"needs {choices}")
        for name in given[1:]:
            where = (*path, name)
            ctx.report.add(node.key_mark(name), where, f"give only one of {choices}")

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
