"""``flowweaver cron install/remove/status`` against the real ``crontab`` command.

Never the crontab of whoever runs the tests: the tests need root, make a throw-away
user, and put a ``crontab`` first on the command's PATH that runs the real one with
``-u`` that user. The runner's own crontab is compared before and after the module.
An installed line is run as cron runs it: its command, with cron's ``%`` rule
applied, by ``sh -c`` from ``/`` with nothing in the environment but a PATH.
"""

from __future__ import annotations

import datetime
import json
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.main
from _cli import TIMEOUT, cli_env, write

from flowweaver.cli.commands import app
from flowweaver.history import RunStore

CRONTAB = shutil.which("crontab")
USER = "flowweaver-crontest"
RUN = typer.main.get_command(app).commands["run"]  # type: ignore[attr-defined]
QUIET = any("--quiet" in param.opts for param in RUN.params)
"""``flowweaver run --quiet`` is another change: until it is there, the lines are run
without it (and what they print is not checked)."""

SHELL_SPEC = """
name: {name}
schedule: "{schedule}"
tasks:
  where: {{shell: "pwd > where.txt"}}
"""


def crontab_of(*user: str) -> subprocess.CompletedProcess[str]:
    """The real ``crontab -l`` (of ``user`` with ``-u``, else of whoever runs this)."""
    assert CRONTAB is not None
    args = [CRONTAB, *(("-u", user[0]) if user else ()), "-l"]
    return subprocess.run(args, capture_output=True, text=True, timeout=TIMEOUT, check=False)


def set_crontab(text: str) -> None:
    assert CRONTAB is not None
    subprocess.run([CRONTAB, "-u", USER, "-"], input=text, text=True, timeout=TIMEOUT, check=True)


def clear_crontab() -> None:
    assert CRONTAB is not None
    subprocess.run([CRONTAB, "-u", USER, "-r"], capture_output=True, timeout=TIMEOUT, check=False)


@pytest.fixture(scope="module")
def throwaway_user() -> Iterator[str]:
    if os.geteuid() != 0:
        pytest.skip("needs root, to use a throw-away user's crontab rather than yours")
    if CRONTAB is None:
        pytest.skip("no crontab command: 'make test' installs cron")
    own = crontab_of()
    known = subprocess.run(["id", "-u", USER], capture_output=True, timeout=TIMEOUT, check=False)
    if known.returncode != 0:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", USER],
            check=True,
            timeout=TIMEOUT,
        )
    clear_crontab()
    yield USER
    clear_crontab()
    if known.returncode != 0:
        subprocess.run(["userdel", USER], check=False, timeout=TIMEOUT)
    after = crontab_of()
    assert (after.returncode, after.stdout) == (own.returncode, own.stdout)


@pytest.fixture
def env(throwaway_user: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The command's environment: its ``crontab`` is the throw-away user's, empty."""
    assert CRONTAB is not None
    folder = tmp_path_factory.mktemp("bin")
    wrapper = folder / "crontab"
    wrapper.write_text(f'#!/bin/sh\nexec {CRONTAB} -u {throwaway_user} "$@"\n')
    wrapper.chmod(0o755)
    clear_crontab()
    variables = cli_env()
    variables["PATH"] = f"{folder}{os.pathsep}{variables['PATH']}"
    return variables


def fwc(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "flowweaver", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def scheduled(folder: Path, name: str, schedule: str = "0 2 * * *") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return write(folder, f"{name}.yaml", SHELL_SPEC.format(name=name, schedule=schedule))


def installed_text() -> str:
    listed = crontab_of(USER)
    assert listed.returncode == 0, listed.stderr
    return listed.stdout


def block_of(text: str) -> list[str]:
    lines = text.splitlines()
    return lines[lines.index("# BEGIN flowweaver") : lines.index("# END flowweaver") + 1]


def line_of(text: str, workflow: str) -> str:
    lines = text.splitlines()
    return lines[lines.index(f"# workflow: {workflow}") + 1]


def cron_command(line: str) -> str:
    """What cron gives ``sh -c`` for a crontab line: the command after the schedule,
    with ``\\%`` made ``%`` (a bare ``%`` would end the command: never written)."""
    command = line.split(None, 1 if line.startswith("@") else 5)[-1]
    assert re.search(r"(?<!\\)%", command) is None, command
    return command.replace("\\%", "%")


def run_as_cron(line: str) -> subprocess.CompletedProcess[str]:
    command = cron_command(line)
    assert command.endswith(" --quiet")
    if not QUIET:
        command = command.removesuffix(" --quiet")
    return subprocess.run(
        ["/bin/sh", "-c", command],
        cwd="/",
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


# -- install, --print, remove -----------------------------------------------------------


def test_print_shows_the_block_with_absolute_paths_and_installs_nothing(
    tmp_path: Path, env: dict[str, str]
) -> None:
    spec = scheduled(tmp_path / "jobs", "nightly")
    result = fwc("cron", "install", "jobs/nightly.yaml", "--print", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "# BEGIN flowweaver" and lines[-1] == "# END flowweaver"
    assert lines[1].startswith("# Written by 'flowweaver cron install'")
    assert re.fullmatch(r"# installed: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[+-]\d\d:\d\d", lines[2])
    assert lines[3] == "# workflow: nightly"
    python = os.path.abspath(sys.executable)
    assert lines[4] == (
        f"0 2 * * * cd {spec.parent} && {python} -m flowweaver run {spec} "
        f"--state-dir {tmp_path / '.flowweaver'} --quiet"
    )
    assert len(lines) == 6
    assert "no crontab for" in crontab_of(USER).stderr
    assert not (tmp_path / ".flowweaver").exists()


def test_install_replaces_only_its_block_and_remove_restores_the_crontab(
    tmp_path: Path, env: dict[str, str]
) -> None:
    own = "# mine\nMAILTO=ops@example.com\n\n0 5 * * * date +\\%F >> /tmp/x  # keep\n"
    set_crontab(own)
    scheduled(tmp_path, "alpha", "*/15 * * * *")
    scheduled(tmp_path, "beta", "@daily")

    first = fwc("cron", "install", "alpha.yaml", "beta.yaml", cwd=tmp_path, env=env)
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[0] == "installed 2 scheduled workflows into the crontab:"
    assert re.search(r"^  alpha  \*/15 \* \* \* \*  next due \d{4}-", first.stdout, re.M)
    text = installed_text()
    assert text.startswith(own)
    assert [line for line in block_of(text) if line.startswith("# workflow:")] == [
        "# workflow: alpha",
        "# workflow: beta",
    ]
    assert line_of(text, "beta").startswith("@daily cd ")

    second = fwc("cron", "install", "beta.yaml", cwd=tmp_path, env=env)
    assert second.returncode == 0, second.stderr
    assert "no longer scheduled: alpha" in second.stdout.splitlines()
    text = installed_text()
    assert text.startswith(own)
    assert text.count("# BEGIN flowweaver") == 1
    assert "# workflow: alpha" not in text and "# workflow: beta" in text

    removed = fwc("cron", "remove", cwd=tmp_path, env=env)
    assert removed.returncode == 0, removed.stderr
    assert removed.stdout == "removed the flowweaver block from the crontab (beta)\n"
    assert installed_text() == own
    again = fwc("cron", "remove", cwd=tmp_path, env=env)
    assert again.returncode == 0
    assert again.stdout == "no flowweaver block in the crontab: nothing to remove\n"
    assert installed_text() == own


def test_remove_leaves_no_crontab_where_there_was_none(tmp_path: Path, env: dict[str, str]) -> None:
    scheduled(tmp_path, "alpha")
    assert fwc("cron", "install", "alpha.yaml", cwd=tmp_path, env=env).returncode == 0
    assert fwc("cron", "remove", cwd=tmp_path, env=env).returncode == 0
    assert "no crontab for" in crontab_of(USER).stderr


def test_every_schedule_the_spec_accepts_the_crontab_accepts(
    tmp_path: Path, env: dict[str, str]
) -> None:
    schedules = [
        "0 2 * * *",
        "*/15 9-17 * * mon-fri",
        "30 4 1,15 jan-jun 0,7",
        "0-59/20 * * * *",
        "1-1/5 0 * * sun",
        "@hourly",
        "@daily",
        "@weekly",
        "@monthly",
    ]
    names = [f"s{number}" for number in range(len(schedules))]
    for name, schedule in zip(names, schedules, strict=True):
        scheduled(tmp_path, name, schedule)
    result = fwc("cron", "install", *(f"{n}.yaml" for n in names), cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    text = installed_text()
    for name, schedule in zip(names, schedules, strict=True):
        assert line_of(text, name).startswith(f"{schedule} cd ")


def test_the_installed_line_runs_the_workflow_in_cron_s_bare_environment(
    tmp_path: Path, env: dict[str, str]
) -> None:
    folder = tmp_path / "odd 100% \"dir\" $HOME 'x' \\%"
    spec = scheduled(folder, "nightly")
    state = tmp_path / "state 50%"
    result = fwc(
        "cron", "install", str(spec.relative_to(tmp_path)), "--state-dir", "state 50%",
        cwd=tmp_path, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr

    ran = run_as_cron(line_of(installed_text(), "nightly"))
    assert ran.returncode == 0, ran.stderr
    if QUIET:
        assert (ran.stdout, ran.stderr) == ("", "")
    assert (folder / "where.txt").read_text().strip() == str(folder)
    runs = RunStore(state).runs(workflow="nightly")
    assert [run.status.value for run in runs] == ["completed"]
    assert runs[0].spec_path == str(spec)


# -- bad input ---------------------------------------------------------------------------


def test_a_spec_without_a_schedule_is_refused_and_nothing_is_installed(
    tmp_path: Path, env: dict[str, str]
) -> None:
    set_crontab("# mine\n")
    scheduled(tmp_path, "alpha")
    write(tmp_path, "plain.yaml", "tasks:\n  a: {shell: 'true'}\n")
    result = fwc("cron", "install", "alpha.yaml", "plain.yaml", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "error: no schedule in plain.yaml: nothing was installed",
        "hint: add one to the spec, e.g. schedule: '0 2 * * *' (see docs/scheduling.md)",
    ]
    assert installed_text() == "# mine\n"


def test_a_bad_spec_is_refused_with_its_problem_lines(tmp_path: Path, env: dict[str, str]) -> None:
    write(tmp_path, "bad.yaml", "schedule: '0 24 * * *'\ntasks:\n  a: {shell: 'true'}\n")
    result = fwc("cron", "install", "bad.yaml", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert result.stderr == "bad.yaml:1:11: schedule: '0 24 * * *': bad hour '24': hour is 0-23\n"
    assert "no crontab for" in crontab_of(USER).stderr


def test_two_specs_of_one_workflow_are_refused(tmp_path: Path, env: dict[str, str]) -> None:
    scheduled(tmp_path / "a", "same")
    scheduled(tmp_path / "b", "same")
    result = fwc("cron", "install", "a/same.yaml", "b/same.yaml", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"error: {tmp_path}/a/same.yaml and {tmp_path}/b/same.yaml are both workflow 'same': "
        "their runs would share one history and one lock",
        "hint: give one of them a name: of its own",
    ]


def test_no_crontab_command_says_what_to_install(tmp_path: Path, env: dict[str, str]) -> None:
    scheduled(tmp_path, "alpha")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    bare = {**env, "PATH": str(empty)}
    for args in (["install", "alpha.yaml"], ["remove"], ["status"]):
        result = fwc("cron", *args, cwd=tmp_path, env=bare)
        assert result.returncode == 2, args
        assert result.stderr.splitlines() == [
            "error: no 'crontab' command on this machine",
            "hint: install cron (Debian, Ubuntu: apt-get install cron), or use a systemd "
            "timer: see docs/scheduling.md",
        ]


def test_a_crontab_the_command_refuses_is_one_line_and_nothing_changes(
    tmp_path: Path, env: dict[str, str]
) -> None:
    set_crontab("# mine\n")
    deep = tmp_path / ("d" * 200) / ("e" * 200) / ("f" * 200)  # cron: "command too long"
    scheduled(deep, "alpha")
    result = fwc("cron", "install", str(deep / "alpha.yaml"), cwd=tmp_path, env=env)
    assert result.returncode == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 2
    assert re.fullmatch(r"error: crontab - failed: .*command too long.*", lines[0]), lines
    assert lines[1] == "hint: the crontab is unchanged"
    assert installed_text() == "# mine\n"


def test_a_block_without_its_end_is_left_alone(tmp_path: Path, env: dict[str, str]) -> None:
    set_crontab("# BEGIN flowweaver\n0 1 * * * true\n")
    scheduled(tmp_path, "alpha")
    for args in (["install", "alpha.yaml"], ["remove"], ["status"]):
        result = fwc("cron", *args, cwd=tmp_path, env=env)
        assert result.returncode == 2, args
        assert result.stderr.splitlines()[0] == (
            "error: the crontab's '# BEGIN flowweaver' and '# END flowweaver' lines don't "
            "make one block"
        )
    assert installed_text() == "# BEGIN flowweaver\n0 1 * * * true\n"


# -- status ------------------------------------------------------------------------------


def status(tmp_path: Path, env: dict[str, str], *args: str) -> tuple[int, dict[str, object]]:
    result = fwc("cron", "status", "--output", "json", *args, cwd=tmp_path, env=env)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


def installed_long_ago(hours: float) -> None:
    """Make the block say it was installed ``hours`` ago, as if it had been."""
    earlier = datetime.datetime.now().astimezone() - datetime.timedelta(hours=hours)
    stamp = earlier.isoformat(timespec="seconds")
    text = re.sub(r"^# installed: .*$", f"# installed: {stamp}", installed_text(), flags=re.M)
    set_crontab(text)


def test_status_without_a_block_is_an_error(tmp_path: Path, env: dict[str, str]) -> None:
    result = fwc("cron", "status", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: no flowweaver block in the crontab",
        "hint: flowweaver cron install SPEC… adds one",
    ]


def test_status_sees_a_missed_run_until_the_line_runs(tmp_path: Path, env: dict[str, str]) -> None:
    scheduled(tmp_path, "minutely", "* * * * *")
    assert fwc("cron", "install", "minutely.yaml", cwd=tmp_path, env=env).returncode == 0

    code, fresh = status(tmp_path, env)  # just installed: nothing was due yet
    assert code == 0
    (row,) = fresh["workflows"]  # type: ignore[misc]
    assert row["missed"] is False and row["last_run"] is None and row["ok"] is True
    assert row["state_dir"] == str(tmp_path / ".flowweaver")
    assert row["schedule"] == "* * * * *"

    installed_long_ago(2)
    code, late = status(tmp_path, env)
    assert code == 1
    (row,) = late["workflows"]  # type: ignore[misc]
    assert row["missed"] is True and row["ok"] is False
    due = datetime.datetime.fromisoformat(row["missed_due"]).timestamp()
    assert time.time() - 180 < due < time.time() - 60
    text = fwc("cron", "status", cwd=tmp_path, env=env)
    assert text.returncode == 1
    assert re.search(r"^minutely +\* \* \* \* \* +never +\S+ \S+ +missed \(due ", text.stdout, re.M)

    ran = run_as_cron(line_of(installed_text(), "minutely"))
    assert ran.returncode == 0, ran.stderr
    code, after = status(tmp_path, env)
    assert code == 0
    (row,) = after["workflows"]  # type: ignore[misc]
    assert row["missed"] is False and row["ok"] is True
    assert row["last_run"]["status"] == "completed"


def test_status_exits_1_when_the_last_run_failed(tmp_path: Path, env: dict[str, str]) -> None:
    write(tmp_path, "broken.yaml", "schedule: '@daily'\ntasks:\n  a: {shell: 'exit 3'}\n")
    assert fwc("cron", "install", "broken.yaml", cwd=tmp_path, env=env).returncode == 0
    ran = run_as_cron(line_of(installed_text(), "broken"))
    assert ran.returncode == 1
    code, failed = status(tmp_path, env)
    assert code == 1
    (row,) = failed["workflows"]  # type: ignore[misc]
    assert row["failed"] is True and row["missed"] is False
    assert row["state"] == "last run failed"


def test_status_reads_the_runs_from_the_state_folder_it_is_given(
    tmp_path: Path, env: dict[str, str]
) -> None:
    scheduled(tmp_path, "nightly")
    assert fwc("cron", "install", "nightly.yaml", cwd=tmp_path, env=env).returncode == 0
    other = tmp_path / "other"
    assert (
        fwc("run", "nightly.yaml", "--state-dir", str(other), cwd=tmp_path, env=env).returncode == 0
    )
    _, default = status(tmp_path, env)
    _, given = status(tmp_path, env, "--state-dir", str(other))
    assert default["workflows"][0]["last_run"] is None  # type: ignore[index]
    assert given["workflows"][0]["last_run"]["status"] == "completed"  # type: ignore[index]
    assert given["workflows"][0]["state_dir"] == str(other)  # type: ignore[index]


# -- plan --------------------------------------------------------------------------------


def test_plan_prints_the_next_three_due_times(tmp_path: Path) -> None:
    scheduled(tmp_path, "nightly", "@daily")
    env = cli_env()
    before = datetime.date.today()
    result = fwc("plan", "nightly.yaml", cwd=tmp_path, env=env)
    after = datetime.date.today()
    assert result.returncode == 0, result.stderr

    def midnights(today: datetime.date) -> str:
        days = [today + datetime.timedelta(days=n) for n in (1, 2, 3)]
        return ", ".join(f"{day:%Y-%m-%d} 00:00" for day in days)

    lines = result.stdout.splitlines()
    assert lines[0] == "Layer 1: where"
    assert lines[1] in {f"Schedule: @daily; next due: {midnights(d)}" for d in (before, after)}
