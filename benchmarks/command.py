"""The whole command's path: the issue's targets that are about ``flowweaver …`` itself.

- ``flowweaver validate`` of a 100,000-task chain spec (about 8 MB): whole process
  time and peak RSS (``VmHWM`` of the child, which runs the command's ``main``);
- ``flowweaver run`` of that spec, sequential, ``--output json`` to ``/dev/null``,
  the run history on: whole process;
- the same kind of run in ``live`` mode on a pseudo-terminal against ``plain`` on one
  (10,000 tasks: each mode of the 100,000-task run takes minutes on a shared VM);
- a second run, in-process, of a 10,000-task chain whose tasks call a builtin
  (``operator:truth``), against the same chain calling a Python function.

``python -m benchmarks.command child ARGS…`` is the child of the validate row: it runs
the command in this process, then prints its peak RSS (KiB) on standard error.
"""

from __future__ import annotations

import os
import pty
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchmarks.harness import Case, Timed, median, paired_case
from benchmarks.memory import peak_kib
from benchmarks.spec import command
from flowweaver import SequentialExecutor, Workflow, load_workflow

BIG = 100_000
SMALL = 10_000
VALIDATE_TARGET_S = 2.0
VALIDATE_TARGET_MB = 250
RUN_TARGET_S = 6.0
LIVE_TARGET_RATIO = 1.2
BUILTIN_TARGET_RATIO = 1.1
TIMEOUT = 1800

MODULE = '''"""Tasks of the generated command benchmark specs."""


def step(i, prev=None):
    return i


def truthy(i, prev=None):
    return bool(i)
'''


def chain_spec(folder: Path, tasks: int, call: str, module: str) -> Path:
    """A chain of ``tasks`` tasks, each calling ``call`` with its number."""
    target = call.replace("MODULE", module)
    lines = ["version: 1", f"name: chain-{tasks}", "executor: sequential", "tasks:"]
    for i in range(tasks):
        lines += [f"  task-{i}:", f"    call: {target}", f"    args: [{i}]"]
        if i:
            lines.append(f"    depends_on: [task-{i - 1}]")
    path = folder / f"chain-{tasks}-{call.rsplit(':', maxsplit=1)[-1]}.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _whole(argv: list[str], cwd: Path, stdout: int | None = subprocess.DEVNULL) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        argv, cwd=cwd, stdout=stdout, stderr=subprocess.PIPE, timeout=TIMEOUT, check=False
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"{argv} exited {done.returncode}: {done.stderr[-2000:]!r}")
    return elapsed


def validate_cases(folder: Path, spec: Path, quick: bool) -> list[Case]:
    times: list[float] = []
    peaks: list[float] = []
    for _ in range(1 if quick else 3):
        argv = [sys.executable, "-m", "benchmarks.command", "child", "validate", str(spec)]
        start = time.perf_counter()
        done = subprocess.run(
            argv,
            cwd=Path(__file__).resolve().parent.parent,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            timeout=TIMEOUT,
            check=True,
        )
        times.append(time.perf_counter() - start)
        peaks.append(int(done.stderr.split()[-1]) / 1024)
    size = spec.stat().st_size / 1e6
    seconds, peak = median(times), median(peaks)
    return [
        Case(
            "command",
            f"`flowweaver validate` of a {BIG:,}-task spec ({size:.1f} MB)",
            seconds,
            None,
            "—",
            f"≤ {VALIDATE_TARGET_S:g} s",
            seconds <= VALIDATE_TARGET_S,
            note="whole process, imports checked",
            engine_runs=tuple(times),
        ),
        Case(
            "command",
            "peak RSS of that `flowweaver validate`",
            peak,
            None,
            "—",
            f"≤ {VALIDATE_TARGET_MB} MB",
            peak <= VALIDATE_TARGET_MB,
            unit="MB",
            engine_runs=tuple(peaks),
        ),
    ]


def run_case(folder: Path, spec: Path) -> Case:
    argv = [*command(), "run", str(spec), "--output", "json"]
    seconds = _whole([*argv, "--state-dir", str(folder / "state-big")], folder)
    return Case(
        "command",
        "`flowweaver run` of that spec, sequential, whole command",
        seconds,
        None,
        "—",
        f"≤ {RUN_TARGET_S:g} s",
        seconds <= RUN_TARGET_S,
        tasks=0,
        note=f"--output json to /dev/null, history on; {seconds / BIG * 1e6:.0f} µs/task in all",
    )


def on_terminal(argv: list[str], cwd: Path) -> float:
    """Seconds ``argv`` takes with a pseudo-terminal as its standard output (drained)."""
    leader, follower = pty.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "120", "LINES": "40"}

    def drain() -> None:
        while True:
            try:
                if not os.read(leader, 65536):
                    return
            except OSError:
                return

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        start = time.perf_counter()
        done = subprocess.run(
            argv,
            cwd=cwd,
            stdout=follower,
            stderr=subprocess.PIPE,
            env=env,
            timeout=TIMEOUT,
            check=False,
        )
        elapsed = time.perf_counter() - start
    finally:
        os.close(follower)
        reader.join(timeout=10)
        os.close(leader)
    if done.returncode != 0:
        raise RuntimeError(f"{argv} exited {done.returncode}: {done.stderr[-2000:]!r}")
    return elapsed


def live_case(folder: Path, spec: Path, quick: bool) -> Case:
    base = [*command(), "run", str(spec)]
    runs = iter(range(100))

    def mode(name: str) -> Timed:
        def run() -> float:
            state = folder / f"state-{name}-{next(runs)}"
            return on_terminal([*base, "--output", name, "--state-dir", str(state)], folder)

        return run

    return paired_case(
        "command",
        f"`flowweaver run` {SMALL:,} tasks, live on a pseudo-terminal",
        "plain on one",
        mode("plain"),
        mode("live"),
        1 if quick else 3,
        target=f"≤ {LIVE_TARGET_RATIO:g}x",
        check=lambda e, r: e <= LIVE_TARGET_RATIO * r,
        tasks=SMALL,
    )


def builtin_case(folder: Path, module: str, quick: bool) -> Case:
    sys.path.insert(0, str(folder))
    try:
        python = load_workflow(chain_spec(folder, SMALL, "MODULE:truthy", module))
        builtin = load_workflow(chain_spec(folder, SMALL, "operator:truth", module))
    finally:
        sys.path.remove(str(folder))
    executor = SequentialExecutor()
    executor.execute(python)  # the first runs: what is worked out once per workflow
    executor.execute(builtin)

    def again(workflow: Workflow) -> Timed:
        def run() -> float:
            start = time.perf_counter()
            executor.execute(workflow)
            return time.perf_counter() - start

        return run

    return paired_case(
        "command",
        f"second run in-process, {SMALL:,} tasks calling operator:truth",
        "the same calling a Python function",
        again(python),
        again(builtin),
        3 if quick else 5,
        target=f"≤ {BUILTIN_TARGET_RATIO:g}x",
        check=lambda e, r: e <= BUILTIN_TARGET_RATIO * r,
        tasks=SMALL,
    )


def run(quick: bool) -> list[Case]:
    with tempfile.TemporaryDirectory(prefix="fwbench-cmd-") as name:
        folder = Path(name)
        module = f"fwbench_cmd_{os.getpid()}"
        (folder / f"{module}.py").write_text(MODULE, encoding="utf-8")
        big = chain_spec(folder, BIG, "MODULE:step", module)
        small = chain_spec(folder, SMALL, "MODULE:step", module)
        cases = validate_cases(folder, big, quick)
        cases.append(run_case(folder, big))
        cases.append(live_case(folder, small, quick))
        cases.append(builtin_case(folder, module, quick))
        return cases


def child(args: list[str]) -> None:
    """The command in this process; then the peak RSS (KiB) on standard error."""
    from flowweaver.cli.app import main

    code = main(args)
    print(peak_kib(), file=sys.stderr)
    if code != 0:
        raise SystemExit(code)


if __name__ == "__main__":
    if sys.argv[1:2] == ["child"]:
        child(sys.argv[2:])
