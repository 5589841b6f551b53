"""The YAML layer: safe composition, marks, duplicate keys, merges, and bounded aliases."""

from __future__ import annotations

import resource
import sys
import time
from pathlib import Path

import pytest
import yaml

from flowweaver import SpecError
from flowweaver.spec import load_workflow, yamlnodes
from flowweaver.spec.nodes import ListNode, MapNode, ScalarNode, plain
from flowweaver.spec.problems import Problems
from flowweaver.spec.yamlnodes import compose


@pytest.fixture(autouse=True)
def _restore_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))


def problems_of(tmp_path: Path, data: bytes | str) -> list[str]:
    path = tmp_path / "spec.yaml"
    if isinstance(data, str):
        data = data.encode()
    path.write_bytes(data)
    with pytest.raises(SpecError) as info:
        load_workflow(path, check_imports=False)
    return [f"{p.line}:{p.column}: {p.path}: {p.message}" for p in info.value.problems]


def tree(text: str) -> object:
    report = Problems("t.yaml", text)
    node = compose(text, report)
    assert not report, report.problems
    assert node is not None
    return plain(node)


@pytest.fixture(params=["c", "python"])
def loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with libyaml's composer and with the pure-Python one."""
    if request.param == "c" and not yaml.__with_libyaml__:
        pytest.skip("PyYAML is built without libyaml")
    if request.param == "python":
        monkeypatch.setattr(yamlnodes, "_Loader", yaml.SafeLoader)
    return str(request.param)


def test_marks_are_one_based_and_count_characters(loader: str) -> None:
    text = "é: [a, b]\nkey:\n  - 1\n"
    report = Problems("t.yaml", text)
    root = compose(text, report)
    assert isinstance(root, MapNode)
    first = root.items["é"]
    assert isinstance(first, ListNode)
    assert (first.items[1].mark.line, first.items[1].mark.column) == (1, 8)
    assert root.key_mark("key").line == 2
    listed = root.items["key"]
    assert isinstance(listed, ListNode)
    assert (listed.items[0].mark.line, listed.items[0].mark.column) == (3, 5)


def test_scalars_are_typed_but_dates_stay_text(loader: str) -> None:
    assert tree("a: 5\nb: 1.5\nc: true\nd: null\ne: 2026-11-26\nf: '5'\ng: =\n") == {
        "a": 5,
        "b": 1.5,
        "c": True,
        "d": None,
        "e": "2026-11-26",
        "f": "5",
        "g": "=",
    }


def test_keys_are_their_text(loader: str) -> None:
    assert tree("on: 1\n2024: 2\n") == {"on": 1, "2024": 2}


PLAIN_SCALARS = [
    *("true", "True", "TRUE", "tRue", "yes", "No", "off", "On", "null", "Null", "~", "NULL"),
    *("truest", "falsehood", "nothing", "onward", "yesterday", "~~~~~~", "task-1", "null1"),
    *("0", "7", "12", "012", "089", "0x1f", "0o17", "1_000", "12:30", "1.5", "1e3", "-3"),
    *("+4", ".5", ".inf", "2026-11-26", "<", "<<x", "fwmod:step", "٣", "1²", ""),
]


def test_plain_scalars_read_fast_have_the_resolvers_types(loader: str) -> None:
    """Plain text is read without PyYAML's resolver where it can only be text or a
    decimal integer: every value must come out as the resolver types it (dates stay
    text), and every key as its text."""
    values = [value or "''" for value in PLAIN_SCALARS]
    text = "".join(f"k{i}: {value}\n" for i, value in enumerate(values))
    text += f"listed: [{', '.join(values)}]\n"
    expected = {
        key: [_as_composed(v) for v in value] if key == "listed" else _as_composed(value)
        for key, value in yaml.safe_load(text).items()
    }
    assert tree(text) == expected
    keys = tree("".join(f"{value}: {i}\n" for i, value in enumerate(values)))
    assert isinstance(keys, dict)
    assert list(keys) == PLAIN_SCALARS


def _as_composed(value: object) -> object:
    """A value as the spec's composer gives it: a timestamp is its text."""
    return value if value is None or isinstance(value, (str, bool, int, float)) else str(value)


def test_merge_keys_give_defaults_the_mapping_overrides(loader: str) -> None:
    text = "x: &d {a: 1, b: 2}\ny: &e {b: 3, c: 4}\nz:\n  <<: [*d, *e]\n  a: 0\n"
    assert tree(text)["z"] == {"a": 0, "b": 2, "c": 4}  # type: ignore[index]


def test_duplicate_keys_are_reported_where_repeated(tmp_path: Path, loader: str) -> None:
    text = "tasks:\n  a: {call: m:f}\nname: x\nname: y\n"
    assert problems_of(tmp_path, text) == ["4:1: name: duplicate key 'name' (first on line 3)"]


def test_python_tags_never_build_anything(tmp_path: Path, loader: str) -> None:
    marker = tmp_path / "pwned"
    text = f"""
tasks:
  a:
    call: m:f
    args:
      - !!python/object/apply:os.system ["touch {marker}"]
      - !!python/object/new:builtins.dict {{}}
      - !!python/name:os.system
"""
    found = problems_of(tmp_path, text)
    assert [line.split(": ", 1)[0] for line in found] == ["6:9", "7:9", "8:9"]
    assert all("would build a Python object" in line for line in found)
    assert not marker.exists()


def test_unknown_tags_are_problems(tmp_path: Path, loader: str) -> None:
    text = "tasks:\n  a: {call: m:f, args: [!env HOME, !!set {a}]}\n"
    assert problems_of(tmp_path, text) == [
        "2:25: tasks.a.args[0]: unsupported tag '!env': use plain YAML values",
        "2:36: tasks.a.args[1]: unsupported tag '!!set': use plain YAML values",
    ]


def test_a_typed_scalar_its_type_cannot_read_is_a_problem(tmp_path: Path, loader: str) -> None:
    # (it was an internal error: the constructor's ValueError/KeyError escaped)
    text = "tasks:\n  a: {call: m:f, args: [!!int 'x', !!bool maybe, !!float ': 7']}\n"
    assert problems_of(tmp_path, text) == [
        "2:25: tasks.a.args[0]: 'x' is not a valid !!int value",
        "2:36: tasks.a.args[1]: 'maybe' is not a valid !!bool value",
        "2:50: tasks.a.args[2]: ': 7' is not a valid !!float value",
    ]


def test_a_billion_laughs_is_refused_fast_and_small(tmp_path: Path, loader: str) -> None:
    levels = ['x-0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for n in range(1, 12):
        refs = ", ".join([f"*l{n - 1}"] * 9)
        levels.append(f"x-{n}: &l{n} [{refs}]")
    text = "\n".join([*levels, "tasks: {a: {call: m:f, args: *l11}}"]) + "\n"
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    found = problems_of(tmp_path, text)
    assert time.perf_counter() - started < 5
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 100_000  # KiB
    assert len(found) == 1
    assert found[0].startswith("1:1: : aliases expand this document past ")
    assert "billion laughs" in found[0]


def test_aliases_within_the_bound_are_shared_not_copied(loader: str) -> None:
    text = "a: &x {k: [1, 2]}\nb: *x\n"
    report = Problems("t.yaml", text)
    root = compose(text, report)
    assert isinstance(root, MapNode)
    assert root.items["a"] is root.items["b"]


def test_a_recursive_alias_is_one_problem(tmp_path: Path, loader: str) -> None:
    text = "x-a: &a [1, *a]\ntasks: {a: {call: m:f}}\n"
    assert problems_of(tmp_path, text) == ["1:6: x-a[1]: recursive alias: a node contains itself"]


def test_deep_nesting_is_refused(tmp_path: Path, loader: str) -> None:
    depth = 500
    found = problems_of(tmp_path, "tasks: " + "[" * depth + "]" * depth + "\n")
    assert len(found) == 1
    assert found[0].endswith(": : nested more than 64 levels deep")


def test_syntax_errors_have_the_parsers_position(tmp_path: Path, loader: str) -> None:
    found = problems_of(tmp_path, "tasks:\n  a: {call: m:f\n  b: 1\n")
    assert len(found) == 1
    assert found[0].split(": ", 1)[1].startswith(": not valid YAML: ")
    line, column = map(int, found[0].split(":")[:2])
    assert (line, column) >= (2, 1)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "1:1: : the file is empty: a spec needs at least 'tasks'"),
        (b"# nothing\n\n", "1:1: : the file is empty: a spec needs at least 'tasks'"),
        (b"- a\n- b\n", "1:1: : expected a mapping of keys such as 'tasks', got a list"),
        (b"just text\n", "1:1: : expected a mapping of keys such as 'tasks', got text 'just text'"),
        (b"tasks:\n  a\xff: 1\n", "2:4: : not UTF-8 text: byte 0xff can't be decoded"),
        (b"tasks: {}\x00\n", "1:10: : not a text file: it contains NUL bytes"),
        ("tasks: {}".encode("utf-16"), "1:1: : the file is UTF-16: save it as UTF-8"),
        (b"tasks: {}\n", "1:8: tasks: no tasks: add at least one under 'tasks'"),
        (b"version: 1\n", "1:1: : missing required key 'tasks'"),
        (
            b"tasks: {a: {call: m:f}}\x07\n",
            "1:24: : not valid YAML: character #x0007 is not allowed in YAML",
        ),
    ],
    ids=["empty", "comment", "list", "text", "latin", "nul", "utf16", "no-tasks", "no-key", "bell"],
)
def test_file_level_problems(tmp_path: Path, data: bytes, expected: str) -> None:
    assert problems_of(tmp_path, data) == [expected]


def test_a_utf8_byte_order_mark_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_bytes("\ufefftasks: {a: {call: m:f}}\n".encode())
    assert len(load_workflow(path, check_imports=False)) == 1


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_unreadable_paths_are_one_problem(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "nope.yaml" if kind == "missing" else tmp_path
    with pytest.raises(SpecError) as info:
        load_workflow(path)
    [problem] = info.value.problems
    assert (problem.file, problem.line, problem.column) == (str(path), 1, 1)
    expected = "No such file" if kind == "missing" else "is a directory"
    assert expected in problem.message


def test_scalar_node_equality_is_by_value() -> None:
    text = "a: 1\n"
    report = Problems("t.yaml", text)
    root = compose(text, report)
    assert isinstance(root, MapNode)
    assert isinstance(root.items["a"], ScalarNode)


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("tasks:\n  a:\n\tshell: echo hi\n", "3:1"),
        ("tasks:\n\ta: {shell: echo}\n", "2:1"),
        ("tasks:\n  a:\n    shell: echo\n    depends_on:\n\t- b\n", "5:1"),
        ("tasks:\n  b:\n    shell: echo\n\tdepends_on: [a]\n", "4:1"),
    ],
    ids=["task-key", "task", "list-item", "after-a-scalar"],
)
def test_a_tab_in_the_indentation_is_named(
    tmp_path: Path, loader: str, text: str, where: str
) -> None:
    assert problems_of(tmp_path, text) == [
        f"{where}: : not valid YAML: found a tab character: YAML indents with spaces, not tabs"
    ]


def test_tabs_inside_values_are_fine(loader: str) -> None:
    assert tree("a: \"x\ty\"\nb: 'x\ty'\n") == {"a": "x\ty", "b": "x\ty"}
