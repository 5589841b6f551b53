"""A composed spec → a checked :class:`Document`: settings, parameters, environment, tasks.

References resolve in this order, every string with the built-in ``${run.…}`` and
``${spec.dir}``: ``env_file`` paths (and the environment); ``params`` values (the
environment, with the env files' variables under it; a param can't refer to a param),
then ``--param`` overrides them; ``env`` values (parameters and the environment);
every other string may refer to parameters and to the environment, where the spec's
``env`` wins over the process environment (as a GitHub Actions workflow's ``env``
does), which wins over the env files.
"""

from __future__ import annotations

import os
from collections import ChainMap
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flowweaver.folders import absolute
from flowweaver.pools import Pool
from flowweaver.spec.envfiles import read_env_files
from flowweaver.spec.interpolate import RuntimeText, Scope
from flowweaver.spec.kinds import Context, describe
from flowweaver.spec.nodes import ListNode, MapNode, Node, ScalarNode
from flowweaver.spec.params import override_value
from flowweaver.spec.poolchecks import check_pools
from flowweaver.spec.problems import FILE_START, TOP, KeyPath, Mark, Problems, did_you_mean
from flowweaver.spec.runtime import check_references, runtime_texts, upstream_references
from flowweaver.spec.schema import SPEC, TOP_KEYS

SPEC_DIR_VARIABLE = "FLOWWEAVER_SPEC_DIR"
"""Set for shell tasks (and ``${env.…}``) to the directory of the spec file."""

_CALL_ONLY = ("args", "kwargs", "inputs")


@dataclass(slots=True)
class TaskDef:
    """One task as written: its checked values (defaults applied) and its node, for marks."""

    name: str
    node: Node
    values: dict[str, Any]
    references: Mapping[str, tuple[Mark, KeyPath]] = field(default_factory=dict)
    """The upstream tasks its ``${tasks.NAME}`` references name, each with the first
    place it is named (its mark and path under the task)."""
    section: str = "tasks"
    """Where it is written: ``tasks``, or ``handlers`` for a handler."""
    runtime: tuple[tuple[KeyPath, RuntimeText], ...] = ()
    """Its strings with run-time references (in ``shell``, ``args``, ``kwargs``), each
    with its path under the task."""
    _dependencies: list[str] | None = field(default=None, repr=False, compare=False)

    def release(self) -> None:
        """Drop the values and the tree under the task, once its task is made: what is
        left marks the task itself (its name's value) and knows its dependencies."""
        self.dependencies()
        self.node = ScalarNode(None, self.node.at)
        self.values = {}
        self.runtime = ()

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
        """Upstream task names: ``depends_on``, ``inputs`` targets, the task ``map.over``
        names, then the tasks ``${tasks.NAME}`` references name, each once (worked out
        once: the list is shared, not to be changed)."""
        if self._dependencies is None:
            values = self.values
            if "inputs" not in values and "map" not in values and not self.references:
                written: list[str] = values.get("depends_on", [])  # its list, when no repeats
                once = len(written) < 2 or len(set(written)) == len(written)
                self._dependencies = written if once else list(dict.fromkeys(written))
                return self._dependencies
            deps = [*values.get("depends_on", ()), *values.get("inputs", {}).values()]
            over = values.get("map", {}).get("over")
            if isinstance(over, str):
                deps.append(over)
            deps.extend(self.references)
            self._dependencies = list(dict.fromkeys(deps)) if len(deps) > 1 else deps
        return self._dependencies


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
    schedule: str | None = None
    executor: str | None = None
    max_workers: int | None = None
    dask_address: str | None = None
    fail_fast: bool = False
    keep_runs: int | None = None
    secrets: list[str] = field(default_factory=list)
    params: dict[str, Any] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    tasks: list[TaskDef] = field(default_factory=list)
    timeout: float | None = None
    handlers: list[TaskDef] = field(default_factory=list)
    workdir: str | None = None
    """The folder tasks run in, absolute (``None``: the current directory)."""
    file_env: dict[str, str] = field(default_factory=dict)
    """What the env files give that the process environment doesn't have."""
    workdir_mark: Mark | None = None
    pools: dict[str, Pool] = field(default_factory=dict)
    otel: bool = False
    metrics_file: str | None = None
    """The Prometheus textfile, absolute (``None``: none)."""


def read_document(
    root: Node,
    report: Problems,
    *,
    stem: str,
    spec_dir: str,
    overrides: Mapping[str, Any],
    run: Mapping[str, str],
) -> Document | None:
    """Check ``root`` against the key table; ``None`` when it isn't a mapping at all.

    ``run`` holds the values of ``${run.id}``, ``${run.date}`` and ``${run.started}``."""
    if not isinstance(root, MapNode):
        got = describe(root)
        report.add(root.mark, TOP, f"expected a mapping of keys such as 'tasks', got {got}")
        return None
    builtins = {"run": run, "spec": {"dir": spec_dir}}
    spec_dir_env = {SPEC_DIR_VARIABLE: spec_dir}
    no_params = "params can't be used in env_file (it is read before them)"
    files = _read_env_files(root, report, Scope(None, os.environ, builtins, no_params), spec_dir)
    environment = ChainMap(spec_dir_env, os.environ, files)
    params = _read_params(root, report, overrides, Scope(None, environment, builtins))
    env = _read_env(root, report, Scope(params, environment, builtins))
    visible = ChainMap(env, spec_dir_env, os.environ, files)
    tasks_node = root.items.get("tasks")
    names = tasks_node.items.keys() if isinstance(tasks_node, MapNode) else ()
    ctx = Context(report, Scope(params, visible, builtins, tasks=names))
    values = SPEC.check(root, TOP, ctx, skip=("params", "env", "env_file"))
    dask = values.get("dask", {})
    workdir = values.get("workdir")
    tasks = _read_tasks(root, values, report)
    check_pools(root, tasks, values.get("executor"), report)
    metrics_file = values.get("metrics_file")
    return Document(
        name=values.get("name", stem),
        description=values.get("description", ""),
        schedule=values.get("schedule"),
        executor=values.get("executor"),
        max_workers=values.get("max_workers"),
        dask_address=dask.get("address"),
        fail_fast=values.get("fail_fast", False),
        keep_runs=values.get("keep_runs"),
        secrets=list(dict.fromkeys(values.get("secrets", []))),
        params=params,
        env=env,
        tasks=tasks,
        timeout=values.get("timeout"),
        handlers=_read_handlers(root, values, report),
        workdir=None if workdir is None else absolute(workdir, spec_dir),
        file_env={name: value for name, value in files.items() if name not in os.environ},
        workdir_mark=root.items["workdir"].mark if "workdir" in root.items else None,
        pools=values.get("pools", {}),
        otel=values.get("otel", False),
        metrics_file=None if metrics_file is None else absolute(metrics_file, spec_dir),
    )


def _read_env_files(root: MapNode, report: Problems, scope: Scope, spec_dir: str) -> dict[str, str]:
    node = root.items.get("env_file")
    if node is None:
        return {}
    before = len(report)
    resolved = scope.resolve(node, ("env_file",), report)
    checked = TOP_KEYS["env_file"].kind.check(resolved, ("env_file",), Context(report))
    if len(report) > before or not isinstance(checked, list):
        return {}  # a path that could not be resolved is not looked for
    return read_env_files(checked, spec_dir, report)


def _read_params(
    root: MapNode, report: Problems, overrides: Mapping[str, Any], scope: Scope
) -> dict[str, Any]:
    node = root.items.get("params")
    declared: dict[str, Any] = {}
    if node is not None:
        resolved = scope.resolve(node, ("params",), report)
        checked = TOP_KEYS["params"].kind.check(resolved, ("params",), Context(report))
        declared = checked if isinstance(checked, dict) else {}
    mark = root.key_mark("params") if "params" in root.keys else FILE_START
    given: dict[str, Any] = {}
    for name, value in overrides.items():
        if name not in declared:
            hint = did_you_mean(name, declared)
            report.add(mark, ("params", name), f"--param {name}: not declared in params{hint}")
            continue
        try:
            given[name] = override_value(name, declared[name], value)
        except ValueError as exc:
            report.add(_param_mark(root, name, mark), ("params", name), str(exc))
    return {**declared, **given}


def _param_mark(root: MapNode, name: str, default: Mark) -> Mark:
    node = root.items.get("params")
    return node.key_mark(name) if isinstance(node, MapNode) and name in node.keys else default


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
        values = {**defaults, **checked} if defaults else checked
        texts = tuple(runtime_texts(values))
        task = TaskDef(
            name, tasks_node.items[name], values, upstream_references(texts), runtime=texts
        )
        _check_shell_task(task, report)
        check_references(task, report)
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
