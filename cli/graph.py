"""The DAG as text: Mermaid (``flowchart``) or Graphviz DOT. Pure functions."""

from __future__ import annotations

from collections.abc import Iterator

from flowweaver.workflow import Workflow


def edges(workflow: Workflow) -> Iterator[tuple[str, str]]:
    """``(upstream, downstream)`` pairs, in the order the tasks were added."""
    for name, task in workflow.get_all_tasks().items():
        for dep in task.depends_on:
            yield dep, name


def to_mermaid(workflow: Workflow) -> str:
    ids = {name: f"t{i}" for i, name in enumerate(workflow.get_all_tasks())}
    lines = ["flowchart TD"]
    lines += [f'    {ids[name]}["{_mermaid_label(name)}"]' for name in ids]
    lines += [f"    {ids[up]} --> {ids[down]}" for up, down in edges(workflow)]
    return "\n".join(lines) + "\n"


def to_dot(workflow: Workflow) -> str:
    lines = [f"digraph {_dot_id(workflow.name)} {{", "    rankdir=LR;", "    node [shape=box];"]
    lines += [f"    {_dot_id(name)};" for name in workflow.get_all_tasks()]
    lines += [f"    {_dot_id(up)} -> {_dot_id(down)};" for up, down in edges(workflow)]
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_label(name: str) -> str:
    return name.replace("&", "#amp;").replace('"', "#quot;").replace("<", "#lt;")


def _dot_id(name: str) -> str:
    escaped = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
