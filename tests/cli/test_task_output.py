"""What tasks print, through the command: plain and JSON output, ``logs``, ``show RUN
TASK``, ``--quiet``, ``prune`` and ``keep_runs``."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from _cli import TIMEOUT, fw, project, start_fw, write
from test_live import ANSI, run_in_pty

TASKS = """
import sys

def load():
    print("reading orders.csv")
    print("1200 rows", file=sys.stderr)
    rows = ["ok", "bad"]
    check(rows)

def check(rows):
    raise ValueError("bad row")

def chatty():
    for n in range(30):
        print(f"line {n}")
    return "done"

def caused():
    try:
        {}["missing"]
    except KeyError as exc:
        raise RuntimeError("could not compute") from exc
"""

SPEC = """
name: nightly
tasks:
  load: {call: etl:load}
  chatty: {call: etl:chatty}
  shell: {shell: "echo one; echo two >&2; exit 3"}
  caused: {call: etl:caused}
"""

GOOD = """
name: good
tasks:
  chatty: {call: etl:chatty}
  also: {shell: "echo fine"}
"""


@pytest.fixture
def here(tmp_path: Path) -> Path:
    project(tmp_path)
    write(tmp_path, "etl.py", TASKS)
    write(tmp_path, "nightly.yaml", SPEC)
    write(tmp_path, "good.yaml", GOOD)
    return tmp_path


@pytest.fixture
def ran(here: Path) -> tuple[Path, subprocess.CompletedProcess[str]]:
    result = fw("run", "nightly.yaml", "-o", "plain", "-e", "threaded", cwd=here)
    assert result.returncode == 1, result.stderr
    return here, result


# -- plain output -------------------------------------------------------------------------


def test_plain_output_passes_task_lines_to_stderr_after_their_name(
    ran: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    _, result = ran
    err = result.stderr.splitlines()
    assert "load | reading orders.csv" in err and "load | 1200 rows" in err
    assert [line for line in err if line.startswith("chatty | ")] == [
        f"chatty | line {n}" for n in range(30)
    ]
    assert "shell | one" in err and "shell | two" in err
    assert "load | " not in result.stdout  # stdout has events and the summary only


def test_a_failure_line_names_where_the_error_was_raised(
    ran: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    _, result = ran
    failed = [line for line in result.stdout.splitlines() if " load failed " in line]
    assert len(failed) == 1
    assert failed[0].endswith(": ValueError: bad row (etl.py:10)")
    caused = [line for line in result.stdout.splitlines() if " caused failed " in line]
    assert caused[0].endswith(": RuntimeError: could not compute (etl.py:21)")


def test_the_summary_shows_the_last_lines_a_failed_task_printed(
    ran: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    _, result = ran
    lines = result.stdout.splitlines()
    at = lines.index("failed: load: ValueError: bad row (etl.py:10)")
    assert lines[at + 1].startswith("  last lines of its output (flowweaver logs ")
    assert lines[at + 1].endswith(" load):")
    assert lines[at + 2 : at + 4] == ["    reading orders.csv", "    1200 rows"]
    # a shell task's error already holds its stderr: no tail under it
    shell = next(i for i, line in enumerate(lines) if line.startswith("failed: shell: "))
    assert not lines[shell + 1].startswith("  last lines")


def test_json_output_stays_json_and_adds_log_records_on_request(here: Path) -> None:
    result = fw("run", "good.yaml", "-o", "json", "--log-lines", cwd=here)
    assert result.returncode == 0
    records = [json.loads(line) for line in result.stdout.splitlines()]
    logs = [r for r in records if r["type"] == "log"]
    chatty = [r["line"] for r in logs if r["task"] == "chatty"]
    assert chatty == [f"line {n}" for n in range(30)]
    assert {"type": "log", "task": "also", "attempt": 1, "line": "fine"} in logs
    assert "chatty | line 0" in result.stderr  # and, as in plain, on standard error
    plain_json = fw("run", "good.yaml", "-o", "json", cwd=here)
    assert all(json.loads(line)["type"] != "log" for line in plain_json.stdout.splitlines())


def test_live_output_never_prints_task_lines_on_the_terminal(here: Path) -> None:
    code, screen = run_in_pty(["run", "good.yaml"], here)
    text = ANSI.sub("", screen)
    assert code == 0, text
    assert "2 tasks: 2 completed" in text
    assert "line 7" not in text
    assert "line 7" in fw("logs", "latest", "chatty", cwd=here).stdout


# -- flowweaver logs ------------------------------------------------------------------------


def test_logs_prints_every_tasks_log_under_a_header(
    ran: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    here, _ = ran
    result = fw("logs", "latest", cwd=here)
    assert result.returncode == 0
    out = result.stdout
    for name in ("load", "chatty", "shell", "caused"):
        assert f"==> {name} <==\n=== attempt 1, started " in out
    assert out.index("==> load <==") < out.index("==> chatty <==") < out.index("==> shell <==")
    assert "Traceback (most recent call last):" in out


def test_logs_of_one_task_its_tail_and_an_attempt(here: Path) -> None:
    write(here, "flaky.py", FLAKY)
    write(here, "flaky.yaml", "name: flaky\ntasks:\n  f: {call: flaky:flaky, retries: 2}\n")
    assert fw("run", "flaky.yaml", cwd=here).returncode == 0
    whole = fw("logs", "latest", "f", cwd=here).stdout
    assert whole.count("=== attempt ") == 2
    second = fw("logs", "latest", "f", "--attempt", "2", cwd=here).stdout
    assert second.startswith("=== attempt 2, started ") and "try 2" in second
    assert "try 1" not in second
    tail = fw("logs", "latest", "f", "--tail", "2", cwd=here).stdout
    assert tail.splitlines() == whole.splitlines()[-2:]
    headers = fw("logs", "latest", "f", "--tail", "1", "--attempt", "1", cwd=here).stdout
    assert headers.splitlines() == ["ValueError: first try fails"]
    run_id = fw("runs", cwd=here).stdout.splitlines()[1].split()[0]
    assert fw("logs", run_id[:5], "f", cwd=here).stdout == whole  # an id prefix


FLAKY = """
from pathlib import Path

def flaky():
    counter = Path("tries")
    tries = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(tries))
    print(f"try {tries}")
    if tries == 1:
        raise ValueError("first try fails")
"""


def test_logs_of_an_unknown_run_task_or_attempt_are_errors_with_a_hint(
    ran: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    here, _ = ran
    run_id = fw("runs", cwd=here).stdout.splitlines()[1].split()[0]
    wrong = run_id[:-1] + ("0" if run_id[-1] != "0" else "1")
    result = fw("logs", wrong, cwd=here)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: run '{wrong}' is not in the history")
    assert f"did you mean '{run_id}'?" in result.stderr
    task = fw("logs", "latest", "laod", cwd=here)
    assert task.returncode == 2
    assert task.stderr.startswith(f"error: run {run_id} has no task 'laod' (did you mean 'load'?)")
    attempt = fw("logs", "latest", "load", "--attempt", "3", cwd=here)
    assert attempt.returncode == 2
    assert "has no attempt 3" in attempt.stderr and "it made 1 attempt" in attempt.stderr
    assert "Traceback" not in result.stderr + task.stderr + attempt.stderr


def test_show_run_task_prints_the_whole_traceback(
    ran: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    here, _ = ran
    result = fw("show", "latest", "caused", cwd=here)
    assert result.returncode == 0
    out = result.stdout
    assert "error: RuntimeError: could not compute" in out
    assert "KeyError: 'missing'" in out
    assert "The above exception was the direct cause of the following exception:" in out
    assert 'etl.py", line 21, in caused' in out
    data = json.loads(fw("show", "latest", "caused", "-o", "json", cwd=here).stdout)
    assert "KeyError: 'missing'" in data["traceback"]
    assert data["attempts"][0]["traceback"] == data["traceback"]
    unknown = fw("show", "latest", "cased", cwd=here)
    assert unknown.returncode == 2 and "did you mean 'caused'?" in unknown.stderr


# -- --quiet -------------------------------------------------------------------------------


def bare_run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``flowweaver ARGS`` as cron runs it: an empty environment, no terminal."""
    return subprocess.run(
        [sys.executable, "-m", "flowweaver", *args],
        cwd=cwd,
        env={},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def test_quiet_prints_nothing_when_the_run_succeeds(here: Path) -> None:
    write(here, "soft.yaml", "name: soft\ntasks:\n  a: {call: etl:chatty, timeout: 30}\n")
    for spec in ("good.yaml", "soft.yaml"):  # soft: no soft-timeout warning either
        result = bare_run("run", spec, "--quiet", cwd=here)
        assert (result.returncode, result.stdout, result.stderr) == (0, "", ""), spec


def test_quiet_prints_what_plain_would_when_the_run_fails(here: Path) -> None:
    quiet = bare_run("run", "nightly.yaml", "--quiet", "-e", "sequential", cwd=here)
    plain = bare_run("run", "nightly.yaml", "-o", "plain", "-e", "sequential", cwd=here)
    assert quiet.returncode == plain.returncode == 1
    assert "failed: load: ValueError: bad row (etl.py:10)" in quiet.stdout
    assert "load | reading orders.csv" in quiet.stderr

    def same(text: str) -> str:  # but for the times, durations and run ids
        text = re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", "", text, flags=re.MULTILINE)
        return re.sub(r"\b[0-9a-f]{8}\b|\d+\.\d\ds", "_", text)

    assert same(quiet.stdout) == same(plain.stdout)
    # (a shell command's two streams are read by two threads: their lines may swap)
    assert sorted(same(quiet.stderr).splitlines()) == sorted(same(plain.stderr).splitlines())


def test_options_that_do_not_go_together_are_refused(here: Path) -> None:
    quiet_json = fw("run", "good.yaml", "--quiet", "-o", "json", cwd=here)
    assert quiet_json.returncode == 2 and quiet_json.stderr.startswith("error: --quiet ")
    lines = fw("run", "good.yaml", "--log-lines", "-o", "plain", cwd=here)
    assert lines.returncode == 2 and lines.stderr.startswith("error: --log-lines ")


# -- retention -----------------------------------------------------------------------------


def run_ids(here: Path) -> list[str]:
    return [line.split()[0] for line in fw("runs", cwd=here).stdout.splitlines()[1:]]


def test_prune_keeps_the_newest_runs_of_each_workflow(here: Path) -> None:
    for _ in range(3):
        assert fw("run", "good.yaml", cwd=here).returncode == 0
    assert fw("run", "nightly.yaml", cwd=here).returncode == 1
    ids = run_ids(here)
    logs = here / ".flowweaver" / "logs"
    assert {p.name for p in logs.iterdir()} == set(ids)
    result = fw("prune", "--keep", "1", cwd=here)
    assert result.returncode == 0
    assert result.stdout == "pruned 2 runs (2 of good): records, results and logs\n"
    assert run_ids(here) == ids[:2]  # the nightly run, and the newest good one
    assert {p.name for p in logs.iterdir()} == set(ids[:2])
    assert fw("prune", "--keep", "1", cwd=here).stdout == "nothing to prune\n"
    assert fw("prune", "--older-than", "0s", "--workflow", "good", cwd=here).returncode == 0
    assert run_ids(here) == ids[:1]


def test_prune_never_removes_a_running_run(here: Path) -> None:
    write(here, "waits.yaml", "name: waits\ntasks:\n  w: {call: clitasks:wait_for, args: [go]}\n")
    running = start_fw("run", "waits.yaml", "-o", "plain", cwd=here)
    try:
        assert running.stdout is not None
        for line in running.stdout:
            if " w running" in line:
                break
        result = fw("prune", "--older-than", "0s", cwd=here)
        assert result.returncode == 0 and result.stdout == "nothing to prune\n"
    finally:
        (here / "go").touch()
        running.communicate(timeout=TIMEOUT)
    assert running.returncode == 0
    assert len(run_ids(here)) == 1


def test_keep_runs_removes_older_runs_at_the_end_of_each_run(here: Path) -> None:
    write(here, "kept.yaml", "name: kept\nkeep_runs: 2\ntasks:\n  a: {call: etl:chatty}\n")
    for _ in range(4):
        assert fw("run", "kept.yaml", cwd=here).returncode == 0
    ids = run_ids(here)
    assert len(ids) == 2
    assert {p.name for p in (here / ".flowweaver" / "logs").iterdir()} == set(ids)


def test_prune_refuses_bad_input(here: Path) -> None:
    bad_age = fw("prune", "--older-than", "30x", cwd=here)
    assert bad_age.returncode == 2
    assert bad_age.stderr.splitlines()[0] == "error: --older-than '30x' is not an age"
    nothing = fw("prune", cwd=here)
    assert nothing.returncode == 2 and "--keep N, --older-than AGE" in nothing.stderr
    assert fw("run", "good.yaml", cwd=here).returncode == 0
    unknown = fw("prune", "--keep", "1", "--workflow", "god", cwd=here)
    assert unknown.returncode == 2 and "did you mean 'good'?" in unknown.stderr
