"""Spec problems: each kind, located by line, column and path, all of them at once."""

from __future__ import annotations

import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from flowweaver import SpecError
from flowweaver.spec import load_workflow, validate_spec
from flowweaver.spec.problems import did_you_mean

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def _restore_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))


def problems(tmp_path: Path, text: str, *, check_imports: bool = False, **kw: object) -> list[str]:
    """``LINE:COLUMN: PATH: message`` for each problem of the spec ``text``."""
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_workflow(path, check_imports=check_imports, **kw)  # type: ignore[arg-type]
    for problem in info.value.problems:
        assert problem.file == str(path)
    return [f"{p.line}:{p.column}: {p.path}: {p.message}" for p in info.value.problems]


def at(text: str, line: int, token: str, occurrence: int = 1) -> str:
    """``LINE:COLUMN`` of the ``occurrence``-th ``token`` on ``line`` of ``text`` (dedented)."""
    source = textwrap.dedent(text).lstrip("\n").splitlines()[line - 1]
    column = -1
    for _ in range(occurrence):
        column = source.index(token, column + 1)
    return f"{line}:{column + 1}"


def module(tmp_path: Path, source: str) -> str:
    """Write a uniquely named module beside the spec; its name."""
    name = f"fw_test_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return name


def test_unknown_keys_suggest_the_nearest(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        """
        nmae: x
        tasks:
          a:
            call: m:f
            retires: 3
        """,
    ) == [
        "1:1: nmae: unknown key 'nmae' (did you mean 'name'?)",
        "5:5: tasks.a.retires: unknown key 'retires' (did you mean 'retries'?)",
    ]


def test_x_keys_are_ignored_at_the_top_level_only(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        """
        x-anything: {whatever: [1, 2]}
        tasks:
          a: {call: m:f, x-note: hi}
        """,
    ) == ["3:18: tasks.a.x-note: unknown key 'x-note'"]


def test_missing_and_doubled_call_or_shell(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        """
        tasks:
          a: {retries: 1}
          b: {call: m:f, shell: echo}
          c: {shell: echo, kwargs: {x: 1}}
        """,
    ) == [
        "2:6: tasks.a: needs 'call' or 'shell'",  # where its mapping starts
        "3:18: tasks.b.shell: give only one of 'call' or 'shell'",
        "4:20: tasks.c.kwargs: 'kwargs' is for 'call' tasks, not 'shell' ones",
    ]


def test_wrong_types(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        """
        max_workers: two
        fail_fast: 1
        tasks:
          a:
            call: [m, f]
            depends_on: 3
            args: {x: 1}
        """,
    ) == [
        "1:14: max_workers: expected a whole number, got text 'two'",
        "2:12: fail_fast: expected true or false, got the number 1",
        "5:11: tasks.a.call: expected text, got a list",
        "6:17: tasks.a.depends_on: expected a list of names, got the number 3",
        "7:11: tasks.a.args: expected a list, got a mapping",
    ]


def test_bad_durations_and_negative_retries(tmp_path: Path) -> None:
    text = """
        defaults:
          retry_delay: soon
        tasks:
          a: {call: m:f, retries: -1, timeout: 0, max_retry_delay: 1h30x}
        """
    hint = "use a number of seconds, or text like 500ms, 30s, 5m, 1h30m, 1d"
    assert problems(tmp_path, text) == [
        f"2:16: defaults.retry_delay: bad duration 'soon': {hint}",
        f"{at(text, 4, '-1')}: tasks.a.retries: must be 0 or more, got -1",
        f"{at(text, 4, '0,')}: tasks.a.timeout: must be more than zero",
        f"{at(text, 4, '1h30x')}: tasks.a.max_retry_delay: bad duration '1h30x': {hint}",
    ]


def test_duplicate_task_names_and_keys(tmp_path: Path) -> None:
    text = """
        tasks:
          load: {call: m:f}
          load: {call: m:g, retries: 1, retries: 2}
        """
    assert problems(tmp_path, text) == [
        "3:3: tasks.load: duplicate task 'load' (first on line 2)",
        f"{at(text, 3, 'retries', 2)}: tasks.load.retries: duplicate key 'retries' "
        "(first on line 3)",
    ]


def test_unknown_and_self_dependencies(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        """
        tasks:
          extract: {call: m:f}
          transform:
            call: m:f
            depends_on: [extrct, transform]
            inputs: {rows: lod}
          load: {call: m:f}
        """,
    ) == [
        "5:18: tasks.transform.depends_on[0]: unknown task 'extrct' (did you mean 'extract'?)",
        "5:26: tasks.transform.depends_on[1]: a task cannot depend on itself",
        "6:20: tasks.transform.inputs.rows: unknown task 'lod' (did you mean 'load'?)",
    ]


def test_a_cycle_is_shown_with_its_path_from_its_first_task(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        """
        tasks:
          c: {call: m:f, depends_on: [a]}
          a: {call: m:f, depends_on: [b]}
          b: {call: m:f, inputs: {x: c}}
          d: {call: m:f, depends_on: [e]}
          e: {call: m:f, depends_on: [d]}
        """,
    ) == [
        "2:31: tasks.c.depends_on[0]: circular dependency: c -> a -> b -> c",
        "5:31: tasks.d.depends_on[0]: circular dependency: d -> e -> d",
    ]


def test_unknown_references(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FW_TEST_UNSET", raising=False)
    assert problems(
        tmp_path,
        """
        params: {day: monday}
        tasks:
          a:
            call: m:f
            kwargs: {d: "${params.dya}", e: "${env.FW_TEST_UNSET}", f: "${day}"}
            description: ${env.FW_TEST_UNSET:?say which day}
        """,
    ) == [
        "5:18: tasks.a.kwargs.d: unknown parameter 'dya' in ${params.dya} (did you mean 'day'?)",
        "5:38: tasks.a.kwargs.e: environment variable 'FW_TEST_UNSET' is not set "
        "(write ${env.FW_TEST_UNSET:-default} to give a default)",
        "5:65: tasks.a.kwargs.f: unknown reference '${day}': use ${params.NAME} or ${env.NAME}",
        "6:18: tasks.a.description: say which day",
    ]


HOME_HINT = (
    "unknown reference '${HOME}': use ${params.NAME} or ${env.NAME}; "
    "for the shell's own variable write $HOME or $${HOME}"
)


def test_a_shell_variable_in_braces_is_refused_with_the_ways_to_write_it(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        """
        tasks:
          a:
            shell: echo ${HOME}
          b: {shell: [echo, "${HOME}"]}
          c: {shell: "echo ${HOME:-/tmp}"}
        """,
    ) == [
        f"3:17: tasks.a.shell: {HOME_HINT}",
        "4:22: tasks.b.shell[1]: unknown reference '${HOME}': use ${params.NAME} or ${env.NAME}",
        "5:20: tasks.c.shell: unknown reference '${HOME:-/tmp}': use ${params.NAME} or "
        "${env.NAME}; for the shell's own expansion write $${HOME:-/tmp}",
    ]


REFERENCES = r"""
params: {day: monday}
tasks:
  plain:
    shell: cp data/${day}.csv ${HOME}/out && echo ${env.FW_TEST_UNSET}
  double:
    shell: "echo ${HOME}"
  single:
    shell: 'echo it is ${HOME}'
  flow: {shell: "echo ${HOME}", description: "day ${dya}"}
  escaped:
    shell: "echo\t${HOME}"
  doubled-quote:
    shell: 'echo ''${HOME}'''
  block:
    shell: |
      echo ${HOME}
  folded-plain:
    shell: echo
      ${HOME}
  anchored:
    shell: &cmd echo ${HOME}
"""


def test_a_reference_problem_points_at_its_dollar_when_the_string_is_written_as_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # exact where the source shows the string verbatim on one line (plain, or quoted
    # without escapes); else at the string's start, never at a wrong place
    monkeypatch.delenv("FW_TEST_UNSET", raising=False)
    unset = (
        "environment variable 'FW_TEST_UNSET' is not set "
        "(write ${env.FW_TEST_UNSET:-default} to give a default)"
    )
    day = (
        "unknown reference '${day}': use ${params.NAME} or ${env.NAME}; "
        "for the shell's own variable write $day or $${day}"
    )
    dya = "unknown reference '${dya}': use ${params.NAME} or ${env.NAME}"
    double_quote, single_quote = at(REFERENCES, 11, '"'), at(REFERENCES, 13, "'")
    assert problems(tmp_path, REFERENCES) == [
        f"{at(REFERENCES, 4, '${day}')}: tasks.plain.shell: {day}",
        f"{at(REFERENCES, 4, '${HOME}')}: tasks.plain.shell: {HOME_HINT}",
        f"{at(REFERENCES, 4, '${env')}: tasks.plain.shell: {unset}",
        f"{at(REFERENCES, 6, '${')}: tasks.double.shell: {HOME_HINT}",
        f"{at(REFERENCES, 8, '${')}: tasks.single.shell: {HOME_HINT}",
        f"{at(REFERENCES, 9, '${HOME}')}: tasks.flow.shell: {HOME_HINT}",
        f"{at(REFERENCES, 9, '${dya}')}: tasks.flow.description: {dya}",
        f"{double_quote}: tasks.escaped.shell: {HOME_HINT}",
        f"{single_quote}: tasks.doubled-quote.shell: {HOME_HINT}",
        f"{at(REFERENCES, 15, '|')}: tasks.block.shell: {HOME_HINT}",
        f"{at(REFERENCES, 18, 'echo')}: tasks.folded-plain.shell: {HOME_HINT}",
        f"{at(REFERENCES, 21, '&cmd')}: tasks.anchored.shell: {HOME_HINT}",
    ]


def test_an_undeclared_param_override_is_a_problem(tmp_path: Path) -> None:
    assert problems(
        tmp_path,
        """
        params: {limit: 1}
        tasks: {a: {call: m:f}}
        """,
        params={"limt": 5},
    ) == ["1:1: params.limt: --param limt: not declared in params (did you mean 'limit'?)"]


def test_import_problems(tmp_path: Path) -> None:
    name = module(
        tmp_path,
        """
        LIMIT = 3
        def two(a, b, /, c, *, d): ...
        def none(): ...
        class Thing:
            @staticmethod
            def make(size): ...
        """,
    )
    broken = module(tmp_path, "import fw_surely_missing_dependency\n")
    text = f"""
        tasks:
          a: {{call: fw_surely_missing_module:f}}
          b: {{call: {name}:tow}}
          c: {{call: {name}.LIMIT}}
          d: {{call: {broken}:f}}
          e: {{call: {name}:Thing.make}}
          f: {{call: {name}:two, args: [1], kwargs: {{e: 1}}}}
          g: {{call: {name}:Thing.make, args: [1, 2]}}
          h: {{call: {name}:none, args: [1]}}
        """
    looked = f"the spec's folder {tmp_path}, the current directory {Path.cwd()}"
    assert problems(tmp_path, text, check_imports=True) == [
        "2:13: tasks.a.call: no module named 'fw_surely_missing_module' "
        f"(looked in {looked}, and the rest of sys.path)",
        f"3:13: tasks.b.call: '{name}' has no attribute 'tow' (did you mean 'two'?)",
        f"4:13: tasks.c.call: '{name}.LIMIT' is not callable (it is a int)",
        f"5:13: tasks.d.call: importing '{broken}' failed: ModuleNotFoundError: "
        "No module named 'fw_surely_missing_dependency'",
        f"6:13: tasks.e.call: {name}:Thing.make needs argument 'size': give it in args, "
        "kwargs or inputs, or depend on a task of that name",
        f"7:13: tasks.f.call: {name}:two needs arguments 'c', 'd': give them in args, "
        "kwargs or inputs, or depend on a task of that name",
        "7:13: tasks.f.call: positional-only parameter 'b' must be given in args",
        f"{at(text, 7, 'e: 1')}: tasks.f.kwargs.e: {name}:two takes no argument 'e'",
        f"{at(text, 8, '[1, 2]')}: tasks.g.args: {name}:Thing.make takes 1 positional "
        "argument, not 2",
        f"{at(text, 9, '[1]')}: tasks.h.args: {name}:none takes no positional arguments, not 1",
    ]


def test_upstream_results_and_inputs_fill_parameters(tmp_path: Path) -> None:
    name = module(tmp_path, "def f(): ...\ndef g(extract_rows, data, *, limit): ...\n")
    path = tmp_path / "spec.yaml"
    path.write_text(
        textwrap.dedent(f"""
        tasks:
          extract-rows: {{call: {name}:f}}
          other: {{call: {name}:f}}
          use: {{call: {name}:g, depends_on: [extract-rows], inputs: {{data: other}},
                kwargs: {{limit: 3}}}}
        """),
        encoding="utf-8",
    )
    assert validate_spec(path) == []


def test_retry_on_names_are_resolved(tmp_path: Path) -> None:
    name = module(tmp_path, "class Flaky(Exception): ...\ndef f(): ...\n")
    text = f"""
        tasks:
          a: {{call: {name}:f, retry_on: [TimeoutError, {name}.Flaky, {name}.f, Nope]}}
        """
    assert problems(tmp_path, text, check_imports=True) == [
        f"{at(text, 2, f'{name}.f')}: tasks.a.retry_on[2]: '{name}.f' is not an exception class",
        f"{at(text, 2, 'Nope')}: tasks.a.retry_on[3]: no built-in exception 'Nope'",
    ]


def test_problems_are_sorted_by_line_whatever_stage_finds_them(tmp_path: Path) -> None:
    found = problems(
        tmp_path,
        """
        tasks:
          a: {call: m:f, depends_on: [zz]}
          b: {call: m:f, retries: x}
        version: 3
        """,
    )
    assert [line.split(":")[0] for line in found] == ["2", "3", "4"]


@pytest.mark.parametrize(
    "spec", sorted((ROOT / "specs" / "invalid").glob("*.yaml")), ids=lambda p: p.stem
)
def test_invalid_gallery_gives_exactly_the_expected_lines(
    spec: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(ROOT)
    monkeypatch.delenv("FLOWWEAVER_TEST_UNSET", raising=False)
    relative = spec.relative_to(ROOT)
    text = spec.with_suffix(".expected").read_text(encoding="utf-8")
    expected = text.replace("{ROOT}", str(ROOT)).splitlines()  # where modules are looked for
    found = [str(problem) for problem in validate_spec(relative)]
    assert found == expected


@pytest.mark.parametrize(
    ("word", "choices", "meant"),
    [
        ("date", ["day", "limit"], "day"),  # short words: one letter is a big share of them
        ("Day", ["day", "limit"], "day"),
        ("desc", ["description", "depends_on"], "description"),  # a word's beginning
        ("timout", ["timeout", "retries"], "timeout"),
        ("retires", ["retries", "retry_on"], "retries"),
        # and never a guess that shares too little
        ("limit", ["line"], None),
        ("foo", ["format", "force"], None),
        ("max", ["max_workers", "max_retry_delay"], None),  # which one?
        ("date", ["data_dir"], None),
        ("env", ["executor", "description"], None),
        ("id", ["inputs"], None),
        ("day", ["dog"], None),
        ("de", ["depends_on", "description", "defaults"], None),
    ],
)
def test_did_you_mean(word: str, choices: list[str], meant: str | None) -> None:
    assert did_you_mean(word, choices) == (f" (did you mean {meant!r}?)" if meant else "")


def test_a_keyword_the_callable_does_not_take_gets_a_did_you_mean(tmp_path: Path) -> None:
    name = module(tmp_path, "def load(day, limit=10): ...\n")
    text = f"""
        tasks:
          a: {{call: {name}:load, kwargs: {{date: "2026-11-26"}}}}
        """
    assert problems(tmp_path, text, check_imports=True) == [
        f"2:13: tasks.a.call: {name}:load needs argument 'day': give it in args, kwargs or "
        "inputs, or depend on a task of that name",
        f"{at(text, 2, 'date')}: tasks.a.kwargs.date: {name}:load takes no argument 'date' "
        "(did you mean 'day'?)",
    ]


def test_a_module_that_cannot_be_imported_is_reported_once_saying_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    specs, work = tmp_path / "specs", tmp_path / "work"
    specs.mkdir()
    work.mkdir()
    monkeypatch.chdir(work)
    calls = tmp_path / "imported"
    source = f"with open({str(calls)!r}, 'a') as calls:\n    calls.write('x')\n"
    broken = module(specs, source + "raise RuntimeError('no')\n")
    text = f"""
        tasks:
          a: {{call: fw_surely_missing_module:f}}
          b: {{call: fw_surely_missing_module:g}}
          c: {{call: fw_surely_missing_module.sub.h}}
          d: {{call: {broken}:f}}
          e: {{call: {broken}:g, retry_on: [fw_surely_missing_module.Error]}}
        """
    looked = f"looked in the spec's folder {specs}, the current directory {work}"
    assert problems(specs, text, check_imports=True) == [
        f"2:13: tasks.a.call: no module named 'fw_surely_missing_module' ({looked}, "
        "and the rest of sys.path)",
        "3:13: tasks.b.call: no module named 'fw_surely_missing_module': see line 2",
        "4:13: tasks.c.call: no module named 'fw_surely_missing_module': see line 2",
        f"5:13: tasks.d.call: importing '{broken}' failed: RuntimeError: no",
        f"6:13: tasks.e.call: importing '{broken}' failed: see line 5",
        f"{at(text, 6, 'fw_surely_missing_module.Error')}: "
        "tasks.e.retry_on[0]: no module named 'fw_surely_missing_module': see line 2",
    ]
    assert calls.read_text() == "x"  # imported once, not once per task


def test_where_a_module_was_looked_for_is_one_folder_when_the_spec_is_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert problems(
        tmp_path, "tasks: {a: {call: fw_surely_missing_module:f}}\n", check_imports=True
    ) == [
        "1:19: tasks.a.call: no module named 'fw_surely_missing_module' (looked in the spec's "
        f"folder, also the current directory, {tmp_path}, and the rest of sys.path)"
    ]
