"""Kinds of values in a spec: each checks a node and describes itself as JSON Schema.

The loader and :func:`flowweaver.spec.spec_schema` both read the same kinds, so the
schema editors use and the rules the loader applies can't drift apart.
"""

from __future__ import annotations

import functools
import math
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, Final

from flowweaver.spec import durations, schedules
from flowweaver.spec.interpolate import Scope, as_text
from flowweaver.spec.nodes import ListNode, MapNode, Node, ScalarNode, plain
from flowweaver.spec.problems import KeyPath, Problems, did_you_mean


class _Invalid:
    def __repr__(self) -> str:
        return "INVALID"


INVALID: Final = _Invalid()
"""What a check returns after reporting a problem: the key is left out."""

REFERENCE_SCHEMA: Final = {"type": "string", "pattern": r"^\$\{[^}]*\}$"}
"""A string that is one ``${…}`` reference, which may stand for a value of any type."""


@dataclass
class Context:
    """Where checks report, and what references resolve against (none: no resolving)."""

    report: Problems
    scope: Scope | None = None

    def fail(self, node: Node, path: KeyPath, message: str) -> _Invalid:
        self.report.add(node.mark, path, message)
        return INVALID


def describe(node: Node) -> str:
    """A node's value, named for a message: ``a list``, ``text 'x'``, ``the number 5``."""
    if isinstance(node, MapNode):
        return "a mapping"
    if isinstance(node, ListNode):
        return "a list"
    value = node.value
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"text {shown!r}"
    return f"the number {value}"


class Kind(ABC):
    """A kind of value. A kind with settings (``Text(nonempty=True)``) is a frozen
    dataclass; one without (``Flag()``) is a plain class, since a dataclass would only
    add methods it doesn't use, made at every start (about 0.3 ms each)."""

    @abstractmethod
    def check(self, node: Node, path: KeyPath, ctx: Context) -> Any:
        """The checked value, or :data:`INVALID` after reporting to ``ctx``."""

    @abstractmethod
    def schema(self) -> dict[str, Any]:
        """This kind as JSON Schema."""


def _or_reference(schema: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [schema, REFERENCE_SCHEMA]}


@functools.lru_cache
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


@dataclass(frozen=True)
class Text(Kind):
    """A string, maybe non-empty, maybe matching a pattern (``hint`` explains it)."""

    nonempty: bool = False
    pattern: str | None = None
    hint: str = ""

    def accepts(self, value: str) -> bool:
        """Whether the text ``value`` passes :meth:`check` (without a node or a problem)."""
        if self.nonempty and not value.strip():
            return False
        return self.pattern is None or _compiled(self.pattern).fullmatch(value) is not None

    def check(self, node: Node, path: KeyPath, ctx: Context) -> Any:
        if not isinstance(node, ScalarNode) or not isinstance(node.value, str):
            return ctx.fail(node, path, f"expected text, got {describe(node)}")
        if self.nonempty and not node.value.strip():
            return ctx.fail(node, path, "must not be empty")
        if self.pattern is not None and _compiled(self.pattern).fullmatch(node.value) is None:
            return ctx.fail(node, path, f"{node.value!r} is not {self.hint}")
        return node.value

    def schema(self) -> dict[str, Any]:
        result: dict[str, Any] = {"type": "string"}
        if self.nonempty:
            result["minLength"] = 1
        if self.pattern is not None:
            result["pattern"] = f"^(?:{self.pattern})$"
        return result


class Flag(Kind):
    """``true`` or ``false``."""

    def check(self, node: Node, path: KeyPath, ctx: Context) -> Any:
        if not isinstance(node, ScalarNode) or not isinstance(node.value, bool):
            return ctx.fail(node, path, f"expected true or false, got {describe(node)}")
        return node.value

    def schema(self) -> dict[str, Any]:
        return _or_reference({"type": "boolean"})


def _number(node: Node) -> int | float | None:
    value = node.value if isinstance(node, ScalarNode) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value


@dataclass(frozen=True)
class Whole(Kind):
    """An integer, at least ``minimum``; ``only`` when a single value is allowed."""

    minimum: int | None = None
    only: int | None = None

    def check(self, node: Node, path: KeyPath, ctx: Context) -> Any:
        value = _number(node)
        if not isinstance(value, int):
            return ctx.fail(node, path, f"expected a whole number, got {describe(node)}")
        if self.only is not None and value != self.only:
            return ctx.fail(node, path, f"must be {self.only}, got {value}")
        if self.minimum is not None and value < self.minimum:
            return ctx.fail(node, path, f"must be {self.minimum} or more, got {value}")
        return value

    def schema(self) -> dict[str, Any]:
        result: dict[str, Any] = {"type": "integer"}
        if self.only is not None:
            result["const"] = self.only
        if self.minimum is not None:
            result["minimum"] = self.minimum
        return _or_reference(result)


@dataclass(frozen=True)
class Real(Kind):
    """A finite number between ``minimum`` and ``maximum``."""

    minimum: float | None = None
    maximum: float | None = None

    def check(self, node: Node, path: KeyPath, ctx: Context) -> Any:
        value = _number(node)
        if value is None or not math.isfinite(value):
            return ctx.fail(node, path, f"expected a number, got {describe(node)}")
        if self.minimum is not None and value < self.minimum:
            return ctx.fail(node, path, f"must be {self.minimum:g} or more, got {value}")
        if self.maximum is not None and value > self.maximum:
            return ctx.fail(node, path, f"must be {self.maximum:g} or less, got {value}")
        return float(value)

    def schema(self) -> dict[str, Any]:
        result: dict[str, Any] = {"type": "number"}
        if self.minimum is not None:
            result["minimum"] = self.minimum
        if self.maximum is not None:
            result["maximum"] = self.maximum
        return _or_reference(result)


@dataclass(frozen=True)
class Duration(Kind):
    """Seconds: a number, or text like ``500ms``, ``5m``, ``1h30m``; zero allowed or not."""

    positive: bool = True

    def check(self, node: Node, path: KeyPath, ctx: Context) -> Any:
        value = node.value if isinstance(node, ScalarNode) else plain(node)
        try:
            seconds = durations.parse_duration(value)
        except ValueError as exc:
            return ctx.fail(node, path, str(exc))
        if self.positive and seconds == 0:
            return ctx.fail(node, path, "must be more than zero")
        return seconds

    def schema(self) -> dict[str, Any]:
        bound = "exclusiveMinimum" if self.positive else "minimum"
        text = {"type": "string", "pattern": durations.PATTERN}
        return {"anyOf": [{"type": "number", bound: 0}, text, REFERENCE_SCHEMA]}


@dataclass(frozen=True)
class Choice(Kind):
    """One of a few words."""

    options: tuple[str, ...]

    def check(self, node: Node, path: KeyPath, ctx: Context) -> Any:
        value = node.value if isinstance(node, ScalarNode) else None
        if value not in self.options:
            listed = ", ".join(self.options)
            hint = did_you_mean(value, self.options) if isinstance(value, str) else ""
            return ctx.fail(node, path, f"expected one of {listed}, got {describe(node)}{hint}")
        return value

    def schema(self) -> dict[str, Any]:
        return _or_reference({"enum": list(self.options)})


@dataclass(frozen=True)
class Names(Kind):
    """A list of strings; a single string is a list of one."""

    each: Text = field(default_factory=lambda: Text(nonempty=True))

    def check(self, node: Node, path: KeyPath, ctx: Context) -> Any:
        if isinstance(node, ScalarNode) and isinstance(node.value, str):
            value = self.each.check(node, path, ctx)
            return INVALID if value is INVALID else [value]
        if not isinstance(node, ListNode):
            return ctx.fail(node, path, f"expected a list of names, got {describe(node)}")
        accepts = self.each.accepts
        names = [
            item.value
            for item in node.items
            if type(item) is ScalarNode and type(item.value) is str and accepts(item.value)
        ]
        if len(names) == len(node.items):  # the common case, without a call per item
            return names
        values = [self.each.check(v, (*path, i), ctx) for i, v in enumerate(node.items)]
        return INVALID if INVALID in values else values

    def schema(self) -> dict[str, Any]:
        each = self.each.schema()
        return {"anyOf": [each, {"type": "array", "items": each}]}


class Textual(Kind):
    """Text, or a number or true/false written as text (``8080`` is ``"8080"``)."""

    def check(self, node: Node, path: KeyPath, ctx: Context) -> Any:
        if not isinstance(node, ScalarNode) or node.value is None:
            return ctx.fail(node, path, f"expected text, got {describe(node)}")
        return as_text(node.value)

    def schema(self) -> dict[str, Any]:
        return {"type": ["string", "number", "boolean"]}


class Command(Kind):
    """A shell command string, or a non-empty list of arguments (numbers become text)."""

    def check(self, node: Node, path: KeyPath, ctx: Context) -> Any:
        if isinstance(node, ScalarNode) and isinstance(node.value, str):
            return node.value if node.value.strip() else ctx.fail(node, path, "empty command")
        if not isinstance(node, ListNode):
            return ctx.fail(node, path, f"expected a command or a list, got {describe(node)}")
        if not node.items:
            return ctx.fail(node, path, "empty command")
        argv = [Textual().check(v, (*path, i), ctx) for i, v in enumerate(node.items)]
        return INVALID if INVALID in argv else argv

    def schema(self) -> dict[str, Any]:
        argv = {"type": "array", "items": Textual().schema(), "minItems": 1}
        return {"anyOf": [{"type": "string", "minLength": 1}, argv]}


class Items(Kind):
    """A list of any values."""

    def check(self, node: Node, path: KeyPath, ctx: Context) -> Any:
        if not isinstance(node, ListNode):
            return ctx.fail(node, path, f"expected a list, got {describe(node)}")
        return plain(node)

    def schema(self) -> dict[str, Any]:
        return {"type": "array"}


class CronSchedule(Kind):
    """A cron schedule: five fields, or an @-word (see :mod:`flowweaver.spec.schedules`)."""

    def check(self, node: Node, path: KeyPath, ctx: Context) -> Any:
        if not isinstance(node, ScalarNode) or not isinstance(node.value, str):
            got = describe(node)
            return ctx.fail(node, path, f"expected a schedule such as '0 2 * * *', got {got}")
        try:
            return schedules.parse_schedule(node.value).text
        except ValueError as exc:
            return ctx.fail(node, path, str(exc))

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "pattern": f"^(?:{schedules.PATTERN})$"}


_ONE_REFERENCE = re.compile(r"\$\{[^}]*\}")


@dataclass(frozen=True)
class MapSource(Kind):
    """Where a mapped task's items come from: an upstream task's ``name``, a list, a
    ``${params.NAME}`` list, or a mapping of lists (a matrix)."""

    name: Text

    def check(self, node: Node, path: KeyPath, ctx: Context) -> Any:
        written = node.value if isinstance(node, ScalarNode) else None
        if isinstance(written, str) or isinstance(node, (ListNode, MapNode)):
            before = len(ctx.report)
            if ctx.scope is not None:
                node = ctx.scope.resolve(node, path, ctx.report)
            if len(ctx.report) > before:
                return INVALID
        if isinstance(node, ListNode):
            return plain(node)
        if isinstance(node, MapNode):
            return self._matrix(node, path, ctx)
        if isinstance(written, str) and _ONE_REFERENCE.fullmatch(written):
            return ctx.fail(node, path, f"expected a list from {written}, got {describe(node)}")
        if isinstance(written, str):
            return self.name.check(node, path, ctx)
        got = describe(node)
        return ctx.fail(
            node, path, f"expected an upstream task's name, a list or a mapping of lists, got {got}"
        )

    def _matrix(self, node: MapNode, path: KeyPath, ctx: Context) -> Any:
        if not node.items:
            return ctx.fail(node, path, "a matrix needs at least one list")
        axes: dict[str, list[Any]] = {}
        for name, values in node.items.items():
            if not isinstance(values, ListNode):
                where = (*path, name)
                ctx.fail(values, where, f"expected a list of values, got {describe(values)}")
                continue
            axes[name] = plain(values)
        return axes if len(axes) == len(node.items) else INVALID

    def schema(self) -> dict[str, Any]:
        return {
            "anyOf": [
                self.name.schema(),
                {"type": "array"},
                {"type": "object", "additionalProperties": {"type": "array"}, "minProperties": 1},
                REFERENCE_SCHEMA,
            ]
        }
