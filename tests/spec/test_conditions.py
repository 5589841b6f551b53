"""SPEC 7 in spec files: run_if, when, allow_failure, handlers, and the run's timeout.

What the keys become (``Task`` fields, ``Workflow`` handlers and timeout), that the
loaded workflow runs by them, and one located problem for each wrong value.
"""

from __future__ import annotations

import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from flowweaver import SequentialExecutor, SpecError, TaskStatus, WorkflowError
from flowweaver.shell import ShellCommand, ShellTest
from flowweaver.spec import load_workflow
from flowweaver.spec.imports import ImportedLater

S = TaskStatus


@pytest.fixture(autouse=True)
def _in_a_scratch_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))


@pytest.fixture
def mod(tmp_path: Path) -> str:
    """A uniquely named module beside the spec."""
    name = f"fw_cond_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent("""
        import json

        def source():
            return 3

        def boom():
            raise ValueError("boom")

        def odd(source):
            return source % 2 == 1

        def broken():
            raise LookupError("no flag")

        def alert(path, run):
            with open(path, "w") as f:
                json.dump(run, f)

        def plain():
            return "plain"
        """),
        encoding="utf-8",
    )
    return name


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def at(path: Path, line: int, token: str) -> str:
    """``LINE:COLUMN`` of ``token`` on ``line`` of the file."""
    return f"{line}:{path.read_text().splitlines()[line - 1].index(token) + 1}"


def problems(path: Path, **options: object) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_workflow(path, **options)  # type: ignore[arg-type]
    return [f"{p.line}:{p.column}: {p.path}: {p.message}" for p in info.value.problems]


def test_the_keys_become_task_fields(tmp_path: Path, mod: str) -> None:
    path = write(
        tmp_path,
        f"""
        params: {{full: false, ready: "TRUE"}}
        tasks:
          source: {{call: {mod}:source}}
          load: {{call: {mod}:plain, when: "${{params.full}}", run_if: no_failure}}
          flag: {{call: {mod}:plain, when: "${{params.ready}}"}}
          odd: {{call: {mod}:plain, depends_on: [source], when: {{call: {mod}:odd}}}}
          file: {{call: {mod}:plain, when: {{shell: "test -f ${{params.ready}}"}}}}
          lint: {{call: {mod}:boom, allow_failure: true}}
          clean: {{call: {mod}:plain, depends_on: [lint], run_if: always}}
        """,
    )
    tasks = load_workflow(path).get_all_tasks()
    assert (tasks["load"].when, tasks["load"].run_if) == (False, "no_failure")
    assert tasks["flag"].when is True
    assert tasks["odd"].when.__name__ == "odd"  # type: ignore[union-attr]
    assert tasks["file"].when == ShellTest(ShellCommand(script="test -f TRUE", env=_env(tasks)))
    assert tasks["lint"].allow_failure and not tasks["clean"].allow_failure
    assert tasks["clean"].run_if == "always" and tasks["source"].run_if == "success"
    assert tasks["source"].when is None
    # without imports, nothing is imported: a predicate is imported when it first runs
    lazy = load_workflow(path, check_imports=False).get_all_tasks()
    assert lazy["odd"].when == ImportedLater(f"{mod}:odd")


def _env(tasks: dict[str, object]) -> dict[str, str]:
    fn = tasks["file"].when.command  # type: ignore[attr-defined]
    assert isinstance(fn, ShellCommand)
    return fn.env


def test_a_param_decides_a_condition(tmp_path: Path, mod: str) -> None:
    path = write(
        tmp_path,
        f"""
        params: {{full_reload: false}}
        tasks:
          reload: {{call: {mod}:plain, when: "${{params.full_reload}}"}}
          after: {{call: {mod}:plain, depends_on: [reload], run_if: done}}
        """,
    )
    skipped = load_workflow(path)
    SequentialExecutor().execute(skipped)
    reload = skipped.get_all_tasks()["reload"]
    assert (reload.status, reload.error) == (S.SKIPPED, "condition false")
    assert skipped.get_task_result("after") == "plain"
    ran = load_workflow(path, {"full_reload": True})
    SequentialExecutor().execute(ran)
    assert ran.get_task_result("reload") == "plain"


def test_a_loaded_workflow_runs_by_its_conditions(tmp_path: Path, mod: str) -> None:
    (tmp_path / "ready.flag").touch()
    path = write(
        tmp_path,
        f"""
        tasks:
          source: {{call: {mod}:source}}
          odd: {{call: {mod}:plain, depends_on: [source], when: {{call: {mod}:odd}}}}
          present: {{shell: "echo here", when: {{shell: "test -f ready.flag"}}}}
          absent: {{shell: "echo there", when: {{shell: [test, -f, missing.flag]}}}}
          broken: {{call: {mod}:plain, when: {{call: {mod}:broken}}, retries: 2}}
          mistyped: {{call: {mod}:plain, when: {{shell: "fw-no-such-test -f ready.flag"}}}}
          lint: {{call: {mod}:boom, allow_failure: true}}
          on-lint: {{call: {mod}:plain, depends_on: [lint], run_if: failure}}
          mapped: {{call: {mod}:odd, inputs: {{source: source}}, when: {{call: {mod}:plain}}}}
        """,
    )
    workflow = load_workflow(path)
    with pytest.raises(WorkflowError) as caught:
        SequentialExecutor().execute(workflow)
    assert set(caught.value.failed_tasks) == {"broken", "mistyped"}
    ended = {name: (t.status, t.error) for name, t in workflow.get_all_tasks().items()}
    assert ended["odd"] == (S.COMPLETED, None)
    assert ended["present"] == (S.COMPLETED, None)
    assert ended["absent"] == (S.SKIPPED, "condition false")
    assert ended["broken"] == (S.FAILED, "LookupError: no flag")
    assert ended["mistyped"][0] is S.FAILED
    assert "exit code 127" in str(ended["mistyped"][1])  # not run: an error, not false
    assert ended["lint"] == (S.FAILED, "ValueError: boom")
    assert ended["on-lint"] == (S.COMPLETED, None)
    assert workflow.get_task_result("mapped") is True  # its predicate takes no input
    assert workflow.get_all_tasks()["broken"].attempts == 1


def test_handlers_and_the_run_timeout(tmp_path: Path, mod: str) -> None:
    path = write(
        tmp_path,
        f"""
        timeout: 90m
        env: {{LEVEL: low}}
        tasks:
          bad: {{call: {mod}:boom}}
        handlers:
          on_failure:
            call: {mod}:alert
            kwargs: {{path: alert.json}}
            timeout: 10s
            retries: 1
          on_exit:
            shell: "echo $LEVEL $EXTRA > exit.txt; echo $FLOWWEAVER_RUN_STATUS >> exit.txt"
            env: {{EXTRA: "${{env.LEVEL}}-more"}}
        """,
    )
    workflow = load_workflow(path)
    assert workflow.timeout == 90 * 60
    assert sorted(workflow.handlers) == ["on_exit", "on_failure"]
    assert (workflow.handlers["on_failure"].timeout, workflow.handlers["on_failure"].retries) == (
        10,
        1,
    )
    with pytest.raises(WorkflowError):
        SequentialExecutor().execute(workflow)
    assert [(o.name, o.status) for o in workflow.last_handlers] == [
        ("on_failure", "completed"),
        ("on_exit", "completed"),
    ]
    alert = (tmp_path / "alert.json").read_text()
    assert '"failed": {"bad": "ValueError: boom"}' in alert
    assert (tmp_path / "exit.txt").read_text() == "low low-more\nfailed\n"


def test_each_wrong_value_is_one_located_problem(tmp_path: Path, mod: str) -> None:
    path = write(
        tmp_path,
        f"""
        timeout: 0
        tasks:
          a: {{call: {mod}:plain, run_if: sucess}}
          b: {{call: {mod}:plain, when: 1}}
          c: {{call: {mod}:plain, when: [true]}}
          d: {{call: {mod}:plain, allow_failure: 1}}
          e: {{call: {mod}:plain, run_if: failure}}
          f: {{call: {mod}:plain, when: {{call: {mod}:nope}}}}
          g: {{call: {mod}:plain, when: {{call: {mod}:odd}}}}
          h: {{call: {mod}:plain, when: {{call: {mod}:odd, shell: "true"}}}}
          i: {{call: {mod}:odd, when: {{call: {mod}:odd}}, inputs: {{source: a}}}}  # fine
        handlers:
          on_fail: {{call: {mod}:plain}}
          on_exit: {{call: {mod}:alert}}
          on_success: {{shell: "true", retries: -1}}
        """,
    )
    found = problems(path)
    assert found == [
        "1:10: timeout: must be more than zero",
        f"{at(path, 3, 'sucess')}: tasks.a.run_if: expected one of success, no_failure, "
        "failure, done, always, got text 'sucess' (did you mean 'success'?)",
        f"{at(path, 4, '1}')}: tasks.b.when: expected true, false, {{call: ...}} or "
        "{shell: ...}, got the number 1",
        f"{at(path, 5, '[true]')}: tasks.c.when: expected true, false, {{call: ...}} or "
        "{shell: ...}, got a list",
        f"{at(path, 6, '1}')}: tasks.d.allow_failure: expected true or false, got the number 1",
        f"{at(path, 7, 'failure')}: tasks.e.run_if: can never run: run_if 'failure' waits "
        "for an upstream task to fail, and this task has none",
        f"{at(path, 8, f'{mod}:nope')}: tasks.f.when.call: '{mod}' has no attribute 'nope'",
        f"{at(path, 9, f'{mod}:odd')}: tasks.g.when.call: {mod}:odd needs argument 'source': "
        "a predicate gets upstream results: depend on a task of that name",
        f"{at(path, 10, 'shell')}: tasks.h.when.shell: give only one of 'call' or 'shell'",
        "13:3: handlers.on_fail: unknown handler 'on_fail' (did you mean 'on_failure'?)",
        f"{at(path, 14, f'{mod}:alert')}: handlers.on_exit.call: {mod}:alert needs argument "
        "'path': give it in args or kwargs (a handler receives only 'run')",
        f"{at(path, 15, '-1')}: handlers.on_success.retries: must be 0 or more, got -1",
    ]
    # without imports, the same but what importing finds
    assert [p for p in problems(path, check_imports=False) if ".call:" not in p] == [
        p for p in found if ".call:" not in p
    ]


def test_an_unresolved_reference_in_when_is_reported_once(tmp_path: Path, mod: str) -> None:
    path = write(
        tmp_path,
        f"""
        tasks:
          a: {{call: {mod}:plain, when: "${{params.nope}}"}}
        """,
    )
    where = at(path, 2, "${")
    assert problems(path) == [
        f"{where}: tasks.a.when: unknown parameter 'nope' in ${{params.nope}}"
    ]
