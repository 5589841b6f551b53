"""``${params.X}`` / ``${env.X}`` references, and --param values."""

from __future__ import annotations

import shlex
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from flowweaver import SpecError
from flowweaver.spec import load_workflow, parse_param_value
from flowweaver.spec.interpolate import Scope, UnresolvedReferenceError

SCOPE = Scope(
    params={
        "limit": 100,
        "ratio": 0.5,
        "on": True,
        "off": None,
        "day": "2026-11-26",
        "names": ["a", "b"],
        "evil": "x; touch pwned",
    },
    env={"HOME": "/home/me", "EMPTY": ""},
)


@pytest.fixture(autouse=True)
def _restore_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${params.limit}", 100),
        ("${params.ratio}", 0.5),
        ("${params.on}", True),
        ("${params.off}", None),
        ("${params.names}", ["a", "b"]),
        ("${env.HOME}", "/home/me"),
        ("limit=${params.limit}", "limit=100"),
        ("${params.on}/${params.off}/${params.names}", 'true//["a", "b"]'),
        ("${params.day}T00:00", "2026-11-26T00:00"),
        ("${env.MISSING:-fallback}", "fallback"),
        ("${env.EMPTY:-fallback}", "fallback"),
        ("${env.HOME:-fallback}", "/home/me"),
        ("${env.MISSING:-}", ""),
        ("${env.HOME:?must be set}", "/home/me"),
        ("$${params.limit}", "${params.limit}"),
        ("cost: $$5 and $${", "cost: $$5 and ${"),
        ("a $ b ${params.limit}$", "a $ b 100$"),
        ("no references", "no references"),
    ],
)
def test_substitute(text: str, expected: Any) -> None:
    assert SCOPE.substitute(text) == expected


@pytest.mark.parametrize(
    ("text", "reasons"),
    [
        ("${params.limt}", ["unknown parameter 'limt' in ${params.limt} (did you mean 'limit'?)"]),
        (
            "${env.MISSING}",
            [
                "environment variable 'MISSING' is not set "
                "(write ${env.MISSING:-default} to give a default)"
            ],
        ),
        ("${env.MISSING:?give MISSING}", ["give MISSING"]),
        ("${env.EMPTY:?}", ["environment variable 'EMPTY' must be set"]),
        ("${limit}", ["unknown reference '${limit}': use ${params.NAME} or ${env.NAME}"]),
        ("${params.limit:-3}", ["':-' works with ${env.NAME} only"]),
        ("a ${params.limit", ["'${params.limit' has no closing '}'"]),
        (
            "${nope} and ${params.nada}",
            [
                "unknown reference '${nope}': use ${params.NAME} or ${env.NAME}",
                "unknown parameter 'nada' in ${params.nada}",
            ],
        ),
    ],
)
def test_bad_references(text: str, reasons: list[str]) -> None:
    with pytest.raises(UnresolvedReferenceError) as info:
        SCOPE.substitute(text)
    assert list(info.value.reasons) == reasons


def test_shell_strings_quote_every_value() -> None:
    command = SCOPE.substitute("echo ${params.evil} > ${env.HOME}/out", shell=True)
    assert command == "echo 'x; touch pwned' > /home/me/out"
    assert shlex.split(command)[1] == "x; touch pwned"
    assert SCOPE.substitute("${params.limit}", shell=True) == "100"


def spec(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_values_reach_tasks_with_their_types(tmp_path: Path) -> None:
    path = spec(
        tmp_path,
        """
        params: {limit: 100, day: "2026-11-26", flags: [x, y]}
        tasks:
          a:
            call: json:dumps
            args: ["${params.flags}"]
            kwargs: {indent: "${params.limit}", sort_keys: true}
            description: "day ${params.day}, limit ${params.limit}"
            retries: ${params.limit}
        """,
    )
    task = load_workflow(path).get_all_tasks()["a"]
    assert task.fn.args == (["x", "y"],)  # type: ignore[attr-defined]
    assert task.fn.keywords == {"indent": 100, "sort_keys": True}  # type: ignore[attr-defined]
    assert task.description == "day 2026-11-26, limit 100"
    assert task.retries == 100


def test_param_overrides_win_and_keep_their_types(tmp_path: Path) -> None:
    path = spec(
        tmp_path,
        """
        params: {limit: 100}
        tasks: {a: {call: json:dumps, args: ["${params.limit}"]}}
        """,
    )
    workflow = load_workflow(path, {"limit": parse_param_value("5")})
    assert workflow.get_all_tasks()["a"].fn.args == (5,)  # type: ignore[attr-defined]
    assert workflow.spec is not None
    assert workflow.spec.params == {"limit": 5}


def test_spec_env_is_seen_by_references_and_wins_over_the_process(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUT", "from-process")
    monkeypatch.setenv("FW_DIR", "/srv")
    monkeypatch.delenv("FW_UNSET", raising=False)
    path = spec(
        tmp_path,
        """
        params: {name: report}
        env:
          OUT: ${env.FW_DIR}/${params.name}
          DEFAULTED: ${env.FW_UNSET:-plain}
          PORT: 8080
        tasks:
          a: {call: json:dumps, args: ["${env.OUT} ${env.DEFAULTED} ${env.PORT}"]}
          b: {shell: echo "$OUT"}
        """,
    )
    workflow = load_workflow(path)
    assert workflow.get_all_tasks()["a"].fn.args == ("/srv/report plain 8080",)  # type: ignore[attr-defined]
    assert workflow.spec is not None
    assert workflow.spec.env == {"OUT": "/srv/report", "DEFAULTED": "plain", "PORT": "8080"}
    shell = workflow.get_all_tasks()["b"].fn
    assert shell.env["OUT"] == "/srv/report"  # type: ignore[attr-defined]
    assert shell.env["FLOWWEAVER_SPEC_DIR"] == str(tmp_path)  # type: ignore[attr-defined]


def test_params_expand_the_environment_but_not_other_params(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FW_TEST_REGION", "eu")
    path = spec(
        tmp_path,
        """
        params: {pattern: "$${not a reference}", region: "${env.FW_TEST_REGION}/x"}
        tasks: {a: {call: builtins:print, args: ["${params.pattern}", "${params.region}"]}}
        """,
    )
    args = load_workflow(path).get_all_tasks()["a"].fn.args  # type: ignore[attr-defined]
    assert args == ("${not a reference}", "eu/x")


def test_a_param_with_shell_metacharacters_cannot_inject(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = spec(
        tmp_path,
        """
        params: {name: world}
        tasks:
          greet: {shell: "echo hello ${params.name}"}
        """,
    )
    evil = parse_param_value(f"x; touch {marker}")
    workflow = load_workflow(path, {"name": evil})
    workflow.execute()
    assert workflow.get_task_result("greet") == f"hello x; touch {marker}"
    assert not marker.exists()


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("5", 5),
        ("-3", -3),
        ("1.5", 1.5),
        ("true", True),
        ("no", False),
        ("null", None),
        ("hello", "hello"),
        ("2026-11-26", "2026-11-26"),
        ("'5'", "5"),
        ("", ""),
        ("  ", "  "),
        ("[1, 2]", "[1, 2]"),
        ("a: b", "a: b"),
        ("x; touch pwned", "x; touch pwned"),
        ("!!python/object/apply:os.system [ls]", "!!python/object/apply:os.system [ls]"),
        ("{unclosed", "{unclosed"),
        ("*alias", "*alias"),
    ],
)
def test_parse_param_value(text: str, value: Any) -> None:
    assert parse_param_value(text) == value
    assert type(parse_param_value(text)) is type(value)


def test_unresolved_references_in_env_are_located(tmp_path: Path) -> None:
    path = spec(
        tmp_path,
        """
        env:
          A: ${params.nope}
        tasks: {a: {shell: echo}}
        """,
    )
    with pytest.raises(SpecError) as info:
        load_workflow(path)
    [problem] = info.value.problems
    assert (problem.line, problem.column, problem.path) == (3, 6, "env.A")


def test_a_shell_string_says_how_to_write_the_shells_own_variable() -> None:
    with pytest.raises(UnresolvedReferenceError) as info:
        SCOPE.substitute("cp ${params.limit} ${HOME}/x ${1:-a}", shell=True)
    assert list(info.value.reasons) == [
        "unknown reference '${HOME}': use ${params.NAME} or ${env.NAME}; "
        "for the shell's own variable write $HOME or $${HOME}",
        "unknown reference '${1:-a}': use ${params.NAME} or ${env.NAME}; "
        "for the shell's own expansion write $${1:-a}",
    ]
    assert info.value.offsets == (19, 29)  # where each '${' is
    assert SCOPE.substitute("echo $HOME $${HOME}", shell=True) == "echo $HOME ${HOME}"
