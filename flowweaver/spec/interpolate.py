"""``${params.NAME}`` and ``${env.NAME}`` references in strings.

- ``${params.NAME}``: a parameter (the spec's ``params``, overridden by ``--param``);
- ``${env.NAME}``: an environment variable, an error when unset;
- ``${env.NAME:-default}``: ``default`` when unset or empty;
- ``${env.NAME:?message}``: an error saying ``message`` when unset or empty;
- ``$${`` writes a literal ``${``.

A string that is exactly one reference takes the value's own type (``"${params.limit}"``
is the integer 100). Inside longer text a value is written as YAML would (``true``,
``5``). In shell command strings every substituted value is shell-quoted.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from flowweaver.spec.nodes import ListNode, MapNode, Node, from_plain, mark_within
from flowweaver.spec.problems import KeyPath, Problems, did_you_mean

_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)(\})?")
_REFERENCE = re.compile(r"(params|env)\.([A-Za-z_][A-Za-z0-9_]*)(?:(:-|:\?)(.*))?", re.DOTALL)
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""What a parameter or environment variable name may look like."""


class UnresolvedReference(ValueError):
    """References that cannot be resolved: ``reasons`` says why, one per reference, and
    ``offsets`` where in the text each reference starts (its ``${``)."""

    def __init__(self, *reasons: str, offsets: tuple[int, ...] = ()) -> None:
        self.reasons = reasons
        self.offsets = offsets or (0,) * len(reasons)
        super().__init__("; ".join(reasons))


@dataclass(frozen=True)
class Scope:
    """What references resolve against."""

    params: Mapping[str, Any]
    env: Mapping[str, str]

    def resolve(self, node: Node, path: KeyPath, report: Problems, *, shell: bool = False) -> Node:
        """``node`` with every reference in its strings replaced; problems go to ``report``."""
        if isinstance(node, MapNode):
            items = {k: self.resolve(v, (*path, k), report) for k, v in node.items.items()}
            if _unchanged(items.values(), node.items.values()):
                return node
            return MapNode(items, node.at, node.keys)
        if isinstance(node, ListNode):
            values = [self.resolve(v, (*path, i), report) for i, v in enumerate(node.items)]
            if _unchanged(values, node.items):
                return node
            return ListNode(values, node.at)
        if not isinstance(node.value, str) or "$" not in node.value:
            return node
        try:
            value = self.substitute(node.value, shell=shell)
        except UnresolvedReference as exc:
            line = report.line_text(node.mark.line)
            for reason, offset in zip(exc.reasons, exc.offsets, strict=True):
                report.add(mark_within(node, offset, line), path, reason)
            return node
        return from_plain(value, node.at)

    def substitute(self, text: str, *, shell: bool = False) -> Any:
        """``text`` with its references replaced; ``UnresolvedReference`` for bad ones."""
        whole = _TOKEN.fullmatch(text)
        if whole is not None and whole.group(2) and not shell:
            return self._lookup(whole.group(1))
        parts: list[str] = []
        reasons: list[str] = []
        offsets: list[int] = []
        position = 0
        for match in _TOKEN.finditer(text):
            parts.append(text[position : match.start()])
            position = match.end()
            if match.group(0) == "$${":
                parts.append("${")
                continue
            try:
                value = as_text(self._reference(match, shell=shell))
            except UnresolvedReference as exc:
                reasons.extend(exc.reasons)
                offsets.extend([match.start()] * len(exc.reasons))
                continue
            parts.append(shlex.quote(value) if shell else value)
        if reasons:
            raise UnresolvedReference(*reasons, offsets=tuple(offsets))
        parts.append(text[position:])
        return "".join(parts)

    def _reference(self, match: re.Match[str], *, shell: bool) -> Any:
        if match.group(2) is None:
            opened = match.group(0).splitlines()[0]  # a problem is one line
            raise UnresolvedReference(f"{opened!r} has no closing '}}'")
        return self._lookup(match.group(1), shell=shell)

    def _lookup(self, reference: str, *, shell: bool = False) -> Any:
        match = _REFERENCE.fullmatch(reference)
        if match is None:
            raise UnresolvedReference(_unknown(reference, shell=shell))
        scope, name, operator, extra = match.groups()
        if scope == "params":
            if operator is not None:
                raise UnresolvedReference(f"'{operator}' works with ${{env.NAME}} only")
            if name not in self.params:
                hint = did_you_mean(name, self.params)
                raise UnresolvedReference(f"unknown parameter {name!r} in ${{{reference}}}{hint}")
            return self.params[name]
        return self._environment(name, operator, extra)

    def _environment(self, name: str, operator: str | None, extra: str | None) -> str:
        value = self.env.get(name)
        if operator is None:
            if value is None:
                raise UnresolvedReference(
                    f"environment variable {name!r} is not set "
                    f"(write ${{env.{name}:-default}} to give a default)"
                )
            return value
        if value:
            return value
        if operator == ":-":
            return extra or ""
        raise UnresolvedReference(extra or f"environment variable {name!r} must be set")


def _unknown(reference: str, *, shell: bool) -> str:
    """Why ``${reference}`` is refused; in a shell command, how to write the shell's own."""
    message = f"unknown reference '${{{reference}}}': use ${{params.NAME}} or ${{env.NAME}}"
    if not shell:
        return message
    if NAME.fullmatch(reference):
        return f"{message}; for the shell's own variable write ${reference} or $${{{reference}}}"
    return f"{message}; for the shell's own expansion write $${{{reference}}}"


def _unchanged(new: Iterable[Node], old: Iterable[Node]) -> bool:
    return all(a is b for a, b in zip(new, old, strict=True))


def as_text(value: Any) -> str:
    """A value as text inside a longer string, written as YAML or JSON would write it."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, (bool, dict, list)):
        return json.dumps(value)
    return str(value)
