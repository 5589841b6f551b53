"""Spec keys for operating a run: ``workdir``, ``reads``/``writes``, ``env_file`` and the
built-in ``${run.…}`` and ``${spec.dir}`` references."""

from __future__ import annotations

import datetime
import os
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flowweaver import RunStore, SequentialExecutor, SpecError
from flowweaver.spec import load_workflow


@pytest.fixture(autouse=True)
def _restore_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))


def spec(folder: Path, text: str, name: str = "spec.yaml") -> Path:
    path = folder / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def args_of(path: Path, task: str = "a", **options: Any) -> tuple[Any, ...]:
    fn = load_workflow(path, **options).get_all_tasks()[task].fn
    return tuple(fn.args)  # type: ignore[attr-defined]


def test_workdirs_resolve_against_the_spec_folder_then_the_spec_workdir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir("/")
    folder = tmp_path / "specs"
    folder.mkdir()
    path = spec(
        folder,
        """
        workdir: data
        tasks:
          a: {call: os:getcwd}
          b: {call: os:getcwd, workdir: sub}
          c: {call: os:getcwd, workdir: /abs}
        """,
    )
    workflow = load_workflow(path)
    assert workflow.workdir == str(folder / "data")
    tasks = workflow.get_all_tasks()
    assert [tasks[n].workdir for n in "abc"] == [None, str(folder / "data" / "sub"), "/abs"]
    alone = spec(folder, "tasks: {b: {call: os:getcwd, workdir: sub}}\n", "alone.yaml")
    loaded = load_workflow(alone)
    assert loaded.workdir is None
    assert loaded.get_all_tasks()["b"].workdir == str(folder / "sub")


def test_builtin_references_work_in_every_string(tmp_path: Path) -> None:
    path = spec(
        tmp_path,
        """
        params: {day: "${run.date}", where: "${spec.dir}"}
        env:
          RUN: ${run.id}
          SPEC_DIR: ${env.FLOWWEAVER_SPEC_DIR}
        tasks:
          a:
            call: builtins:print
            args: ["${params.day}", "${params.where}", "${env.RUN}", "${run.started}"]
          b:
            shell: echo ${run.id} $SPEC_DIR
        """,
    )
    workflow = load_workflow(path, run_id="cafe0123")
    day, where, run_id, started = args_of(path, run_id="cafe0123")
    assert day == datetime.date.today().isoformat()
    assert where == str(tmp_path) and run_id == "cafe0123"
    assert datetime.datetime.fromisoformat(started).tzinfo is not None
    workflow.execute()
    assert workflow.get_task_result("b") == f"cafe0123 {tmp_path}"


def test_a_store_records_the_run_under_the_id_the_spec_was_loaded_with(tmp_path: Path) -> None:
    path = spec(tmp_path, 'tasks: {a: {call: builtins:str, args: ["${run.id}"]}}\n')
    workflow = load_workflow(path)
    store = RunStore(tmp_path / "state")
    SequentialExecutor().execute(workflow, store=store)
    assert store.run("latest").id == workflow.get_task_result("a")
    SequentialExecutor().execute(workflow, store=store)  # the same loaded workflow again
    assert store.run("latest").id != workflow.get_task_result("a")


def test_a_param_can_not_refer_to_a_param_nor_env_file_to_params(tmp_path: Path) -> None:
    path = spec(
        tmp_path,
        """
        env_file: ${params.x}
        params: {x: "1", y: "${params.x}"}
        tasks: {a: {call: builtins:print}}
        """,
    )
    with pytest.raises(SpecError) as caught:
        load_workflow(path)
    assert [str(p).split(": ", 1)[1] for p in caught.value.problems] == [
        "env_file: ${params.x}: params can't be used in env_file (it is read before them)",
        "params.y: ${params.x}: a param can't refer to another param",
    ]


NAMES = st.sampled_from(["A", "B", "C"])
LAYER = st.dictionaries(NAMES, st.sampled_from(["1", "2", "x y"]), max_size=3)


@settings(max_examples=40, deadline=None)
@given(spec_env=LAYER, process=LAYER, first=LAYER, second=LAYER)
def test_env_precedence_matches_the_reference_model(
    tmp_path_factory: pytest.TempPathFactory,
    spec_env: dict[str, str],
    process: dict[str, str],
    first: dict[str, str],
    second: dict[str, str],
) -> None:
    """Strongest first: the spec's env, the process environment, later files, earlier."""
    folder = tmp_path_factory.mktemp("env")
    (folder / "first.env").write_text("".join(f'{k}="{v}"\n' for k, v in first.items()))
    (folder / "second.env").write_text("".join(f'{k}="{v}"\n' for k, v in second.items()))
    env_lines = "".join(f'  {k}: "{v}"\n' for k, v in spec_env.items()) or "  {}\n"
    text = (
        "env_file: [first.env, second.env]\n"
        f"env:\n{env_lines}"
        "tasks:\n"
        "  a: {call: builtins:print, args: ["
        + ", ".join(f'"${{env.FW_T_{n}:-unset}}"' for n in "ABC")
        + "]}\n"
    )
    # the spec's names are FW_T_A…: rename every layer the same way
    text = text.replace("\n  A:", "\n  FW_T_A:").replace("\n  B:", "\n  FW_T_B:")
    text = text.replace("\n  C:", "\n  FW_T_C:")
    for env_file in ("first.env", "second.env"):
        lines = (folder / env_file).read_text().splitlines()
        (folder / env_file).write_text("".join(f"FW_T_{line}\n" for line in lines))
    path = folder / "spec.yaml"
    path.write_text(text)
    saved = {n: os.environ.pop(f"FW_T_{n}", None) for n in "ABC"}
    try:
        os.environ.update({f"FW_T_{k}": v for k, v in process.items()})
        got = args_of(path)
    finally:
        for n, value in saved.items():
            os.environ.pop(f"FW_T_{n}", None)
            if value is not None:
                os.environ[f"FW_T_{n}"] = value
    model = {**first, **second, **process, **spec_env}
    assert got == tuple(model.get(n, "unset") for n in "ABC")


def test_shell_tasks_get_the_env_files_variables_unless_the_environment_has_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FW_T_KEEP", "process")
    monkeypatch.delenv("FW_T_FILE", raising=False)
    (tmp_path / ".env").write_text("FW_T_KEEP=file\nFW_T_FILE=file\n")
    path = spec(
        tmp_path,
        """
        env_file: .env
        tasks: {a: {shell: echo $FW_T_KEEP $FW_T_FILE}}
        """,
    )
    workflow = load_workflow(path)
    workflow.execute()
    assert workflow.get_task_result("a") == "process file"
    assert "FW_T_FILE" not in os.environ  # Python tasks' environment is left alone
