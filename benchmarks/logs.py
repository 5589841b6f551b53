"""Case: capturing what tasks print.

- **Silent tasks**: a chain of N no-op tasks whose run captures (an output listener,
  as the command line always has) against the same run capturing nothing: what
  capture adds to a task that prints nothing.
- **Throughput**: one task on the threaded executor printing 100 MB in lines of 100
  bytes into its log file (with an output listener, as the command has, so the lines
  are not also echoed), against the same ``print`` loop writing to a file.
- **Live vs plain**: ``flowweaver run`` of a task printing 3,000 lines, on a
  pseudo-terminal, in ``live`` and in ``plain`` output; the task's duration as the
  history records it.
"""

from __future__ import annotations

import json
import os
import select
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.chain import chain, functions
from benchmarks.harness import Case, executing, interleaved, median
from flowweaver import RunStore, SequentialExecutor, Task, ThreadedExecutor, Workflow

SILENT_TASKS = 10_000
SILENT_TARGET_US = 2.0
LINE = "x" * 99  # with its newline, 100 bytes
MEGABYTES = 100
THROUGHPUT_TARGET = 50.0  # MB/s
LIVE_LINES = 3_000
LIVE_TARGET = 1.2  # live ÷ plain


def silent(quick: bool) -> Case:
    fns = functions(SILENT_TASKS)
    plain = chain(fns)
    captured = chain(fns)
    captured.subscribe_output(lambda item: None)
    refs, engines = interleaved(
        executing(SequentialExecutor(), plain),
        executing(SequentialExecutor(), captured),
        3 if quick else 7,
    )
    case = Case(
        "logs",
        f"silent chain, N={SILENT_TASKS:,}, captured",
        median(engines),
        median(refs),
        "the same run, not captured",
        f"≤ {SILENT_TARGET_US:g} µs/task",
        None,
        tasks=SILENT_TASKS,
        engine_runs=tuple(engines),
        reference_runs=tuple(refs),
    )
    extra = case.extra_us_per_task
    case.passed = extra is not None and extra <= SILENT_TARGET_US
    return case


def _printer(lines: int) -> None:
    for _ in range(lines):
        print(LINE)


def throughput(quick: bool) -> Case:
    megabytes = 20 if quick else MEGABYTES
    lines = megabytes * 1_000_000 // 100
    folder = Path(tempfile.mkdtemp(prefix="fw-bench-logs-"))
    workflow = Workflow("printer")
    workflow.add_task(Task("printer", lambda: _printer(lines)))
    workflow.subscribe_output(lambda item: None)  # as the command always has: no echo
    store = RunStore(folder / "state")
    executor = ThreadedExecutor(1)

    def engine() -> float:
        start = time.perf_counter()
        executor.execute(workflow, store=store)
        seconds = time.perf_counter() - start
        size = (store.log_dir("latest") / "printer.log").stat().st_size
        assert size >= megabytes * 1_000_000, size
        return seconds

    def reference() -> float:
        path = folder / "reference.log"
        start = time.perf_counter()
        with open(path, "w", encoding="utf-8") as file:
            for _ in range(lines):
                print(LINE, file=file)
        seconds = time.perf_counter() - start
        path.unlink()
        return seconds

    refs, engines = interleaved(reference, engine, 3)
    store.close()
    seconds = median(engines)
    rate = megabytes / seconds
    return Case(
        "logs",
        f"one task printing {megabytes} MB in 100-byte lines, threaded",
        seconds,
        median(refs),
        "print to a file",
        f"≥ {THROUGHPUT_TARGET:g} MB/s",
        rate >= THROUGHPUT_TARGET,
        engine_runs=tuple(engines),
        reference_runs=tuple(refs),
        note=f"{rate:.0f} MB/s into the log file ({megabytes / median(refs):.0f} MB/s uncaptured)",
    )


NOISY = f"""
def noisy():
    for n in range({LIVE_LINES}):
        print(f"line {{n:05d}} " + "x" * 80)
"""


def _in_pty(args: list[str], cwd: Path) -> int:
    """Run ``flowweaver ARGS`` with a terminal (120x40) as its streams; its exit code."""
    import fcntl
    import struct
    import termios

    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}
    env.pop("FLOWWEAVER_HOME", None)
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
    try:
        while True:  # read what it prints, as a terminal does
            ready, _, _ = select.select([master], [], [], 1.0)
            if ready:
                try:
                    if not os.read(master, 65536):
                        break
                except OSError:
                    break
            elif process.poll() is not None:
                break
        return process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)


def live_vs_plain(quick: bool) -> Case:
    folder = Path(tempfile.mkdtemp(prefix="fw-bench-live-"))
    (folder / "noisy.py").write_text(NOISY, encoding="utf-8")
    (folder / "noisy.yaml").write_text(
        "name: noisy\ntasks:\n  noisy: {call: noisy:noisy}\n", encoding="utf-8"
    )

    def duration(mode: str) -> float:
        assert _in_pty(["run", "noisy.yaml", "--output", mode], folder) == 0
        shown = subprocess.run(
            [sys.executable, "-m", "flowweaver", "show", "latest", "-o", "json"],
            cwd=folder,
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        )
        seconds: float = json.loads(shown.stdout)["tasks"][0]["duration"]
        return seconds

    plain_runs: list[float] = []
    live_runs: list[float] = []
    for _ in range(3 if quick else 7):
        plain_runs.append(duration("plain"))
        live_runs.append(duration("live"))
    live, plain = statistics.median(live_runs), statistics.median(plain_runs)
    return Case(
        "logs",
        f"a task printing {LIVE_LINES:,} lines on a terminal: live vs plain",
        live,
        plain,
        "--output plain",
        f"≤ {LIVE_TARGET:g}x",
        live <= LIVE_TARGET * plain,
        engine_runs=tuple(live_runs),
        reference_runs=tuple(plain_runs),
        note="the task's duration in the history",
    )


def run(quick: bool) -> list[Case]:
    return [silent(quick), throughput(quick), live_vs_plain(quick)]
