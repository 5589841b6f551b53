"""``plan``, ``validate``, ``graph`` and ``schema``: looking at specs without running them."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from flowweaver.errors import Problem, SpecError
from flowweaver.task import Task
from flowweaver.workflow import Workflow

from .checks import warn_soft_timeouts
from .errors import ExitCode, write_problems
from .graph import conditions, map_words
from .options import DEFAULT_EXECUTOR, GraphFormat, parse_params


def load(
    spec: Path,
    params: Sequence[str],
    *,
    check_imports: bool = False,
    warnings: list[Problem] | None = None,
) -> Workflow:
    from flowweaver.spec import load_workflow

    return load_workflow(spec, parse_params(params), check_imports=check_imports, warnings=warnings)


def plan_lines(workflow: Workflow) -> list[str]:
    """``Layer 1: a, b`` for each layer of the execution plan, a mapped or conditional
    task marked (``load (map over list-files)``, ``report (run_if: done)``), a task's
    pool and priority when it has them (``load [pool db, priority 10]``); then the
    handlers, the run's timeout and the pools, if it has them."""
    lines = [
        f"Layer {number}: {', '.join(_planned(task) for task in layer)}"
        for number, layer in enumerate(workflow.get_execution_plan(), start=1)
    ]
    if workflow.handlers:
        lines.append(f"Handlers: {', '.join(workflow.handlers)}")
    if workflow.timeout is not None:
        lines.append(f"Timeout: {workflow.timeout:g}s for the whole run")
    if workflow.pools:
        pools = (
            f"{name} {pool.size}{' (host)' if pool.host else ''}"
            for name, pool in workflow.pools.items()
        )
        lines.append(f"Pools: {', '.join(pools)}")
    return lines


def labelled(task: Task) -> str:
    """The task's name, and what it maps over and what makes it conditional:
    ``report (run_if: done, when)``, ``load (map over list-files, allow_failure)``."""
    marks = conditions(task)
    if task.map is not None:
        marks.insert(0, map_words(task.map))
    return f"{task.name} ({', '.join(marks)})" if marks else task.name


def _planned(task: Task) -> str:
    label = labelled(task)
    notes = [f"pool {task.pool}"] if task.pool is not None else []
    if task.priority:
        notes.append(f"priority {task.priority}")
    return f"{label} [{', '.join(notes)}]" if notes else label


def plan(spec: Path, params: Sequence[str]) -> int:
    workflow = load(spec, params)
    _print([*plan_lines(workflow), *schedule_lines(workflow)])
    return ExitCode.OK


def schedule_lines(workflow: Workflow, count: int = 3) -> list[str]:
    """``Schedule: 0 2 * * *; next due: 2026-11-27 02:00, …`` (local times), when the
    spec has a schedule."""
    text = workflow.spec.schedule if workflow.spec else None
    if text is None:
        return []
    from flowweaver.spec.schedules import local_minute, parse_schedule

    due = parse_schedule(text).due_after(time.time(), count)
    shown = ", ".join(local_minute(moment) for moment in due)
    return [f"Schedule: {text}; next due: {shown or 'never'}"]


def validate(specs: Sequence[Path], params: Sequence[str], *, check_imports: bool) -> int:
    """Each file's problems, or its warnings and ``FILE: ok (N tasks, M layers)``; 2 if
    any is invalid (warnings don't make a file invalid)."""
    code = ExitCode.OK
    for spec in specs:
        warnings: list[Problem] = []
        try:
            workflow = load(spec, params, check_imports=check_imports, warnings=warnings)
        except SpecError as exc:
            write_problems(exc.problems)
            code = ExitCode.BAD_INPUT
            continue
        write_problems(warnings)  # worth a look, but the spec is valid
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
