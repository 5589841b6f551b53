"""SPEC 7 through ``flowweaver run``: skip reasons, allowed failures, clean-up tasks,
handlers, the run's timeout (exit 124) and a real Ctrl-C (exit 130)."""

from __future__ import annotations

import json
import re
import signal
from pathlib import Path

import pytest
from _cli import TIMEOUT, fw, project, start_fw, write

HELPERS = """
import json
import os

def record(path, run):
    with open(path, "a") as f:
        f.write(json.dumps(run) + "\\n")

def lint(strict=False):
    raise ValueError("style")

def check(limit):
    if limit < 1:
        raise ValueError(f"limit {limit} is too low")
    return limit
"""

MIXED = """
name: mixed
params: {full: false}
tasks:
  extract: {call: clitasks:ok}
  load: {call: clitasks:ok, depends_on: [extract], when: "${params.full}"}
  lint: {call: helpers:lint, depends_on: [extract], allow_failure: true}
  publish: {call: clitasks:ok, depends_on: [lint]}
  clean: {shell: "echo cleaned", depends_on: [load, publish], run_if: always}
handlers:
  on_success: {call: helpers:record, kwargs: {path: success.jsonl}}
  on_exit: {shell: "echo 'no space left' >&2; exit 3"}
"""


@pytest.fixture
def here(tmp_path: Path) -> Path:
    project(tmp_path)
    write(tmp_path, "helpers.py", HELPERS)
    return tmp_path


def lines_of(out: str) -> list[str]:
    """The output's lines without their timestamps."""
    return [line[20:] if line[:4].isdigit() else line for line in out.splitlines()]


def test_reasons_allowed_failures_and_handlers_in_plain_output(here: Path) -> None:
    write(here, "mixed.yaml", MIXED)
    done = fw("run", "mixed.yaml", "-o", "plain", "-e", "sequential", cwd=here)
    assert done.returncode == 0, done.stdout + done.stderr  # an allowed failure, a failed handler
    lines = lines_of(done.stdout)
    assert "load skipped: condition false" in lines
    raised = "(helpers.py:9)"  # where the task's code raised
    lint = re.compile(
        r"lint failed \(allowed\) after 1 attempt in \d+\.\d\ds: "
        rf"ValueError: style {re.escape(raised)}"
    )
    assert any(lint.fullmatch(line) for line in lines), lines
    assert "publish skipped: upstream failed" in lines
    assert "handler on_success completed in" in "\n".join(lines)
    assert any(line.startswith("handler on_exit failed in ") for line in lines)
    assert lines[-2:] == [
        f"failed (allowed): lint: ValueError: style {raised}",
        lines[-1],
    ] and lines[-1].startswith("5 tasks: 2 completed, 1 failed (1 allowed), 2 skipped, 0 cancelled")
    assert "warning: handler on_exit failed: ShellCommandError: exit code 3: no space left" in (
        done.stderr
    )
    run = json.loads((here / "success.jsonl").read_text())
    assert (run["status"], run["exit_code"], run["failed"]) == ("completed", 0, {})
    assert run["allowed_failures"] == {"lint": "ValueError: style"}

    shown = fw("show", "latest", "-o", "json", cwd=here)
    record = json.loads(shown.stdout)
    tasks = {task["name"]: task for task in record["tasks"]}
    assert (tasks["load"]["status"], tasks["load"]["reason"]) == ("skipped", "condition false")
    assert (tasks["lint"]["status"], tasks["lint"]["allowed"]) == ("failed", True)
    assert [(h["name"], h["status"]) for h in record["handlers"]] == [
        ("on_success", "completed"),
        ("on_exit", "failed"),
    ]
    assert record["exit_code"] == 0
    text = fw("show", "latest", cwd=here).stdout
    assert "failed (allowed)" in text and "condition false" in text
    assert "handler on_exit failed in " in text


def test_json_output_carries_reasons_and_handlers(here: Path) -> None:
    write(here, "mixed.yaml", MIXED)
    done = fw("run", "mixed.yaml", "-o", "json", "-p", "full=true", cwd=here)
    assert done.returncode == 0, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    events = {(r["task"], r["status"]): r for r in records if r["type"] == "task"}
    assert events["publish", "skipped"]["reason"] == "upstream failed"
    assert events["lint", "failed"]["allowed"] is True
    assert ("load", "completed") in events  # full=true: the condition holds
    summary = records[-1]
    assert summary["type"] == "summary" and summary["exit_code"] == 0
    assert summary["tasks"]["lint"]["allowed"] is True
    assert summary["tasks"]["publish"]["reason"] == "upstream failed"
    assert [h["name"] for h in summary["handlers"]] == ["on_success", "on_exit"]
    assert summary["stats"]["allowed_failures"] == 1


FAILING = """
name: failing
tasks:
  bad: {call: clitasks:boom}
  clean: {call: clitasks:ok, depends_on: [bad], run_if: always}
  alert: {call: clitasks:ok, depends_on: [bad], run_if: failure}
handlers:
  on_failure:
    shell: 'echo "$FLOWWEAVER_RUN_ID $FLOWWEAVER_RUN_STATUS $FLOWWEAVER_FAILED_TASKS" > alert.txt'
"""


def test_a_failed_task_fails_the_run_though_its_clean_up_succeeds(here: Path) -> None:
    write(here, "failing.yaml", FAILING)
    done = fw("run", "failing.yaml", "-o", "plain", cwd=here)
    assert done.returncode == 1, done.stdout + done.stderr
    lines = lines_of(done.stdout)
    assert any(line.startswith("clean completed in") for line in lines)
    assert any(line.startswith("alert completed in") for line in lines)
    run_id = json.loads(fw("show", "latest", "-o", "json", cwd=here).stdout)["id"]
    assert (here / "alert.txt").read_text() == f"{run_id} failed bad\n"


SLOW = """
name: slow
timeout: 1s
tasks:
  wait: {call: clitasks:wait_for, kwargs: {path: never, limit: 30}}
  after: {call: clitasks:ok, depends_on: [wait]}
  clean: {shell: "echo cleaned > cleaned.txt", depends_on: [wait], run_if: always}
handlers:
  on_failure: {call: helpers:record, kwargs: {path: failure.jsonl}}
"""


def test_a_run_past_its_timeout_exits_124_and_still_cleans_up(here: Path) -> None:
    write(here, "slow.yaml", SLOW)
    done = fw("run", "slow.yaml", "-o", "plain", cwd=here)
    assert done.returncode == 124, done.stdout + done.stderr
    lines = lines_of(done.stdout)
    assert "wait cancelled: the run timed out after 1s" in lines
    assert any(line.startswith("clean completed in") for line in lines)
    assert lines[-2:] == [
        "workflow 'slow' timed out after 1s",
        lines[-1],
    ] and lines[-1].startswith("3 tasks: 1 completed, 0 failed, 0 skipped, 2 cancelled")
    assert "Traceback" not in done.stderr
    assert (here / "cleaned.txt").read_text() == "cleaned\n"
    run = json.loads((here / "failure.jsonl").read_text())
    assert (run["status"], run["exit_code"]) == ("timed_out", 124)
    record = json.loads(fw("show", "latest", "-o", "json", cwd=here).stdout)
    assert (record["status"], record["exit_code"]) == ("timed_out", 124)
    as_json = fw("run", "slow.yaml", "-o", "json", cwd=here)
    assert as_json.returncode == 124
    summary = json.loads(as_json.stdout.splitlines()[-1])
    assert (summary["status"], summary["message"]) == (
        "timed_out",
        "workflow 'slow' timed out after 1s",
    )


INTERRUPTED = """
name: interrupted
tasks:
  first: {call: clitasks:ok}
  wait: {call: clitasks:wait_for, kwargs: {path: marker}, depends_on: [first]}
  after: {call: clitasks:ok, depends_on: [wait]}
  clean: {shell: "echo cleaned > cleaned.txt", depends_on: [wait], run_if: always}
handlers:
  on_failure: {call: helpers:record, kwargs: {path: handlers.jsonl}}
  on_exit: {call: helpers:record, kwargs: {path: handlers.jsonl}}
"""


@pytest.mark.parametrize(
    ("executor", "signum"),
    [
        ("sequential", signal.SIGINT),
        ("threaded", signal.SIGTERM),
        ("process", signal.SIGINT),
        ("async", signal.SIGTERM),
    ],
)
def test_a_first_signal_runs_the_clean_up_tasks_and_exits_128_plus_it(
    here: Path, executor: str, signum: signal.Signals
) -> None:
    write(here, "interrupted.yaml", INTERRUPTED)
    process = start_fw("run", "interrupted.yaml", "-o", "plain", "-e", executor, cwd=here)
    try:
        assert process.stdout is not None
        seen = []
        for line in process.stdout:
            seen.append(line)
            if line.rstrip().endswith(" wait running"):
                process.send_signal(signum)
                break
        out, err = process.communicate(timeout=TIMEOUT)
    finally:
        (here / "marker").touch()
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=TIMEOUT)
    assert process.returncode == 128 + signum, "".join(seen) + out + err
    lines = lines_of("".join(seen) + out)
    assert f"wait cancelled: interrupted by {signum.name}" in lines
    assert f"after cancelled: interrupted by {signum.name}" in lines
    assert any(line.startswith("clean completed in") for line in lines)
    assert (here / "cleaned.txt").read_text() == "cleaned\n"
    runs = [json.loads(line) for line in (here / "handlers.jsonl").read_text().splitlines()]
    assert [(run["status"], run["exit_code"]) for run in runs] == [
        ("interrupted", 128 + signum)
    ] * 2
    assert "Traceback" not in err


STUCK_CLEAN_UP = """
name: stuck
tasks:
  wait: {call: clitasks:wait_for, kwargs: {path: marker}}
  clean: {call: clitasks:wait_for, kwargs: {path: never}, depends_on: [wait], run_if: always}
"""


@pytest.mark.parametrize("executor", ["sequential", "threaded"])
def test_a_second_signal_cancels_a_clean_up_task_that_hangs(here: Path, executor: str) -> None:
    write(here, "stuck.yaml", STUCK_CLEAN_UP)
    process = start_fw("run", "stuck.yaml", "-o", "plain", "-e", executor, cwd=here)
    try:
        assert process.stdout is not None
        seen = []
        for line in process.stdout:
            seen.append(line)
            if line.rstrip().endswith(" wait running"):
                process.send_signal(signal.SIGINT)  # the clean-up starts
            if line.rstrip().endswith(" clean running"):
                process.send_signal(signal.SIGINT)  # and is cancelled
                break
        out, err = process.communicate(timeout=TIMEOUT)
    finally:
        (here / "marker").touch()
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=TIMEOUT)
    assert process.returncode == 130, "".join(seen) + out + err
    lines = lines_of("".join(seen) + out)
    assert "wait cancelled: interrupted by SIGINT" in lines
    assert "clean cancelled: interrupted by SIGINT" in lines
    assert lines[-1].startswith("2 tasks: 0 completed, 0 failed, 0 skipped, 2 cancelled in ")
    assert float(lines[-1].split()[-1].rstrip("s")) < 20  # not the clean-up's 30 seconds
    assert "Traceback" not in err


FAIL_FAST = """
name: fail-fast
executor: sequential
tasks:
  bad: {call: clitasks:boom}
  other: {call: clitasks:ok}
  below: {call: clitasks:ok, depends_on: [bad]}
  alert: {shell: "echo alerted > alert.txt", depends_on: [bad], run_if: failure}
  clean: {shell: "echo cleaned > cleaned.txt", depends_on: [below, other], run_if: always}
"""


def test_fail_fast_still_runs_failure_and_always_tasks(here: Path) -> None:
    write(here, "fail-fast.yaml", FAIL_FAST)
    done = fw("run", "fail-fast.yaml", "-o", "json", "--fail-fast", cwd=here)
    assert done.returncode == 1, done.stdout + done.stderr
    summary = json.loads(done.stdout.splitlines()[-1])
    ended = {name: (task["status"], task["reason"]) for name, task in summary["tasks"].items()}
    assert ended == {
        "bad": ("failed", None),
        "other": ("cancelled", None),
        "below": ("skipped", "upstream failed"),
        "alert": ("completed", None),
        "clean": ("completed", None),
    }
    assert (here / "alert.txt").exists() and (here / "cleaned.txt").exists()


MAPPED = """
name: mapped
tasks:
  check:
    call: helpers:check
    map: {over: [0, 2], param: limit}
    allow_failure: true
  report: {shell: "echo reported", depends_on: [check], run_if: done}
  gated: {call: helpers:check, map: {over: [1, 2], param: limit}, when: false}
"""


def test_a_mapped_task_may_fail_allowed_and_be_skipped_by_its_condition(here: Path) -> None:
    write(here, "mapped.yaml", MAPPED)
    planned = fw("plan", "mapped.yaml", cwd=here)
    assert planned.stdout.splitlines() == [
        "Layer 1: check (map over 2 items, allow_failure), gated (map over 2 items, when: false)",
        "Layer 2: report (run_if: done)",
    ]
    done = fw("run", "mapped.yaml", "-o", "plain", "-e", "sequential", cwd=here)
    assert done.returncode == 0, done.stdout + done.stderr
    lines = lines_of(done.stdout)
    failed = [line for line in lines if line.startswith("check failed (allowed) in ")]
    assert len(failed) == 1 and failed[0].endswith(
        ": 1 of 2 items failed: check[0]: ValueError: limit 0 is too low"
    )
    assert "gated skipped: condition false" in lines
    assert any(line.startswith("report completed in") for line in lines)
    assert lines[-1].startswith("3 tasks: 1 completed, 1 failed (1 allowed), 1 skipped, ")
    assert lines[-1].endswith("(2 items: 1 completed, 1 failed)")
    record = json.loads(fw("show", "latest", "-o", "json", cwd=here).stdout)
    tasks = {task["name"]: task for task in record["tasks"]}
    assert (tasks["check"]["status"], tasks["check"]["allowed"]) == ("failed", True)
    assert (tasks["gated"]["status"], tasks["gated"]["reason"]) == ("skipped", "condition false")
    assert tasks["check[0]"]["status"] == "failed" and tasks["check[2]"]["status"] == "completed"


RECOVERING = """
name: recovering
params: {limit: 0}
tasks:
  check: {call: helpers:check, kwargs: {limit: "${params.limit}"}}
handlers:
  on_success: {shell: "echo success >> handlers.txt"}
  on_recovery: {shell: "echo recovery after $FLOWWEAVER_RUN_STATUS >> handlers.txt"}
  on_failure: {shell: "echo failure >> handlers.txt"}
"""


def test_on_recovery_runs_after_a_failed_run_only(here: Path) -> None:
    write(here, "recovering.yaml", RECOVERING)
    runs = [
        fw("run", "recovering.yaml", "-o", "plain", "-p", "limit=1", cwd=here),  # first run
        fw("run", "recovering.yaml", "-o", "plain", cwd=here),  # fails
        fw("run", "recovering.yaml", "-o", "plain", "-p", "limit=2", cwd=here),  # recovers
        fw("run", "recovering.yaml", "-o", "plain", "-p", "limit=2", cwd=here),
    ]
    assert [run.returncode for run in runs] == [0, 1, 0, 0]
    assert (here / "handlers.txt").read_text().splitlines() == [
        "success",
        "failure",
        "success",
        "recovery after completed",
        "success",
    ]


def test_plan_and_graph_mark_the_conditional_tasks(here: Path) -> None:
    write(here, "mixed.yaml", MIXED)
    planned = fw("plan", "mixed.yaml", cwd=here)
    assert planned.returncode == 0, planned.stderr
    assert planned.stdout.splitlines() == [
        "Layer 1: extract",
        "Layer 2: load (when: false), lint (allow_failure)",
        "Layer 3: publish",
        "Layer 4: clean (run_if: always)",
        "Handlers: on_success, on_exit",
    ]
    graph = fw("graph", "mixed.yaml", "--format", "dot", cwd=here)
    assert '"clean" [style=dashed, label="clean\\n(run_if: always)"];' in graph.stdout


def test_a_bad_new_key_is_one_problem_line(here: Path) -> None:
    write(
        here,
        "bad.yaml",
        """
        timeout: never
        tasks:
          a: {call: clitasks:ok, run_if: alwyas}
        handlers:
          on_fail: {shell: "true"}
        """,
    )
    done = fw("validate", "bad.yaml", cwd=here)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "bad.yaml:1:10: timeout: bad duration 'never': use a number of seconds, or text "
        "like 500ms, 30s, 5m, 1h30m, 1d",
        "bad.yaml:3:34: tasks.a.run_if: expected one of success, no_failure, failure, done, "
        "always, got text 'alwyas' (did you mean 'always'?)",
        "bad.yaml:5:3: handlers.on_fail: unknown handler 'on_fail' (did you mean 'on_failure'?)",
    ]
