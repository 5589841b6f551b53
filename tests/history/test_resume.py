"""Resume: only what did not complete, or changed, runs again; kill -9 leaves a true record."""

from __future__ import annotations

import functools
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from _history_jobs import (
    build,
    build_odd,
    calls,
    load_fixed,
    produce_loads_badly,
    produce_unpicklable,
)

from flowweaver import RunStore, SequentialExecutor, Task, ThreadedExecutor, Workflow
from flowweaver.errors import WorkflowError
from flowweaver.history import RunRecord, RunStatus
from flowweaver.history.recorder import BATCH_SECONDS

TIMEOUT = 30


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "calls.log"


@pytest.fixture
def store(tmp_path: Path) -> RunStore:
    return RunStore(tmp_path / "state")


def fail_load(log: Path) -> Path:
    marker = Path(f"{log}.fail")
    marker.touch()
    return marker


def test_resume_reruns_only_the_failed_part(store: RunStore, log: Path) -> None:
    marker = fail_load(log)
    with pytest.raises(WorkflowError):
        ThreadedExecutor().execute(build(log), store=store)
    failed = store.run("latest")
    marker.unlink()
    log.unlink()

    workflow = build(log)
    ThreadedExecutor().execute(workflow, store=store, resume=True)

    assert calls(log) == ["load"]
    assert workflow.get_task_result("load") == 12
    assert workflow.get_task_result("transform") == [2, 4, 6]
    run = store.run("latest")
    assert run.status == "completed"
    assert run.resumed_from == failed.id
    reused = {t.name for t in run.tasks if t.reused}
    assert reused == {"extract", "transform", "side"}


def test_resume_info_says_what_is_reused_and_why_the_rest_runs(store: RunStore, log: Path) -> None:
    fail_load(log)
    with pytest.raises(WorkflowError):
        SequentialExecutor().execute(build(log), store=store)
    failed_id = store.run("latest").id

    recorder = store.open_run(build(log, factor=3), resume=True)
    info = recorder.resume_info
    recorder.close()

    assert info is not None
    assert info.from_run == failed_id
    assert info.reused == ("extract", "side")
    assert info.changed == ("transform",)
    assert info.rerun == {
        "transform": "definition changed",
        "load": "was failed",
    }
    assert info.message == f"resuming run {failed_id}: 2 of 4 tasks reused; changed: transform"


def test_a_fixed_failed_task_is_reported_changed(store: RunStore, log: Path) -> None:
    fail_load(log)
    with pytest.raises(WorkflowError):
        SequentialExecutor().execute(build(log), store=store)
    workflow = build(log)
    workflow.get_all_tasks()["load"].fn = functools.partial(load_fixed, str(log))
    recorder = store.open_run(workflow, resume=True)
    info = recorder.resume_info
    recorder.close()
    assert info is not None
    assert info.changed == ("load",)
    assert info.rerun == {"load": "was failed; definition changed"}


def test_a_changed_task_and_its_downstream_rerun_the_rest_is_reused(
    store: RunStore, log: Path
) -> None:
    marker = fail_load(log)
    with pytest.raises(WorkflowError):
        SequentialExecutor().execute(build(log), store=store)
    marker.unlink()
    log.unlink()

    workflow = build(log, factor=10)
    SequentialExecutor().execute(workflow, store=store, resume=True)

    assert sorted(calls(log)) == ["load", "transform"]
    assert workflow.get_task_result("load") == 60


def test_resume_of_a_resumed_run_reuses_the_results_it_reused(store: RunStore, log: Path) -> None:
    marker = fail_load(log)
    for _ in range(2):
        with pytest.raises(WorkflowError):
            SequentialExecutor().execute(build(log), store=store, resume=True)
    marker.unlink()
    log.unlink()

    SequentialExecutor().execute(build(log), store=store, resume=True)
    assert calls(log) == ["load"]


def test_resume_with_nothing_unfinished_runs_everything(store: RunStore, log: Path) -> None:
    recorder = store.open_run(build(log), resume=True)
    assert recorder.resume_info is not None
    assert recorder.resume_info.from_run is None
    assert "no earlier run of 'etl'" in recorder.resume_info.message
    SequentialExecutor().execute(build(log), recorder=recorder)
    assert len(calls(log)) == 4

    recorder = store.open_run(build(log), resume=True)
    assert recorder.resume_info is not None
    assert recorder.resume_info.from_run is None
    assert "completed; running every task" in recorder.resume_info.message
    SequentialExecutor().execute(build(log), recorder=recorder)
    assert len(calls(log)) == 8


def test_without_resume_there_is_no_resume_info(store: RunStore, log: Path) -> None:
    recorder = store.open_run(build(log))
    assert recorder.resume_info is None
    assert len(recorder.run_id) == 8
    recorder.close()


def test_an_unpicklable_result_is_noted_and_rerun(store: RunStore, log: Path) -> None:
    with pytest.raises(WorkflowError):
        SequentialExecutor().execute(build_odd(log, produce_unpicklable), store=store)
    produce = store.run("latest").tasks[0]
    assert produce.status == "completed"
    assert not produce.result_stored
    assert produce.note is not None and "cannot be pickled" in produce.note

    recorder = store.open_run(build_odd(log, produce_unpicklable), resume=True)
    assert recorder.resume_info is not None
    assert recorder.resume_info.unstored == ("produce",)
    with pytest.raises(WorkflowError):
        SequentialExecutor().execute(build_odd(log, produce_unpicklable), recorder=recorder)
    assert calls(log) == ["produce", "consume", "produce", "consume"]


def test_a_result_that_fails_to_load_is_rerun(store: RunStore, log: Path) -> None:
    with pytest.raises(WorkflowError):
        SequentialExecutor().execute(build_odd(log, produce_loads_badly), store=store)

    recorder = store.open_run(build_odd(log, produce_loads_badly), resume=True)
    info = recorder.resume_info
    recorder.close()
    assert info is not None
    assert info.unstored == ("produce",)
    assert "this result cannot be loaded" in info.rerun["produce"]


def test_a_closure_over_an_object_without_identity_is_never_reused(
    store: RunStore, log: Path
) -> None:
    marker = fail_load(log)
    lock = threading.Lock()  # its repr is only a memory address

    def locked() -> bool:
        return lock.locked()

    def make() -> Workflow:
        workflow = build(log)
        workflow.add_task(Task("locked", locked))
        workflow.add_task(Task("bound-builtin", lock.locked))
        return workflow

    with pytest.raises(WorkflowError):
        SequentialExecutor().execute(make(), store=store)
    marker.unlink()
    recorder = store.open_run(make(), resume=True)
    assert recorder.resume_info is not None
    no_fingerprint = "no stable fingerprint (a value without identity in its definition)"
    assert recorder.resume_info.rerun["locked"] == no_fingerprint
    assert recorder.resume_info.rerun["bound-builtin"] == no_fingerprint
    recorder.close()


def test_a_changed_spec_argument_reruns_that_task_only(tmp_path: Path) -> None:
    (tmp_path / "resumejob.py").write_text(
        "def add(x, y):\n    return x + y\n\n"
        "def check(total, limit):\n"
        "    if total > limit:\n"
        "        raise ValueError(f'{total} > {limit}')\n"
        "    return total\n",
        encoding="utf-8",
    )
    spec = tmp_path / "job.yaml"
    text = (
        "name: job\nparams: {limit: 1}\ntasks:\n"
        "  total:\n    call: resumejob:add\n    kwargs: {x: 1, y: 2}\n"
        "  check:\n    call: resumejob:check\n    depends_on: [total]\n"
        "    kwargs: {limit: '${params.limit}'}\n"
    )
    spec.write_text(text, encoding="utf-8")
    from flowweaver import load_workflow

    store = RunStore(tmp_path / "state")
    with pytest.raises(WorkflowError):
        SequentialExecutor().execute(load_workflow(spec), store=store)
    recorder = store.open_run(load_workflow(spec, {"limit": 5}), resume=True)
    assert recorder.resume_info is not None
    assert recorder.resume_info.reused == ("total",)
    assert recorder.resume_info.rerun == {"check": "was failed; definition changed"}
    assert recorder.resume_info.changed == ("check",)
    recorder.close()


def test_a_changed_condition_reruns_its_task(tmp_path: Path) -> None:
    (tmp_path / "condjob.py").write_text(
        "def value():\n    return 1\n\n"
        "def check(limit):\n"
        "    if limit < 1:\n"
        "        raise ValueError('too low')\n"
        "    return limit\n",
        encoding="utf-8",
    )
    spec = tmp_path / "cond.yaml"
    text = (
        "name: cond\nparams: {{limit: 0}}\ntasks:\n"
        "  first: {{call: condjob:value}}\n"
        "  gated: {{call: condjob:value, when: {when}}}\n"
        "  check: {{call: condjob:check, kwargs: {{limit: '${{params.limit}}'}}}}\n"
    )
    spec.write_text(text.format(when="true"), encoding="utf-8")
    from flowweaver import load_workflow

    store = RunStore(tmp_path / "state")
    with pytest.raises(WorkflowError):
        SequentialExecutor().execute(load_workflow(spec), store=store)
    spec.write_text(text.format(when="false"), encoding="utf-8")
    recorder = store.open_run(load_workflow(spec, {"limit": 5}), resume=True)
    assert recorder.resume_info is not None
    assert recorder.resume_info.reused == ("first",)
    assert recorder.resume_info.changed == ("gated", "check")
    recorder.close()


def _read_line(process: subprocess.Popen[str], timeout: float) -> str:
    """The child's next line of output, waiting at most ``timeout`` seconds for it."""
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    if not ready:
        raise AssertionError(f"no output from the child in {timeout}s")
    return process.stdout.readline().strip()


def _written_within(store: RunStore, seconds: float) -> RunRecord:
    """The latest run once the record of ``load`` starting is written: records of
    tasks that end within a few ms of each other are written together, at most
    ``BATCH_SECONDS`` later (a deadline generous for a loaded machine)."""
    deadline = time.monotonic() + seconds
    while True:
        run = store.run("latest")
        if any(t.name == "load" and t.status == "running" for t in run.tasks):
            return run
        if time.monotonic() > deadline:
            return run  # what the assertions then show
        time.sleep(0.001)


def test_a_run_killed_mid_way_leaves_a_true_record_and_resumes(tmp_path: Path, log: Path) -> None:
    state = tmp_path / "state"
    with subprocess.Popen(
        [sys.executable, "-m", "_history_jobs", "run", str(state), str(log)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "FW_BLOCK": "1"},
    ) as child:
        try:
            assert _read_line(child, TIMEOUT) == "load started"
            store = RunStore(state)
            running = _written_within(store, BATCH_SECONDS + 2.0)
            assert running.status == "running"
            live = {t.name: t for t in running.tasks}
            assert live["transform"].status == "completed"
            assert live["load"].status == "running" and live["load"].attempts == 1
            child.send_signal(signal.SIGKILL)
            child.wait(TIMEOUT)
        finally:
            child.kill()
            child.wait(TIMEOUT)

    killed = store.run("latest")
    assert killed.status == "killed"
    statuses = {t.name: t.status for t in killed.tasks}
    assert statuses == {
        "extract": "completed",
        "transform": "completed",
        "load": "killed",  # it was running when the run died
        "side": "completed",
    }
    load = next(t for t in killed.tasks if t.name == "load")
    assert load.started is not None and load.ended is None
    log.unlink()
    workflow = build(log)
    started = time.monotonic()
    SequentialExecutor().execute(workflow, store=store, resume=True)
    assert time.monotonic() - started < TIMEOUT
    assert calls(log) == ["load"]
    assert store.run(killed.id).status == "killed"
    assert store.run("latest").resumed_from == killed.id


def test_past_durations_are_recorded_for_priorities(store: RunStore, log: Path) -> None:
    SequentialExecutor().execute(build(log), store=store)
    recorder = store.open_run(build(log))
    workflow = build(log)
    tasks = list(workflow.get_all_tasks().values())
    reused = recorder.begin(tasks, workflow.parents())
    durations = recorder.past_durations()
    recorder.end(RunStatus.COMPLETED, 0.0)
    assert reused == {}
    assert set(durations) == {"extract", "transform", "load", "side"}
    assert all(d >= 0 for d in durations.values())


@pytest.mark.parametrize(("executor", "reads"), [(SequentialExecutor, 0), (ThreadedExecutor, 1)])
def test_only_a_run_that_chooses_among_ready_tasks_reads_past_durations(
    store: RunStore, log: Path, monkeypatch: pytest.MonkeyPatch, executor: type, reads: int
) -> None:
    # a sequential run starts tasks in plan order: reading five runs' durations of every
    # task (a third of a second for 10,000 tasks) would buy it nothing
    from flowweaver.history.recorder import RunRecorder

    calls: list[int] = []
    real = RunRecorder.past_durations

    def counted(self: RunRecorder) -> dict[str, float]:
        calls.append(1)
        return real(self)

    monkeypatch.setattr(RunRecorder, "past_durations", counted)
    executor().execute(build(log), store=store)
    executor().execute(build(log), store=store)
    assert len(calls) == 2 * reads


def test_a_partial_with_different_arguments_has_another_fingerprint() -> None:
    from flowweaver.history.fingerprint import task_fingerprint

    def job(x: int) -> int:
        return x

    one = Task("t", functools.partial(job, 1))
    same = Task("t", functools.partial(job, 1))
    other = Task("t", functools.partial(job, 2))
    assert task_fingerprint(one, []) == task_fingerprint(same, [])
    assert task_fingerprint(one, []) != task_fingerprint(other, [])
    assert task_fingerprint(one, ["a"]) != task_fingerprint(one, [])


def test_an_interrupted_run_is_resumed(store: RunStore, log: Path) -> None:
    def stop(transform: list[int]) -> None:
        os.kill(os.getpid(), signal.SIGINT)

    def make(interrupt: bool) -> Workflow:
        workflow = build(log)
        if interrupt:
            workflow.get_all_tasks()["load"].fn = stop
        return workflow

    with pytest.raises(KeyboardInterrupt):
        ThreadedExecutor(max_workers=1).execute(make(interrupt=True), store=store)
    interrupted = store.run("latest")
    assert interrupted.status == "interrupted"
    log.unlink()

    statuses = {t.name: t.status for t in interrupted.tasks}
    assert statuses["transform"] == "completed"
    assert statuses["side"] == "cancelled"  # one worker: it had not started

    SequentialExecutor().execute(make(interrupt=False), store=store, resume=True)
    assert sorted(calls(log)) == ["load", "side"]  # load changed back; side never ran
    assert store.run("latest").resumed_from == interrupted.id
