"""Run handlers: ``on_failure``, ``on_success``, ``on_recovery``, ``on_exit``.

A handler is a task (a callable or a shell command, with its timeout and retries)
run after every task of the run has ended, with what the run came to: a ``call``
handler whose function has a ``run`` parameter receives :func:`run_info`'s dict;
a shell handler gets the same in its environment (``FLOWWEAVER_RUN_ID``,
``FLOWWEAVER_RUN_STATUS``, ``FLOWWEAVER_FAILED_TASKS``, ``FLOWWEAVER_RUN_JSON``).
Which handlers run (:func:`due`): ``on_failure`` when the run failed or was
interrupted, ``on_success`` when it succeeded, then ``on_recovery`` when it
succeeded and the workflow's previous run had not (it failed, was interrupted,
timed out or was killed), then ``on_exit`` always.
Handlers run one after the other on the calling thread (a timeout on a helper
thread, as the sequential executor does); a handler that fails is reported and
recorded, and never changes the run's verdict or exit code.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from flowweaver._call import accepted_keywords
from flowweaver._logger import logger
from flowweaver.errors import RunInterrupted
from flowweaver.masking import NO_SECRETS, Masker
from flowweaver.task import Task, TaskStatus

HANDLER_NAMES = ("on_failure", "on_success", "on_recovery", "on_exit")
"""The handlers a workflow may have, in the order they can run."""

RECOVERED_FROM = ("failed", "interrupted", "timed_out", "killed")
"""A previous run status that a successful run recovers from (``on_recovery``)."""

if TYPE_CHECKING:
    from flowweaver._run import Run
    from flowweaver.workflow import Workflow


@dataclasses.dataclass(frozen=True)
class HandlerOutcome:
    """How one handler ended: ``status`` is a task status value (``completed``,
    ``failed``, ``cancelled``)."""

    name: str
    status: str
    error: str | None
    duration: float

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def handler_tasks(handlers: Mapping[str, Callable[..., Any] | Task]) -> dict[str, Task]:
    """``handlers`` checked and made tasks (a plain callable becomes a task of its name).

    Raises ``ValueError`` for a name that is not a handler, ``TypeError`` for a value
    that is neither a callable nor a :class:`Task`."""
    tasks: dict[str, Task] = {}
    for name, handler in handlers.items():
        if name not in HANDLER_NAMES:
            choices = ", ".join(HANDLER_NAMES)
            raise ValueError(f"unknown handler {name!r}: handlers are {choices}")
        if isinstance(handler, Task):
            tasks[name] = dataclasses.replace(handler, name=name)
        elif callable(handler):
            tasks[name] = Task(name, handler)
        else:
            raise TypeError(f"handler {name!r} must be a callable or a Task")
    return tasks


def run_info(run: Run, workflow: Workflow) -> dict[str, Any]:
    """What a handler is told of the run: a plain dict, JSON-ready, secrets masked."""
    recorder = run.recorder
    spec = workflow.spec
    tasks = workflow.get_all_tasks().values()
    info = {
        "workflow": workflow.name,
        "run_id": None if recorder is None else recorder.run_id,
        "status": run.status,
        "exit_code": run.exit_code,
        "params": dict(spec.params) if spec is not None else {},
        "failed": run.failed(),
        "allowed_failures": {
            task.name: task.error or "failed"
            for task in tasks
            if task.status is TaskStatus.FAILED and task.allow_failure
        },
        "stats": workflow.get_workflow_stats() | {"total_time_seconds": run.elapsed()},
        "previous_status": None if recorder is None else recorder.previous_status,
        "log_dir": getattr(recorder, "log_dir", None),
        "report": getattr(recorder, "report_path", None),
    }
    masked: dict[str, Any] = run.masker.mask_data(info)
    return masked


def due(handlers: Mapping[str, Task], status: str, previous_status: str | None) -> list[Task]:
    """The handlers to run, in order, for a run that ended ``status`` (``completed``,
    ``failed``, ``interrupted``…) after a previous run that ended ``previous_status``."""
    names = ["on_success"] if status == "completed" else ["on_failure"]
    if status == "completed" and previous_status in RECOVERED_FROM:
        names.append("on_recovery")
    names.append("on_exit")
    return [handlers[name] for name in names if name in handlers]


def run_environment(info: Mapping[str, Any]) -> dict[str, str]:
    """What a shell handler finds in its environment."""
    return {
        "FLOWWEAVER_RUN_ID": str(info.get("run_id") or ""),
        "FLOWWEAVER_RUN_STATUS": str(info.get("status") or ""),
        "FLOWWEAVER_FAILED_TASKS": ",".join(info.get("failed") or {}),
        "FLOWWEAVER_RUN_JSON": json.dumps(info, default=str, sort_keys=True),
    }


def bound(task: Task, info: Mapping[str, Any]) -> Task:
    """``task`` called with the run's dict: a shell command gets it in its environment,
    a function with a ``run`` parameter (or ``**kwargs``) as ``run``."""
    from flowweaver.shell import ShellCommand

    fn = task.fn
    if isinstance(fn, ShellCommand):
        fn = dataclasses.replace(fn, env={**fn.env, **run_environment(info)})
    else:
        names, var_keyword = accepted_keywords(fn)
        if "run" in names or var_keyword:
            fn = functools.partial(fn, run=dict(info))
    return dataclasses.replace(task, fn=fn, depends_on=[], inputs={})


def run_handlers(
    tasks: list[Task], info: Mapping[str, Any], masker: Masker = NO_SECRETS
) -> list[HandlerOutcome]:
    """Run ``tasks`` one after the other with the run's dict; how each ended (errors
    masked by ``masker``).

    A signal stops the handler running then and the ones after it (cancelled)."""
    from flowweaver.executors.sequential import SequentialExecutor

    outcomes: list[HandlerOutcome] = []
    executor = SequentialExecutor()
    stopped: str | None = None
    for task in tasks:
        call = bound(task, info)
        started = time.monotonic()
        if stopped is None:
            try:
                executor.run_tasks([call], raise_on_failure=False, masker=masker)
            except RunInterrupted as exc:
                stopped = str(exc)
        status, error = call.status.value, masker.mask_optional(call.error)
        if stopped is not None and call.status is not TaskStatus.COMPLETED:
            status, error = TaskStatus.CANCELLED.value, stopped
        outcome = HandlerOutcome(task.name, status, error, time.monotonic() - started)
        if outcome.status != TaskStatus.COMPLETED.value:
            logger.warning("handler %s %s: %s", task.name, outcome.status, outcome.error)
        outcomes.append(outcome)
    return outcomes
