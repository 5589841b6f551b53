"""``--only TASK``: a workflow of those tasks and everything upstream of them."""

from __future__ import annotations

from collections.abc import Sequence

from flowweaver.workflow import Workflow

from .errors import CliError
from .options import did_you_mean


def upstream_closure(workflow: Workflow, names: Sequence[str]) -> set[str]:
    """``names`` and every task they depend on, directly or not."""
    wanted: set[str] = set()
    stack = list(names)
    while stack:
        name = stack.pop()
        if name not in wanted:
            wanted.add(name)
            stack.extend(workflow.get_dependencies(name))
    return wanted


def select_tasks(workflow: Workflow, names: Sequence[str]) -> Workflow:
    """A new workflow of the tasks ``names`` need, in their original order;
    ``workflow`` itself when ``names`` is empty."""
    if not names:
        return workflow
    tasks = workflow.get_all_tasks()
    for name in names:
        if name not in tasks:
            raise CliError(
                f"--only {name!r}: no such task in {workflow.name!r}",
                hint=did_you_mean(name, tasks) or "see the tasks with: flowweaver plan SPEC",
            )
    wanted = upstream_closure(workflow, names)
    subset = Workflow(
        workflow.name, workflow.description, handlers=workflow.handlers, timeout=workflow.timeout
    )
    subset.spec = workflow.spec
    for observer in workflow.observers:
        subset.subscribe(observer)
    for name, task in tasks.items():
        if name in wanted:
            subset.add_task(task)
    return subset
