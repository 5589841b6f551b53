"""``${params.NAME}``, ``${env.NAME}``, ``${run.…}`` and ``${spec.…}`` references in strings.

- ``${params.NAME}``: a parameter (the spec's ``params``, overridden by ``--param``);
- ``${env.NAME}``: an environment variable, an error when unset;
- ``${env.NAME:-default}``: ``default`` when unset or empty;
- ``${env.NAME:?message}``: an error saying ``message`` when unset or empty;
- ``${run.id}``, ``${run.date}``, ``${run.started}``: the run the spec is loaded for;
- ``${spec.dir}``: the spec file's folder, absolute;
- ``$${`` writes a literal ``${``.

Run-time references (``${item}``, ``${item.FIELD}``, ``${tasks.NAME}``,
``${tasks.NAME.FIELD}``) have no value yet: where a key allows them, they are kept,
and the string becomes :class:`RuntimeText`, whose template (see
:mod:`flowweaver.templates`) the task renders when it starts.

A string that is exactly one reference takes the value's own type (``"${params.limit}"``
is the integer 100). Inside longer text a value is written as YAML would (``true``,
``5``). In shell command strings every substituted value is shell-quoted.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flowweaver.spec.nodes import ListNode, MapNode, Node, ScalarNode, from_plain, mark_within
from flowweaver.spec.problems import KeyPath, Mark, Problems, closest, did_you_mean
from flowweaver.templates import ITEM, TASKS, Ref, Template

_TOKEN = re.compile(r"\$\$\{|\$\{([^}]*)(\})?")
_REFERENCE = re.compile(
    r"([A-Za-z_][A-Za-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)(?:(:-|:\?)(.*))?", re.DOTALL
)
BUILTINS = {"run": ("id", "date", "started"), "spec": ("dir",)}
"""The built-in references, by kind: ``${run.date}``, ``${spec.dir}``…"""
KINDS = ("params", "env", *BUILTINS)
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""What a parameter or environment variable name may look like."""
RUNTIME = frozenset({"item", "tasks"})
"""The kinds of run-time references: ``${item…}`` and ``${tasks.…}``."""
_FIELD = re.compile(r"[A-Za-z0-9_-]+")
_WHERE_RUNTIME = "use it in the shell, args or kwargs of a"


class RuntimeText(str):
    """Text with run-time references: ``template`` renders it when the task starts;
    ``marks`` are where its references are written (for problems found later)."""

    template: Template
    marks: tuple[Mark, ...]
    offsets: tuple[int, ...]

    @classmethod
    def of(cls, parts: list[str | Ref], offsets: list[int]) -> RuntimeText:
        merged: list[str | Ref] = []
        for part in parts:
            if isinstance(part, str) and merged and isinstance(merged[-1], str):
                merged[-1] += part
            elif part != "":
                merged.append(part)
        template = Template(tuple(merged))
        text = cls(str(template))
        text.template, text.offsets, text.marks = template, tuple(offsets), ()
        return text


class UnresolvedReferenceError(ValueError):
    """References that cannot be resolved: ``reasons`` says why, one per reference, and
    ``offsets`` where in the text each reference starts (its ``${``)."""

    def __init__(self, *reasons: str, offsets: tuple[int, ...] = ()) -> None:
        self.reasons = reasons
        self.offsets = offsets or (0,) * len(reasons)
        super().__init__("; ".join(reasons))


@dataclass(frozen=True)
class Scope:
    """What references resolve against: ``params`` (``None`` where params can't be
    used, ``no_params`` saying why), ``env``, and the ``builtins`` by kind (``run``,
    ``spec``: name -> value)."""

    params: Mapping[str, Any] | None
    env: Mapping[str, str]
    builtins: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    no_params: str = "a param can't refer to another param"
    tasks: Collection[str] = ()
    """The spec's task names, for ``${tasks.NAME}``."""

    def resolve(
        self,
        node: Node,
        path: KeyPath,
        report: Problems,
        *,
        shell: bool = False,
        runtime: Collection[str] = (),
    ) -> Node:
        """``node`` with every reference in its strings replaced; problems go to ``report``.
        ``runtime``: the kinds of run-time references kept (in :class:`RuntimeText`)."""
        if _as_written(node):  # the common case, at once
            return node
        if isinstance(node, MapNode):
            items = {
                k: self.resolve(v, (*path, k), report, runtime=runtime)
                for k, v in node.items.items()
            }
            if _unchanged(items.values(), node.items.values()):
                return node
            return MapNode(items, node.at, node.keys)
        if isinstance(node, ListNode):
            values = [
                self.resolve(v, (*path, i), report, runtime=runtime)
                for i, v in enumerate(node.items)
            ]
            if _unchanged(values, node.items):
                return node
            return ListNode(values, node.at)
        if not isinstance(node.value, str) or "$" not in node.value:
            return node
        line = report.line_text(node.mark.line)
        try:
            value = self.substitute(node.value, shell=shell, runtime=runtime)
        except UnresolvedReferenceError as exc:
            for reason, offset in zip(exc.reasons, exc.offsets, strict=True):
                report.add(mark_within(node, offset, line), path, reason)
            return node
        if isinstance(value, RuntimeText):
            value.marks = tuple(mark_within(node, offset, line) for offset in value.offsets)
            return ScalarNode(value, node.at)
        return from_plain(value, node.at)

    def substitute(self, text: str, *, shell: bool = False, runtime: Collection[str] = ()) -> Any:
        """``text`` with its references replaced; ``UnresolvedReferenceError`` for bad ones.
        Text with run-time references (of the kinds in ``runtime``) is :class:`RuntimeText`."""
        whole = _TOKEN.fullmatch(text)
        if whole is not None and whole.group(2) and not shell:
            ref = self._runtime(whole.group(1), runtime)
            return self._lookup(whole.group(1)) if ref is None else RuntimeText.of([ref], [0])
        parts: list[str | Ref] = []
        reasons: list[str] = []
        offsets: list[int] = []
        refs: list[int] = []
        position = 0
        for match in _TOKEN.finditer(text):
            parts.append(text[position : match.start()])
            position = match.end()
            if match.group(0) == "$${":
                parts.append("${")
                continue
            try:
                ref = self._runtime(match.group(1), runtime) if match.group(2) else None
                if ref is not None:
                    parts.append(ref)
                    refs.append(match.start())
                    continue
                value = as_text(self._reference(match, shell=shell))
            except UnresolvedReferenceError as exc:
                reasons.extend(exc.reasons)
                offsets.extend([match.start()] * len(exc.reasons))
                continue
            parts.append(shlex.quote(value) if shell else value)
        if reasons:
            raise UnresolvedReferenceError(*reasons, offsets=tuple(offsets))
        parts.append(text[position:])
        if refs:
            return RuntimeText.of(parts, refs)
        return "".join(part for part in parts if isinstance(part, str))

    def _runtime(self, reference: str, allowed: Collection[str]) -> Ref | None:
        """The run-time reference ``${reference}`` (``None``: it is none); a problem
        where run-time references of its kind aren't allowed."""
        kind, dot, rest = reference.partition(".")
        if kind not in RUNTIME or (kind == "tasks" and not dot):
            return None
        written = f"${{{reference}}}"
        if kind not in allowed:
            raise UnresolvedReferenceError(_runtime_elsewhere(written, kind, allowed))
        fields = rest.split(".") if dot else []
        if not all(_FIELD.fullmatch(name) for name in fields):
            form = "${item.FIELD}" if kind == "item" else "${tasks.NAME.FIELD}"
            raise UnresolvedReferenceError(f"bad reference {written!r}: write {form}")
        if kind == "item":
            return Ref(ITEM, tuple(fields), written)
        for cut in range(len(fields), 0, -1):  # the longest task name (names may hold dots)
            name = ".".join(fields[:cut])
            if name in self.tasks:
                return Ref(TASKS + name, tuple(fields[cut:]), written)
        hint = did_you_mean(rest, self.tasks) or did_you_mean(fields[0], self.tasks)
        raise UnresolvedReferenceError(f"unknown task {fields[0]!r} in {written}{hint}")

    def _reference(self, match: re.Match[str], *, shell: bool) -> Any:
        if match.group(2) is None:
            opened = match.group(0).splitlines()[0]  # a problem is one line
            raise UnresolvedReferenceError(f"{opened!r} has no closing '}}'")
        return self._lookup(match.group(1), shell=shell)

    def _lookup(self, reference: str, *, shell: bool = False) -> Any:
        match = _REFERENCE.fullmatch(reference)
        if match is None:
            raise UnresolvedReferenceError(_unknown(reference, shell=shell))
        kind, name, operator, extra = match.groups()
        if kind == "env":
            return self._environment(name, operator, extra)
        if kind not in KINDS:
            raise UnresolvedReferenceError(_unknown_kind(reference, kind, name, shell=shell))
        if operator is not None:
            raise UnresolvedReferenceError(f"'{operator}' works with ${{env.NAME}} only")
        if kind == "params":
            return self._param(name, reference)
        return self._builtin(kind, name)

    def _param(self, name: str, reference: str) -> Any:
        if self.params is None:
            raise UnresolvedReferenceError(f"${{{reference}}}: {self.no_params}")
        if name not in self.params:
            hint = did_you_mean(name, self.params)
            raise UnresolvedReferenceError(f"unknown parameter {name!r} in ${{{reference}}}{hint}")
        return self.params[name]

    def _builtin(self, kind: str, name: str) -> str:
        known = BUILTINS[kind]
        if name not in known:
            meant = closest(name, list(known))
            written = f"unknown reference '${{{kind}.{name}}}'"
            if meant is not None:
                raise UnresolvedReferenceError(f"{written} (did you mean '${{{kind}.{meant}}}'?)")
            listed = " or ".join(f"${{{kind}.{n}}}" for n in known)
            raise UnresolvedReferenceError(f"{written}: use {listed}")
        values = self.builtins.get(kind)
        if values is None:
            raise UnresolvedReferenceError(f"${{{kind}.{name}}} is not available here")
        return values[name]

    def _environment(self, name: str, operator: str | None, extra: str | None) -> str:
        value = self.env.get(name)
        if operator is None:
            if value is None:
                raise UnresolvedReferenceError(
                    f"environment variable {name!r} is not set "
                    f"(write ${{env.{name}:-default}} to give a default)"
                )
            return value
        if value:
            return value
        if operator == ":-":
            return extra or ""
        raise UnresolvedReferenceError(extra or f"environment variable {name!r} must be set")


def _runtime_elsewhere(written: str, kind: str, allowed: Collection[str]) -> str:
    """Why a run-time reference can't be used here."""
    if allowed:  # map.key: the item only
        return f"{written} can't be used here: map.key may use ${{item}} only"
    task = "mapped task" if kind == "item" else "task"
    return f"{written} has a value only when a task runs: {_WHERE_RUNTIME} {task}"


def _unknown(reference: str, *, shell: bool) -> str:
    """Why ``${reference}`` is refused; in a shell command, how to write the shell's own."""
    message = f"unknown reference '${{{reference}}}': use ${{params.NAME}} or ${{env.NAME}}"
    if not shell:
        return message
    if NAME.fullmatch(reference):
        return f"{message}; for the shell's own variable write ${reference} or $${{{reference}}}"
    return f"{message}; for the shell's own expansion write $${{{reference}}}"


def _unknown_kind(reference: str, kind: str, name: str, *, shell: bool) -> str:
    """Why ``${kind.name}`` is refused: a did-you-mean when the kind is a typo."""
    meant = closest(kind, list(KINDS))
    if meant is None:
        return _unknown(reference, shell=shell)
    return f"unknown reference '${{{reference}}}' (did you mean '${{{meant}.{name}}}'?)"


def _as_written(node: Node) -> bool:
    """Whether ``node`` is a scalar, or a list of scalars, without a ``$`` in its text."""
    kind = type(node)
    if kind is ScalarNode:
        text = node.value  # type: ignore[union-attr]
        return type(text) is not str or "$" not in text
    if kind is not ListNode:
        return False
    for item in node.items:  # type: ignore[union-attr]
        if type(item) is not ScalarNode:
            return False
        value = item.value
        if type(value) is str and "$" in value:
            return False
    return True


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
