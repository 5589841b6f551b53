"""The spec loader under random input: random YAML documents shaped like specs, and
random mutations of every example in ``specs/``, never raise anything but SpecError,
never take more than a second, and every problem lies inside the file.

(``test_text_properties.py`` fuzzes text, bytes and token soups around one spec; this
file builds documents from the spec's own vocabulary, mutates the real examples
line by line, and bounds the time of each load.)
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from _spec_checks import check
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

SPECS = sorted((Path(__file__).resolve().parents[2] / "specs").glob("*.yaml"))

TOP_KEYS = [
    "version", "name", "description", "executor", "max_workers", "dask", "fail_fast",
    "params", "env", "defaults", "tasks", "x-anchors", "unknown",
]  # fmt: skip
TASK_KEYS = [
    "call", "shell", "args", "kwargs", "inputs", "depends_on", "retries", "retry_delay",
    "retry_backoff", "max_retry_delay", "retry_jitter", "retry_on", "timeout",
    "description", "cache", "cache_ttl", "bogus",
]  # fmt: skip
WORDS = ["a", "b", "c", "t-1", "m:f", "os:getcwd", "os.path.join", "builtins:print"]
STRINGS = [
    *WORDS, "", "5m", "1h30m", "-1s", "500ms", "${params.p}", "${env.HOME}",
    "${env.NOPE:?missing}", "${env.X:-d}", "$${", "${", "${params.}", "echo hi",
    "builtins.ValueError", "threaded", "process", "dask", "1d",
]  # fmt: skip

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 10**6),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(STRINGS),
    st.text(max_size=8),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(WORDS + TASK_KEYS), inner, max_size=4),
    ),
    max_leaves=12,
)
tasks = st.dictionaries(
    st.sampled_from(WORDS),
    st.one_of(values, st.dictionaries(st.sampled_from(TASK_KEYS), values, max_size=6)),
    max_size=5,
)
documents = st.one_of(
    values,
    st.dictionaries(
        st.sampled_from(TOP_KEYS),
        st.one_of(values, tasks),
        max_size=8,
    ).map(lambda doc: doc if "tasks" not in doc or doc.get("tasks") else {**doc, "tasks": {}}),
    st.fixed_dictionaries({"tasks": tasks}),
)


@pytest.fixture(autouse=True)
def _restore_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))


props = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@props
@given(documents, st.sampled_from(["block", "flow"]))
def test_random_documents_are_loaded_or_refused_with_located_problems(
    tmp_path: Path, document: Any, style: str
) -> None:
    text = yaml.safe_dump(document, default_flow_style=style == "flow", allow_unicode=True)
    check(tmp_path, text.encode())


def mutate(lines: list[str], data: st.DataObject) -> list[str]:
    lines = list(lines)
    for _ in range(data.draw(st.integers(1, 3))):
        if not lines:
            break
        i = data.draw(st.integers(0, len(lines) - 1))
        kind = data.draw(st.sampled_from(["drop", "twice", "swap", "indent", "dedent", "cut"]))
        if kind == "drop":
            del lines[i]
        elif kind == "twice":
            lines.insert(i, lines[i])
        elif kind == "swap":
            j = data.draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "indent":
            lines[i] = "  " + lines[i]
        elif kind == "dedent":
            lines[i] = lines[i][2:]
        else:
            cut = data.draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:cut] + data.draw(st.sampled_from(["", ":", "[", "{", "&x", "*x"]))
    return lines


@props
@given(st.sampled_from(SPECS), st.data())
def test_mutations_of_the_example_specs_are_loaded_or_refused_with_located_problems(
    tmp_path: Path, spec: Path, data: st.DataObject
) -> None:
    lines = mutate(spec.read_text(encoding="utf-8").splitlines(), data)
    check(tmp_path, ("\n".join(lines) + "\n").encode())


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_every_example_spec_loads_within_the_time_bound(tmp_path: Path, spec: Path) -> None:
    check(tmp_path, spec.read_bytes())


# -- regressions found by tests/fuzz/fuzz_loader.py --------------------------------


@pytest.mark.parametrize(
    "text",
    [
        'tasks:\n  a:\n    shell: "echo ${params\n\n      more"\n',
        "tasks:\n  a:\n    shell: |\n      echo ${params\n      more\n",
    ],
    ids=["folded-quoted", "literal-block"],
)
def test_an_unclosed_reference_in_a_multi_line_string_is_a_one_line_problem(
    tmp_path: Path, text: str
) -> None:
    check(tmp_path, text.encode())


def test_an_unknown_reference_spanning_lines_is_a_one_line_problem(tmp_path: Path) -> None:
    # A mutation joined a reference to the following lines: `${params<newline>...}`.
    # In a double-quoted scalar a blank line folds into a line break.
    text = 'params: {n: 1}\ntasks:\n  a: {call: os:getcwd, kwargs: {x: "${paramsn\n\n  z}"}}\n'
    check(tmp_path, text.encode())
