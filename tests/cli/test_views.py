"""The pure parts of the command line: the state model and its three views."""

from __future__ import annotations

import io
import json
from collections.abc import Callable

import pytest
from rich.console import Console, RenderableType

from flowweaver import Task, TaskEvent, TaskStatus, Workflow
from flowweaver.cli.errors import CliError
from flowweaver.cli.graph import to_dot, to_mermaid
from flowweaver.cli.inspect_cmds import plan_lines
from flowweaver.cli.jsonl import event_record, summary_record
from flowweaver.cli.options import OutputMode, parse_params, resolve_output
from flowweaver.cli.plain import format_event, format_summary
from flowweaver.cli.reporter import RunOutcome
from flowweaver.cli.subset import select_tasks
from flowweaver.cli.summary import totals_line
from flowweaver.cli.tables import live_view, summary_view
from flowweaver.cli.tracker import RunTracker, Snapshot
from flowweaver.history import RunStatus

T0 = 1_700_000_000.0
RUNNING, COMPLETED, FAILED = TaskStatus.RUNNING, TaskStatus.COMPLETED, TaskStatus.FAILED


def render(renderable: object, width: int = 100) -> str:
    console = Console(file=io.StringIO(), width=width, color_system=None)
    console.print(renderable)
    return console.file.getvalue()  # type: ignore[attr-defined]


def state_after(*events: TaskEvent, names: tuple[str, ...] = ("a", "b", "c")) -> RunTracker:
    state = RunTracker("demo", names)
    for event in events:
        state.apply(event)
    return state


def ev(task: str, status: TaskStatus, attempt: int = 1, **extra: object) -> TaskEvent:
    return TaskEvent(task, status, attempt, T0, **extra)  # type: ignore[arg-type]


def test_counts_follow_the_events() -> None:
    state = state_after(
        ev("a", RUNNING),
        ev("a", COMPLETED, duration=1.0, cached=True),
        ev("b", RUNNING),
        ev("b", RUNNING, error="E: x", retry_in=0.5),
        ev("b", RUNNING, 2),
        ev("b", FAILED, 2, error="E: y\nmore", duration=2.0),
    )
    snap = state.snapshot()
    assert snap.count(COMPLETED) == 1 and snap.count(FAILED) == 1
    assert snap.count(TaskStatus.PENDING) == 1 and snap.count(RUNNING) == 0
    assert (snap.retries, snap.cached, snap.reused, snap.done) == (1, 1, 0, 2)
    assert [row.name for row in snap.rows] == ["a", "b", "c"]
    assert snap.rows[1].error == "E: y\nmore" and snap.rows[1].attempt == 2


def test_a_big_run_shows_only_running_and_failed_rows() -> None:
    names = tuple(f"t{i}" for i in range(1000))
    state = state_after(
        ev("t1", RUNNING), ev("t2", RUNNING), ev("t3", FAILED, error="E"), names=names
    )
    snap = state.snapshot(max_rows=20)
    assert snap.truncated and [row.name for row in snap.rows] == ["t1", "t2", "t3"]
    text = render(live_view(snap))
    assert "t1" in text and "t3" in text and "t999" not in text
    assert "and 997 more tasks" in text
    assert not state.snapshot(max_rows=2000).truncated


def test_cancel_unfinished_marks_the_rest_cancelled() -> None:
    state = state_after(ev("a", COMPLETED, duration=0.1), ev("b", RUNNING))
    state.cancel_unfinished("cancelled: interrupted")
    snap = state.snapshot()
    assert snap.count(TaskStatus.CANCELLED) == 2 and snap.done == 3


def snapshot_of(state: RunTracker, elapsed: float = 2.414) -> Snapshot:
    return state.snapshot()._replace(elapsed=elapsed, now=T0 + 1)


def test_totals_line() -> None:
    state = state_after(ev("a", COMPLETED, duration=1.0), ev("b", FAILED, error="E"))
    state.cancel_unfinished("x")
    line = totals_line(snapshot_of(state))
    assert line == "3 tasks: 1 completed, 1 failed, 0 skipped, 1 cancelled in 2.41s"


@pytest.mark.parametrize(
    ("event", "words"),
    [
        (ev("a", RUNNING), "a running"),
        (ev("a", RUNNING, 2), "a running (attempt 2)"),
        (
            ev("a", RUNNING, error="E: x\ny", retry_in=0.25),
            "a attempt 1 failed, retrying in 0.25s: E: x",
        ),
        (ev("a", COMPLETED, duration=0.5), "a completed in 0.50s"),
        (ev("a", COMPLETED, duration=0.0, cached=True), "a completed in 0.00s (cached)"),
        (ev("a", COMPLETED, duration=0.0, reused=True), "a completed in 0.00s (reused)"),
        (
            ev("a", FAILED, 3, error="E: x", duration=61.0),
            "a failed after 3 attempts in 1m01s: E: x",
        ),
        (ev("a", TaskStatus.SKIPPED, 0, error="upstream failed"), "a skipped: upstream failed"),
    ],
)
def test_plain_event_lines(event: TaskEvent, words: str) -> None:
    line = format_event(event)
    assert line.endswith(" " + words)
    assert line[:19].count(":") == 2 and line[4] == "-"
    assert "\x1b" not in line


def test_plain_summary_gives_whole_errors_then_totals() -> None:
    state = state_after(ev("a", FAILED, error="E: x\nline 2"))
    lines = format_summary(snapshot_of(state))
    assert lines[0] == "failed: a: E: x\n  line 2"
    assert lines[-1].startswith("3 tasks: 0 completed, 1 failed")


def test_live_view_renders_status_attempt_duration_error() -> None:
    state = state_after(
        ev("a", COMPLETED, duration=1.5),
        ev("b", RUNNING, 2),
        ev("c", FAILED, error="ValueError: nope\ntrace"),
    )
    text = render(live_view(snapshot_of(state)))
    lines = text.splitlines()
    assert lines[0].split() == ["task", "status", "attempt", "duration", "error"]
    assert lines[1].split() == ["a", "completed", "1", "1.50s"]
    assert "running" in lines[2] and "2" in lines[2].split()
    assert lines[3].split()[:2] == ["c", "failed"] and "ValueError: nope" in lines[3]
    assert "trace" not in text
    assert "demo" in lines[-1] and "2/3" in lines[-1] and "1 running" in lines[-1]


def test_summary_view_ends_with_the_totals() -> None:
    state = state_after(ev("a", COMPLETED, duration=1.0, cached=True))
    text = render(summary_view(snapshot_of(state)))
    assert "completed (cached)" in text
    assert "1 cached" in text
    assert (
        text.splitlines()[-1] == "3 tasks: 1 completed, 0 failed, 0 skipped, 0 cancelled in 2.41s"
    )


def test_summary_view_of_a_huge_run_lists_what_did_not_complete() -> None:
    names = tuple(f"t{i}" for i in range(500))
    events = [ev(name, COMPLETED, duration=0.0) for name in names[1:]]
    text = render(summary_view(snapshot_of(state_after(*events, names=names))))
    assert "t0" in text and "t1 " not in text and "and 499 completed tasks" in text
    done = [ev(name, COMPLETED, duration=0.0) for name in names]
    assert "all 500 tasks completed" in render(
        summary_view(snapshot_of(state_after(*done, names=names)))
    )


def test_json_records() -> None:
    state = state_after(ev("a", FAILED, error="E"))
    record = summary_record(snapshot_of(state), RunOutcome(RunStatus.FAILED, 1), "abcd1234")
    assert json.loads(json.dumps(record)) == record
    assert record["tasks"]["a"] == {
        "status": "failed",
        "attempts": 1,
        "duration": None,
        "error": "E",
        "reason": None,
        "allowed": False,
        "cached": False,
        "reused": False,
    }
    assert record["stats"]["failed"] == 1 and record["run_id"] == "abcd1234"
    assert event_record(ev("a", RUNNING))["status"] == "running"


def diamond() -> Workflow:
    workflow = Workflow("diamond")
    for name, deps in (("a", []), ("b", ["a"]), ("c", ["a"]), ("d", ["b", "c"]), ("e", [])):
        workflow.add_task(Task(name, lambda: None), depends_on=deps)
    return workflow


def test_plan_lines() -> None:
    assert plan_lines(diamond()) == ["Layer 1: a, e", "Layer 2: b, c", "Layer 3: d"]


def test_graphs() -> None:
    assert "    t0 --> t1\n" in to_mermaid(diamond())
    assert '    "b" -> "d";\n' in to_dot(diamond())
    odd = Workflow('we"ird')
    odd.add_task(Task('say "hi"', lambda: None))
    assert '"say \\"hi\\""' in to_dot(odd) and "#quot;" in to_mermaid(odd)


def test_only_keeps_the_tasks_and_their_upstream() -> None:
    subset = select_tasks(diamond(), ["b"])
    assert list(subset.get_all_tasks()) == ["a", "b"]
    with pytest.raises(CliError, match="no such task") as caught:
        select_tasks(diamond(), ["dd"])
    assert caught.value.hint == "did you mean 'd'?"


def test_params_and_output_modes() -> None:
    assert parse_params(["n=5", "f=1.5", "b=true", "s=a=b", "e="]) == {
        "n": 5,
        "f": 1.5,
        "b": True,
        "s": "a=b",
        "e": "",
    }
    with pytest.raises(CliError):
        parse_params(["novalue"])
    assert resolve_output(OutputMode.AUTO, isatty=False) is OutputMode.PLAIN
    assert resolve_output(OutputMode.JSON, isatty=True) is OutputMode.JSON


SHELL_ERROR = (
    "ShellCommandError: exit code 2: psql: error: connection to server at "
    '"warehouse.internal" (10.0.0.12), port 5432 failed: Connection refused\n'
    "last lines of stderr:\n"
    "  psql: retrying once\n"
    "  psql: error: connection to server at "
    '"warehouse.internal" (10.0.0.12), port 5432 failed: Connection refused'
)
LONG_ERROR = "ValueError: " + "a very long message " * 20


def failed_run() -> Snapshot:
    state = state_after(
        ev("extract", COMPLETED, duration=1.5),
        ev("load-warehouse", FAILED, error=SHELL_ERROR, duration=2.0),
        ev("report-to-finance", FAILED, 3, error=LONG_ERROR, duration=0.5),
        names=("extract", "load-warehouse", "report-to-finance"),
    )
    return snapshot_of(state)


@pytest.mark.parametrize("width", [80, 120, 200])
@pytest.mark.parametrize("view", [live_view, summary_view])
def test_a_long_error_is_cut_never_the_task_name_or_status(
    width: int, view: Callable[[Snapshot], RenderableType]
) -> None:
    text = render(view(failed_run()), width=width)
    lines = text.splitlines()
    assert all(len(line) <= width for line in lines), text
    assert lines[0].split() == ["task", "status", "attempt", "duration", "error"]
    assert lines[1].split() == ["extract", "completed", "1", "1.50s"]
    assert lines[2].split()[:5] == ["load-warehouse", "failed", "1", "2.00s", "ShellCommandError:"]
    assert lines[3].split()[:5] == ["report-to-finance", "failed", "3", "0.50s", "ValueError:"]
    assert lines[3].rstrip().endswith("…")  # the error, and only it, is cut


def test_the_live_summary_names_every_failed_task_with_its_whole_error() -> None:
    snapshot = failed_run()
    text = render(summary_view(snapshot), width=80)
    plain = "\n".join(format_summary(snapshot))
    assert plain.startswith("failed: load-warehouse: ShellCommandError: exit code 2: ")
    for task, error in (("load-warehouse", SHELL_ERROR), ("report-to-finance", LONG_ERROR)):
        words = f"failed: {task}: {error.strip()}".split()
        assert " ".join(words) in " ".join(text.split())  # as plain says it, however wrapped
        assert " ".join(words) in " ".join(plain.split())
    assert text.splitlines()[-1].startswith("3 tasks: 1 completed, 2 failed")


GOLDEN_SUMMARY_80 = """\
task               status     attempt  duration  error
extract            completed        1     1.50s
load-warehouse     failed           1     2.00s  ShellCommandError: exit code 2…
report-to-finance  failed           3     0.50s  ValueError: a very long messag…
failed: load-warehouse: ShellCommandError: exit code 2: psql: error: connection
to server at "warehouse.internal" (10.0.0.12), port 5432 failed: Connection
refused
  last lines of stderr:
    psql: retrying once
    psql: error: connection to server at "warehouse.internal" (10.0.0.12), port
5432 failed: Connection refused
failed: report-to-finance: ValueError: a very long message a very long message a
"""


def test_summary_view_at_80_columns_golden() -> None:
    lines = [line.rstrip() for line in render(summary_view(failed_run()), width=80).splitlines()]
    assert "\n".join(lines[:12]) + "\n" == GOLDEN_SUMMARY_80
    assert lines[-1] == "3 tasks: 1 completed, 2 failed, 0 skipped, 0 cancelled in 2.41s"
