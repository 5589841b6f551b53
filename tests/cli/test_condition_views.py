"""How the views say SPEC 7's outcomes: skip reasons, allowed failures, handlers,
a timed-out run, and the conditional tasks of ``plan``, ``graph`` and ``show``."""

from __future__ import annotations

import json

from test_views import T0, ev, render, snapshot_of, state_after

from flowweaver import Task, TaskStatus, Workflow
from flowweaver.cli.graph import to_dot, to_mermaid
from flowweaver.cli.inspect_cmds import plan_lines
from flowweaver.cli.jsonl import event_record, summary_record
from flowweaver.cli.plain import format_event, format_handlers, format_summary
from flowweaver.cli.reporter import RunOutcome
from flowweaver.cli.runs_cmds import run_view
from flowweaver.cli.summary import totals_line
from flowweaver.cli.tables import live_view, summary_view
from flowweaver.cli.tracker import Snapshot
from flowweaver.handlers import HandlerOutcome
from flowweaver.history import RunRecord, RunStatus, TaskRecord

S = TaskStatus
HANDLERS = (
    HandlerOutcome("on_failure", "completed", None, 0.05),
    HandlerOutcome("on_exit", "failed", "ShellCommandError: exit code 3: disk full\nmore", 0.1),
)


def mixed_run() -> Snapshot:
    state = state_after(
        ev("extract", S.COMPLETED, duration=1.0),
        ev("lint", S.FAILED, error="ValueError: style", duration=0.5, allowed=True),
        ev("load", S.SKIPPED, 0, error="condition false", reason="condition false"),
        ev("report", S.SKIPPED, 0, error="upstream failed", reason="upstream failed"),
        names=("extract", "lint", "load", "report"),
    )
    return snapshot_of(state)


def test_the_totals_count_allowed_failures_among_the_failed_and_say_so() -> None:
    assert totals_line(mixed_run()) == (
        "4 tasks: 1 completed, 1 failed (1 allowed), 2 skipped, 0 cancelled in 2.41s"
    )


def test_plain_lines_say_allowed_and_why_skipped() -> None:
    failed = format_event(ev("lint", S.FAILED, error="ValueError: x", duration=0.5, allowed=True))
    assert failed.endswith(" lint failed (allowed) after 1 attempt in 0.50s: ValueError: x")
    skipped = format_event(ev("b", S.SKIPPED, 0, error="upstream failed", reason="upstream failed"))
    assert skipped.endswith(" b skipped: upstream failed")


def test_plain_summary_has_a_line_per_handler_and_the_timeout() -> None:
    lines = format_handlers(HANDLERS, T0)
    assert [line[20:] for line in lines] == [
        "handler on_failure completed in 0.05s",
        "handler on_exit failed in 0.10s: ShellCommandError: exit code 3: disk full",
    ]
    outcome = RunOutcome(RunStatus.TIMED_OUT, 124, HANDLERS, "workflow 'x' timed out after 30s")
    summary = format_summary(mixed_run(), outcome)
    assert summary == [
        "failed (allowed): lint: ValueError: style",
        "workflow 'x' timed out after 30s",
        "4 tasks: 1 completed, 1 failed (1 allowed), 2 skipped, 0 cancelled in 2.41s",
    ]


def test_live_table_shows_reasons_and_allowed_failures() -> None:
    text = render(live_view(mixed_run()))
    rows = {line.split()[0]: line for line in text.splitlines()[1:5]}
    assert rows["lint"].split()[1:3] == ["failed", "(allowed)"]
    assert rows["load"].split()[1:] == ["skipped", "condition", "false"]
    assert rows["report"].split()[1:] == ["skipped", "upstream", "failed"]
    assert "1 failed (1 allowed)" in text.splitlines()[-1]


def test_live_summary_has_a_handlers_line_and_the_timeout() -> None:
    message = "workflow 'x' timed out after 30s"
    view = summary_view(mixed_run(), handlers=HANDLERS, message=message)
    lines = [line.rstrip() for line in render(view, width=200).splitlines()]
    assert lines[-4] == "failed (allowed): lint: ValueError: style"
    assert lines[-3] == (
        "handlers: on_failure completed in 0.05s, on_exit failed in 0.10s: "
        "ShellCommandError: exit code 3: disk full"
    )
    assert lines[-2] == "workflow 'x' timed out after 30s"
    assert lines[-1].startswith("4 tasks: 1 completed, 1 failed (1 allowed)")


def test_json_carries_reasons_allowed_handlers_and_the_message() -> None:
    event = event_record(
        ev("load", S.SKIPPED, 0, error="condition false", reason="condition false")
    )
    assert (event["reason"], event["allowed"]) == ("condition false", False)
    outcome = RunOutcome(RunStatus.FAILED, 1, HANDLERS)
    record = summary_record(mixed_run(), outcome, "abcd1234")
    assert json.loads(json.dumps(record)) == record
    assert record["tasks"]["lint"]["allowed"] is True
    assert record["tasks"]["report"]["reason"] == "upstream failed"
    assert record["stats"]["allowed_failures"] == 1 and record["stats"]["failed"] == 1
    assert record["handlers"][1] == {
        "name": "on_exit",
        "status": "failed",
        "error": "ShellCommandError: exit code 3: disk full\nmore",
        "duration": 0.1,
    }
    assert record["message"] is None


def conditional() -> Workflow:
    workflow = Workflow("nightly", handlers={"on_failure": print, "on_exit": print}, timeout=1800)
    workflow.add_task(Task("extract", lambda: None))
    workflow.add_task(Task("load", lambda: None, when=lambda: True), depends_on=["extract"])
    workflow.add_task(Task("off", lambda: None, when=False), depends_on=["extract"])
    workflow.add_task(Task("lint", lambda: None, allow_failure=True), depends_on=["extract"])
    workflow.add_task(Task("report", lambda: None, run_if="done"), depends_on=["load"])
    return workflow


def test_plan_marks_conditional_tasks_and_names_handlers_and_timeout() -> None:
    assert plan_lines(conditional()) == [
        "Layer 1: extract",
        "Layer 2: load (when), off (when: false), lint (allow_failure)",
        "Layer 3: report (run_if: done)",
        "Handlers: on_failure, on_exit",
        "Timeout: 1800s for the whole run",
    ]


def test_graph_draws_conditional_tasks_dashed_with_their_conditions() -> None:
    mermaid = to_mermaid(conditional())
    assert '    t4["report<br/>(run_if: done)"]\n' in mermaid
    assert '    t0["extract"]\n' in mermaid
    assert mermaid.endswith("    class t1,t2,t3,t4 conditional\n")
    dot = to_dot(conditional())
    assert '    "report" [style=dashed, label="report\\n(run_if: done)"];\n' in dot
    assert '    "extract";\n' in dot


def task_record(name: str, status: str, **fields: object) -> TaskRecord:
    values: dict[str, object] = {
        "attempts": 1,
        "started": T0,
        "ended": T0 + 1,
        "duration": 1.0,
        "error": None,
        "cached": False,
        "reused": False,
        "result_stored": False,
    }
    values.update(fields)
    return TaskRecord(name, status, **values)


def test_show_says_reasons_allowed_failures_handlers_and_the_exit_code() -> None:
    record = RunRecord(
        id="abcd1234",
        workflow="nightly",
        status=RunStatus.TIMED_OUT,
        started=T0,
        ended=T0 + 30,
        elapsed=30.0,
        spec_path=None,
        spec_sha256=None,
        params={},
        pid=None,
        resumed_from=None,
        tasks=(
            task_record("lint", "failed", error="ValueError: style", allowed=True),
            task_record("load", "skipped", attempts=0, error="condition false", reason="x"),
        ),
        exit_code=124,
        handlers=tuple(handler.to_dict() for handler in HANDLERS),
    )
    lines = [line.rstrip() for line in render(run_view(record), width=200).splitlines()]
    assert lines[0].startswith("run abcd1234 of nightly: timed_out (exit 124), started ")
    assert lines[2].split()[:3] == ["lint", "failed", "(allowed)"]
    assert lines[3].split()[:2] == ["load", "skipped"] and "condition false" in lines[3]
    assert lines[4:] == [
        "handler on_failure completed in 0.05s",
        "handler on_exit failed in 0.10s: ShellCommandError: exit code 3: disk full",
        "1 failed (1 allowed), 1 skipped",
    ]
