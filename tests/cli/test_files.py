"""Files through the command: a cache that follows what tasks read, resume after an
input changed, declared outputs, the nightly example run as cron runs it, and the cache
commands."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from _cli import TIMEOUT, cli_env, fw, write

ROOT = Path(__file__).resolve().parents[2]
NIGHTLY = ROOT / "specs" / "nightly.yaml"
FW = (sys.executable, "-m", "flowweaver")
INCOMING = ROOT / "specs" / "fw_examples" / "nightly" / "incoming"


def nightly_home(tmp_path: Path) -> Path:
    """A copy of the nightly example's folder, with its one CSV."""
    home = tmp_path / "home"
    shutil.copytree(INCOMING, home / "incoming")
    return home


def run_nightly(cwd: Path, home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**cli_env(), "NIGHTLY_HOME": str(home)}
    return subprocess.run(
        [*FW, "run", str(NIGHTLY), "-o", "json", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def events(result: subprocess.CompletedProcess[str]) -> list[dict[str, object]]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def ended(result: subprocess.CompletedProcess[str], task: str) -> dict[str, object]:
    found = [e for e in events(result) if e.get("task") == task and e.get("status") == "completed"]
    assert found, result.stdout + result.stderr
    return found[-1]


def total(home: Path) -> str:
    (report,) = (home / "reports").glob("orders-*.md")
    line = next(line for line in report.read_text().splitlines() if "TOTAL" in line)
    return line.split("|")[2].strip()


def age(path: Path, seconds: float) -> int:
    """Set ``path``'s modification time ``seconds`` in the past; returns it (ns)."""
    stamp = int((path.stat().st_mtime - seconds) * 1e9)
    os.utime(path, ns=(stamp, stamp))
    return stamp


def remembered(state: Path, path: Path) -> int | None:
    """The modification time the history remembers ``path``'s hash for."""
    with sqlite3.connect(state / "runs.db") as conn:
        row = conn.execute("SELECT mtime_ns FROM files WHERE path=?", (str(path),)).fetchone()
    return None if row is None else int(row[0])


def test_the_cache_follows_the_content_of_the_files_a_task_reads(tmp_path: Path) -> None:
    home = nightly_home(tmp_path)
    orders = home / "incoming" / "orders.csv"
    first = age(orders, 3600)
    result = run_nightly(tmp_path, home)
    assert result.returncode == 0, result.stderr
    assert ended(result, "load")["cached"] is False
    assert total(home) == "206.13"
    assert remembered(tmp_path / ".flowweaver", orders) == first

    result = run_nightly(tmp_path, home)
    assert ended(result, "load")["cached"] is True  # nothing changed

    with orders.open("a", encoding="utf-8") as file:
        file.write("apac,999.00\n")
    age(orders, 3000)
    result = run_nightly(tmp_path, home)
    assert ended(result, "load")["cached"] is False  # the stale-cache story: no longer
    assert total(home) == "1205.13"

    touched = age(orders, 2000)  # a new modification time, the same content
    result = run_nightly(tmp_path, home)
    assert ended(result, "load")["cached"] is True
    assert remembered(tmp_path / ".flowweaver", orders) == touched  # hashed again


def test_declared_outputs_are_shown_and_a_missing_one_fails_its_task(tmp_path: Path) -> None:
    home = nightly_home(tmp_path)
    assert run_nightly(tmp_path, home).returncode == 0
    shown = fw("show", "latest", cwd=tmp_path)
    assert shown.returncode == 0
    assert "report wrote reports/orders-" in shown.stdout
    record = json.loads(fw("show", "latest", "-o", "json", cwd=tmp_path).stdout)
    outputs = {task["name"]: task["outputs"] for task in record["tasks"]}
    (archived,) = outputs["archive"]
    assert archived["path"].startswith("reports/orders-") and archived["size"] == 33
    assert len(archived["sha256"]) == 64

    write(
        tmp_path,
        "forgets.yaml",
        """
        tasks:
          forget:
            shell: "true"
            writes: [out/a.txt, "out/*.csv"]
        """,
    )
    result = fw("run", "forgets.yaml", "-o", "plain", cwd=tmp_path)
    assert result.returncode == 1
    assert "declared outputs missing: out/a.txt, out/*.csv" in result.stdout + result.stderr


def test_resume_runs_again_a_task_whose_input_changed_and_what_depends_on_it(
    tmp_path: Path,
) -> None:
    write(
        tmp_path,
        "steps.py",
        """
        import os

        def parse(path):
            with open(path) as file:
                return file.read().split()

        def count(parse):
            return len(parse)

        def other():
            return "independent"

        def flaky():
            if os.path.exists("fail.flag"):
                raise RuntimeError("flag is up")
            return "ok"
        """,
    )
    write(
        tmp_path,
        "resume.yaml",
        """
        executor: sequential
        tasks:
          parse: {call: steps:parse, args: [words.txt], reads: [words.txt]}
          count: {call: steps:count, depends_on: [parse]}
          other: {call: steps:other}
          flaky: {call: steps:flaky}
        """,
    )
    words = write(tmp_path, "words.txt", "a b c\n")
    flag = write(tmp_path, "fail.flag", "")

    def reused(*args: str) -> dict[str, bool]:
        result = fw("run", "resume.yaml", "-o", "plain", *args, cwd=tmp_path)
        assert result.returncode in (0, 1), result.stderr
        record = json.loads(fw("show", "latest", "-o", "json", cwd=tmp_path).stdout)
        return {task["name"]: task["reused"] for task in record["tasks"]}

    assert reused() == dict.fromkeys(("parse", "count", "other", "flaky"), False)
    assert reused("--resume") == {"parse": True, "count": True, "other": True, "flaky": False}
    words.write_text("a b c d\n", encoding="utf-8")
    flag.unlink()
    assert reused("--resume") == {"parse": False, "count": False, "other": True, "flaky": False}
    record = json.loads(fw("show", "latest", "-o", "json", cwd=tmp_path).stdout)
    assert record["status"] == "completed"


def test_a_cron_like_run_from_the_root_reads_and_writes_where_the_spec_says(
    tmp_path: Path,
) -> None:
    project = tmp_path / "project"
    data = project / "data"
    data.mkdir(parents=True)
    write(data, "in.csv", "3\n4\n")
    write(
        project,
        "jobs.py",
        """
        import os

        def total(path):
            with open(path) as file:
                value = sum(int(line) for line in file if line.strip())
            os.makedirs("out", exist_ok=True)
            with open("out/total.txt", "w") as file:
                file.write(f"{value} in {os.getcwd()}\\n")
            return value
        """,
    )
    write(
        project,
        "cron.yaml",
        """
        workdir: data
        tasks:
          total: {call: jobs:total, args: [in.csv], reads: [in.csv], writes: [out/total.txt]}
          copy:
            shell: cp in.csv out/copy.csv && pwd
            depends_on: [total]
            writes: [out/copy.csv]
        """,
    )
    state = tmp_path / "state"
    bare = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "SHELL": "/bin/sh", "LANG": "C"}
    for executor in ("threaded", "process"):
        result = subprocess.run(
            [*FW, "run", str(project / "cron.yaml"), "--state-dir", str(state), "-e", executor],
            cwd="/",
            env=bare,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        assert (data / "out" / "total.txt").read_text() == f"7 in {data}\n"
        assert (data / "out" / "copy.csv").read_text() == "3\n4\n"
        assert not Path("/out").exists() and not Path("/.flowweaver").exists()
        (data / "out" / "total.txt").unlink()


def test_cache_list_and_clear_one_task(tmp_path: Path) -> None:
    write(
        tmp_path,
        "cached.yaml",
        """
        name: cached
        tasks:
          first: {call: builtins:sum, args: [[1, 2]], cache: true}
          second: {call: builtins:max, args: [[1, 2]], cache: true}
        """,
    )
    assert fw("run", "cached.yaml", "-o", "plain", cwd=tmp_path).returncode == 0
    listed = fw("cache", "list", cwd=tmp_path)
    assert listed.returncode == 0
    lines = listed.stdout.splitlines()
    assert lines[0].split() == ["workflow", "task", "key", "age", "size"]
    assert sorted(line.split()[1] for line in lines[1:]) == ["first", "second"]
    assert all(line.split()[0] == "cached" for line in lines[1:])
    entries = json.loads(fw("cache", "list", "-o", "json", cwd=tmp_path).stdout)
    assert {entry["task"] for entry in entries} == {"first", "second"}
    assert all(entry["size"] > 0 and len(entry["key"]) == 64 for entry in entries)

    cleared = fw("cache", "clear", "second", cwd=tmp_path)
    assert cleared.stdout == "cache cleared: 1 entry of task 'second'\n"
    entries = json.loads(fw("cache", "list", "-o", "json", cwd=tmp_path).stdout)
    assert [entry["task"] for entry in entries] == ["first"]

    mistyped = fw("cache", "clear", "frist", cwd=tmp_path)
    assert mistyped.returncode == 0
    assert "did you mean 'first'?" in mistyped.stderr
    everything = fw("cache", "clear", "--workflow", "cached", "--files", cwd=tmp_path)
    assert everything.stdout.startswith("cache cleared: 1 entry of workflow 'cached'; ")
    assert fw("cache", "list", cwd=tmp_path).stderr == "the cache is empty\n"
