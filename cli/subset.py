"""``--only TASK``: a workflow of those tasks and everything upstream of them.

``--only 'load[b.csv]'`` names an item of mapped task ``load``: the task runs (with
what is upstream of it) for the items named so only, unless the whole task is named
too."""

from __future__ import annotations

import dataclasses
import re
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
    whole, items = _split(names)
    for written in names:
        name = _task_of(written)
        if name not in tasks:
            raise CliError(
                f"--only {written!r}: no such task in {workflow.name!r}",
                hint=did_you_mean(name, tasks) or "see the tasks with: flowweaver plan SPEC",
            )
    for name, keys in items.items():
        task = tasks[name]
        if task.map is None:
            raise CliError(
                f"--only '{name}[{min(keys)}]': {name!r} is not a mapped task",
                hint=f"run the whole task with --only {name}",
            )
        if name not in whole:
            task.map = dataclasses.replace(task.map, only=frozenset(keys))
    return workflow.subset(upstream_closure(workflow, [*whole, *items]))


_ITEM = re.compile(r"(?P<task>[^\[\]]+)\[(?P<key>.*)\]", re.DOTALL)


def _task_of(name: str) -> str:
    """The task ``--only`` names: ``load`` of ``load[b.csv]``."""
    match = _ITEM.fullmatch(name)
    return name if match is None else match["task"]


def _split(names: Sequence[str]) -> tuple[list[str], dict[str, set[str]]]:
    """Whole tasks, and the keys named of each mapped task (``load[b.csv]``)."""
    whole: list[str] = []
    items: dict[str, set[str]] = {}
    for name in names:
        match = _ITEM.fullmatch(name)
        if match is None:
            whole.append(name)
        else:
            items.setdefault(match["task"], set()).add(match["key"])
    return whole, items
