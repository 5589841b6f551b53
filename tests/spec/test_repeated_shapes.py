"""Checks made once per shape of task must still find every task's own problems.

The loader checks a task's keys once per set of keys, and a call's binding once per
callable and shape of arguments, so a big spec of alike tasks costs little. A task
that shares a shape with valid ones, but whose values or arguments are wrong, must
be reported as if it were the only one; a shape that failed is checked again for
each task that has it.
"""

from __future__ import annotations

import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from flowweaver import SpecError
from flowweaver.spec import load_workflow


@pytest.fixture(autouse=True)
def _restore_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))


def problems(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_workflow(path)
    return [f"{p.line}:{p.column}: {p.path}: {p.message}" for p in info.value.problems]


def module(tmp_path: Path, source: str) -> str:
    name = f"fw_shapes_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return name


def test_a_task_of_a_checked_shape_still_has_its_values_checked(tmp_path: Path) -> None:
    name = module(tmp_path, "def f(n=0): ...\n")
    assert problems(
        tmp_path,
        f"""
        tasks:
          a: {{call: {name}:f, retries: 1}}
          b: {{call: {name}:f, retries: 2}}
          c: {{call: {name}:f, retries: -1}}
          d: {{call: {name}:f, retires: 1}}
          e: {{retries: 1}}
          g: {{retries: 1}}
          h: {{call: {name}:f, shell: x}}
          i: {{call: {name}:f, shell: x}}
        """,
    ) == [
        "4:48: tasks.c.retries: must be 0 or more, got -1",
        "5:39: tasks.d.retires: unknown key 'retires' (did you mean 'retries'?)",
        "6:6: tasks.e: needs 'call' or 'shell'",
        "7:6: tasks.g: needs 'call' or 'shell'",
        "8:39: tasks.h.shell: give only one of 'call' or 'shell'",
        "9:39: tasks.i.shell: give only one of 'call' or 'shell'",
    ]


def test_a_call_of_a_bound_shape_is_still_checked_where_it_differs(tmp_path: Path) -> None:
    name = module(tmp_path, "def f(x, up=None): ...\n")
    assert problems(
        tmp_path,
        f"""
        tasks:
          up: {{call: {name}:f, args: [1]}}
          a: {{call: {name}:f, args: [1], depends_on: [up]}}
          b: {{call: {name}:f, args: [2], depends_on: [up]}}
          c: {{call: {name}:f, args: [1, 2, 3], depends_on: [up]}}
          d: {{call: {name}:f, kwargs: {{y: 1}}, depends_on: [up]}}
          e: {{call: {name}:f, depends_on: [up]}}
          g: {{call: {name}:f, depends_on: [a]}}
          h: {{call: {name}:f, depends_on: [b]}}
          i: {{call: {name}:f, args: [1], kwargs: {{x: 1}}}}
        """,
    ) == [
        f"5:45: tasks.c.args: {name}:f takes 2 positional arguments, not 3",
        f"6:13: tasks.d.call: {name}:f needs argument 'x': give it in args, kwargs or inputs, "
        "or depend on a task of that name",
        f"6:48: tasks.d.kwargs.y: {name}:f takes no argument 'y'",
        f"7:13: tasks.e.call: {name}:f needs argument 'x': give it in args, kwargs or inputs, "
        "or depend on a task of that name",
        f"8:13: tasks.g.call: {name}:f needs argument 'x': give it in args, kwargs or inputs, "
        "or depend on a task of that name",
        f"9:13: tasks.h.call: {name}:f needs argument 'x': give it in args, kwargs or inputs, "
        "or depend on a task of that name",
        "10:59: tasks.i.kwargs.x: argument 'x' is given twice",
    ]


def test_an_upstream_task_named_like_a_parameter_fills_it_in_every_shape(tmp_path: Path) -> None:
    name = module(tmp_path, "def f(): ...\ndef g(x): ...\n")
    assert problems(
        tmp_path,
        f"""
        tasks:
          x: {{call: {name}:f}}
          y: {{call: {name}:f}}
          a: {{call: {name}:g, depends_on: [x]}}
          b: {{call: {name}:g, depends_on: [y]}}
          c: {{call: {name}:g, depends_on: [x]}}
        """,
    ) == [
        f"5:13: tasks.b.call: {name}:g needs argument 'x': give it in args, kwargs or inputs, "
        "or depend on a task of that name",
    ]
