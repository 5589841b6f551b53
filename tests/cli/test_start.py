"""What starting ``flowweaver plan`` and ``validate`` costs: the modules they load and
the commands Typer works out (see "The command's path" in docs/performance.md)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from _cli import cli_env, fw, project, write

PROBE = """
import json
import sys

import typer.main

built = set()
work_out = typer.main.get_params_from_function


def spy(function):
    built.add(function.__name__)
    return work_out(function)


typer.main.get_params_from_function = spy

from flowweaver.cli.app import main
from flowweaver.cli.commands import app

code = main(sys.argv[1:])
commands = {info.callback.__name__ for info in app.registered_commands}
for group in app.registered_groups:
    commands |= {info.callback.__name__ for info in group.typer_instance.registered_commands}
print(json.dumps({"code": code, "built": sorted(built & commands), "modules": sorted(sys.modules)}))
"""

NOT_AT_START = (
    # what runs a workflow, and what records it: plan and validate run nothing
    "flowweaver.engine",
    "flowweaver._run",
    "flowweaver.cli.run",
    "flowweaver.history",
    "sqlite3",
    "pickle",
    "asyncio",
    "flowweaver.monitoring",
    "flowweaver.report",
    "flowweaver.cli.cron_cmds",
    # Rich draws the live table only; Typer's help and tracebacks would too, not used
    "rich",
    # a run id is os.urandom(4).hex(): secrets brings random, base64, hmac and struct
    "secrets",
)

SPEC = """
name: small
tasks:
  a: {call: clitasks:ok}
  b: {call: clitasks:ok, depends_on: [a], retries: 1, timeout: 5m}
  c: {call: clitasks:counted, depends_on: [a, b]}
"""


def start(*args: str, cwd: Path) -> dict[str, object]:
    """``flowweaver ARGS`` in a fresh interpreter: its exit code, the commands whose
    options Typer worked out, and every module loaded."""
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=cwd,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    probe: dict[str, object] = json.loads(result.stdout.splitlines()[-1])
    return probe


@pytest.mark.parametrize(
    ("args", "command"),
    [
        (["plan", "spec.yaml"], "plan"),
        (["validate", "spec.yaml"], "validate"),
        (["validate", "--no-imports", "spec.yaml"], "validate"),
    ],
)
def test_plan_and_validate_load_only_what_they_use(
    tmp_path: Path, args: list[str], command: str
) -> None:
    write(project(tmp_path), "spec.yaml", SPEC)
    probe = start(*args, cwd=tmp_path)
    assert probe["code"] == 0
    modules = probe["modules"]
    assert isinstance(modules, list)
    loaded = [name for name in NOT_AT_START if name in modules]
    assert loaded == []
    # Typer works out the options of the command named only, not of all sixteen
    assert probe["built"] == [command]


def test_the_whole_app_still_answers_help_and_a_misspelt_command(tmp_path: Path) -> None:
    probe = start("--help", cwd=tmp_path)
    assert probe["code"] == 0
    built = probe["built"]
    assert isinstance(built, list)
    assert {"run", "plan", "validate", "cache_clear", "cron_status"} <= set(built)
    result = fw("pln", "spec.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert "Did you mean 'plan'?" in result.stderr
