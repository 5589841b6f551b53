"""A secret's value never shows: not in any output mode, log file, the history's
database file (read as bytes), ``show``, ``logs``, errors, or the handlers' run dict."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from _cli import fw, write

from flowweaver import (
    RunStore,
    SecretError,
    SequentialExecutor,
    Task,
    ThreadedExecutor,
    Workflow,
    WorkflowError,
    load_workflow,
)
from flowweaver.handlers import handler_tasks
from flowweaver.masking import Masker

SPEC = """
name: secretive
secrets: [FW_TEST_SECRET]
params: {token: none}
tasks:
  leak: {call: _log_tasks:leak, kwargs: {token: "${params.token}"}}
  shell:
    shell: "echo out $FW_TEST_SECRET; echo err $FW_TEST_SECRET >&2; exit 4"
  give: {call: _log_tasks:give, kwargs: {token: "${params.token}"}}
"""


@pytest.fixture
def secret() -> str:
    return f"tok-{secrets.token_hex(8)}"


@pytest.fixture
def here(tmp_path: Path) -> Path:
    write(tmp_path, "secretive.yaml", SPEC)
    return tmp_path


def files_hold(folder: Path, value: str) -> list[Path]:
    """The files under ``folder`` whose bytes hold ``value``."""
    data = value.encode()
    return [path for path in folder.rglob("*") if path.is_file() and data in path.read_bytes()]


MODES = {
    "plain": ["-o", "plain"],
    "json": ["-o", "json", "--log-lines"],
    "quiet": ["--quiet"],
    "verbose": ["-o", "plain", "--verbose"],
}


@pytest.mark.parametrize("mode", MODES.values(), ids=MODES.keys())
def test_no_output_mode_shows_a_secret(here: Path, secret: str, mode: list[str]) -> None:
    env = {"FW_TEST_SECRET": secret}
    result = fw("run", "secretive.yaml", "-p", f"token={secret}", *mode, cwd=here, env=env)
    assert result.returncode == 1, result.stderr
    assert secret not in result.stdout and secret not in result.stderr
    shown = result.stdout + result.stderr
    assert "raised ***" in shown  # the error is there, masked
    if "--log-lines" in mode or "--quiet" in mode or "plain" in mode:
        assert "printed ***" in shown and "err ***" in shown and "param ***" in shown
    assert files_hold(here / ".flowweaver", secret) == []
    for args in (["show", "latest"], ["show", "latest", "-o", "json"], ["logs", "latest"]):
        read = fw(*args, cwd=here)
        assert read.returncode == 0 and secret not in read.stdout + read.stderr, args
    shown_task = fw("show", "latest", "leak", cwd=here)
    assert "RuntimeError: raised ***" in shown_task.stdout and secret not in shown_task.stdout


def test_reports_never_show_a_secret(here: Path, secret: str) -> None:
    env = {"FW_TEST_SECRET": secret}
    args = ["run", "secretive.yaml", "-p", f"token={secret}", "-o", "plain"]
    result = fw(*args, "--report", "night.html", cwd=here, env=env)
    assert result.returncode == 1, result.stderr
    html = (here / "night.html").read_text(encoding="utf-8")
    assert "raised ***" in html and "printed ***" in html  # the error and the log tail
    markdown = fw("report", "latest", "-o", "-", "--format", "md", cwd=here)
    assert markdown.returncode == 0 and "raised ***" in markdown.stdout
    assert secret not in html and secret not in markdown.stdout
    assert files_hold(here, secret) == []


def test_a_secret_may_come_from_an_env_file(tmp_path: Path, secret: str) -> None:
    write(tmp_path, ".env", f"FW_TEST_SECRET={secret}\n")
    write(
        tmp_path,
        "dotenv.yaml",
        "name: dotenv\nenv_file: .env\nsecrets: [FW_TEST_SECRET]\n"
        "tasks:\n  shell: {shell: 'echo it is $FW_TEST_SECRET; exit 3'}\n",
    )
    result = fw("run", "dotenv.yaml", "-o", "plain", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "shell | it is ***" in result.stderr
    assert secret not in result.stdout + result.stderr
    assert files_hold(tmp_path / ".flowweaver", secret) == []


def test_the_database_and_its_write_ahead_log_never_hold_a_secret(
    tmp_path: Path, secret: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FW_TEST_SECRET", secret)
    workflow = load_workflow(write(tmp_path, "secretive.yaml", SPEC), {"token": secret})
    told: list[dict[str, object]] = []

    def on_failure(run: dict[str, object]) -> None:
        told.append(run)

    workflow.handlers = handler_tasks({"on_failure": on_failure})
    state = tmp_path / "state"
    with RunStore(state) as store:
        with pytest.raises(WorkflowError) as info:
            ThreadedExecutor(3).execute(workflow, store=store)
        assert (state / "runs.db-wal").exists()  # read while the store is open
        assert files_hold(state, secret) == []
        record = store.run("latest")
        assert record.params == {"token": "***"}
        give = next(task for task in record.tasks if task.name == "give")
        assert give.status == "completed" and not give.result_stored
        assert give.note == "result not stored: it holds the value of a secret"
    assert secret not in str(info.value) and "raised ***" in str(info.value)
    assert workflow.get_task_result("give") == f"result {secret}"  # the run itself has it
    assert told and secret not in json.dumps(told)
    assert told[0]["params"] == {"token": "***"}
    assert all(secret not in (task.error or "") for task in workflow.get_all_tasks().values())


def test_python_workflows_name_their_secrets(
    tmp_path: Path, secret: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def shout() -> None:
        print(f"it is {secret}")
        raise ValueError(secret)

    workflow = Workflow("api", secrets=["FW_TEST_SECRET"])
    workflow.add_task(Task("shout", shout))
    with pytest.raises(SecretError) as unset:
        SequentialExecutor().execute(workflow)
    assert unset.value.names == ["FW_TEST_SECRET"]
    monkeypatch.setenv("FW_TEST_SECRET", secret)
    with pytest.raises(WorkflowError) as info:
        SequentialExecutor().execute(workflow)  # no store: output is still masked
    assert str(info.value).endswith("shout: ValueError: ***")
    assert capsys.readouterr().out == "it is ***\n"


def test_an_unset_secret_stops_the_command_before_anything_runs(here: Path) -> None:
    result = fw("run", "secretive.yaml", cwd=here)
    assert result.returncode == 2
    assert result.stderr.startswith("error: secret FW_TEST_SECRET is not set")
    assert "Traceback" not in result.stderr
    assert "no runs recorded yet" in fw("runs", cwd=here).stderr


def test_a_bad_secret_name_is_a_spec_problem(tmp_path: Path) -> None:
    write(tmp_path, "bad.yaml", "secrets: [OK_NAME, not-a-name]\ntasks:\n  a: {shell: 'true'}\n")
    result = fw("validate", "bad.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert "bad.yaml:1:20: secrets[1]:" in result.stdout + result.stderr


def test_the_masker_hides_every_occurrence_and_each_line_of_a_long_secret() -> None:
    masker = Masker(["abc", "abcdef", "line one\nline two"])
    assert masker.mask("xabcdefx abc") == "x***x ***"  # the longer first
    assert masker.mask("> line two <") == "> *** <"
    assert masker.mask_data({"k": ["abc", 1, None], "n": 12}) == {"k": ["***", 1, None], "n": 12}
    assert Masker(["12"]).mask_data({"n": 5120}) == {"n": "5***0"}
    assert not Masker() and Masker().mask("abc") == "abc"
    assert masker.found_in(b"..abc..") and not masker.found_in(b"ab")
