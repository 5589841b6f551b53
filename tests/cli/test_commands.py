"""The ``flowweaver`` command through the real process: exit codes, outputs, errors."""

from __future__ import annotations

import json
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from _cli import fw, project, start_fw, write
from _privileges import without_file_override

import flowweaver

TOTALS = re.compile(
    r"^(\d+) tasks?: (\d+) completed, (\d+) failed, (\d+) skipped, (\d+) cancelled in \d+\.\d\ds$"
)

CHAIN = """
name: chain
tasks:
  a: {call: clitasks:ok}
  b: {call: clitasks:ok, depends_on: [a]}
  c: {call: clitasks:ok, depends_on: [b]}
  d: {call: clitasks:ok}
"""

FAILING = """
name: failing
tasks:
  a: {call: clitasks:ok}
  b: {call: clitasks:boom, depends_on: [a]}
  c: {call: clitasks:ok, depends_on: [b]}
  d: {call: clitasks:ok}
"""


@pytest.fixture
def here(tmp_path: Path) -> Path:
    project(tmp_path)
    write(tmp_path, "chain.yaml", CHAIN)
    write(tmp_path, "failing.yaml", FAILING)
    return tmp_path


def totals(stdout: str) -> tuple[int, ...]:
    matches = [TOTALS.match(line) for line in stdout.splitlines()]
    found = [m for m in matches if m]
    assert len(found) == 1, stdout
    return tuple(int(n) for n in found[0].groups())


def json_lines(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines()]


# -- exit codes ---------------------------------------------------------------------


def test_version_is_the_package_version(here: Path) -> None:
    result = fw("--version", cwd=here)
    assert result.returncode == 0
    assert result.stdout == f"flowweaver {flowweaver.__version__}\n"


def test_no_arguments_prints_the_help(here: Path) -> None:
    result = fw(cwd=here)
    assert result.returncode == 0
    assert "run" in result.stdout and "validate" in result.stdout


def test_run_all_completed_exits_0_with_plain_lines(here: Path) -> None:
    result = fw("run", "chain.yaml", "--output", "plain", cwd=here)
    assert result.returncode == 0, result.stderr
    assert totals(result.stdout) == (4, 4, 0, 0, 0)
    assert "\x1b" not in result.stdout
    event = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d c completed in \d+\.\d\ds$", re.M)
    assert event.search(result.stdout)


def test_auto_output_in_a_pipe_is_plain(here: Path) -> None:
    result = fw("run", "chain.yaml", cwd=here)
    assert result.returncode == 0
    assert totals(result.stdout) == (4, 4, 0, 0, 0)
    assert "\x1b" not in result.stdout


def test_a_failed_task_exits_1_and_skips_downstream(here: Path) -> None:
    result = fw("run", "failing.yaml", "-o", "plain", cwd=here)
    assert result.returncode == 1
    assert totals(result.stdout) == (4, 2, 1, 1, 0)
    assert "failed: b: ValueError: bad thing" in result.stdout
    assert "Traceback" not in result.stderr


def test_verbose_shows_the_failed_task_traceback(here: Path) -> None:
    result = fw("run", "failing.yaml", "-o", "plain", "--verbose", cwd=here)
    assert result.returncode == 1
    assert "Traceback" in result.stderr
    assert "ValueError: bad thing" in result.stderr


def test_fail_fast_cancels_what_has_not_started(here: Path) -> None:
    write(
        here,
        "ff.yaml",
        """
        name: ff
        tasks:
          a: {call: clitasks:boom}
          b: {call: clitasks:ok, depends_on: [a]}
          c: {call: clitasks:ok}
        """,
    )
    result = fw("run", "ff.yaml", "-o", "json", "-e", "sequential", "--fail-fast", cwd=here)
    assert result.returncode == 1
    summary = json_lines(result.stdout)[-1]
    statuses = {name: task["status"] for name, task in summary["tasks"].items()}  # type: ignore[union-attr]
    assert statuses == {"a": "failed", "b": "skipped", "c": "cancelled"}


def test_internal_error_exits_70_with_one_line(here: Path) -> None:
    code = (
        "import sys, flowweaver.cli.run as run\n"
        "def broken(request): raise ZeroDivisionError('oops')\n"
        "run.run_spec = broken\n"
        "from flowweaver.cli.app import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )

    for extra, traceback_shown in (([], False), (["--verbose"], True)):
        result = subprocess.run(
            [sys.executable, "-c", code, "run", "chain.yaml", *extra],
            cwd=here,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 70
        assert "error: internal error: ZeroDivisionError: oops" in result.stderr
        assert "--verbose" in result.stderr
        assert ("Traceback" in result.stderr) is traceback_shown


BAD_INPUTS = {
    "missing file": ["run", "missing.yaml"],
    "a directory": ["run", "."],
    "binary file": ["run", "binary.yaml"],
    "bad yaml": ["run", "broken.yaml"],
    "workers 0": ["run", "chain.yaml", "--workers", "0"],
    "unknown executor": ["run", "chain.yaml", "--executor", "nope"],
    "unknown output": ["run", "chain.yaml", "--output", "fancy"],
    "param without =": ["run", "chain.yaml", "--param", "limit"],
    "param without name": ["run", "chain.yaml", "--param", "=5"],
    "unknown --only task": ["run", "chain.yaml", "--only", "bb"],
    "unknown option": ["run", "chain.yaml", "--frobnicate"],
    "missing spec argument": ["run"],
    "unknown command": ["launch", "chain.yaml"],
    "plan of a missing file": ["plan", "missing.yaml"],
    "graph format": ["graph", "chain.yaml", "--format", "png"],
    "validate nothing": ["validate"],
    "show unknown run": ["show", "nosuchrun"],
    "runs limit 0": ["runs", "--limit", "0"],
}


@pytest.mark.parametrize("args", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_exits_2_in_a_line_or_two_without_traceback(here: Path, args: list[str]) -> None:
    (here / "binary.yaml").write_bytes(b"\x00\x01\x02tasks:\xff")
    write(here, "broken.yaml", "tasks: [a\n")
    result = fw(*args, cwd=here)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert result.stderr.strip(), "an error must say what is wrong"
    assert len(result.stderr.strip().splitlines()) <= 2, result.stderr
    assert "--only" not in args or "did you mean 'b'?" in result.stderr


def test_unreadable_spec_exits_2(here: Path) -> None:
    spec = here / "chain.yaml"
    spec.chmod(0)
    # even root is bound by the file's mode without CAP_DAC_OVERRIDE
    result = fw("run", "chain.yaml", cwd=here, preexec_fn=without_file_override)
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    assert "not readable" in result.stderr


def test_a_state_folder_others_can_write_is_refused(here: Path) -> None:
    state = here / "shared-state"
    state.mkdir()
    state.chmod(0o777)
    result = fw("run", "chain.yaml", "--state-dir", str(state), cwd=here)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ")


def test_spec_problems_are_one_line_each_with_their_location(here: Path) -> None:
    write(
        here,
        "typo.yaml",
        """
        tasks:
          extract: {call: clitasks:ok}
          load: {call: clitasks:ok, depends_on: [extrct], retries: -1}
        """,
    )
    result = fw("run", "typo.yaml", cwd=here)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 2, lines
    assert any(
        line.startswith("typo.yaml:3:") and "did you mean 'extract'" in line for line in lines
    )
    assert all(re.match(r"^typo\.yaml:\d+:\d+: ", line) for line in lines)


# -- options ------------------------------------------------------------------------


def test_param_values_are_yaml_scalars(here: Path) -> None:
    write(
        here,
        "typed.yaml",
        """
        name: typed
        params: {value: text}
        tasks:
          t: {call: clitasks:typed, kwargs: {value: "${params.value}"}}
        """,
    )
    seen = {}
    for given, expected in (("5", "int"), ("1.5", "float"), ("true", "bool"), ("x=y", "str")):
        result = fw("run", "typed.yaml", "-o", "json", "-p", f"value={given}", cwd=here)
        assert result.returncode == 0, result.stderr
        seen[given] = re.findall(r"type=(\w+)", result.stderr)
        assert seen[given] == [expected]


def test_only_runs_the_tasks_and_their_upstream(here: Path) -> None:
    result = fw("run", "chain.yaml", "-o", "json", "--only", "b", cwd=here)
    assert result.returncode == 0, result.stderr
    summary = json_lines(result.stdout)[-1]
    assert set(summary["tasks"]) == {"a", "b"}  # type: ignore[arg-type]


def test_soft_timeout_warning_names_the_tasks_once(here: Path) -> None:
    write(
        here,
        "timeouts.yaml",
        """
        name: timeouts
        tasks:
          slow: {call: clitasks:ok, timeout: 5}
          quick: {call: clitasks:ok, timeout: 5}
          shell: {shell: "true", timeout: 5}
          free: {call: clitasks:ok}
        """,
    )
    result = fw("run", "timeouts.yaml", "-e", "threaded", "--verbose", cwd=here)
    assert result.returncode == 0
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1
    assert "slow, quick" in warnings[0] and "shell" not in warnings[0].split("soft")[0]
    assert "--executor process" in warnings[0]
    # it would repeat in every cron mail: without a terminal, only --verbose shows it
    quiet = fw("run", "timeouts.yaml", "-e", "threaded", cwd=here)
    assert quiet.returncode == 0 and "warning:" not in quiet.stderr


# -- json output --------------------------------------------------------------------


def test_json_output_is_only_json_lines_and_task_output_goes_to_stderr(here: Path) -> None:
    write(
        here,
        "noisy.yaml",
        """
        name: noisy
        tasks:
          py: {call: clitasks:noisy}
          sh: {shell: "echo the result of the shell"}
          child: {call: clitasks:child}
          bad: {call: clitasks:boom}
        """,
    )
    result = fw("run", "noisy.yaml", "--output", "json", cwd=here)
    assert result.returncode == 1
    records = json_lines(result.stdout)
    assert records[0]["type"] == "start"
    assert records[-1]["type"] == "summary"
    events = [r for r in records if r["type"] == "task"]
    assert {(e["task"], e["status"]) for e in events} >= {("py", "completed"), ("bad", "failed")}
    summary = records[-1]
    assert summary["status"] == "failed" and summary["exit_code"] == 1
    assert summary["stats"]["failed"] == 1  # type: ignore[index]
    bad = summary["tasks"]["bad"]  # type: ignore[index]
    assert bad["attempts"] == 1 and bad["error"].startswith("ValueError: bad thing")
    assert "task output on stdout" in result.stderr
    assert "from a child process" in result.stderr


# -- plan, validate, graph, schema --------------------------------------------------


def test_plan_prints_the_layers(here: Path) -> None:
    result = fw("plan", "chain.yaml", cwd=here)
    assert result.returncode == 0
    assert result.stdout == "Layer 1: a, d\nLayer 2: b\nLayer 3: c\n"


def test_plan_keeps_the_file_order_within_a_layer(here: Path) -> None:
    write(
        here,
        "order.yaml",
        """
        tasks:
          zeta: {call: clitasks:ok}
          alpha: {call: clitasks:ok}
          mid: {call: clitasks:ok}
          yak: {call: clitasks:ok, depends_on: [mid]}
          bee: {call: clitasks:ok, depends_on: [zeta]}
          kilo: {call: clitasks:ok, depends_on: [alpha, zeta]}
          end: {call: clitasks:ok, depends_on: [bee, yak]}
        """,
    )
    result = fw("plan", "order.yaml", cwd=here)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Layer 1: zeta, alpha, mid\nLayer 2: yak, bee, kilo\nLayer 3: end\n"


def test_validate_many_files(here: Path) -> None:
    write(here, "bad.yaml", "tasks:\n  x: {call: clitasks:ok, depends_on: [y]}\n")
    write(here, "noimport.yaml", "tasks:\n  x: {call: not_a_module:fn}\n")
    result = fw("validate", "chain.yaml", "bad.yaml", "failing.yaml", cwd=here)
    assert result.returncode == 2
    assert "chain.yaml: ok (4 tasks, 3 layers)" in result.stdout.splitlines()
    assert "failing.yaml: ok (4 tasks, 3 layers)" in result.stdout.splitlines()
    assert re.match(r"^bad\.yaml:2:\d+: .*unknown task 'y'", result.stderr)
    imports = fw("validate", "noimport.yaml", cwd=here)
    assert imports.returncode == 2 and "not_a_module" in imports.stderr
    skipped = fw("validate", "--no-imports", "noimport.yaml", "chain.yaml", cwd=here)
    assert skipped.returncode == 0
    assert skipped.stdout.splitlines()[0] == "noimport.yaml: ok (1 task, 1 layer)"


def test_validate_refuses_two_specs_whose_modules_share_a_name(tmp_path: Path) -> None:
    # one process validates both: b's 'tasks' would be a's module, already imported
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    write(tmp_path / "a", "tasks.py", "def fa():\n    return 'a'\n")
    write(tmp_path / "b", "tasks.py", "def fb():\n    return 'b'\n")
    write(tmp_path / "a", "a.yaml", "tasks:\n  x: {call: tasks.fa}\n")
    write(tmp_path / "b", "b.yaml", "tasks:\n  y: {call: tasks.fb}\n")
    result = fw("validate", "a/a.yaml", "b/b.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stdout.splitlines() == ["a/a.yaml: ok (1 task, 1 layer)"]
    assert result.stderr.splitlines() == [
        "b/b.yaml:2:13: tasks.y.call: module 'tasks' of b/b.yaml is b/tasks.py, but 'tasks' "
        "is already imported from a/tasks.py: give one of them another name"
    ]
    alone = fw("validate", "b/b.yaml", cwd=tmp_path)
    assert alone.returncode == 0, alone.stderr


def test_graph_mermaid_and_dot(here: Path) -> None:
    mermaid = fw("graph", "chain.yaml", cwd=here)
    assert mermaid.returncode == 0
    assert mermaid.stdout.startswith("flowchart TD\n")
    ids = dict(re.findall(r'^    (t\d+)\["(\w+)"\]$', mermaid.stdout, re.M))
    names = {label: node for node, label in ids.items()}
    assert set(names) == {"a", "b", "c", "d"}
    assert f"    {names['a']} --> {names['b']}\n" in mermaid.stdout
    assert f"    {names['b']} --> {names['c']}\n" in mermaid.stdout
    dot = fw("graph", "chain.yaml", "--format", "dot", cwd=here)
    assert dot.returncode == 0
    assert dot.stdout.startswith('digraph "chain" {')
    assert '    "a" -> "b";' in dot.stdout and '    "b" -> "c";' in dot.stdout


def test_schema_is_a_json_schema(here: Path) -> None:
    result = fw("schema", cwd=here)
    assert result.returncode == 0
    schema = json.loads(result.stdout)
    assert "tasks" in schema["properties"]


# -- history ------------------------------------------------------------------------


def test_runs_show_and_cache_clear_read_the_history(here: Path) -> None:
    first = fw("run", "failing.yaml", "-o", "json", cwd=here)
    run_id = json_lines(first.stdout)[0]["run_id"]
    assert isinstance(run_id, str) and run_id
    listing = fw("runs", cwd=here)
    assert listing.returncode == 0
    assert run_id in listing.stdout and "failing" in listing.stdout
    shown = fw("show", "latest", "--output", "json", cwd=here)
    assert shown.returncode == 0
    record = json.loads(shown.stdout)
    assert record["id"] == run_id and record["status"] == "failed"
    assert {t["name"]: t["status"] for t in record["tasks"]}["b"] == "failed"
    text = fw("show", run_id, cwd=here)
    assert text.returncode == 0 and "ValueError: bad thing" in text.stdout
    cleared = fw("cache", "clear", cwd=here)
    assert cleared.returncode == 0 and cleared.stdout.startswith("cache cleared")


def test_runs_of_a_mistyped_workflow_suggest_the_known_one(here: Path) -> None:
    assert fw("runs", "--workflow", "chain", cwd=here).stderr == "no runs recorded yet\n"
    fw("run", "chain.yaml", cwd=here)
    mistyped = fw("runs", "--workflow", "chian", cwd=here)
    assert mistyped.returncode == 0
    assert mistyped.stderr == "no runs of workflow 'chian' (did you mean 'chain'?)\n"
    assert mistyped.stdout == ""
    other = fw("runs", "--workflow", "nightly", cwd=here)
    assert other.stderr == "no runs of workflow 'nightly'\n"


def test_state_dir_and_flowweaver_home_move_the_history(here: Path) -> None:
    result = fw("run", "chain.yaml", "--state-dir", "elsewhere", cwd=here)
    assert result.returncode == 0
    assert (here / "elsewhere" / "runs.db").exists()
    assert not (here / ".flowweaver").exists()
    assert "chain" in fw("runs", "--state-dir", "elsewhere", cwd=here).stdout


def test_cached_and_reused_tasks_are_marked(here: Path) -> None:
    write(
        here,
        "cached.yaml",
        """
        name: cached
        tasks:
          a: {call: clitasks:counted, cache: true}
          b: {call: clitasks:boom, depends_on: [a]}
        """,
    )
    fw("run", "cached.yaml", cwd=here)
    second = fw("run", "cached.yaml", "-o", "plain", cwd=here)
    assert re.search(r" a completed in \S+ \(cached\)$", second.stdout, re.M), second.stdout
    assert "1 cached" in second.stdout
    write(here, "cached.yaml", (here / "cached.yaml").read_text().replace("boom", "ok"))
    resumed = fw("run", "cached.yaml", "--resume", "-o", "plain", cwd=here)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming run" in resumed.stdout
    assert re.search(r" a completed in \S+ \((reused|cached)\)$", resumed.stdout, re.M)


def test_state_folder_is_private(here: Path) -> None:
    fw("run", "chain.yaml", cwd=here)
    mode = stat.S_IMODE((here / ".flowweaver").stat().st_mode)
    assert mode & 0o077 == 0


@pytest.mark.parametrize("mode", ["plain", "json"])
def test_a_reader_that_goes_away_early_does_not_break_the_run(here: Path, mode: str) -> None:
    # `flowweaver run ... | head -1`: the rest of the output is dropped quietly.
    process = start_fw("run", "chain.yaml", "--output", mode, cwd=here)
    assert process.stdout is not None and process.stderr is not None
    process.stdout.readline()
    process.stdout.close()
    with process:  # closes the pipes
        try:
            err = process.stderr.read()
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
    assert process.returncode == 0, err
    assert err == ""
    shown = fw("show", "latest", "--output", "json", cwd=here)
    assert json.loads(shown.stdout)["status"] == "completed"
