"""Mapped tasks through the command: plain, JSON and live output, ``show``, ``--only
task[key]``, ``--resume`` and ``cache: true`` per item, a shell map over files, and a
map on every executor."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from _cli import TIMEOUT, cli_env, fw, write
from test_live import ANSI, run_in_pty

MAPTASKS = """
import os
import time
from pathlib import Path

def names():
    return ["a", "b", "c", "d"]

def load(name, log="calls.log"):
    with open(log, "a") as out:
        out.write(name + "\\n")
    if os.path.exists(f"fail-{name}"):
        raise ValueError(f"bad {name}")
    return name.upper()

def wait_for(name):
    if name == "f":
        deadline = time.monotonic() + 60
        while not os.path.exists("go") and time.monotonic() < deadline:
            time.sleep(0.01)
    if name in ("c", "d"):
        raise ValueError(f"bad {name}")
    return name

def joined(load):
    return ",".join(str(x) for x in load)
"""

SPEC = """
name: mapped
tasks:
  names: {call: maptasks:names}
  load:
    call: maptasks:load
    map: {over: names, param: name}
  joined: {call: maptasks:joined, depends_on: [load]}
"""


@pytest.fixture
def here(tmp_path: Path) -> Path:
    write(tmp_path, "maptasks.py", MAPTASKS)
    write(tmp_path, "mapped.yaml", SPEC)
    return tmp_path


def calls(folder: Path) -> list[str]:
    log = folder / "calls.log"
    return log.read_text().split() if log.exists() else []


def lines(stdout: str) -> list[str]:
    """The plain lines without their timestamps."""
    return [re.sub(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d ", "", line) for line in stdout.splitlines()]


# -- plain and JSON ----------------------------------------------------------------------


def test_plain_output_has_a_line_per_item_and_the_failed_items_in_the_summary(
    here: Path,
) -> None:
    (here / "fail-c").touch()
    done = fw("run", "mapped.yaml", "-e", "sequential", "--output", "plain", cwd=here)
    assert done.returncode == 1, done.stderr
    out = lines(done.stdout)
    assert "load running 4 items" in out
    assert "load[a] running" in out
    assert any(re.fullmatch(r"load\[a\] completed in \d\.\d\ds", line) for line in out), out
    assert any(
        re.fullmatch(r"load\[c\] failed after 1 attempt in \d\.\d\ds: ValueError: bad c", line)
        for line in out
    )
    assert any(
        re.fullmatch(r"load failed in \d\.\d\ds: 1 of 4 items failed: load\[c\]: .*", line)
        for line in out
    )
    assert "joined skipped: upstream failed" in out
    summary = out[out.index("failed: load: 1 of 4 items failed: load[c]: ValueError: bad c") :]
    assert summary[1] == "  load[c]: ValueError: bad c"
    assert re.fullmatch(
        r"3 tasks: 1 completed, 1 failed, 1 skipped, 0 cancelled in \d+\.\d\ds "
        r"\(4 items: 3 completed, 1 failed\)",
        summary[2],
    )


def test_json_output_has_an_event_per_item_and_the_items_in_the_summary(here: Path) -> None:
    (here / "fail-b").touch()
    done = fw("run", "mapped.yaml", "-e", "threaded", "--output", "json", cwd=here)
    assert done.returncode == 1, done.stderr
    records = [json.loads(line) for line in done.stdout.splitlines()]
    events = [r for r in records if r["type"] == "task"]
    items = [e for e in events if e["parent"] == "load"]
    assert sorted({e["task"] for e in items}) == ["load[a]", "load[b]", "load[c]", "load[d]"]
    finals = {e["task"]: e["status"] for e in items if e["status"] != "running"}
    assert finals == {
        "load[a]": "completed",
        "load[b]": "failed",
        "load[c]": "completed",
        "load[d]": "completed",
    }
    started = next(e for e in events if e["task"] == "load" and e["status"] == "running")
    assert started["items"] == 4 and started["parent"] is None
    summary = records[-1]
    assert summary["stats"]["items"] == {
        "total": 4,
        "completed": 3,
        "failed": 1,
        "cancelled": 0,
        "running": 0,
    }
    assert summary["tasks"]["load"]["failed_items"] == {"load[b]": "ValueError: bad b"}
    assert set(summary["tasks"]) == {"names", "load", "joined"}  # items are no tasks


# -- the live table ----------------------------------------------------------------------

LIVE = """
name: live-map
tasks:
  letters: {call: json:loads, args: ['["a", "b", "c", "d", "e", "f"]']}
  each:
    call: maptasks:wait_for
    map: {over: letters, param: name}
"""


def run_in_pty_until(
    args: list[str], cwd: Path, pattern: str, then: Any, rows: int = 30, cols: int = 120
) -> tuple[int, str]:
    """``flowweaver ARGS`` on a terminal; once the screen shows ``pattern``, ``then()``."""
    import fcntl
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    env = {**cli_env(), "TERM": "xterm-256color", "COLUMNS": str(cols), "LINES": str(rows)}
    process = subprocess.Popen(
        [sys.executable, "-m", "flowweaver", *args],
        cwd=cwd,
        env=env,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        close_fds=True,
    )
    os.close(slave)
    chunks: list[bytes] = []
    seen = False
    deadline = time.monotonic() + TIMEOUT
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:
                    break
                if not data:
                    break
                chunks.append(data)
                if not seen and pattern in ANSI.sub("", b"".join(chunks).decode(errors="replace")):
                    seen = True
                    then()
            elif process.poll() is not None:
                break
        code = process.wait(timeout=TIMEOUT)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    return code, b"".join(chunks).decode("utf-8", errors="replace")


def test_the_live_table_shows_one_row_per_mapped_task_with_its_counts(here: Path) -> None:
    write(here, "live.yaml", LIVE)
    code, screen = run_in_pty_until(
        ["run", "live.yaml", "-e", "sequential"],
        here,
        "running 5/6 · 2 failed",  # the last item waits for the file `go`
        (here / "go").touch,
    )
    text = ANSI.sub("", screen)
    assert code == 1, text
    assert re.search(r"each\s+. running 5/6 · 2 failed\s+.*each\[c\]: ValueError: bad c", text)
    for item in ("a", "b", "e", "f"):  # the items that complete never get a row
        assert f"each[{item}]" not in text
    assert "failed: each: 2 of 6 items failed: each[c]: ValueError: bad c" in text
    assert "  each[d]: ValueError: bad d" in text
    assert "(6 items: 4 completed, 2 failed)" in text
    assert "Traceback" not in text


def test_live_output_of_a_completed_map(here: Path) -> None:
    code, screen = run_in_pty(["run", "mapped.yaml"], here)
    text = ANSI.sub("", screen)
    assert code == 0, text
    assert re.search(r"load\s+completed 4/4", text)
    assert "load[" not in text
    assert "(4 items: 4 completed)" in text


# -- show --------------------------------------------------------------------------------


def test_show_lists_the_items_under_their_task(here: Path) -> None:
    (here / "fail-c").touch()
    assert fw("run", "mapped.yaml", "--output", "plain", cwd=here).returncode == 1
    shown = fw("show", "latest", cwd=here)
    assert shown.returncode == 0, shown.stderr
    rows = [line.split()[:2] for line in shown.stdout.splitlines()[2:-1]]
    assert rows == [
        ["names", "completed"],
        ["load", "failed"],
        ["load[a]", "completed"],
        ["load[b]", "completed"],
        ["load[c]", "failed"],
        ["load[d]", "completed"],
        ["joined", "skipped"],
    ]
    assert "  load[c]  " in shown.stdout  # indented under load
    assert shown.stdout.splitlines()[-1] == "1 completed, 1 failed, 1 skipped; items: " + (
        "3 completed, 1 failed"
    )
    data = json.loads(fw("show", "latest", "--output", "json", cwd=here).stdout)
    entries = {task["name"]: task for task in data["tasks"]}
    assert entries["load[c]"]["parent"] == "load"
    assert entries["load[c]"]["key"] == "c"
    assert entries["load[c]"]["error"] == "ValueError: bad c"
    assert entries["load"]["parent"] is None and entries["load"]["key"] is None


def test_show_of_a_big_map_lists_only_the_items_that_did_not_complete(tmp_path: Path) -> None:
    write(tmp_path, "maptasks.py", MAPTASKS)
    write(
        tmp_path,
        "big.yaml",
        """
        tasks:
          each:
            call: maptasks:load
            map: {over: [ITEMS], param: name}
        """.replace("ITEMS", ", ".join(f"n{i}" for i in range(150))),
    )
    (tmp_path / "fail-n7").touch()
    assert fw("run", "big.yaml", "--output", "plain", cwd=tmp_path).returncode == 1
    shown = fw("show", "latest", cwd=tmp_path).stdout
    assert "each[n7]" in shown
    assert "each[n8]" not in shown
    assert "… 149 completed items of each" in shown


# -- --only task[key] ----------------------------------------------------------------------


def test_only_an_item_runs_that_item_alone(here: Path) -> None:
    done = fw("run", "mapped.yaml", "--only", "load[c]", "--output", "plain", cwd=here)
    assert done.returncode == 0, done.stderr
    assert calls(here) == ["c"]
    assert "load running 1 item" in lines(done.stdout)
    done = fw("run", "mapped.yaml", "--only", "load[c]", "--only", "load", cwd=here)
    assert sorted(calls(here)[1:]) == ["a", "b", "c", "d"]  # the whole task wins


@pytest.mark.parametrize(
    ("only", "message"),
    [
        ("lod[a]", "error: --only 'lod[a]': no such task in 'mapped'\nhint: did you mean 'load'?"),
        (
            "names[a]",
            "error: --only 'names[a]': 'names' is not a mapped task\n"
            "hint: run the whole task with --only names",
        ),
    ],
)
def test_only_an_item_of_what_is_no_mapped_task_is_an_error(
    here: Path, only: str, message: str
) -> None:
    done = fw("run", "mapped.yaml", "--only", only, cwd=here)
    assert done.returncode == 2
    assert done.stderr.strip() == message


def test_only_a_key_no_item_has_fails_the_task_naming_the_keys(here: Path) -> None:
    done = fw("run", "mapped.yaml", "--only", "load[zz]", "--output", "plain", cwd=here)
    assert done.returncode == 1
    assert "failed: load: no item has the key 'zz' (the keys are: a, b, c, d)" in done.stdout
    assert calls(here) == []


# -- resume and cache per item -------------------------------------------------------------


def test_resume_after_an_item_failed_runs_that_item_alone(here: Path) -> None:
    (here / "fail-b").touch()
    first = fw("run", "mapped.yaml", "--output", "plain", cwd=here)
    assert first.returncode == 1
    assert sorted(calls(here)) == ["a", "b", "c", "d"]
    (here / "fail-b").unlink()
    (here / "calls.log").unlink()
    again = fw("run", "mapped.yaml", "--resume", "--output", "plain", cwd=here)
    assert again.returncode == 0, again.stdout + again.stderr
    assert calls(here) == ["b"]
    out = lines(again.stdout)
    for item in ("a", "c", "d"):
        assert any(re.fullmatch(rf"load\[{item}\] completed in .* \(reused\)", x) for x in out)
    assert "resuming run " in again.stdout
    data = json.loads(fw("show", "latest", "--output", "json", cwd=here).stdout)
    statuses = {task["name"]: (task["status"], task["reused"]) for task in data["tasks"]}
    assert statuses["load[b]"] == ("completed", False)
    assert statuses["load[a]"] == ("completed", True)
    assert statuses["joined"] == ("completed", False)


def test_cache_true_caches_each_item(here: Path) -> None:
    write(
        here,
        "cached.yaml",
        """
        params: {names: [a, b, c]}
        tasks:
          load:
            call: maptasks:load
            map: {over: "${params.names}", param: name}
            cache: true
        """,
    )
    assert fw("run", "cached.yaml", cwd=here).returncode == 0
    assert sorted(calls(here)) == ["a", "b", "c"]
    again = fw("run", "cached.yaml", "-p", "names=[a, b, c, d]", "--output", "plain", cwd=here)
    assert again.returncode == 0, again.stderr
    assert sorted(calls(here)) == ["a", "b", "c", "d"]  # only the new item ran
    out = lines(again.stdout)
    assert any(re.fullmatch(r"load\[a\] completed in .* \(cached\)", x) for x in out), out
    assert "3 cached" in again.stdout
    listed = fw("cache", "list", cwd=here).stdout
    assert "load[d]" in listed
    cleared = fw("cache", "clear", "load", cwd=here)
    assert cleared.stdout == "cache cleared: 4 entries of task 'load'\n"


# -- shell commands over files ---------------------------------------------------------------

FILES = """
name: files
tasks:
  list:
    shell: ls *.txt
  copy:
    shell: cp -- ${item} "copied-$(basename ${item} .txt).out" && cat ${item}
    map: {over: list}
  gather:
    shell: printf '%s' ${tasks.copy} > gathered.json
"""


def test_a_shell_command_mapped_over_files_gets_each_name_as_one_argument(
    tmp_path: Path,
) -> None:
    write(tmp_path, "files.yaml", FILES)
    names = ["plain.txt", "with space.txt", "semi; rm -rf ~.txt", "quote's.txt"]
    for name in names:
        (tmp_path / name).write_text(f"<{name}>")
    done = fw("run", "files.yaml", "--output", "json", cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    for name in names:
        stem = name[: -len(".txt")]
        assert (tmp_path / f"copied-{stem}.out").read_text() == f"<{name}>"
    summary = json.loads(done.stdout.splitlines()[-1])
    assert summary["stats"]["items"]["completed"] == 4
    gathered = json.loads((tmp_path / "gathered.json").read_text())
    assert sorted(gathered) == sorted(f"<{name}>" for name in names)


# -- every executor -----------------------------------------------------------------------------

EVERYWHERE = """
name: everywhere
tasks:
  names: {call: maptasks:names}
  load:
    call: maptasks:load
    map: {over: names, param: name, max_parallel: 2}
  shout:
    shell: printf '%s!' ${item} "$FLOWWEAVER_ITEM"
    map: {over: names, key: "k-${item}"}
  joined: {call: maptasks:joined, depends_on: [load]}
  all: {shell: "printf '%s' ${tasks.shout} > all.json", depends_on: [joined]}
"""


@pytest.mark.parametrize("executor", ["sequential", "threaded", "async", "process", "dask"])
def test_every_executor_runs_a_spec_with_maps(tmp_path: Path, executor: str) -> None:
    write(tmp_path, "maptasks.py", MAPTASKS)
    write(tmp_path, "everywhere.yaml", EVERYWHERE)
    done = fw(
        "run", "everywhere.yaml", "-e", executor, "--output", "json", cwd=tmp_path, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    events = [json.loads(line) for line in done.stdout.splitlines()]
    completed = {e["task"] for e in events if e["type"] == "task" and e["status"] == "completed"}
    assert {"load[a]", "load[d]", "shout[k-a]", "shout[k-d]", "joined", "all"} <= completed
    data = json.loads(fw("show", "latest", "--output", "json", cwd=tmp_path).stdout)
    assert len([t for t in data["tasks"] if t["parent"] is not None]) == 8
    assert sorted(calls(tmp_path)) == ["a", "b", "c", "d"]
    shouted = json.loads((tmp_path / "all.json").read_text())
    assert shouted == ['a!"a"!', 'b!"b"!', 'c!"c"!', 'd!"d"!']


# -- plan and graph -----------------------------------------------------------------------


def test_plan_and_graph_show_a_mapped_task_as_one_node(here: Path) -> None:
    write(
        here,
        "shapes.yaml",
        """
        tasks:
          names: {call: maptasks:names}
          load: {call: maptasks:load, map: {over: names, param: name}}
          listed: {shell: "echo ${item}", map: {over: [a, b, c]}}
          matrix: {shell: "echo ${item.os}", map: {over: {os: [l, m], py: [1, 2, 3]}}}
        """,
    )
    plan = fw("plan", "shapes.yaml", cwd=here)
    assert plan.stdout.splitlines() == [
        "Layer 1: names, listed (map over 3 items), matrix (map over a matrix of os, py (6 items))",
        "Layer 2: load (map over names)",
    ]
    mermaid = fw("graph", "shapes.yaml", cwd=here).stdout
    assert '    t1["load (map over names)"]' in mermaid
    assert "    t0 --> t1" in mermaid
    dot = fw("graph", "shapes.yaml", "--format", "dot", cwd=here).stdout
    assert '    "load" [label="load (map over names)"];' in dot
