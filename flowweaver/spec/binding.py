"""Can a call task's callable be called with what the spec gives it? Checked, never called.

Arguments come from ``args`` (positional), ``kwargs``, ``inputs``, a mapped task's item
(its ``map.param``) and upstream results (a dependency named like a parameter, ``-`` and
``.`` read as ``_``), exactly as the engine passes them (see
:func:`flowweaver._call.bindings`).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
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


def check_binding(signature: inspect.Signature, task: TaskDef, report: Problems) -> None:
    """Problems what keeps ``task``'s call from binding to ``signature``."""
    checker = _Binding(signature, task, report)
    checker.positional()
    checker.keywords()
    checker.item()
    checker.upstream()
    checker.required()


class _Binding:
    def __init__(self, signature: inspect.Signature, task: TaskDef, report: Problems) -> None:
        self.params = list(signature.parameters.values())
        self.by_name = {p.name: p for p in self.params if p.kind in _KEYWORD}
        self.var_keyword = any(p.kind is _P.VAR_KEYWORD for p in self.params)
        self.task = task
        self.report = report
        self.target = task.values["call"]
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

    def required(self) -> None:
        missing: list[str] = []
        for param in self.params:
            optional = param.kind in _VARIADIC or param.default is not _P.empty
            if optional or param.name in self.filled:
                continue
            if param.kind is _P.POSITIONAL_ONLY:
                message = f"positional-only parameter {param.name!r} must be given in args"
                self.report.add(self.task.locate("call"), self.task.path("call"), message)
            else:
                missing.append(param.name)
        if missing:
            names = ", ".join(repr(name) for name in missing)
            noun, pronoun = ("argument", "it") if len(missing) == 1 else ("arguments", "them")
            message = (
                f"{self.target} needs {noun} {names}: give {pronoun} in args, kwargs or "
                f"inputs, or depend on a task of that name"
            )
            self.report.add(self.task.locate("call"), self.task.path("call"), message)
