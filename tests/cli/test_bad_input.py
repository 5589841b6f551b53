"""Bad input at the command line: one clear line on stderr, exit 2, no traceback,
never a hang (every subprocess has a timeout) and never unbounded memory.

``test_cli.py`` covers a missing file, a directory, a binary file, bad YAML and an
unknown option of ``run``; this file covers the rest of the issue's list.

Unreadable files: the suite runs as root here, and root reads a file whatever its
mode (``chmod 0`` is tested in ``test_cli.py`` only for other users). Paths that
*no one* can read stand in for it: a Unix socket (``open`` fails with ENXIO),
``/proc/self/mem`` (reading fails with EIO) and a symlink loop (ELOOP).
"""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from _cli import cli_env, fw, write

CHAIN = """
name: chain
tasks:
  a: {shell: "true"}
  b: {shell: "true", depends_on: [a]}
"""


@pytest.fixture
def here(tmp_path: Path) -> Path:
    write(tmp_path, "chain.yaml", CHAIN)
    return tmp_path


def assert_one_clear_line(result: subprocess.CompletedProcess[str], code: int = 2) -> None:
    assert result.returncode == code, (result.returncode, result.stderr[-2000:])
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2, lines  # the error, and perhaps a hint
    assert len(lines[0]) < 400, lines[0]


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("empty.yaml", ""),
        ("blank.yaml", "\n\n   \n"),
        ("comment.yaml", "# nothing but a comment\n"),
        ("document-marker.yaml", "---\n...\n"),
        ("utf16.yaml", "tasks:\n".encode("utf-16")),
    ],
)
@pytest.mark.parametrize("command", ["run", "validate"])
def test_empty_and_near_empty_files(
    here: Path, name: str, content: str | bytes, command: str
) -> None:
    path = here / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)
    assert_one_clear_line(fw(command, name, cwd=here))


def test_a_unix_socket_is_one_line(here: Path) -> None:
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(here / "socket.yaml"))
        assert_one_clear_line(fw("run", "socket.yaml", cwd=here))


def test_an_unreadable_proc_file_is_one_line(here: Path) -> None:
    assert_one_clear_line(fw("run", "/proc/self/mem", cwd=here))


def test_a_symlink_loop_and_a_dangling_symlink_are_one_line(here: Path) -> None:
    (here / "loop-a.yaml").symlink_to("loop-b.yaml")
    (here / "loop-b.yaml").symlink_to("loop-a.yaml")
    (here / "dangling.yaml").symlink_to("nowhere.yaml")
    assert_one_clear_line(fw("run", "loop-a.yaml", cwd=here))
    assert_one_clear_line(fw("validate", "dangling.yaml", cwd=here))


def limited_memory(limit: int = 1 << 30) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def fw_limited(*args: str, cwd: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``flowweaver ARGS`` with at most 1 GiB of address space."""
    return fw(*args, cwd=cwd, timeout=timeout, preexec_fn=limited_memory)


def test_an_endless_character_device_is_refused_not_read_forever(here: Path) -> None:
    # /dev/zero never ends: reading it whole would hang and eat the memory.
    assert_one_clear_line(fw_limited("run", "/dev/zero", cwd=here, timeout=30))


def test_a_fifo_with_a_writer_is_read_like_a_file(here: Path) -> None:
    # ``flowweaver run <(generate-spec)`` hands the command a pipe.
    fifo = here / "spec.fifo"
    os.mkfifo(fifo)

    def feed() -> None:
        with open(fifo, "w") as pipe:
            pipe.write(textwrap.dedent(CHAIN))

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    result = fw("plan", "spec.fifo", cwd=here)
    writer.join(timeout=5)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Layer 1: a\nLayer 2: b\n"


FIFTY_MB = 50_000_000


def test_a_50_mb_spec_of_text_works_or_is_one_line(here: Path) -> None:
    padding = "# " + "x" * 97 + "\n"
    spec = here / "big.yaml"
    spec.write_text(textwrap.dedent(CHAIN) + padding * (FIFTY_MB // len(padding)))
    result = fw_limited("plan", "big.yaml", cwd=here)
    if result.returncode == 0:
        assert result.stdout == "Layer 1: a\nLayer 2: b\n"
    else:
        assert_one_clear_line(result)


def test_a_50_mb_spec_of_tasks_works_or_is_one_line_within_a_gibibyte(here: Path) -> None:
    lines = ["name: big", "tasks:"]
    size = 0
    while size < FIFTY_MB:
        line = f"  t{len(lines)}: {{shell: 'true'}}"
        lines.append(line)
        size += len(line) + 1
    (here / "big.yaml").write_text("\n".join(lines) + "\n")
    result = fw_limited("plan", "big.yaml", cwd=here, timeout=120)
    if result.returncode != 0:
        assert_one_clear_line(result)


LAUGHS = """
name: laughs
x-0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
x-1: &a1 [*a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0, *a0]
x-2: &a2 [*a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1, *a1]
x-3: &a3 [*a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2, *a2]
x-4: &a4 [*a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3, *a3]
x-5: &a5 [*a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4, *a4]
x-6: &a6 [*a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5, *a5]
x-7: &a7 [*a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6, *a6]
x-8: &a8 [*a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7, *a7]
tasks:
  a: {call: os:getcwd, args: *a8}
"""

PEAK = """
import runpy, sys
sys.argv = ["flowweaver", *sys.argv[1:]]
try:
    runpy.run_module("flowweaver", run_name="__main__")
finally:
    status = open("/proc/self/status").read()
    peak = [line for line in status.splitlines() if line.startswith("VmHWM:")][0]
    sys.stderr.write(f"\\nPEAK {peak.split()[1]}\\n")
"""


@pytest.mark.parametrize("command", ["run", "validate", "plan"])
def test_a_billion_laughs_is_refused_in_one_line_with_little_memory(
    here: Path, command: str
) -> None:
    write(here, "laughs.yaml", LAUGHS)
    result = subprocess.run(
        [sys.executable, "-c", PEAK, command, "laughs.yaml"],
        cwd=here,
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        preexec_fn=limited_memory,
    )
    *message, peak = result.stderr.strip().splitlines()
    assert int(peak.split()[1]) < 200_000, f"peak resident memory {peak}"
    result.stderr = "\n".join(message)
    assert_one_clear_line(result)
    assert "alias" in result.stderr


def test_deep_nesting_is_one_line(here: Path) -> None:
    (here / "deep.yaml").write_text("tasks: " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert_one_clear_line(fw("run", "deep.yaml", cwd=here))
    (here / "deep2.yaml").write_text("tasks:\n" + "".join(" " * i + "k:\n" for i in range(500)))
    assert_one_clear_line(fw("validate", "deep2.yaml", cwd=here))


UNKNOWN_OPTIONS = {
    "top level": ["--frobnicate"],
    "plan": ["plan", "chain.yaml", "--frobnicate"],
    "validate": ["validate", "chain.yaml", "--frobnicate"],
    "graph": ["graph", "chain.yaml", "--frobnicate"],
    "runs": ["runs", "--frobnicate"],
    "show": ["show", "latest", "--frobnicate"],
    "schema": ["schema", "--frobnicate"],
    "cache clear": ["cache", "clear", "--frobnicate"],
    "cache without a subcommand verb": ["cache", "wipe"],
    "run short option": ["run", "chain.yaml", "-Z"],
    "run option missing its value": ["run", "chain.yaml", "--executor"],
    "run workers not a number": ["run", "chain.yaml", "--workers", "many"],
    "run output missing its value": ["run", "chain.yaml", "-o"],
    "run two specs": ["run", "chain.yaml", "chain.yaml"],
    "show without a run": ["show"],
}


@pytest.mark.parametrize("args", UNKNOWN_OPTIONS.values(), ids=UNKNOWN_OPTIONS.keys())
def test_unknown_options_and_arguments_are_one_line(here: Path, args: list[str]) -> None:
    assert_one_clear_line(fw(*args, cwd=here))
    assert not (here / ".flowweaver").exists() or args[0] in {"runs", "show", "cache"}
