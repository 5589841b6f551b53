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


def to_mermaid(workflow: Workflow) -> str:
    tasks = workflow.get_all_tasks()
    ids = {name: f"t{i}" for i, name in enumerate(tasks)}
    lines = ["flowchart TD"]
    lines += [f'    {ids[name]}["{_mermaid_label(node_label(tasks[name]))}"]' for name in ids]
    lines += [f"    {ids[up]} --> {ids[down]}" for up, down in edges(workflow)]
    return "\n".join(lines) + "\n"


def to_dot(workflow: Workflow) -> str:
    lines = [f"digraph {_dot_id(workflow.name)} {{", "    rankdir=LR;", "    node [shape=box];"]
    for name, task in workflow.get_all_tasks().items():
        label = "" if task.map is None else f" [label={_dot_id(node_label(task))}]"
        lines.append(f"    {_dot_id(name)}{label};")
    lines += [f"    {_dot_id(up)} -> {_dot_id(down)};" for up, down in edges(workflow)]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_label(name: str) -> str:
    return name.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;")


def _dot_id(name: str) -> str:
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
