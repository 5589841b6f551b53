"""A composed spec → a checked :class:`Document`: settings, parameters, environment, tasks.

References resolve in this order: ``params`` are taken as written (then ``--param``
overrides them); ``env`` values may refer to ``${params.X}`` and to the process
environment; every other string may refer to parameters and to the environment,
where the spec's ``env`` wins over the process environment (as a GitHub Actions
workflow's ``env`` does).
"""

from __future__ import annotations

import os
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flowweaver.spec.interpolate import Scope
from flowweaver.spec.kinds import Context, describe
from flowweaver.spec.nodes import ListNode, MapNode, Node
from flowweaver.spec.problems import FILE_START, TOP, KeyPath, Mark, Problems, did_you_mean
from flowweaver.spec.schema import SPEC, TOP_KEYS

SPEC_DIR_VARIABLE = "FLOWWEAVER_SPEC_DIR"
"""Set for shell tasks (and ``${env.…}``) to the directory of the spec file."""

_CALL_ONLY = ("args", "kwargs", "inputs")


@dataclass
class TaskDef:
    """One task as written: its checked values (defaults applied) and its node, for marks."""

    name: str
    node: Node
    values: dict[str, Any]
    section: str = "tasks"
    """Where it is written: ``tasks``, or ``handlers`` for a handler."""

    def locate(self, *steps: str | int) -> Mark:
        """The mark of the value at ``steps`` under this task, as near as it exists."""
        node = self.node
        for step in steps:
            inner = _inside(node, step)
            if inner is None:
                break
            node = inner
        return node.mark

    def locate_key(self, *steps: str) -> Mark:
        """The mark of the last key of ``steps`` (where it is written), as near as it exists."""
        parent = self.node
        for step in steps[:-1]:
            parent = _inside(parent, step) or parent
        if isinstance(parent, MapNode) and steps and steps[-1] in parent.keys:
            return parent.key_mark(steps[-1])
        return self.locate(*steps)

    def path(self, *steps: str | int) -> KeyPath:
        """The path of the value at ``steps`` under this task."""
        return (self.section, self.name, *steps)

    def dependencies(self) -> list[str]:
        """Upstream task names: ``depends_on``, then ``inputs`` targets, each once."""
        deps = [*self.values.get("depends_on", ()), *self.values.get("inputs", {}).values()]
        return list(dict.fromkeys(deps))


def _inside(node: Node, step: str | int) -> Node | None:
    if isinstance(node, MapNode) and isinstance(step, str):
        return node.items.get(step)
    if isinstance(node, ListNode) and isinstance(step, int) and step < len(node.items):
        return node.items[step]
    return None


@dataclass
class Document:
    """The checked top level of a spec."""

    name: str
    description: str = ""
    executor: str | None = None
    max_workers: int | None = None
    dask_address: str | None = None
    fail_fast: bool = False
    params: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    tasks: list[TaskDef] = field(default_factory=list)
    timeout: float | None = None
    handlers: list[TaskDef] = field(default_factory=list)


def read_document(
    root: Node, report: Problems, *, stem: str, spec_dir: str, overrides: Mapping[str, Any]
) -> Document | None:
    """Check ``root`` against the key table; ``None`` when it isn't a mapping at all."""
    if not isinstance(root, MapNode):
        got = describe(root)
        report.add(root.mark, TOP, f"expected a mapping of keys such as 'tasks', got {got}")
        return None
    params = _read_params(root, report, overrides)
    env = _read_env(root, report, Scope(params, os.environ))
    visible = ChainMap(env, {SPEC_DIR_VARIABLE: spec_dir}, os.environ)
    ctx = Context(report, Scope(params, visible))
    values = SPEC.check(root, TOP, ctx, skip=("params", "env"))
    dask = values.get("dask", {})
    return Document(
        name=values.get("name", stem),
        description=values.get("description", ""),
        executor=values.get("executor"),
        max_workers=values.get("max_workers"),
        dask_address=dask.get("address"),
        fail_fast=values.get("fail_fast", False),
        params=params,
        env=env,
        tasks=_read_tasks(root, values, report),
        timeout=values.get("timeout"),
        handlers=_read_handlers(root, values, report),
    )


def _read_params(root: MapNode, report: Problems, overrides: Mapping[str, Any]) -> dict[str, Any]:
    node = root.items.get("params")
    declared: dict[str, Any] = {}
    if node is not None:
        checked = TOP_KEYS["params"].kind.check(node, ("params",), Context(report))
        declared = checked if isinstance(checked, dict) else {}
    mark = root.key_mark("params") if "params" in root.keys else FILE_START
    for name in overrides:
        if name not in declared:
            hint = did_you_mean(name, declared)
            report.add(mark, ("params", name), f"--param {name}: not declared in params{hint}")
    return {**declared, **overrides}


def _read_env(root: MapNode, report: Problems, scope: Scope) -> dict[str, str]:
    node = root.items.get("env")
    if node is None:
        return {}
    resolved = scope.resolve(node, ("env",), report)
    checked = TOP_KEYS["env"].kind.check(resolved, ("env",), Context(report))
    return checked if isinstance(checked, dict) else {}


def _read_tasks(root: MapNode, values: dict[str, Any], report: Problems) -> list[TaskDef]:
    tasks_node = root.items.get("tasks")
    if not isinstance(tasks_node, MapNode):
        return []
    defaults = values.get("defaults", {})
    tasks: list[TaskDef] = []
    for name, checked in values.get("tasks", {}).items():
        task = TaskDef(name, tasks_node.items[name], {**defaults, **checked})
        _check_shell_task(task, report)
        tasks.append(task)
    return tasks


def _read_handlers(root: MapNode, values: dict[str, Any], report: Problems) -> list[TaskDef]:
    node = root.items.get("handlers")
    if not isinstance(node, MapNode):
        return []
    handlers: list[TaskDef] = []
    for name, checked in values.get("handlers", {}).items():
        handler = TaskDef(name, node.items[name], checked, section="handlers")
        _check_shell_task(handler, report)
        if "env" in checked and "shell" not in checked:
            where = handler.locate_key("env")
            report.add(where, handler.path("env"), "'env' is for 'shell' handlers")
        handlers.append(handler)
    return handlers


def _check_shell_task(task: TaskDef, report: Problems) -> None:
    if "shell" not in task.values or "call" in task.values:
        return
    for key in _CALL_ONLY:
        if key in task.values:
            report.add(
                task.locate_key(key),
                task.path(key),
                f"{key!r} is for 'call' tasks, not 'shell' ones",
            )
