"""Security through the real command: safe YAML only, no shell injection through
interpolated values, an owner-only state folder, and a state folder others could
have written is refused before anything runs or any stored pickle is loaded."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from _cli import cli_env, fw, write

TASKS = """
def count(name):
    with open("calls", "a") as log:
        log.write(name + "\\n")
    return {"name": name}
"""

SAFE = """
name: safe
tasks:
  a: {call: stasks:count, args: [a], cache: true}
  b: {call: stasks:count, args: [b], depends_on: [a]}
"""


@pytest.fixture
def here(tmp_path: Path) -> Path:
    write(tmp_path, "stasks.py", TASKS)
    write(tmp_path, "safe.yaml", SAFE)
    return tmp_path


def nothing_ran(folder: Path) -> bool:
    return not (folder / "calls").exists() and not (folder / "pwned").exists()


PYTHON_TAGS = {
    "object/apply at the top": '!!python/object/apply:os.system ["touch pwned"]\n',
    "object/apply in kwargs": (
        "tasks:\n  a: {call: stasks:count, kwargs: "
        '{name: !!python/object/apply:os.system ["touch pwned"]}}\n'
    ),
    "object/new as a task": "tasks:\n  a: !!python/object/new:os.system [touch pwned]\n",
    "name as call": "tasks:\n  a: {call: !!python/name:os.system , args: [touch pwned]}\n",
    "module tag": "tasks:\n  a: {call: stasks:count, args: [!!python/module:os ]}\n",
    "in a param": (
        "params: {p: !!python/object/apply:os.system [touch pwned]}\n"
        "tasks:\n  a: {call: stasks:count, args: ['${params.p}']}\n"
    ),
    "in an anchor": (
        "x-evil: &evil !!python/object/apply:os.system [touch pwned]\n"
        "tasks:\n  a: {call: stasks:count, args: [*evil]}\n"
    ),
}


@pytest.mark.parametrize("text", PYTHON_TAGS.values(), ids=PYTHON_TAGS.keys())
@pytest.mark.parametrize("command", ["run", "validate"])
def test_python_tags_are_an_error_and_run_nothing(here: Path, text: str, command: str) -> None:
    (here / "evil.yaml").write_text(text)
    result = fw(command, "evil.yaml", cwd=here)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert "evil.yaml:" in result.stderr
    assert nothing_ran(here)


INJECTIONS = [
    "$(touch pwned)",
    "`touch pwned`",
    "; touch pwned",
    "a && touch pwned",
    "a | touch pwned",
    "x'; touch pwned; echo '",
    'x"; touch pwned; echo "',
    "a\ntouch pwned",
    "a\rtouch pwned\n",
    "-n; touch pwned",
    "*",
]


def yaml_string(value: str) -> str:
    return json.dumps(value)  # a JSON string is a YAML double-quoted string


@pytest.mark.parametrize("value", INJECTIONS, ids=range(len(INJECTIONS)))
def test_interpolated_values_reach_the_shell_as_one_literal_word(here: Path, value: str) -> None:
    write(
        here,
        "shell.yaml",
        f"""
        name: shell
        params: {{p: {yaml_string(value)}}}
        env: {{EVIL: {yaml_string(value)}}}
        tasks:
          param: {{shell: "printf '%s' ${{params.p}} > param.out"}}
          env: {{shell: "printf '%s' ${{env.EVIL}} > env.out"}}
          inherited: {{shell: "printf '%s' ${{env.FW_INHERITED}} > inherited.out"}}
          listed: {{shell: [printf, '%s', "${{params.p}}"]}}
        """,
    )
    env = {**cli_env(), "FW_INHERITED": value}
    result = subprocess.run(
        [sys.executable, "-m", "flowweaver", "run", "shell.yaml", "-o", "json"],
        cwd=here,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert not (here / "pwned").exists()
    for name in ("param", "env", "inherited"):
        assert (here / f"{name}.out").read_bytes().decode() == value, name


@pytest.mark.parametrize(
    "value", ["$(touch pwned)", "`touch pwned`", "; touch pwned", "$(touch${IFS}pwned)"]
)
def test_a_param_from_the_command_line_cannot_inject(here: Path, value: str) -> None:
    write(
        here,
        "cli.yaml",
        """
        name: cli
        params: {p: nothing}
        tasks:
          echo: {shell: "printf '%s' ${params.p} > out"}
        """,
    )
    result = fw("run", "cli.yaml", "--param", f"p={value}", cwd=here)
    assert result.returncode == 0, result.stderr
    assert not (here / "pwned").exists()
    assert (here / "out").read_bytes().decode() == value


def modes(folder: Path) -> dict[str, int]:
    found = {".": stat.S_IMODE(folder.stat().st_mode)}
    for path in folder.rglob("*"):
        found[str(path.relative_to(folder))] = stat.S_IMODE(path.lstat().st_mode)
    return found


def test_every_file_of_the_state_folder_is_owner_only_even_with_umask_0(here: Path) -> None:
    def open_umask() -> None:
        os.umask(0)

    for _ in range(2):  # the second run reads the cache and writes more history
        result = fw("run", "safe.yaml", "-o", "plain", cwd=here, preexec_fn=open_umask)
        assert result.returncode == 0, result.stderr
    found = modes(here / ".flowweaver")
    assert found["."] == 0o700
    assert found["runs.db"] == 0o600
    loose = {name: oct(mode) for name, mode in found.items() if mode & 0o077}
    assert not loose, f"readable or writable by others: {loose}"


def make_state(here: Path) -> Path:
    state = here / ".flowweaver"
    result = fw("run", "safe.yaml", cwd=here)
    assert result.returncode == 0, result.stderr
    (here / "calls").unlink()
    return state


UNSAFE = {
    "world-writable": lambda state: state.chmod(0o707),
    "group-writable": lambda state: state.chmod(0o770),
    "owned by another user": lambda state: os.chown(state, 4242, 4242),
}


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
@pytest.mark.parametrize("spoil", UNSAFE.values(), ids=UNSAFE.keys())
@pytest.mark.parametrize(
    "args",
    [["run", "safe.yaml", "--resume"], ["runs"], ["show", "latest"]],
    ids=["resume", "runs", "show"],
)
def test_a_state_folder_others_could_write_is_refused_before_anything(
    here: Path, spoil: object, args: list[str]
) -> None:
    state = make_state(here)
    spoil(state)  # type: ignore[operator]
    before = {p.name: p.stat().st_mtime_ns for p in state.iterdir()}
    result = fw(*args, cwd=here)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) <= 2
    assert nothing_ran(here)
    assert {p.name: p.stat().st_mtime_ns for p in state.iterdir()} == before


@pytest.mark.skipif(os.geteuid() != 0, reason="chown to another user needs root")
def test_a_history_database_owned_by_another_user_is_refused(here: Path) -> None:
    state = make_state(here)
    os.chown(state / "runs.db", 4242, 4242)
    result = fw("run", "safe.yaml", cwd=here)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert nothing_ran(here)


def test_a_state_folder_reached_through_a_symlink_to_a_shared_folder_is_refused(
    here: Path,
) -> None:
    shared = here / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    (here / "link").symlink_to(shared)
    result = fw("run", "safe.yaml", "--state-dir", "link", cwd=here)
    assert result.returncode == 2, result
    assert nothing_ran(here)
