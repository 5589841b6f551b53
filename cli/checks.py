"""Warnings about a workflow that is valid but may not behave as its author expects."""

from __future__ import annotations

from flowweaver.executors import REGISTRY
from flowweaver.templates import shell_of
from flowweaver.workflow import Workflow

from .errors import write_warning


def soft_timeout_tasks(workflow: Workflow, executor: str) -> list[str]:
    """Tasks whose timeout can't stop them: a plain function run on a thread.

    Coroutines are cancelled and shell commands are killed, so theirs hold anywhere;
    the process and Dask executors end a task's process.
    """
    entry = REGISTRY.get(executor)
    if entry is None or not entry.threads:
        return []
    return [
        name
        for name, task in workflow.get_all_tasks().items()
        if task.timeout is not None and not task.is_async() and shell_of(task.fn) is None
    ]


def warn_soft_timeouts(workflow: Workflow, executor: str) -> None:
    names = soft_timeout_tasks(workflow, executor)
    if names:
        write_warning(
            f"the timeout of {', '.join(names)} is soft on the {executor} executor: "
            "a plain function on a thread can't be stopped, the run only stops waiting "
            "for it (--executor process gives a hard timeout)"
        )
