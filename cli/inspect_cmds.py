"""``plan``, ``validate``, ``graph`` and ``schema``: looking at specs without running them."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from flowweaver.errors import SpecError
from flowweaver.task import Task
from flowweaver.workflow import Workflow

from .checks import warn_soft_timeouts
from .errors import ExitCode, write_problems
from .graph import conditions
from .options import DEFAULT_EXECUTOR, GraphFormat, parse_params


def load(spec: Path, params: Sequence[str], *, check_imports: bool = False) -> Workflow:
    from flowweaver.spec import load_workflow

    return load_workflow(spec, parse_params(params), check_imports=check_imports)


def plan_lines(workflow: Workflow) -> list[str]:
    """``Layer 1: a, b`` for each layer of the execution plan, a conditional task
    marked (``report (run_if: done)``, ``load (when)``); then the handlers and the
    run's timeout, if it has them."""
    lines = [
        f"Layer {number}: {', '.join(labelled(task) for task in layer)}"
        for number, layer in enumerate(workflow.get_execution_plan(), start=1)
    ]
    if workflow.handlers:
        lines.append(f"Handlers: {', '.join(workflow.handlers)}")
    if workflow.timeout is not None:
        lines.append(f"Timeout: {workflow.timeout:g}s for the whole run")
    return lines


def labelled(task: Task) -> str:
    """The task's name, and what makes it conditional: ``report (run_if: done, when)``."""
    marks = conditions(task)
    return f"{task.name} ({', '.join(marks)})" if marks else task.name


def plan(spec: Path, params: Sequence[str]) -> int:
    _print(plan_lines(load(spec, params)))
    return ExitCode.OK


def validate(specs: Sequence[Path], params: Sequence[str], *, check_imports: bool) -> int:
    """Each file's problems, or ``FILE: ok (N tasks, M layers)``; 2 if any is invalid."""
    code = ExitCode.OK
    for spec in specs:
        try:
            workflow = load(spec, params, check_imports=check_imports)
        except SpecError as exc:
            write_problems(exc.problems)
            code = ExitCode.BAD_INPUT
            continue
        layers = len(workflow.get_execution_plan())
        _print(
            [f"{os.fspath(spec)}: ok ({_count(len(workflow), 'task')}, {_count(layers, 'layer')})"]
        )
        executor = workflow.spec.executor if workflow.spec else None
        warn_soft_timeouts(workflow, executor or DEFAULT_EXECUTOR)
    return code


def graph(spec: Path, params: Sequence[str], format: GraphFormat) -> int:
    from .graph import to_dot, to_mermaid

    workflow = load(spec, params)
    render = to_dot if format is GraphFormat.DOT else to_mermaid
    sys.stdout.write(render(workflow))
    return ExitCode.OK


def schema() -> int:
    from flowweaver.spec import spec_schema

    sys.stdout.write(json.dumps(spec_schema(), indent=2) + "\n")
    return ExitCode.OK


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


def _print(lines: list[str]) -> None:
    sys.stdout.write("".join(f"{line}\n" for line in lines))
