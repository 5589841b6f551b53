"""``map:`` and run-time references (``${item}``, ``${tasks.NAME}``) in spec files: every
problem located, one line each; what the loaded tasks do when they run."""

from __future__ import annotations

import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowweaver import Map, SequentialExecutor, SpecError, Workflow, WorkflowError
from flowweaver.spec import load_workflow

FUNCTIONS = """
def files():
    return ["a.csv", "b.csv", "c.csv"]

def load(path, bucket="raw"):
    if path == "bad.csv":
        raise ValueError(f"bad {path}")
    return f"{bucket}/{path}"

def rows():
    return [{"id": 7, "name": "x"}, {"id": 9, "name": "y"}]

def echo(*args, **kwargs):
    return [list(args), kwargs]

def config():
    return {"bucket": "lake", "depth": 3}
"""


@pytest.fixture(autouse=True)
def _own_sys_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.chdir(tmp_path)  # the commands run here


@pytest.fixture
def fns(tmp_path: Path) -> str:
    """A module of task functions beside the spec; its (unique) name."""
    name = f"fw_map_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{name}.py").write_text(FUNCTIONS, encoding="utf-8")
    return name


def spec(tmp_path: Path, text: str, fns: str = "") -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n").replace("FNS", fns), encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str, **params: Any) -> list[str]:
    """``LINE:COLUMN: PATH: message`` for each problem of the spec ``text``."""
    with pytest.raises(SpecError) as info:
        load_workflow(spec(tmp_path, text), params)
    return [f"{p.line}:{p.column}: {p.path}: {p.message}" for p in info.value.problems]


def at(text: str, line: int, token: str) -> str:
    """``LINE:COLUMN`` of ``token`` on ``line`` of ``text`` (dedented)."""
    source = textwrap.dedent(text).lstrip("\n").splitlines()[line - 1]
    return f"{line}:{source.index(token) + 1}"


def run(path: Path, **params: Any) -> Workflow:
    workflow = load_workflow(path, params)
    SequentialExecutor().execute(workflow)
    return workflow


# -- the map keys' problems ----------------------------------------------------------------


QUOTE = '"'


def test_every_map_key_problem_is_located_with_a_did_you_mean(tmp_path: Path, fns: str) -> None:
    text = """
        params: {one: a.csv, many: [a, b]}
        tasks:
          list-files: {call: FNS:files}
          a:
            call: FNS:load
            map: {over: list-file, param: pth, max_parallel: 0, kye: "${item}"}
          b:
            call: FNS:load
            map: {over: "${params.one}", param: path, key: fixed}
          c:
            call: FNS:load
            map: {over: {os: [a, b], py: 3}, param: "not a name", key: "${tasks.a}"}
          d:
            call: FNS:load
            map: 5
          e:
            call: FNS:load
            map: {param: path, over: true}
          f:
            call: FNS:load
            map: {param: path}
        """.replace("FNS", fns)
    needs = "give it in args, kwargs or inputs, or depend on a task of that name"
    assert problems(tmp_path, text) == [
        f"{at(text, 6, 'list-file')}: tasks.a.map.over: unknown task 'list-file' "
        "(did you mean 'list-files'?)",
        f"{at(text, 6, 'pth')}: tasks.a.map.param: {fns}:load has no parameter 'pth' to "
        "receive the item (did you mean 'path'?)",
        f"{at(text, 6, '0,')}: tasks.a.map.max_parallel: must be 1 or more, got 0",
        f"{at(text, 6, 'kye')}: tasks.a.map.kye: unknown key 'kye' (did you mean 'key'?)",
        f"{at(text, 9, QUOTE)}: tasks.b.map.over: expected a list from "
        "${params.one}, got text 'a.csv'",
        f"{at(text, 9, 'fixed')}"
        ": tasks.b.map.key: map.key must use ${item} (as "
        "'${item.id}'), else every item has the same key",
        f"{at(text, 11, fns)}: tasks.c.call: {fns}:load needs argument 'path': {needs}",
        f"{at(text, 12, '3}')}: tasks.c.map.over.py: expected a list of values, got the number 3",
        f"{at(text, 12, QUOTE + 'not')}: tasks.c.map.param: 'not a name' is not a name "
        "(letters, digits and '_')",
        f"{at(text, 12, '${tasks.a}')}"
        ": tasks.c.map.key: ${tasks.a} can't be used here: "
        "map.key may use ${item} only",
        f"{at(text, 14, fns)}: tasks.d.call: {fns}:load needs argument 'path': {needs}",
        f"{at(text, 15, '5')}: tasks.d.map: expected a mapping, got the number 5",
        f"{at(text, 18, 'true')}: tasks.e.map.over: expected an upstream task's name, a list "
        "or a mapping of lists, got true",
        f"{at(text, 21, '{param')}: tasks.f.map: missing required key 'over'",
    ]


def test_param_must_be_a_parameter_of_the_callable(tmp_path: Path, fns: str) -> None:
    text = """
        tasks:
          one:
            call: FNS:load
            map: {over: [a.csv]}
          two:
            call: FNS:load
            map: {over: [a.csv], param: bucket}
            kwargs: {path: x, bucket: y}
          three:
            call: FNS:echo
            map: {over: [a.csv], param: anything}
        """.replace("FNS", fns)
    assert problems(tmp_path, text) == [
        f"{at(text, 3, fns)}: tasks.one.call: {fns}:load needs argument 'path': give it in "
        "args, kwargs or inputs, or depend on a task of that name",
        f"{at(text, 4, 'map')}: tasks.one.map: {fns}:load has no parameter 'item' to receive "
        "the item: name the one that does with map.param",
        f"{at(text, 7, 'bucket')}: tasks.two.map.param: argument 'bucket' is given twice: "
        "the item fills it",
    ]


def test_a_shell_task_gets_the_item_as_a_reference_not_a_param(tmp_path: Path) -> None:
    text = """
        tasks:
          zip:
            shell: gzip -k ${item}
            map: {over: [a, b], param: path}
        """
    assert problems(tmp_path, text) == [
        f"{at(text, 4, 'param')}: tasks.zip.map.param: 'param' names the parameter of a "
        "'call' task's function; a shell command gets the item as ${item}"
    ]


def test_item_outside_a_mapped_task_is_a_problem(tmp_path: Path, fns: str) -> None:
    text = """
        tasks:
          zip: {shell: "gzip -k ${item}"}
          load: {call: FNS:load, kwargs: {path: "${item.path}"}}
          about: {call: FNS:files, description: "loads ${item}"}
          many:
            shell: echo ${item}
            map: {over: [a]}
            description: ${item.x} too
        """.replace("FNS", fns)
    assert problems(tmp_path, text) == [
        f"{at(text, 2, '${item}')}"
        ": tasks.zip.shell: ${item} is the item of a mapped task: "
        "this task has no 'map'",
        f"{at(text, 3, '${item.path}')}"
        ": tasks.load.kwargs.path: ${item.path} is the item "
        "of a mapped task: this task has no 'map'",
        f"{at(text, 4, '${item}')}"
        ": tasks.about.description: ${item} has a value only when "
        "a task runs: use it in the shell, args or kwargs of a mapped task",
        f"{at(text, 8, '${item.x}')}"
        ": tasks.many.description: ${item.x} has a value only "
        "when a task runs: use it in the shell, args or kwargs of a mapped task",
    ]


def test_unknown_tasks_in_references_get_a_did_you_mean(tmp_path: Path, fns: str) -> None:
    text = """
        params:
          path: ${tasks.list-files}
        env:
          OUT: ${tasks.list-files}
        tasks:
          list-files: {call: FNS:files}
          count: {shell: "echo ${tasks.list-fils} | wc -l"}
          again: {call: FNS:echo, args: ["${tasks.again}"]}
          odd: {shell: "echo ${tasks.list-files.} ${item.}"}
        """.replace("FNS", fns)
    assert problems(tmp_path, text) == [
        f"{at(text, 2, '${')}"
        ": params.path: ${tasks.list-files} has a value only when a task "
        "runs: use it in the shell, args or kwargs of a task",
        f"{at(text, 4, '${')}"
        ": env.OUT: ${tasks.list-files} has a value only when a task "
        "runs: use it in the shell, args or kwargs of a task",
        f"{at(text, 7, '${')}: tasks.count.shell: unknown task 'list-fils' in "
        "${tasks.list-fils} (did you mean 'list-files'?)",
        f"{at(text, 8, '${')}: tasks.again.args[0]: a task cannot depend on itself",
        f"{at(text, 9, '${')}"
        ": tasks.odd.shell: bad reference '${tasks.list-files.}': write "
        "${tasks.NAME.FIELD}",
        f"{at(text, 9, '${item')}"
        ": tasks.odd.shell: bad reference '${item.}': write "
        "${item.FIELD}",
    ]


def test_references_make_dependencies_and_cycles_are_found(tmp_path: Path, fns: str) -> None:
    text = """
        tasks:
          a: {shell: "echo ${tasks.b}"}
          b:
            shell: echo ${item}
            map: {over: a}
        """
    assert problems(tmp_path, text) == [
        f"{at(text, 2, '${')}: tasks.a.shell: circular dependency: a -> b -> a"
    ]


# -- what the loaded tasks are -------------------------------------------------------------


def test_map_sources_become_the_task_s_map(tmp_path: Path, fns: str) -> None:
    path = spec(
        tmp_path,
        """
        params: {names: [x.csv, y.csv]}
        tasks:
          list-files: {call: FNS:files}
          named: {call: FNS:load, map: {over: list-files, param: path, max_parallel: 2}}
          listed: {call: FNS:load, map: {over: [a.csv, "${params.names}"], param: path}}
          from-param: {call: FNS:load, map: {over: "${params.names}", param: path}}
          matrix:
            call: FNS:echo
            map: {over: {os: [linux, mac], py: ["3.11", "3.12"]}}
        """,
        fns,
    )
    workflow = load_workflow(path)
    tasks = workflow.get_all_tasks()
    assert tasks["named"].map == Map(over="list-files", param="path", max_parallel=2)
    assert tasks["named"].depends_on == ["list-files"]
    assert tasks["listed"].map == Map(over=["a.csv", ["x.csv", "y.csv"]], param="path")
    assert tasks["from-param"].map == Map(over=["x.csv", "y.csv"], param="path")
    assert tasks["matrix"].depends_on == []
    SequentialExecutor().execute(workflow)
    assert workflow.get_task_result("named") == ["raw/a.csv", "raw/b.csv", "raw/c.csv"]
    assert workflow.get_task_result("from-param") == ["raw/x.csv", "raw/y.csv"]
    assert workflow.get_task_result("matrix") == [
        [[], {"item": {"os": "linux", "py": "3.11"}}],  # (echo takes **kwargs)
        [[], {"item": {"os": "linux", "py": "3.12"}}],
        [[], {"item": {"os": "mac", "py": "3.11"}}],
        [[], {"item": {"os": "mac", "py": "3.12"}}],
    ]


def test_a_param_list_can_be_overridden(tmp_path: Path, fns: str) -> None:
    path = spec(
        tmp_path,
        """
        params: {names: [x.csv]}
        tasks:
          each: {call: FNS:load, map: {over: "${params.names}", param: path}}
        """,
        fns,
    )
    assert run(path, names=["p.csv", "q.csv"]).get_task_result("each") == [
        "raw/p.csv",
        "raw/q.csv",
    ]


def test_item_references_in_args_and_kwargs(tmp_path: Path, fns: str) -> None:
    path = spec(
        tmp_path,
        """
        tasks:
          rows: {call: FNS:rows}
          each:
            call: FNS:echo
            map: {over: rows, param: row, key: "row-${item.id}"}
            args: ["${item}", "${item.id}", "id ${item.id} of ${item.name}", [x, "${item.id}"]]
            kwargs: {name: "${item.name}", nested: {id: "${item.id}"}}
        """,
        fns,
    )
    workflow = run(path)
    first = {"id": 7, "name": "x"}
    assert workflow.get_task_result("each")[0] == [
        [first, 7, "id 7 of x", ["x", 7]],
        {"name": "x", "nested": {"id": 7}, "rows": workflow.get_task_result("rows"), "row": first},
    ]
    names = [event.task for event in _events(path) if event.parent == "each"]
    assert names[:2] == ["each[row-7]", "each[row-7]"]


def _events(path: Path) -> list[Any]:
    workflow = load_workflow(path)
    seen: list[Any] = []
    workflow.subscribe(seen.append)
    SequentialExecutor().execute(workflow)
    return seen


def test_task_references_in_every_templated_key(tmp_path: Path, fns: str) -> None:
    path = spec(
        tmp_path,
        """
        tasks:
          config: {call: FNS:config}
          files: {call: FNS:files}
          call:
            call: FNS:echo
            args: ["${tasks.config}", "${tasks.config.bucket}/${tasks.files.1}"]
            kwargs: {depth: "${tasks.config.depth}", all: "files: ${tasks.files}"}
          script: {shell: "printf '%s|' ${tasks.config.bucket} ${tasks.files}"}
          argv: {shell: [printf, "%s", "${tasks.config}"]}
        """,
        fns,
    )
    workflow = run(path)
    assert workflow.get_task_result("call") == [
        [{"bucket": "lake", "depth": 3}, "lake/b.csv"],
        {"depth": 3, "all": 'files: ["a.csv", "b.csv", "c.csv"]'},
    ]
    assert workflow.get_task_result("script") == 'lake|["a.csv", "b.csv", "c.csv"]|'
    assert workflow.get_task_result("argv") == '{"bucket": "lake", "depth": 3}'
    assert workflow.get_all_tasks()["script"].depends_on == ["config", "files"]


def test_a_missing_field_fails_the_item_with_the_reference_named(tmp_path: Path, fns: str) -> None:
    path = spec(
        tmp_path,
        """
        tasks:
          each:
            shell: echo ${item.path}
            map: {over: [{path: a}, {name: b}], key: "${item}"}
          after: {call: FNS:echo, depends_on: [each]}
        """,
        fns,
    )
    workflow = load_workflow(path)
    with pytest.raises(WorkflowError):
        SequentialExecutor().execute(workflow)
    task = workflow.get_all_tasks()["each"]
    assert task.error == (
        '1 of 2 items failed: each[{"name": "b"}]: TemplateError: ${item.path}: '
        "no field 'path' (its fields: name)"
    )


def test_a_failed_mapped_task_names_its_failed_items(tmp_path: Path, fns: str) -> None:
    path = spec(
        tmp_path,
        """
        tasks:
          each: {call: FNS:load, map: {over: [a.csv, bad.csv], param: path}}
        """,
        fns,
    )
    workflow = load_workflow(path)
    with pytest.raises(WorkflowError, match=r"each: 1 of 2 items failed: each\[bad.csv\]"):
        SequentialExecutor().execute(workflow)
    assert workflow.get_task_result("each") is None  # as any task that did not complete


def test_a_mapped_shell_command_has_the_item_in_its_environment(tmp_path: Path) -> None:
    path = spec(
        tmp_path,
        """
        tasks:
          each:
            shell: 'printf "%s" "$FLOWWEAVER_ITEM"'
            map: {over: [a.csv, {n: 1}, 5]}
        """,
    )
    assert run(path).get_task_result("each") == ['"a.csv"', '{"n": 1}', "5"]


# -- shell quoting -------------------------------------------------------------------------

ITEMS = st.text(
    st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(item=ITEMS)
def test_an_item_in_a_command_string_stays_one_argument(tmp_path: Path, item: str) -> None:
    """Whatever the item holds (quotes, ;, $, backticks, newlines), the command receives
    exactly it, as one argument: ``printf '%s|'`` prints each argument with a bar."""
    path = spec(
        tmp_path,
        """
        params: {items: []}
        tasks:
          each:
            shell: printf '%s|' ${item}
            map: {over: "${params.items}"}
        """,
    )
    assert run(path, items=[item]).get_task_result("each") == [f"{item}|"]


def test_a_mapped_shell_command_runs_in_its_task_s_folder(tmp_path: Path) -> None:
    (tmp_path / "sub").mkdir()
    path = spec(
        tmp_path,
        """
        tasks:
          where:
            shell: pwd; printf '%s' ${item} > ${item}.txt
            map: {over: [a, b]}
            workdir: sub
            writes: ["*.txt"]
        """,
    )
    workflow = run(path)
    assert workflow.get_task_result("where") == [str(tmp_path / "sub")] * 2
    assert (tmp_path / "sub" / "b.txt").read_text() == "b"
