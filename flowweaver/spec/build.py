"""Checked task definitions → :class:`~flowweaver.Task` objects, and the workflow of them."""

from __future__ import annotations

import dataclasses
import functools
import inspect
from collections.abc import Callable
from typing import Any

from flowweaver.folders import absolute
from flowweaver.mapping import ItemKey
from flowweaver.shell import ShellCommand, ShellTest
from flowweaver.spec.binding import BoundShapes, check_predicate, signature_of
from flowweaver.spec.document import Document, TaskDef
from flowweaver.spec.imports import ImportedLater, MissingModuleError, ResolveError, Resolver
from flowweaver.spec.interpolate import RuntimeText
from flowweaver.spec.problems import Mark, Problems
from flowweaver.spec.runtime import DEFAULT_PARAM, call_function, input_keywords, shell_function
from flowweaver.task import Map, Task
from flowweaver.workflow import SpecInfo, Workflow

_POLICY = ("retries", "timeout", "retry_delay", "retry_backoff", "max_retry_delay", "retry_jitter")


class _Unresolved:
    """A ``when`` predicate that could not be resolved (reported)."""


_UNRESOLVED = _Unresolved()


class TaskFactory:
    """Makes each task's function and exception classes, importing only when asked to.

    ``import_dirs`` are the spec's folder and the current directory, where a spec's
    modules are looked for first (named when one is missing).
    """

    def __init__(
        self,
        report: Problems,
        shell_env: dict[str, str],
        *,
        check_imports: bool,
        import_dirs: tuple[str, str] = ("", ""),
        folder: str = "",
    ) -> None:
        self.report = report
        self.folder = folder  # what a task's relative workdir is relative to
        self.shell_env = shell_env
        self.check_imports = check_imports
        self.import_dirs = import_dirs
        self.resolver = Resolver(report.file, [d for d in import_dirs if d])
        self._signatures: dict[str, inspect.Signature | None] = {}
        self._bound = BoundShapes()
        self._unimportable: dict[str, Mark] = {}

    def task(self, definition: TaskDef) -> Task | None:
        """The task, or ``None`` after reporting why it can't be made."""
        values = definition.values
        upstream = input_keywords(definition)  # what carries each ${tasks.NAME} result
        fn = self.function(definition, upstream)
        retry_on = self.exceptions(definition)
        when = self.condition(definition)
        if fn is None or retry_on is None or isinstance(when, _Unresolved):
            return None
        policy = {key: values[key] for key in _POLICY if key in values}
        inputs = values.get("inputs", {})
        if upstream:
            inputs = {**inputs, **{keyword: name for name, keyword in upstream.items()}}
        try:
            return Task(
                name=definition.name,
                fn=fn,
                depends_on=definition.dependencies(),
                inputs=inputs,
                map=mapping(values.get("map")),
                retry_on=retry_on,
                cache=values.get("cache", False),
                cache_ttl=values.get("cache_ttl"),
                description=values.get("description", ""),
                run_if=values.get("run_if", "success"),
                when=when,
                allow_failure=values.get("allow_failure", False),
                reads=tuple(values.get("reads", ())),
                writes=tuple(values.get("writes", ())),
                workdir=self.workdir(values.get("workdir")),
                pool=values.get("pool"),
                priority=values.get("priority", 0),
                **policy,
            )
        except (TypeError, ValueError) as exc:  # a rule the key table doesn't know yet
            self.report.add(definition.locate(), definition.path(), str(exc))
            return None

    def handler(self, definition: TaskDef) -> Task | None:
        """A handler (``handlers:``): a task of its own, whose shell command gets its
        ``env`` too. Its callable may take ``run``, the run's dict."""
        task = self.task(definition)
        env = definition.values.get("env")
        if task is not None and env and isinstance(task.fn, ShellCommand):
            task.fn = dataclasses.replace(task.fn, env={**task.fn.env, **env})
        return task

    def workdir(self, folder: str | None) -> str | None:
        """A task's own folder, absolute: relative to the spec's workdir, else its folder."""
        return None if folder is None else absolute(folder, self.folder)

    def function(
        self, definition: TaskDef, upstream: dict[str, str] | None = None
    ) -> Callable[..., Any] | None:
        """What the task calls: its callable (with its arguments), or its command;
        templated when they hold run-time references (``upstream``: the ``inputs``
        keyword of each ``${tasks.NAME}`` result), or when a shell task is mapped."""
        values = definition.values
        upstream = upstream or {}
        if "shell" in values:
            return shell_function(values["shell"], self.shell_env, definition, upstream)
        if "call" not in values:
            return None
        fn = self._callable(definition, values["call"])
        if fn is None:
            return None
        args, kwargs = values.get("args", []), values.get("kwargs", {})
        templated = call_function(fn, args, kwargs, definition, upstream)
        if templated is not None:
            return templated
        return functools.partial(fn, *args, **kwargs) if args or kwargs else fn

    def shell_command(self, command: str | list[str]) -> ShellCommand:
        """A ``when: {shell: …}`` test's command."""
        if isinstance(command, str):
            return ShellCommand(script=str(command), env=self.shell_env)
        return ShellCommand(argv=[str(part) for part in command], env=self.shell_env)

    def condition(self, definition: TaskDef) -> bool | Callable[..., Any] | _Unresolved | None:
        """The task's ``when``: a bool, a predicate (a shell test, or a callable checked
        like a task's), ``None``; :data:`_UNRESOLVED` after reporting why not."""
        when = definition.values.get("when")
        if when is None or isinstance(when, bool):
            return when
        if "shell" in when:
            return ShellTest(self.shell_command(when["shell"]))
        target = when["call"]
        if not self.check_imports:
            return ImportedLater(target)
        try:
            fn = self.resolver.callable(target)
        except ResolveError as exc:
            self._unresolved(definition, ("when", "call"), exc)
            return _UNRESOLVED
        signature = self._signature(target, fn)
        if signature is not None:
            check_predicate(signature, definition, self.report)
        return fn

    def _callable(self, definition: TaskDef, target: str) -> Callable[..., Any] | None:
        if not self.check_imports:
            return ImportedLater(target)
        try:
            fn = self.resolver.callable(target)
        except ResolveError as exc:
            self._unresolved(definition, ("call",), exc)
            return None
        signature = self._signature(target, fn)
        if signature is not None:
            if definition.section == "handlers":
                how = "give {pronoun} in args or kwargs (a handler receives only 'run')"
                self._bound.check(signature, definition, self.report, ("run",), how)
            else:
                self._bound.check(signature, definition, self.report)
        return fn

    def _signature(self, target: str, fn: Callable[..., Any]) -> inspect.Signature | None:
        if target not in self._signatures:
            self._signatures[target] = signature_of(fn)
        return self._signatures[target]

    def exceptions(self, definition: TaskDef) -> tuple[type[BaseException], ...] | None:
        """The ``retry_on`` classes. Without import checks only builtins are resolved: the
        workflow is for looking at (plan, graph), and dotted names are left out."""
        names = definition.values.get("retry_on")
        if names is None:
            return (Exception,)
        found: list[type[BaseException]] = []
        ok = True
        for position, name in enumerate(names):
            if not self.check_imports and ("." in name or ":" in name):
                continue
            try:
                found.append(self.resolver.exception(name))
            except ResolveError as exc:
                self._unresolved(definition, ("retry_on", position), exc)
                ok = False
        return (tuple(found) or (Exception,)) if ok else None

    def _unresolved(
        self, definition: TaskDef, where: tuple[str | int, ...], exc: ResolveError
    ) -> None:
        """Report ``exc`` at ``where``; a module that can't be imported in full only at
        the first place that names it (saying where a missing one was looked for), and
        in short at the others."""
        mark = definition.locate(*where)
        message = str(exc)
        if exc.module is not None:
            first = self._unimportable.setdefault(exc.module, mark)
            if first is not mark:
                message = f"{exc.short}: see line {first.line}"
            elif isinstance(exc, MissingModuleError):
                message = f"{message} ({self._looked_in()})"
        self.report.add(mark, definition.path(*where), message)

    def _looked_in(self) -> str:
        spec_dir, cwd = self.import_dirs
        if spec_dir == cwd:
            folders = f"the spec's folder, also the current directory, {spec_dir}"
        else:
            folders = f"the spec's folder {spec_dir}, the current directory {cwd}"
        return f"looked in {folders}, and the rest of sys.path"


def check_run_if(definition: TaskDef, report: Problems) -> None:
    """``run_if: failure`` on a task with no upstream task: it can never run."""
    if definition.values.get("run_if") == "failure" and not definition.dependencies():
        report.add(
            definition.locate("run_if"),
            definition.path("run_if"),
            "can never run: run_if 'failure' waits for an upstream task to fail, "
            "and this task has none",
        )


def mapping(spec: dict[str, Any] | None) -> Map | None:
    """The ``Map`` of a checked ``map:`` block (``None`` when it has none, or its
    ``over`` had a problem)."""
    if spec is None or "over" not in spec:
        return None
    key = spec.get("key")
    return Map(
        over=spec["over"],
        param=spec.get("param", DEFAULT_PARAM),
        key=ItemKey(key.template) if isinstance(key, RuntimeText) else None,
        max_parallel=spec.get("max_parallel"),
    )


def build_workflow(
    document: Document,
    tasks: list[Task],
    path: str,
    sha256: str,
    run: dict[str, str],
    handlers: dict[str, Task] | None = None,
) -> Workflow:
    """The workflow of ``tasks`` (dependencies first), from the spec file at ``path``,
    loaded for the run ``run`` (its ``id`` and ``started``), with its ``handlers`` and
    the document's run ``timeout``."""
    workflow = Workflow(
        document.name,
        document.description,
        workdir=document.workdir,
        secrets=document.secrets,
        keep_runs=document.keep_runs,
        handlers=handlers,
        timeout=document.timeout,
        pools=document.pools,
    )
    if document.secrets:
        workflow.environment = (document.env, document.file_env)
    for task in tasks:
        workflow.add_task(task)
    workflow.spec = SpecInfo(
        path=path,
        sha256=sha256,
        params=document.params,
        executor=document.executor,
        max_workers=document.max_workers,
        dask_address=document.dask_address,
        fail_fast=document.fail_fast,
        env=document.env,
        schedule=document.schedule,
        workdir=document.workdir,
        run_id=run["id"],
        run_started=run["started"],
        otel=document.otel,
        metrics_file=document.metrics_file,
    )
    return workflow
