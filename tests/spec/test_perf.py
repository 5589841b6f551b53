"""A 10,000-task spec loads and validates well under a second (imports not checked).

Wall-clock bounds fail on a busy machine, so the loader's CPU time is compared with
that of PyYAML's own ``compose`` of the same file, measured alongside under the same
conditions (the loader pauses the cyclic garbage collector, so the parse is timed
with it paused too). On a 2-core machine the parse takes about 0.15 s and the whole
load about 0.5 s: three times the parse. An O(N²) step anywhere would blow the bound.

Memory is measured in a fresh interpreter: loading a 20,000-task chain may grow its
peak (``VmHWM``) by about 2 KB a task; it was 3.7 KB while the whole node tree, every
task's checked values and the tasks were all alive at the end of the load.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from flowweaver.spec import load_workflow, yamlnodes

TASKS = 10_000


def write_spec(path: Path) -> None:
    lines = ["x-policy: &policy {retries: 1, timeout: 30s}", "tasks:"]
    for i in range(TASKS):
        lines += [f"  t{i}:", "    <<: *policy", "    call: fw_perf_example:run"]
        if i:
            lines.append(f"    depends_on: [t{i - 1}, t{i // 2}]")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def best_of(runs: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(runs):
        started = time.process_time()  # CPU time: other processes' load doesn't count
        work()
        best = min(best, time.process_time() - started)
    return best


def test_ten_thousand_tasks_cost_little_more_than_parsing_them(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    write_spec(path)
    text = path.read_text(encoding="utf-8")
    assert len(load_workflow(path, check_imports=False)) == TASKS
    gc.disable()
    try:
        parse = best_of(3, lambda: yaml.compose(text, Loader=yamlnodes._Loader))
    finally:
        gc.enable()
    load = best_of(3, lambda: load_workflow(path, check_imports=False))
    assert load < 5 * parse, f"load {load:.2f}s, of which parsing {parse:.2f}s"


MEMORY_TASKS = 20_000
MEMORY_BOUND = 2_800
"""Bytes of peak memory a task may cost while loading (measured: about 2,000)."""

_PEAK_OF_LOAD = textwrap.dedent("""
    import sys
    from pathlib import Path
    import yaml
    from flowweaver.spec import load_workflow

    def peak() -> int:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
        raise SystemExit("no VmHWM")

    before = peak()
    workflow = load_workflow(sys.argv[1], warnings=[])
    print(len(workflow), peak() - before)
""")


def test_loading_a_big_spec_never_holds_its_tree_and_its_tasks_at_once(tmp_path: Path) -> None:
    if not Path("/proc/self/status").exists():
        return  # (Linux only: the peak is read from /proc)
    (tmp_path / "fw_memory_example.py").write_text("def step(i, prev=None):\n    return i\n")
    lines = ["tasks:"]
    for i in range(MEMORY_TASKS):
        lines += [f"  task-{i}:", "    call: fw_memory_example:step", f"    args: [{i}]"]
        if i:
            lines.append(f"    depends_on: [task-{i - 1}]")
    spec = tmp_path / "chain.yaml"
    spec.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_OF_LOAD, str(spec)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    tasks, grown = map(int, done.stdout.split())
    assert tasks == MEMORY_TASKS
    assert grown / tasks < MEMORY_BOUND, f"{grown / tasks:.0f} bytes a task"
