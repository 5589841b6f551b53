"""What every executor shares: turning a workflow into a run and driving it."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from flowweaver._loop import drive
from flowweaver._run import Run
from flowweaver.errors import InputError, WorkflowError
from flowweaver.executors.contract import Backend
from flowweaver.folders import Placement, place
from flowweaver.graph import Graph
from flowweaver.masking import NO_SECRETS
from flowweaver.pools import POOLS_VARIABLE, pools_folder, prepare_slots
from flowweaver.task import Task

if TYPE_CHECKING:
    from flowweaver.history import Recorder, Store
    from flowweaver.logs import RunLog
    from flowweaver.masking import Masker
    from flowweaver.workflow import Workflow


class Executor(ABC):
    """Runs workflows. Subclasses say how attempts run (:meth:`backend`); the
    scheduling (ready queue, retries, timeouts, failure policy) is shared."""

    #: start ready tasks in plan order rather than longest-path-first
    plan_order = False
    #: whether this executor's tasks run on this machine (host pools mean something)
    host_pools = True
    #: how a Python task is put in its folder (see :mod:`flowweaver.folders`): ``call``
    #: (one call at a time per process), ``run`` (threads of this process), ``worker``
    folder_mode = "run"

    def __init__(self, *, fail_fast: bool = False) -> None:
        self.fail_fast = fail_fast

    @classmethod
    def from_options(
        cls, *, max_workers: int | None = None, fail_fast: bool = False, address: str | None = None
    ) -> Executor:
        """The executor a spec or the command line configures (options it has no use
        for are ignored: ``address`` is Dask's, ``max_workers`` means nothing to the
        sequential executor)."""
        return cls(max_workers=max_workers, fail_fast=fail_fast)  # type: ignore[call-arg]

    @abstractmethod
    def backend(self) -> Backend:
        """A fresh backend for one run."""

    def check(self, tasks: Iterable[Task]) -> None:  # noqa: B027 - an optional hook
        """Refuse, before anything runs, tasks this executor can't run (raise an
        :class:`~flowweaver.errors.InputError`). Every executor runs every kind."""

    def execute(
        self,
        workflow: Workflow,
        store: Store | None = None,
        *,
        resume: bool = False,
        recorder: Recorder | None = None,
    ) -> None:
        """Run every task of ``workflow``; raise ``WorkflowError`` if any failed.

        With a ``store`` (a :class:`~flowweaver.RunStore`) the run is recorded in
        its history, cached results are used, and ``resume=True`` reuses what the
        latest unfinished run of this workflow completed. A ``recorder`` already
        opened with ``store.open_run(...)`` may be passed instead of the store.
        """
        run, backend = self.prepare(workflow, store, resume=resume, recorder=recorder)
        try:
            self.drive(run, backend)
        except BaseException:
            run.close()  # a second signal, or a bug: no handlers
            raise
        finally:
            workflow.last_run_seconds = run.elapsed()
        conclude(run, workflow)

    def prepare(
        self,
        workflow: Workflow,
        store: Store | None = None,
        *,
        resume: bool = False,
        recorder: Recorder | None = None,
    ) -> tuple[Run, Backend]:
        """A run of ``workflow``, not yet started, and the backend to drive it with."""
        graph = workflow.graph()
        self.check(graph.tasks)
        self.check_pools(workflow)
        placement = self.placement(workflow)
        if recorder is None and store is not None:
            recorder = store.open_run(workflow, resume=resume)
        masker = recorder.masker if recorder is not None else workflow.masker()
        backend = self.backend()
        run = Run(
            workflow.name,
            graph,
            slots=backend.slots,
            fail_fast=self.fail_fast,
            observers=workflow.observers,
            recorder=recorder,
            plan_order=self.plan_order,
            timeout=workflow.timeout,
            masker=masker,
            output=captured_output(workflow, recorder, masker),
            pools=workflow.pools,
            placement=placement,
            attempt_wrappers=workflow.attempt_wrappers,
        )
        return run, backend

    def check_pools(self, workflow: Workflow) -> None:
        """Refuse, before anything runs, host pools this executor can't use (its tasks may
        run on other machines) or whose slot files can't be made; an
        :class:`~flowweaver.errors.InputError`."""
        hosted = {name: pool for name, pool in workflow.pools.items() if pool.host}
        if hosted and not self.host_pools:
            raise InputError(
                f"the {self.kind} executor can't use host pools ({', '.join(hosted)}): its "
                "tasks may run on other machines; use scope: run, or another executor"
            )
        for name, pool in hosted.items():
            try:
                prepare_slots(name, pool.size)
            except OSError as exc:
                where = exc.filename or pools_folder()
                raise InputError(
                    f"host pool {name!r}: can't use its slot files in {where}: "
                    f"{exc.strerror or exc} (${POOLS_VARIABLE} moves them)"
                ) from None

    def placement(self, workflow: Workflow) -> Placement | None:
        """How a run of ``workflow`` puts its tasks in their folders (``None``: nothing
        to do). Raises :class:`~flowweaver.errors.InputError` when a folder is missing,
        or Python tasks need folders this executor can't give them."""
        if not workflow.uses_folders:
            return None
        return place(workflow.graph().tasks, workflow.workdir, self.folder_mode, self.kind)

    @property
    def kind(self) -> str:
        """The executor's name, for messages: ``threaded``, ``process``…"""
        return type(self).__name__.removesuffix("Executor").lower()

    def run_tasks(
        self,
        tasks: Sequence[Task],
        *,
        raise_on_failure: bool = True,
        masker: Masker | None = None,
    ) -> None:
        """Run independent ``tasks`` (their dependencies are not consulted); ``masker``
        hides secrets in their errors."""
        self.check(tasks)
        placement = None
        if any(task.workdir is not None or task.writes for task in tasks):
            placement = place(tasks, None, self.folder_mode, self.kind)
        backend = self.backend()
        run = Run(
            "tasks",
            independent(tasks),
            slots=backend.slots,
            fail_fast=self.fail_fast,
            plan_order=self.plan_order,
            masker=NO_SECRETS if masker is None else masker,
            placement=placement,
        )
        try:
            self.drive(run, backend)
            run.finish()
        except WorkflowError:
            if raise_on_failure:
                raise
        finally:
            run.close()

    def drive(self, run: Run, backend: Backend) -> None:
        """Wait for the run to end (the asyncio executor runs its own loop here)."""
        drive(run, backend)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def captured_output(workflow: Workflow, recorder: Recorder | None, masker: Masker) -> RunLog | None:
    """What captures the run's task output: when it has a log folder (a store), a
    subscriber to its output, or secrets to mask; else nothing is captured."""
    log_dir = recorder.log_dir if recorder is not None else None
    listeners = workflow.output_listeners
    if log_dir is None and not listeners and not masker:
        return None
    from flowweaver.logs import RunLog

    return RunLog(None if log_dir is None else Path(log_dir), masker, listeners)


def independent(tasks: Sequence[Task]) -> Graph:
    """The graph of tasks run without their dependencies (``Task.execute``)."""
    names = [task.name for task in tasks]
    index = {name: i for i, name in enumerate(names)}
    empty: list[list[int]] = [[] for _ in tasks]
    return Graph(list(tasks), names, empty, [[] for _ in tasks], [0.0] * len(tasks), index)


def conclude(run: Run, workflow: Workflow) -> None:
    """After a run's loop has ended: its handlers, the end of its record, its verdict
    (``WorkflowError``, ``RunInterrupted``)."""
    handlers = workflow.handlers
    try:
        if handlers:
            from flowweaver.handlers import due, run_handlers, run_info

            info = run_info(run, workflow)
            tasks = due(handlers, info["status"], info["previous_status"])
            workflow.last_handlers = run_handlers(tasks, info, run.masker)
            if run.recorder is not None:
                run.recorder.record_handlers([o.to_dict() for o in workflow.last_handlers])
        else:
            workflow.last_handlers = []
    finally:
        workflow.last_run_seconds = run.elapsed()
        run.finish()
