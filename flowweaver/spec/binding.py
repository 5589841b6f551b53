"""Can a call task's callable be called with what the spec gives it? Checked, never called.

Arguments come from ``args`` (positional), ``kwargs``, ``inputs``, a mapped task's item
(its ``map.param``) and upstream results (a dependency named like a parameter, ``-`` and
``.`` read as ``_``), exactly as the engine passes them (see
:func:`flowweaver._call.bindings`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterable
from typing import Any

from flowweaver._call import parameter_name
from flowweaver.spec.document import TaskDef
from flowweaver.spec.nodes import MapNode
from flowweaver.spec.problems import Problems, closest, did_you_mean
from flowweaver.spec.runtime import DEFAULT_PARAM

_P = inspect.Parameter
_POSITIONAL = (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD)
_KEYWORD = (_P.POSITIONAL_OR_KEYWORD, _P.KEYWORD_ONLY)
_VARIADIC = (_P.VAR_POSITIONAL, _P.VAR_KEYWORD)


def signature_of(fn: Callable[..., Any]) -> inspect.Signature | None:
    """``fn``'s signature, or ``None`` when Python can't tell (some builtins)."""
    try:
        return inspect.signature(fn)
    except (TypeError, ValueError):
        return None


class BoundShapes:
    """The call shapes already seen to bind: a 100,000-task spec calling one function
    the same way checks that once, not once per task.

    A shape is everything the check reads: the callable's signature, how many ``args``,
    the names in ``kwargs`` and ``inputs`` (in order), the upstream tasks whose names
    are parameters, the parameters filled by the engine, and the section. A mapped
    task is always checked (its ``map`` block has more to it)."""

    def __init__(self) -> None:
        self._bound: set[tuple[Any, ...]] = set()
        self._keywords: dict[int, tuple[inspect.Signature, frozenset[str]]] = {}

    def check(
        self,
        signature: inspect.Signature,
        task: TaskDef,
        report: Problems,
        given: tuple[str, ...] = (),
        how: str = "",
    ) -> None:
        """:func:`check_binding`, unless this shape bound before."""
        values = task.values
        if "map" in values:
            check_binding(signature, task, report, given, how)
            return
        keywords = self._keyword_names(signature)
        upstream = [
            name for dep in task.dependencies() if (name := parameter_name(dep)) in keywords
        ]
        shape = (
            id(signature),
            task.section,
            given,
            len(values.get("args", ())),
            tuple(values.get("kwargs", ())),
            tuple(values.get("inputs", ())),
            tuple(upstream),
        )
        if shape in self._bound:
            return
        before = len(report)
        check_binding(signature, task, report, given, how)
        if len(report) == before:
            self._bound.add(shape)

    def _keyword_names(self, signature: inspect.Signature) -> frozenset[str]:
        """The names ``signature`` takes by keyword (kept with it, so its id stays its own)."""
        known = self._keywords.get(id(signature))
        if known is None:
            names = frozenset(p.name for p in signature.parameters.values() if p.kind in _KEYWORD)
            known = self._keywords[id(signature)] = (signature, names)
        return known[1]


def check_binding(
    signature: inspect.Signature,
    task: TaskDef,
    report: Problems,
    given: Iterable[str] = (),
    how: str = "",
) -> None:
    """Problems what keeps ``task``'s call from binding to ``signature``; ``given``
    names parameters the engine fills itself (a handler's ``run``), ``how`` says how
    a missing argument can be given, when not as to a task."""
    checker = _Binding(signature, task, report)
    checker.filled.update(name for name in given if name in checker.by_name)
    checker.positional()
    checker.keywords()
    checker.item()
    checker.upstream()
    checker.required(how)


def check_predicate(signature: inspect.Signature, task: TaskDef, report: Problems) -> None:
    """Problems what keeps ``task``'s ``when: {call: …}`` predicate from binding: it
    gets upstream results only (by name, or by the task's ``inputs``)."""
    checker = _Binding(signature, task, report, ("when", "call"))
    checker.filled.update(name for name in task.values.get("inputs", {}) if name in checker.by_name)
    checker.upstream()
    checker.required("a predicate gets upstream results: depend on a task of that name")


class _Binding:
    def __init__(
        self,
        signature: inspect.Signature,
        task: TaskDef,
        report: Problems,
        where: tuple[str, ...] = ("call",),
    ) -> None:
        self.params = list(signature.parameters.values())
        self.by_name = {p.name: p for p in self.params if p.kind in _KEYWORD}
        self.var_keyword = any(p.kind is _P.VAR_KEYWORD for p in self.params)
        self.task = task
        self.report = report
        self.where = where
        self.target = task.values[where[0]] if len(where) == 1 else task.values[where[0]][where[1]]
        self.filled: set[str] = set()

    def positional(self) -> None:
        args = self.task.values.get("args", [])
        accepted = [p for p in self.params if p.kind in _POSITIONAL]
        if len(args) > len(accepted) and not any(p.kind is _P.VAR_POSITIONAL for p in self.params):
            takes = {0: "no positional arguments", 1: "1 positional argument"}.get(
                len(accepted), f"{len(accepted)} positional arguments"
            )
            message = f"{self.target} takes {takes}, not {len(args)}"
            self.report.add(self.task.locate("args"), self.task.path("args"), message)
        self.filled.update(p.name for p in accepted[: len(args)])

    def keywords(self) -> None:
        for name in self.task.values.get("kwargs", {}):
            self._keyword("kwargs", name, "takes no argument")
        for name in self.task.values.get("inputs", {}):
            self._keyword("inputs", name, "has no parameter")

    def _keyword(self, key: str, name: str, missing: str) -> None:
        path = self.task.path(key, name)
        mark = self.task.locate_key(key, name)
        if name in self.filled:
            self.report.add(mark, path, f"argument {name!r} is given twice")
        elif name in self.by_name or self.var_keyword:
            self.filled.add(name)
        else:
            hint = did_you_mean(name, self.by_name)
            self.report.add(mark, path, f"{self.target} {missing} {name!r}{hint}")

    def item(self) -> None:
        """A mapped task's item fills its ``map.param``, which must be a parameter."""
        spec = self.task.values.get("map")
        if spec is None:
            return
        name = spec.get("param", DEFAULT_PARAM)
        written = "param" in spec
        node = self.task.node.items.get("map") if isinstance(self.task.node, MapNode) else None
        if not written and isinstance(node, MapNode) and "param" in node.items:
            return  # a param that is not a name: reported as such
        where = ("map", "param") if written else ("map",)
        mark = self.task.locate(*where) if written else self.task.locate_key("map")
        path = self.task.path(*where)
        if name in self.filled:
            self.report.add(mark, path, f"argument {name!r} is given twice: the item fills it")
        elif name in self.by_name or self.var_keyword:
            self.filled.add(name)
        else:
            meant = closest(name, list(self.by_name))
            if meant is not None:
                self.filled.add(meant)  # (its problem is this one, not a missing argument)
            hint = f" (did you mean {meant!r}?)" if meant is not None else ""
            how = "" if written else ": name the one that does with map.param"
            message = f"{self.target} has no parameter {name!r} to receive the item{hint}{how}"
            self.report.add(mark, path, message)

    def upstream(self) -> None:
        for dep in self.task.dependencies():
            keyword = parameter_name(dep)
            if keyword in self.by_name:
                self.filled.add(keyword)

    def required(self, how: str = "") -> None:
        """``how``: how a missing argument can be given (default: as to a task), with
        ``{pronoun}`` for ``it`` or ``them``."""
        missing: list[str] = []
        mark, path = self.task.locate(*self.where), self.task.path(*self.where)
        for param in self.params:
            optional = param.kind in _VARIADIC or param.default is not _P.empty
            if optional or param.name in self.filled:
                continue
            if param.kind is _P.POSITIONAL_ONLY and not how:
                message = f"positional-only parameter {param.name!r} must be given in args"
                self.report.add(mark, path, message)
            else:
                missing.append(param.name)
        if missing:
            names = ", ".join(repr(name) for name in missing)
            noun, pronoun = ("argument", "it") if len(missing) == 1 else ("arguments", "them")
            if not how:
                how = "give {pronoun} in args, kwargs or inputs, or depend on a task of that name"
            message = f"{self.target} needs {noun} {names}: {how.format(pronoun=pronoun)}"
            self.report.add(mark, path, message)
