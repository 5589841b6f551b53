"""The README's five-minute tour happens as the README shows it: its commands, run in
its order in an empty folder, exit as it says and print the lines it shows (run ids,
times and durations aside; the order of lines of tasks running at once aside)."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

from _docs import README, Block, blocks

STEPS = [  # (command, exit code)
    ("flowweaver validate tour.yaml", 0),
    ("flowweaver plan tour.yaml", 0),
    ("flowweaver run tour.yaml --output plain", 1),
    ("flowweaver runs", 0),
    ("flowweaver show latest", 0),
    ("mkdir reports", 0),
    ("flowweaver run tour.yaml --resume --output plain", 0),
]
TYPO = ("depends_on: [mean, median]", "depends_on: [mean, medain]")


def transcript() -> list[tuple[str, list[str]]]:
    """The README's console blocks as (command, the lines it printed), in order."""
    found: list[tuple[str, list[str]]] = []
    for block in blocks("console"):
        if block.page != README:
            continue
        for line in block.text.splitlines():
            if line.startswith("$ "):
                found.append((line[2:].split("  #")[0].strip(), []))
            elif found:
                found[-1][1].append(line)
    return found


VARYING = (
    (re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d"), "TIME"),
    (re.compile(r"\b[0-9a-f]{8}\b"), "RUN"),
    (re.compile(r"\b\d+\.\d+s\b"), "Ns"),
)


def normal(lines: list[str]) -> list[str]:
    """Lines without what changes from run to run, in a fixed order."""
    return sorted(" ".join(steady(line).split()) for line in lines)


def steady(line: str) -> str:
    for pattern, word in VARYING:
        line = pattern.sub(word, line)
    return line


def tour_spec() -> Block:
    (spec,) = [b for b in blocks("yaml") if b.page == README and b.first_line.startswith("# tour")]
    return spec


def flowweaver(command: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "FLOWWEAVER_HOME"}
    return subprocess.run(
        [sys.executable, "-m", "flowweaver", *shlex.split(command)[1:]],
        cwd=cwd,
        env={**env, "TERM": "dumb", "LC_ALL": "C"},  # touch speaks English
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_tour_prints_what_the_readme_shows(tmp_path: Path) -> None:
    (tmp_path / "tour.yaml").write_text(tour_spec().text, encoding="utf-8")
    shown = transcript()
    for command, code in STEPS:
        matches = [lines for said, lines in shown if said == command]
        assert matches, f"the README no longer shows '$ {command}'"
        if command.startswith("mkdir"):
            (tmp_path / "reports").mkdir()
            continue
        done = flowweaver(command, tmp_path)
        assert done.returncode == code, f"{command}: {done.stderr}"
        assert normal(done.stdout.splitlines()) == normal(matches[0]), command


def test_the_tours_typo_gives_the_line_shown(tmp_path: Path) -> None:
    spec = tour_spec()
    assert TYPO[0] in spec.text
    (tmp_path / "tour.yaml").write_text(spec.text.replace(*TYPO), encoding="utf-8")
    done = flowweaver("flowweaver validate tour.yaml", tmp_path)
    assert done.returncode == 2
    (shown,) = [b for b in blocks("text") if b.page == README and "'medain'" in b.text]
    assert done.stderr.splitlines() == shown.text.splitlines()
