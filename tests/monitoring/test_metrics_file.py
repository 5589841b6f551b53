"""The Prometheus textfile of ``flowweaver run``, read back with prometheus_client's own
parser: after a success, a failure and a real SIGTERM; two runs writing it at once."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from _cli import TIMEOUT, write
from _monitoring import env_with, fw_env, project, start_fw_env
from prometheus_client.parser import text_string_to_metric_families

from flowweaver import RunStore

SPEC = """
name: nightly
metrics_file: metrics/nightly.prom
tasks:
  a: {call: mon_tasks:ok}
  b: {call: "mon_tasks:${params.b}", retries: 1, depends_on: [a]}
  c: {call: mon_tasks:ok, depends_on: [b]}
  m:
    call: mon_tasks:echo
    map: {over: [x, y, z]}
params:
  b: ok
"""

NAMES = {
    "flowweaver_run_last_start_timestamp_seconds",
    "flowweaver_run_last_success_timestamp_seconds",
    "flowweaver_run_duration_seconds",
    "flowweaver_run_status",
    "flowweaver_task_duration_seconds",
    "flowweaver_task_attempts",
}


def read(path: Path) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """The file's samples: metric name -> sorted labels -> value (none has a timestamp)."""
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(path.read_text(encoding="utf-8")):
        assert family.type == "gauge"
        for sample in family.samples:
            assert sample.timestamp is None  # the node exporter refuses timestamps
            samples.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return samples


def one(samples: dict[str, dict[tuple[tuple[str, str], ...], float]], name: str) -> float:
    (value,) = samples[name].values()
    return value


def by_task(
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]], name: str
) -> dict[str, float]:
    return {dict(labels)["task"]: value for labels, value in samples[name].items()}


def status(samples: dict[str, dict[tuple[tuple[str, str], ...], float]]) -> dict[str, float]:
    found = {}
    for labels, value in samples["flowweaver_run_status"].items():
        assert dict(labels)["workflow"] == "nightly"
        found[dict(labels)["status"]] = value
    return found


@pytest.fixture
def here(tmp_path: Path) -> Path:
    project(tmp_path)
    write(tmp_path, "nightly.yaml", SPEC)
    (tmp_path / "metrics").mkdir()
    return tmp_path


def test_after_a_success_then_a_failure(here: Path) -> None:
    done = fw_env("run", "nightly.yaml", cwd=here)
    assert done.returncode == 0, done.stderr
    path = here / "metrics" / "nightly.prom"
    samples = read(path)
    assert set(samples) == NAMES
    with RunStore(here / ".flowweaver") as store:
        (run,) = store.runs()
    assert run.ended is not None
    assert one(samples, "flowweaver_run_last_start_timestamp_seconds") == pytest.approx(
        run.started, abs=0.5
    )
    success = one(samples, "flowweaver_run_last_success_timestamp_seconds")
    assert success == pytest.approx(run.ended, abs=0.5)
    assert one(samples, "flowweaver_run_duration_seconds") == pytest.approx(run.elapsed, abs=0.5)
    assert status(samples) == {"completed": 1, "failed": 0, "interrupted": 0, "timed_out": 0}
    assert by_task(samples, "flowweaver_task_attempts") == {"a": 1, "b": 1, "c": 1, "m": 3}
    assert set(by_task(samples, "flowweaver_task_duration_seconds")) == {"a", "b", "c", "m"}
    assert all(
        dict(labels)["workflow"] == "nightly" for labels in samples["flowweaver_task_attempts"]
    )

    failed = fw_env("run", "nightly.yaml", "--param", "b=boom", cwd=here)
    assert failed.returncode == 1
    samples = read(path)
    assert status(samples) == {"completed": 0, "failed": 1, "interrupted": 0, "timed_out": 0}
    # the last success is still the first run's end, read from the history
    assert one(samples, "flowweaver_run_last_success_timestamp_seconds") == success
    assert by_task(samples, "flowweaver_task_attempts") == {"a": 1, "b": 2, "c": 0, "m": 3}
    assert by_task(samples, "flowweaver_task_duration_seconds")["c"] == 0
    assert sorted(p.name for p in path.parent.iterdir()) == ["nightly.prom"]  # no temp file


def test_never_succeeded_is_zero_and_the_option_wins_over_the_spec(here: Path) -> None:
    done = fw_env("run", "nightly.yaml", "-p", "b=boom", "--metrics-file", "other.prom", cwd=here)
    assert done.returncode == 1
    assert not (here / "metrics" / "nightly.prom").exists()
    assert one(read(here / "other.prom"), "flowweaver_run_last_success_timestamp_seconds") == 0


def test_after_a_real_sigterm(here: Path) -> None:
    write(
        here,
        "long.yaml",
        """
        name: nightly
        tasks:
          a: {call: mon_tasks:ok}
          block: {call: mon_tasks:blocks, kwargs: {ready: started.txt}, depends_on: [a]}
          after: {call: mon_tasks:ok, depends_on: [block]}
        """,
    )
    assert fw_env("run", "nightly.yaml", cwd=here).returncode == 0  # a success before
    path = here / "metrics" / "nightly.prom"
    success = one(read(path), "flowweaver_run_last_success_timestamp_seconds")
    process = start_fw_env(
        "run", "long.yaml", "--output", "plain", "--metrics-file", str(path), cwd=here
    )
    assert process.stdout is not None
    for line in process.stdout:  # synchronised on the output: the task has started
        if "block running" in line:
            break
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 143, err
    samples = read(path)
    assert status(samples) == {"completed": 0, "failed": 0, "interrupted": 1, "timed_out": 0}
    assert one(samples, "flowweaver_run_last_success_timestamp_seconds") == success
    assert by_task(samples, "flowweaver_task_attempts") == {"a": 1, "block": 1, "after": 0}


def test_a_missing_folder_is_refused_before_the_run(here: Path) -> None:
    done = fw_env("run", "nightly.yaml", "--metrics-file", "nowhere/x.prom", cwd=here)
    assert done.returncode == 2
    folder = here / "nowhere"
    assert done.stderr.splitlines() == [
        f"error: metrics file {folder / 'x.prom'}: folder {folder} does not exist"
    ]
    assert not (here / ".flowweaver").exists()


def test_two_runs_writing_at_once_never_leave_a_partial_file(here: Path) -> None:
    """Two workflows (each holds its own lock) write one file, three runs each, while
    this test reads it as fast as it can: every read is a whole file."""
    path = here / "shared.prom"
    for name in ("left", "right"):
        tasks = "\n".join(f"  t{i}: {{call: mon_tasks:ok}}" for i in range(40))
        write(here, f"{name}.yaml", f"name: {name}\nmetrics_file: shared.prom\ntasks:\n{tasks}\n")
    stop = threading.Event()
    reads: list[int] = []
    problems: list[str] = []

    def reader() -> None:
        while not stop.is_set():
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                continue
            try:
                families = {f.name: f for f in text_string_to_metric_families(text)}
                assert len(families["flowweaver_task_attempts"].samples) == 40
                assert text.endswith("\n")
            except Exception as exc:  # a partial file
                problems.append(f"{exc!r}: {text[-80:]!r}")
            reads.append(1)

    watcher = threading.Thread(target=reader)
    watcher.start()
    try:
        runs = [
            start_fw_env("run", f"{name}.yaml", "--output", "json", cwd=here)
            for _ in range(2)
            for name in ("left", "right")
        ]
        for run in runs:
            run.communicate(timeout=TIMEOUT)
            assert run.returncode in (0, 3)  # (3: the other run of that workflow held its lock)
    finally:
        stop.set()
        watcher.join(TIMEOUT)
    assert not problems, problems[:3]
    assert reads
    workflows = {dict(labels)["workflow"] for labels in read(path)["flowweaver_run_status"]}
    assert workflows in ({"left"}, {"right"})
    assert sorted(p.name for p in here.iterdir() if p.name.startswith("shared")) == ["shared.prom"]


WRITER = """
import sys
from flowweaver import SequentialExecutor, Task, Workflow
from flowweaver.monitoring import monitored

workflow = Workflow(sys.argv[1])
for i in range(40):
    workflow.add_task(Task(f"t{i}", lambda: None))
for _ in range(60):
    with monitored(workflow, metrics_file=sys.argv[2]):
        SequentialExecutor().execute(workflow)
"""


def test_many_writes_at_once_are_each_whole(here: Path) -> None:
    """The same, hundreds of times: two processes write the file in a loop while this
    test reads it; a write that is not atomic shows as an empty or cut file."""
    path = here / "busy.prom"
    stop = threading.Event()
    problems: list[str] = []
    reads = [0]

    def reader() -> None:
        while not stop.is_set():
            try:
                text = path.read_text(encoding="utf-8")
            except FileNotFoundError:
                continue
            try:
                families = {f.name: f for f in text_string_to_metric_families(text)}
                assert len(families["flowweaver_task_attempts"].samples) == 40
            except Exception as exc:  # a partial file
                problems.append(f"{exc!r}: {text[-80:]!r}")
            reads[0] += 1

    watcher = threading.Thread(target=reader)
    watcher.start()
    try:
        writers = [
            subprocess.Popen(
                [sys.executable, "-c", WRITER, name, str(path)], env=env_with(), cwd=here
            )
            for name in ("left", "right")
        ]
        for writer in writers:
            assert writer.wait(TIMEOUT) == 0
    finally:
        stop.set()
        watcher.join(TIMEOUT)
    assert not problems, problems[:3]
    assert reads[0] > 10
    assert sorted(p.name for p in here.iterdir() if p.name.startswith("busy")) == ["busy.prom"]


def test_bad_keys_are_spec_problems(here: Path) -> None:
    write(
        here,
        "bad.yaml",
        "name: bad\notel: maybe\nmetrics_file: ''\ntasks:\n  a: {call: mon_tasks:ok}\n",
    )
    done = fw_env("validate", "bad.yaml", cwd=here)
    assert done.returncode == 2
    lines = done.stdout.splitlines() + done.stderr.splitlines()
    assert any(line.startswith("bad.yaml:2:7: otel: ") for line in lines), lines
    assert any(line.startswith("bad.yaml:3:15: metrics_file: ") for line in lines), lines


def test_schema_lists_the_keys(here: Path) -> None:
    schema = json.loads(fw_env("schema", cwd=here).stdout)
    assert {"otel", "metrics_file"} <= set(schema["properties"])
