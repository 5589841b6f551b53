"""The DAG as text: Mermaid (``flowchart``) or Graphviz DOT. Pure functions.

A mapped task is one node, marked as mapped: ``load (map over list-files)``."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping

from flowweaver.task import Map, Task
from flowweaver.workflow import Workflow


def node_label(task: Task) -> str:
    """The task's name, and for a mapped task what it maps over."""
    return task.name if task.map is None else f"{task.name} ({map_words(task.map)})"


def map_words(spec: Map) -> str:
    """``map over list-files``, ``map over 3 items``, ``map over a matrix of os, python
    (6 items)``."""
    over = spec.over
    if isinstance(over, str):
        return f"map over {over}"
    if isinstance(over, Mapping):
        count = math.prod(len(values) for values in over.values())
        return f"map over a matrix of {', '.join(over)} ({_items(count)})"
    return f"map over {_items(len(over))}"


def _items(count: int) -> str:
    return f"{count} item{'' if count == 1 else 's'}"


def edges(workflow: Workflow) -> Iterator[tuple[str, str]]:
    """``(upstream, downstream)`` pairs, in the order the tasks were added."""
    for name, task in workflow.get_all_tasks().items():
        for dep in task.depends_on:
            yield dep, name


def conditions(task: Task) -> list[str]:
    """``run_if: done``, ``when`` (``when: false`` when it is known false),
    ``allow_failure``: what makes a task conditional, as ``plan`` and ``graph`` say it."""
    marks = []
    if task.run_if != "success":
        marks.append(f"run_if: {task.run_if}")
    if task.when is False:
        marks.append("when: false")
    elif task.when is not None and task.when is not True:
        marks.append("when")
    if task.allow_failure:
        marks.append("allow_failure")
    return marks


def marks(workflow: Workflow) -> dict[str, str]:
    """``(run_if: done, when)`` for each task that is conditional."""
    found = {name: conditions(task) for name, task in workflow.get_all_tasks().items()}
    return {name: f"({', '.join(words)})" for name, words in found.items() if words}


def to_mermaid(workflow: Workflow) -> str:
    """A conditional task is drawn dashed, its conditions under its name."""
    tasks = workflow.get_all_tasks()
    ids = {name: f"t{i}" for i, name in enumerate(tasks)}
    marked = marks(workflow)
    lines = ["flowchart TD"]
    for name, node in ids.items():
        label = _mermaid_label(node_label(tasks[name]))
        if name in marked:
            label += f"<br/>{_mermaid_label(marked[name])}"
        lines.append(f'    {node}["{label}"]')
    lines += [f"    {ids[up]} --> {ids[down]}" for up, down in edges(workflow)]
    if marked:
        lines.append("    classDef conditional stroke-dasharray: 5 5")
        lines.append(f"    class {','.join(ids[name] for name in marked)} conditional")
    return "\n".join(lines) + "\n"


def to_dot(workflow: Workflow) -> str:
    """A conditional task is drawn dashed, its conditions under its name."""
    marked = marks(workflow)
    lines = [f"digraph {_dot_id(workflow.name)} {{", "    rankdir=LR;", "    node [shape=box];"]
    for name, task in workflow.get_all_tasks().items():
        if name in marked:
            label = f'"{_dot_text(node_label(task))}\\n{_dot_text(marked[name])}"'
            lines.append(f"    {_dot_id(name)} [style=dashed, label={label}];")
        elif task.map is not None:
            lines.append(f"    {_dot_id(name)} [label={_dot_id(node_label(task))}];")
        else:
            lines.append(f"    {_dot_id(name)};")
    lines += [f"    {_dot_id(up)} -> {_dot_id(down)};" for up, down in edges(workflow)]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_label(name: str) -> str:
    return name.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;")


def _dot_id(name: str) -> str:
    return f'"{_dot_text(name)}"'


def _dot_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')
