"""Bad input about folders, env files and references: one located line each, exit 2,
and nothing run."""

from __future__ import annotations

import json
from pathlib import Path

from _cli import fw, write


def test_a_missing_required_env_file_is_a_spec_problem(tmp_path: Path) -> None:
    write(tmp_path, ".env.local", "A=1\n")
    path = write(
        tmp_path,
        "spec.yaml",
        """
        env_file: [.env, {path: .env.local, required: false}, {path: .env.extra, required: false}]
        tasks: {a: {shell: "echo $A"}}
        """,
    )
    result = fw("run", "spec.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        f"spec.yaml:1:12: env_file[0]: env file {tmp_path / '.env'} not found "
        "(write {path: .env, required: false} if it may be missing)\n"
    )
    assert not (tmp_path / ".flowweaver").exists()
    write(tmp_path, ".env", "A=from-the-file\n")
    result = fw("run", str(path), "-o", "json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    final = json.loads(result.stdout.splitlines()[-1])
    assert final["tasks"]["a"]["status"] == "completed"


def test_a_malformed_env_line_is_located_in_the_env_file(tmp_path: Path) -> None:
    write(tmp_path, "settings.env", "GOOD=1\n# a comment\nthis is not an assignment\nB=2\n")
    write(
        tmp_path,
        "spec.yaml",
        """
        env_file: settings.env
        tasks: {a: {shell: "echo $GOOD"}}
        """,
    )
    result = fw("validate", "spec.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        f"{tmp_path / 'settings.env'}:3:1: expected NAME=value (the dotenv format), "
        "got 'this is not an assignment'\n"
    )


def test_a_param_referring_to_a_param_is_located(tmp_path: Path) -> None:
    write(
        tmp_path,
        "spec.yaml",
        """
        params:
          day: "2026-11-26"
          out: reports/${params.day}.md
        tasks: {a: {call: builtins:print, args: ["${params.out}"]}}
        """,
    )
    result = fw("validate", "spec.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "spec.yaml:3:16: params.out: ${params.day}: a param can't refer to another param\n"
    )


def test_an_unknown_reference_kind_gets_a_did_you_mean(tmp_path: Path) -> None:
    write(tmp_path, "spec.yaml", 'tasks: {a: {call: builtins:print, args: ["${rnu.date}"]}}\n')
    result = fw("validate", "spec.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        "spec.yaml:1:43: tasks.a.args[0]: unknown reference '${rnu.date}' "
        "(did you mean '${run.date}'?)\n"
    )


def test_validate_shows_reads_outside_the_workdir_and_other_warnings(tmp_path: Path) -> None:
    (tmp_path / "work").mkdir()
    write(tmp_path, "shared.csv", "x\n")
    write(
        tmp_path,
        "spec.yaml",
        """
        workdir: work
        tasks:
          a:
            call: builtins:print
            reads: [../shared.csv, "incoming/*.csv"]
            writes: ../out.txt
        """,
    )
    result = fw("validate", "spec.yaml", cwd=tmp_path)
    assert result.returncode == 0, result.stderr  # warnings don't fail validation
    work = tmp_path / "work"
    assert result.stderr.splitlines() == [
        f"spec.yaml:5:13: tasks.a.reads[0]: warning: reads '../shared.csv' is outside the "
        f"task's folder {work} (allowed)",
        f"spec.yaml:5:28: tasks.a.reads[1]: warning: reads 'incoming/*.csv' matches no file "
        f"in {work} (yet: an upstream task may write it)",
        f"spec.yaml:6:13: tasks.a.writes: warning: writes '../out.txt' is outside the task's "
        f"folder {work}",
    ]
    assert result.stdout == "spec.yaml: ok (1 task, 1 layer)\n"


def test_a_workdir_that_does_not_exist_stops_the_run_before_it_starts(tmp_path: Path) -> None:
    write(
        tmp_path,
        "spec.yaml",
        """
        workdir: nowhere
        tasks: {a: {shell: "touch ran"}}
        """,
    )
    validated = fw("validate", "spec.yaml", cwd=tmp_path)
    assert validated.returncode == 0
    assert "spec.yaml:1:10: workdir: warning: workdir " in validated.stderr
    result = fw("run", "spec.yaml", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr == (
        f"error: workdir {tmp_path / 'nowhere'} does not exist (create it before the run)\n"
    )
    assert not list(tmp_path.rglob("ran"))
    assert fw("runs", cwd=tmp_path).stderr == "no runs recorded yet\n"  # nothing recorded


def test_a_list_param_reads_a_yaml_flow_value(tmp_path: Path) -> None:
    write(
        tmp_path,
        "spec.yaml",
        """
        params: {regions: [eu], note: text}
        tasks:
          a: {call: builtins:len, args: ["${params.regions}"]}
          b: {call: builtins:str, args: ["${params.note}"]}
        """,
    )
    result = fw(
        "run", "spec.yaml", "-o", "json", "-p", "regions=[eu, us, apac]", "-p", "note=[x]",
        cwd=tmp_path,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    final = json.loads(result.stdout.splitlines()[-1])
    assert final["tasks"]["a"]["status"] == "completed"
    record = fw("show", "latest", "-o", "json", cwd=tmp_path)
    assert json.loads(record.stdout)["params"] == {"regions": ["eu", "us", "apac"], "note": "[x]"}
    bad = fw("validate", "spec.yaml", "-p", "regions=eu", cwd=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr == (
        "spec.yaml:1:10: params.regions: --param regions: the param is a list, write it as a "
        "YAML list: --param 'regions=[a, b]' (got 'eu')\n"
    )
