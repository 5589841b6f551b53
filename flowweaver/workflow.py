"""A workflow: named tasks and the dependencies between them (a DAG)."""

from __future__ import annotations

import os
from collections import ChainMap
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowweaver.errors import CycleError
from flowweaver.events import Observer
from flowweaver.graph import Graph, children_of
from flowweaver.masking import NO_SECRETS, Masker, check_secret_names
from flowweaver.pools import Pool, as_pool
from flowweaver.task import Task, TaskStatus

if TYPE_CHECKING:
    from flowweaver.executors.base import Executor
    from flowweaver.executors.contract import AttemptWrapper
    from flowweaver.handlers import HandlerOutcome
    from flowweaver.logs import OutputListener


@dataclass
class SpecInfo:
    """Where a workflow loaded from a spec file came from, and its run settings."""

    path: str
    sha256: str
    params: dict[str, Any] = field(default_factory=dict)
    executor: str | None = None
    max_workers: int | None = None
    dask_address: str | None = None
    fail_fast: bool = False
    env: dict[str, str] = field(default_factory=dict)
    schedule: str | None = None
    """The spec's ``schedule:`` as cron is given it (``0 2 * * *``, ``@daily``)."""
    workdir: str | None = None
    run_id: str | None = None
    """The run the spec was loaded for (``${run.id}``): a store records the run under it."""
    run_started: str | None = None
    """``${run.started}``: when the spec was loaded for that run (ISO 8601)."""
    otel: bool = False
    """``otel: true``: its runs send OpenTelemetry traces (see :mod:`flowweaver.monitoring`)."""
    metrics_file: str | None = None
    """``metrics_file:``, absolute: the Prometheus textfile its runs write."""


class Workflow:
    """Tasks and their dependencies. Dependencies must be added before their dependents,
    so the graph is acyclic by construction and the order of addition is a valid order.

    ``handlers`` maps ``on_failure``, ``on_success``, ``on_recovery`` and ``on_exit`` to
    a callable or a :class:`Task` run after every task has ended (see
    :mod:`flowweaver.handlers`); ``last_handlers`` says how each ran in the last run.
    ``timeout`` is the whole run's deadline in seconds: past it the run is stopped as
    by SIGTERM and ``execute`` raises :class:`~flowweaver.RunTimeoutError`.
    ``secrets`` names environment variables whose values are never shown (masked as
    ``***`` in errors, tracebacks, captured output and the history); each must be set
    when a run starts (else :class:`~flowweaver.SecretError`). ``keep_runs``: a run
    recorded in a store removes the older runs of this workflow past the newest N.
    ``pools`` maps a pool's name to its size (or a :class:`~flowweaver.Pool`, for a pool
    shared by every run on the machine); a task names its pool with ``Task(pool=...)``.
    ``workdir`` is the folder the run's tasks run in (see :mod:`flowweaver.folders`);
    ``None``: the current directory.
    """

    def __init__(
        self,
        name: str = "Workflow",
        description: str = "",
        *,
        handlers: Mapping[str, Callable[..., Any] | Task] | None = None,
        timeout: float | None = None,
        secrets: Sequence[str] = (),
        keep_runs: int | None = None,
        pools: Mapping[str, int | Pool] | None = None,
        workdir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.name = name
        self.description = description
        self.secrets = check_secret_names(secrets)
        if keep_runs is not None and (
            isinstance(keep_runs, bool) or not isinstance(keep_runs, int) or keep_runs < 1
        ):
            raise ValueError(f"keep_runs must be a whole number of runs above 0, got {keep_runs!r}")
        self.keep_runs = keep_runs
        if timeout is not None and (
            isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0
        ):
            raise ValueError(
                f"workflow timeout must be a number of seconds above 0, got {timeout!r}"
            )
        self.timeout = timeout
        self.pools: dict[str, Pool] = {
            name: as_pool(name, pool) for name, pool in (pools or {}).items()
        }
        self.workdir = None if workdir is None else os.fspath(workdir)
        self.handlers: dict[str, Task] = {}
        if handlers:
            from flowweaver.handlers import handler_tasks

            self.handlers = handler_tasks(handlers)
        self.last_handlers: list[HandlerOutcome] = []
        self.spec: SpecInfo | None = None
        self._tasks: dict[str, Task] = {}
        self._task_list: list[Task] = []
        self._names: list[str] = []
        self._index: dict[str, int] = {}
        self._parents: list[list[int]] = []
        self._level_cache: list[int] | None = None
        self._shape: tuple[list[float], list[list[int]]] | None = None
        """The graph's layers and dependent tasks, each one pass over ``_parents`` made
        when first asked for after a change: adding a task only looks names up."""
        self._observers: list[Observer] = []
        self._output_listeners: list[OutputListener] = []
        self.environment: tuple[Mapping[str, str], Mapping[str, str]] | None = None
        """A spec's ``env:`` and what its env files give: where a secret is also
        looked up (before and after the process environment)."""
        self._attempt_wrappers: list[AttemptWrapper] = []
        self._placed = False  # a task has a workdir, reads or writes
        self.last_run_seconds = 0.0

    def subset(self, wanted: Collection[str]) -> Workflow:
        """A copy of this workflow with only the tasks named in ``wanted`` (their
        dependencies must be among them): its settings, spec, observers, output
        listeners and attempt wrappers kept. (``flowweaver run --only``.)"""
        copy = Workflow(self.name, self.description)
        for setting in ("secrets", "keep_runs", "timeout", "pools", "workdir", "handlers"):
            setattr(copy, setting, getattr(self, setting))
        copy.spec, copy.environment = self.spec, self.environment
        copy._observers = list(self._observers)
        copy._output_listeners = list(self._output_listeners)
        copy._attempt_wrappers = list(self._attempt_wrappers)
        for task in self._task_list:
            if task.name in wanted:
                copy.add_task(task)
        return copy

    # -- building -----------------------------------------------------------------

    def add_task(self, task: Task, depends_on: list[str] | None = None) -> None:
        """Add ``task``, depending on ``task.depends_on``, ``depends_on``, ``task.inputs``
        and the task a mapped task maps over.

        Raises ``ValueError`` for a duplicate name or an unknown dependency (dependencies
        must be added first), and :class:`~flowweaver.CycleError` (a ``ValueError``) for a
        task depending on itself: since dependencies come first, that is the only cycle
        a workflow can be given.
        """
        if type(task) is not Task and not isinstance(task, Task):
            raise TypeError(f"add_task expects a Task, got {type(task).__name__}")
        name = task.name
        index = self._index
        if name in index or task.pool is not None:
            self._check_name_and_pool(task)
        wanted = task.depends_on
        if depends_on or task.inputs or task.map is not None:
            wanted = [*wanted, *(depends_on or ()), *task.inputs.values()]
            if task.map is not None and task.map.upstream is not None:
                wanted.append(task.map.upstream)
        ups: list[int] = []
        try:
            for dep in wanted:
                up = index[dep]
                if up not in ups:  # a repeat (a short list: cheaper than a set)
                    ups.append(up)
        except KeyError:
            raise self._bad_dependency(name, dep) from None
        if len(ups) != len(wanted) or wanted is not task.depends_on:
            task.depends_on = [self._names[up] for up in ups]
        index[name] = len(self._parents)
        self._parents.append(ups)
        self._shape = None  # layers and children are worked out again when asked for
        if task.workdir is not None or task.writes or task.reads:
            self._placed = True
        self._tasks[name] = task
        self._task_list.append(task)
        self._names.append(name)

    def _check_name_and_pool(self, task: Task) -> None:
        if task.name in self._index:
            raise ValueError(f"duplicate task name {task.name!r}: task names must be unique")
        if task.pool is not None and task.pool not in self.pools:
            known = ", ".join(self.pools) or "none"
            raise ValueError(
                f"task {task.name!r} names pool {task.pool!r}, which the workflow does not "
                f"have (its pools: {known})"
            )

    @staticmethod
    def _bad_dependency(name: str, dep: str) -> ValueError:
        if dep == name:
            return CycleError([name, name], f"task {name!r} cannot depend on itself")
        return ValueError(
            f"task {name!r} depends on unknown task {dep!r}: "
            "dependencies must be added to the workflow first"
        )

    def subscribe(self, observer: Observer) -> Callable[[], None]:
        """Call ``observer(event)`` for every task event of every later run.

        Events arrive in order for each task. Returns a function that unsubscribes.
        An observer that raises is logged and ignored.
        """
        self._observers.append(observer)

        def unsubscribe() -> None:
            if observer in self._observers:
                self._observers.remove(observer)

        return unsubscribe

    @property
    def observers(self) -> list[Observer]:
        return list(self._observers)

    def subscribe_output(self, listener: OutputListener) -> Callable[[], None]:
        """Call ``listener(item)`` with what the tasks of every later run print: a
        :class:`~flowweaver.logs.TaskOutput` (a batch of whole lines, secrets masked)
        as they print it, and an :class:`~flowweaver.logs.AttemptFailure` when an
        attempt fails, before its task event. Called from whichever thread has the
        output; an attempt's items arrive in order. Returns a function that
        unsubscribes. While something listens, what tasks print is not echoed to the
        process's streams: the listener decides where it goes.
        """
        self._output_listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._output_listeners:
                self._output_listeners.remove(listener)

        return unsubscribe

    @property
    def output_listeners(self) -> list[OutputListener]:
        return list(self._output_listeners)

    def masker(self) -> Masker:
        """The masker of this workflow's secrets, read from the environment now;
        :class:`~flowweaver.SecretError` naming those that are not set."""
        if not self.secrets:
            return NO_SECRETS
        if not self.environment:
            return Masker.from_environment(self.secrets)
        # the spec's env: first, then the process environment, then its env files
        spec_env, file_env = self.environment
        return Masker.from_environment(
            self.secrets, ChainMap(dict(spec_env), os.environ, dict(file_env))
        )

    def wrap_attempts(self, hook: AttemptWrapper) -> Callable[[], None]:
        """Call ``hook(attempt)`` for every attempt of every later run, on the run's
        loop, just before the attempt is submitted (after its RUNNING event reached
        the observers): it may wrap ``attempt.fn`` so that the attempt runs in a
        context of its own, wherever it runs. Returns a function that unhooks it.
        (Tracing uses it: see :mod:`flowweaver.monitoring`.)"""
        self._attempt_wrappers.append(hook)

        def unhook() -> None:
            if hook in self._attempt_wrappers:
                self._attempt_wrappers.remove(hook)

        return unhook

    @property
    def attempt_wrappers(self) -> list[AttemptWrapper]:
        return list(self._attempt_wrappers)

    # -- reading ------------------------------------------------------------------

    def get_execution_plan(self) -> list[list[Task]]:
        """Kahn layers: each layer's tasks depend only on earlier layers, in the order
        they were added. (Tasks are added after their dependencies, so the order of
        addition is a topological order: one pass gives each task its layer, one more
        than its deepest dependency's.)"""
        layers: list[list[Task]] = []
        for task, level in zip(self._task_list, self._levels()):  # noqa: B905 - same length
            if level == len(layers):
                layers.append([task])
            else:
                layers[level].append(task)
        return layers

    def get_task(self, task_name: str) -> Task | None:
        return self._tasks.get(task_name)

    def get_dependencies(self, task_name: str) -> list[str]:
        return list(self._require(task_name).depends_on)

    def get_all_tasks(self) -> dict[str, Task]:
        return dict(self._tasks)

    def get_task_status(self, task_name: str) -> TaskStatus | None:
        task = self._tasks.get(task_name)
        return task.status if task is not None else None

    def get_task_result(self, task_name: str) -> Any:
        """The task's result, or ``None`` until it has completed. ``KeyError`` if unknown."""
        task = self._require(task_name)
        return task.result if task.status is TaskStatus.COMPLETED else None

    def get_workflow_stats(self) -> dict[str, Any]:
        counts = dict.fromkeys(TaskStatus, 0)
        retries = allowed = 0
        for task in self._tasks.values():
            counts[task.status] += 1
            retries += max(task.attempts - 1, 0)
            allowed += task.status is TaskStatus.FAILED and task.allow_failure
        return {
            "total_tasks": len(self._tasks),
            "completed": counts[TaskStatus.COMPLETED],
            "failed": counts[TaskStatus.FAILED],
            "allowed_failures": allowed,
            "skipped": counts[TaskStatus.SKIPPED],
            "cancelled": counts[TaskStatus.CANCELLED],
            "pending": counts[TaskStatus.PENDING],
            "running": counts[TaskStatus.RUNNING],
            "retries": retries,
            "total_time_seconds": self.last_run_seconds,
        }

    def graph(self) -> Graph:
        """The dependency graph by position (task ``i`` is the ``i``-th added)."""
        if self._shape is None:
            self._shape = (list(map(float, self._levels())), children_of(self._parents))
        depth, children = self._shape
        return Graph(self._task_list, self._names, self._parents, children, depth, self._index)

    def _levels(self) -> list[int]:
        """Each task's layer: 0 without dependencies, else one more than its deepest
        dependency's. One pass in the order of addition, which is topological."""
        levels = self._level_cache
        if levels is None or len(levels) != len(self._parents):
            levels = []
            for ups in self._parents:
                level = 0
                for up in ups:
                    if levels[up] >= level:
                        level = levels[up] + 1
                levels.append(level)
            self._level_cache = levels
        return levels

    @property
    def uses_folders(self) -> bool:
        """Whether the workflow or a task has a ``workdir``, ``reads`` or ``writes``."""
        return self.workdir is not None or self._placed

    def parents(self) -> list[list[int]]:
        """Dependencies by position: ``parents()[i]`` are the indices task ``i`` needs."""
        return self._parents

    def __len__(self) -> int:
        return len(self._tasks)

    def __contains__(self, name: object) -> bool:
        return name in self._tasks

    def __repr__(self) -> str:
        return f"Workflow(name={self.name!r}, tasks={len(self._tasks)})"

    def _require(self, task_name: str) -> Task:
        try:
            return self._tasks[task_name]
        except KeyError:
            raise KeyError(f"no task named {task_name!r} in workflow {self.name!r}") from None

    # -- running ------------------------------------------------------------------

    def execute(self, executor: Executor | None = None) -> None:
        """Run with ``executor`` (sequential when none). Raises ``WorkflowError`` on failure."""
        if executor is None:
            from flowweaver.executors.sequential import SequentialExecutor

            executor = SequentialExecutor()
        executor.execute(self)

    async def execute_async(self) -> None:
        """Run on the running event loop with an :class:`AsyncExecutor`."""
        from flowweaver.executors.async_ import AsyncExecutor

        await AsyncExecutor().execute_async(self)
