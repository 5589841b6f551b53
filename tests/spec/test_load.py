"""What a valid spec becomes: tasks with their policies, functions, order and run settings."""

from __future__ import annotations

import functools
import hashlib
import pickle
import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowweaver import SpecError, TaskStatus
from flowweaver.shell import ShellCommand
from flowweaver.spec import load_workflow
from flowweaver.spec.imports import ImportedLater


@pytest.fixture(autouse=True)
def _restore_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))


@pytest.fixture
def mod(tmp_path: Path) -> str:
    """A uniquely named module beside the spec, with a few callables."""
    name = f"fw_load_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{name}.py").write_text(
        textwrap.dedent("""
        class Flaky(Exception):
            pass

        class Maker:
            @staticmethod
            def make(size=1):
                return ["made"] * size

        def source():
            return 21

        def double(source):
            return source * 2

        def combine(first, second, *, scale=1):
            return (first + second) * scale
        """),
        encoding="utf-8",
    )
    return name


def write(tmp_path: Path, text: str, name: str = "pipeline.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_policies_defaults_and_task_fields(tmp_path: Path, mod: str) -> None:
    path = write(
        tmp_path,
        f"""
        defaults:
          retries: 2
          retry_delay: 500ms
          timeout: 5m
          retry_on: [{mod}.Flaky, TimeoutError]
        tasks:
          a:
            call: {mod}:source
            description: the source
          b:
            call: {mod}.Maker.make
            retries: 0
            retry_delay: 2
            retry_backoff: 1.5
            max_retry_delay: 1h30m
            retry_jitter: 0.1
            timeout: 30
            cache: true
            cache_ttl: 1d
        """,
    )
    tasks = load_workflow(path).get_all_tasks()
    module = sys.modules[mod]
    a, b = tasks["a"], tasks["b"]
    assert a.fn is module.source
    assert (a.retries, a.retry_delay, a.timeout, a.description) == (2, 0.5, 300.0, "the source")
    assert a.retry_on == (module.Flaky, TimeoutError)
    assert (a.retry_backoff, a.max_retry_delay, a.retry_jitter, a.cache) == (1.0, None, 0.0, False)
    assert b.fn == module.Maker.make
    assert (b.retries, b.retry_delay, b.retry_backoff, b.max_retry_delay) == (0, 2.0, 1.5, 5400.0)
    assert (b.retry_jitter, b.timeout, b.cache, b.cache_ttl) == (0.1, 30.0, True, 86400.0)
    assert a.retry_on == b.retry_on


def test_workflow_settings(tmp_path: Path, mod: str) -> None:
    path = write(
        tmp_path,
        f"""
        description: nightly
        executor: dask
        max_workers: 3
        dask: {{address: "tcp://scheduler:8786"}}
        fail_fast: true
        params: {{day: monday}}
        env: {{A: "1"}}
        tasks: {{a: {{call: {mod}:source}}}}
        """,
    )
    workflow = load_workflow(path)
    assert (workflow.name, workflow.description) == ("pipeline", "nightly")
    info = workflow.spec
    assert info is not None
    assert info.path == str(path.resolve())
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert (info.executor, info.max_workers, info.dask_address) == (
        "dask",
        3,
        "tcp://scheduler:8786",
    )
    assert (info.fail_fast, info.params, info.env) == (True, {"day": "monday"}, {"A": "1"})


def test_defaults_when_unset(tmp_path: Path, mod: str) -> None:
    workflow = load_workflow(write(tmp_path, f"name: n\ntasks: {{a: {{call: {mod}:source}}}}\n"))
    info = workflow.spec
    assert info is not None
    assert (workflow.name, info.executor, info.max_workers, info.fail_fast) == (
        "n",
        None,
        None,
        False,
    )


def test_tasks_are_added_dependencies_first_and_plan_in_file_order(
    tmp_path: Path, mod: str
) -> None:
    path = write(
        tmp_path,
        f"""
        tasks:
          report: {{call: {mod}:combine, inputs: {{first: left, second: right}}}}
          left: {{call: {mod}:double, depends_on: source}}
          right: {{call: {mod}:double, depends_on: [source]}}
          source: {{call: {mod}:source}}
          other: {{call: {mod}:source}}
        """,
    )
    workflow = load_workflow(path)
    assert workflow.get_all_tasks()["report"].depends_on == ["left", "right"]
    plan = [[task.name for task in layer] for layer in workflow.get_execution_plan()]
    assert plan == [["source", "other"], ["left", "right"], ["report"]]
    workflow.execute()
    assert workflow.get_task_result("report") == 84


def test_tasks_keep_the_file_order_wherever_their_dependencies_allow(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        tasks:
          zeta: {shell: "true"}
          alpha: {shell: "true"}
          mid: {shell: "true"}
          yak: {shell: "true", depends_on: [mid]}
          bee: {shell: "true", depends_on: [zeta]}
          kilo: {shell: "true", depends_on: [alpha, zeta]}
          end: {shell: "true", depends_on: [bee, yak]}
        """,
    )
    workflow = load_workflow(path)
    written = ["zeta", "alpha", "mid", "yak", "bee", "kilo", "end"]
    assert list(workflow.get_all_tasks()) == written  # a valid order is kept as it is
    plan = [[task.name for task in layer] for layer in workflow.get_execution_plan()]
    assert plan == [["zeta", "alpha", "mid"], ["yak", "bee", "kilo"], ["end"]]


def test_tasks_written_before_their_dependencies_still_plan_in_file_order(
    tmp_path: Path,
) -> None:
    path = write(
        tmp_path,
        """
        tasks:
          pear: {shell: "true", depends_on: [quince]}
          rye: {shell: "true", depends_on: [sage]}
          sage: {shell: "true"}
          quince: {shell: "true"}
        """,
    )
    workflow = load_workflow(path)
    added = list(workflow.get_all_tasks())
    assert added.index("quince") < added.index("pear")
    assert added.index("sage") < added.index("rye")
    plan = [[task.name for task in layer] for layer in workflow.get_execution_plan()]
    assert plan == [["sage", "quince"], ["pear", "rye"]]


def test_args_and_kwargs_make_a_picklable_partial(tmp_path: Path, mod: str) -> None:
    path = write(
        tmp_path,
        f"""
        tasks:
          a: {{call: {mod}:combine, args: [1], kwargs: {{second: 2, scale: 10}}}}
        """,
    )
    fn = load_workflow(path).get_all_tasks()["a"].fn
    assert isinstance(fn, functools.partial)
    assert (fn.args, fn.keywords) == ((1,), {"second": 2, "scale": 10})
    assert pickle.loads(pickle.dumps(fn))() == 30


def test_shell_tasks(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        env: {GREETING: hi}
        tasks:
          text: {shell: "echo $GREETING"}
          argv: {shell: [echo, 5, true]}
        """,
    )
    tasks = load_workflow(path).get_all_tasks()
    text, argv = tasks["text"].fn, tasks["argv"].fn
    assert isinstance(text, ShellCommand)
    assert isinstance(argv, ShellCommand)
    assert (text.script, text.argv) == ("echo $GREETING", None)
    assert (argv.script, argv.argv) == (None, ["echo", "5", "true"])
    assert text.env == {"GREETING": "hi", "FLOWWEAVER_SPEC_DIR": str(tmp_path)}


def test_without_import_checks_nothing_is_imported_until_it_runs(tmp_path: Path, mod: str) -> None:
    path = write(
        tmp_path,
        f"""
        tasks:
          source: {{call: {mod}:source, retry_on: [{mod}.Flaky, ValueError]}}
          double: {{call: {mod}.double, depends_on: [source]}}
        """,
    )
    workflow = load_workflow(path, check_imports=False)
    assert mod not in sys.modules
    tasks = workflow.get_all_tasks()
    assert tasks["double"].fn == ImportedLater(f"{mod}.double")
    assert tasks["source"].retry_on == (ValueError,)
    assert pickle.loads(pickle.dumps(tasks["double"].fn)) == tasks["double"].fn
    workflow.execute()
    assert tasks["double"].status is TaskStatus.COMPLETED
    assert workflow.get_task_result("double") == 42


def test_modules_beside_the_spec_import_from_any_directory(
    tmp_path: Path, mod: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    path = write(tmp_path, f"tasks: {{a: {{call: {mod}:source}}}}\n")
    assert load_workflow(path).get_all_tasks()["a"].fn() == 21
    assert str(tmp_path) in sys.path
    assert str(elsewhere) in sys.path


def test_anchors_under_x_keys_are_reused(tmp_path: Path, mod: str) -> None:
    path = write(
        tmp_path,
        f"""
        x-policy: &policy {{retries: 4, timeout: 1m}}
        tasks:
          a: {{<<: *policy, call: {mod}:source}}
          b: {{<<: *policy, call: {mod}:source, retries: 1}}
        """,
    )
    tasks = load_workflow(path).get_all_tasks()
    assert (tasks["a"].retries, tasks["a"].timeout) == (4, 60.0)
    assert (tasks["b"].retries, tasks["b"].timeout) == (1, 60.0)


@pytest.fixture
def shared_name(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[str]:
    """A module name that folders ``a/`` and ``b/`` of ``tmp_path`` both use; gone after."""
    name = f"fw_shared_{uuid.uuid4().hex[:12]}"
    monkeypatch.chdir(tmp_path)
    for folder, fn in (("a", "fa"), ("b", "fb")):
        (tmp_path / folder).mkdir()
        source = f"def {fn}():\n    return {folder!r}\n\ndef both():\n    return {folder!r}\n"
        (tmp_path / folder / f"{name}.py").write_text(source, encoding="utf-8")
    yield name
    sys.modules.pop(name, None)


def test_specs_whose_modules_share_a_name_never_run_each_others_code(
    tmp_path: Path, shared_name: str
) -> None:
    (tmp_path / "a" / "a.yaml").write_text(f"tasks:\n  x: {{call: {shared_name}.both}}\n")
    (tmp_path / "b" / "b.yaml").write_text(f"tasks:\n  y: {{call: {shared_name}.both}}\n")
    (tmp_path / "a" / "again.yaml").write_text(f"tasks:\n  z: {{call: {shared_name}.fa}}\n")
    first = load_workflow("a/a.yaml")
    first.execute()
    assert first.get_task_result("x") == "a"
    with pytest.raises(SpecError) as info:
        load_workflow("b/b.yaml")
    [problem] = info.value.problems
    assert (problem.line, problem.column, problem.path) == (2, 13, "tasks.y.call")
    assert problem.message == (
        f"module '{shared_name}' of b/b.yaml is b/{shared_name}.py, but '{shared_name}' is "
        f"already imported from a/{shared_name}.py: give one of them another name"
    )
    again = load_workflow("a/again.yaml")  # a spec beside the same module is fine
    again.execute()
    assert again.get_task_result("z") == "a"
