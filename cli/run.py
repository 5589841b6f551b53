"""``flowweaver run``: load, pick the tasks, open the history, run, report, exit code."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowweaver.errors import RunInterrupted, WorkflowError
from flowweaver.executors import Executor, make_executor
from flowweaver.history import RunStatus
from flowweaver.interrupts import catch_signals, pending_signal
from flowweaver.workflow import Workflow

from . import store
from .checks import warn_soft_timeouts
from .errors import ExitCode
from .options import DEFAULT_EXECUTOR, OutputMode, resolve_output
from .report_cmds import check_report_path, write_run_report
from .reporter import Reporter, RunHeader, RunOutcome
from .subset import select_tasks
from .tracker import RunTracker

if TYPE_CHECKING:
    from flowweaver.history import Recorder


@dataclass(frozen=True)
class RunRequest:
    """The options of ``flowweaver run``, already checked."""

    spec: Path
    params: dict[str, Any]
    executor: str | None = None
    workers: int | None = None
    fail_fast: bool = False
    only: tuple[str, ...] = ()
    resume: bool = False
    state_dir: Path | None = None
    wait: bool = False
    address: str | None = None
    output: OutputMode = OutputMode.AUTO
    report: Path | None = None
    otel: bool | None = None  # None: $FLOWWEAVER_OTEL, else the spec's
    metrics_file: Path | None = None


def run_spec(request: RunRequest) -> int:
    """Run the spec; the exit code (0, 1, 130, 143). Raises for 2, 3 and 70.

    SIGINT and SIGTERM are caught from the start: one that lands before the run
    begins interrupts it as it starts, so the summary and the history are written.
    """
    with catch_signals():
        code = _run_spec(request)
        late = pending_signal()  # after the run ended, before the command did
    return 128 + late if late is not None and code == ExitCode.OK else code


def _run_spec(request: RunRequest) -> int:
    from flowweaver.spec import load_workflow

    workflow = select_tasks(load_workflow(request.spec, request.params), request.only)
    name, executor = build_executor(workflow, request)
    if request.report is not None:
        check_report_path(request.report, "--report")
    warn_soft_timeouts(workflow, name)
    executor.placement(workflow)  # a missing workdir stops the run before it is recorded
    monitoring = monitoring_of(workflow, request)
    recorder = store.open_recorder(
        workflow, request.state_dir, resume=request.resume, wait=request.wait
    )
    if request.report is not None:
        recorder.report_path = str(request.report.absolute())
    try:
        resume = store.resume_summary(recorder.resume_info)
        header = RunHeader(workflow.name, len(workflow), name, recorder.run_id, resume)
        mode = resolve_output(request.output)
        return execute(workflow, executor, recorder, header, mode, monitoring)
    finally:
        recorder.close()
        if request.report is not None:  # whatever the run's outcome
            write_run_report(request.report, recorder.run_id, request.state_dir)


def build_executor(workflow: Workflow, request: RunRequest) -> tuple[str, Executor]:
    """The executor the options ask for, else the spec's, else threaded."""
    spec = workflow.spec
    name = request.executor or (spec.executor if spec else None) or DEFAULT_EXECUTOR
    workers = request.workers or (spec.max_workers if spec else None)
    address = request.address or (spec.dask_address if spec else None)
    fail_fast = request.fail_fast or bool(spec and spec.fail_fast)
    executor = make_executor(name, max_workers=workers, fail_fast=fail_fast, address=address)
    return name, executor


@dataclass(frozen=True)
class Monitoring:
    """What a run sends out (SPEC section 12): traces, a Prometheus textfile."""

    otel: bool = False
    metrics_file: Path | None = None
    state_dir: Path | None = None  # the history the textfile's last success comes from


def monitoring_of(workflow: Workflow, request: RunRequest) -> Monitoring:
    """The options, else ``$FLOWWEAVER_OTEL``, else the spec; checked before the run
    (a missing extra or a metrics folder that isn't there: exit 2)."""
    from flowweaver.monitoring import check, otel_wanted

    spec = workflow.spec
    otel = otel_wanted(request.otel, bool(spec and spec.otel))
    metrics_file = request.metrics_file
    if metrics_file is None and spec is not None and spec.metrics_file is not None:
        metrics_file = Path(spec.metrics_file)
    if metrics_file is not None:
        metrics_file = metrics_file.absolute()  # (a task may change the directory)
    monitoring = Monitoring(otel, metrics_file, request.state_dir)
    if otel or metrics_file is not None:
        import os

        check(otel=otel, metrics_file=metrics_file, environ=os.environ)
    return monitoring


def execute(
    workflow: Workflow,
    executor: Executor,
    recorder: Recorder | None,
    header: RunHeader,
    mode: OutputMode,
    monitoring: Monitoring | None = None,
) -> int:
    """Run with the output mode's reporter subscribed; the summary is always printed."""
    tracker = RunTracker(workflow.name, workflow.get_all_tasks())
    reporter = make_reporter(mode, tracker)
    with _subscribed(workflow, tracker, reporter):
        reporter.start(header)
        try:
            outcome = _outcome(executor, workflow, recorder, tracker, monitoring or Monitoring())
            reporter.finish(tracker.snapshot(), outcome)
        finally:
            reporter.close()
    return outcome.exit_code


def make_reporter(mode: OutputMode, tracker: RunTracker) -> Reporter:
    if mode is OutputMode.JSON:
        from .jsonl import JsonReporter

        return JsonReporter()
    if mode is OutputMode.LIVE:
        from .live import LiveReporter

        return LiveReporter(tracker)
    from .plain import PlainReporter

    return PlainReporter()


def _outcome(
    executor: Executor,
    workflow: Workflow,
    recorder: Recorder | None,
    tracker: RunTracker,
    monitoring: Monitoring,
) -> RunOutcome:
    tracker.begin()
    try:
        with _monitored(workflow, recorder, monitoring):
            executor.execute(workflow, recorder=recorder)
    except WorkflowError:
        return RunOutcome(RunStatus.FAILED, ExitCode.TASK_FAILED)
    except RunInterrupted as exc:
        tracker.cancel_unfinished(str(exc))
        return RunOutcome(RunStatus.INTERRUPTED, exc.exit_code)
    finally:
        tracker.end()
    return RunOutcome(RunStatus.COMPLETED, ExitCode.OK)


@contextlib.contextmanager
def _monitored(
    workflow: Workflow, recorder: Recorder | None, monitoring: Monitoring
) -> Iterator[None]:
    """Traces and the textfile, for the run made in the block: their run's outcome is
    what ``execute`` raised (``_outcome`` turns it into an outcome after that)."""
    if not monitoring.otel and monitoring.metrics_file is None:
        yield
        return
    from flowweaver.monitoring import monitored

    history = None
    if monitoring.metrics_file is not None:
        history = store.open_store(monitoring.state_dir)
    run_id = recorder.run_id if recorder is not None else None
    with monitored(
        workflow,
        otel=monitoring.otel,
        metrics_file=monitoring.metrics_file,
        run_id=run_id,
        store=history,
    ):
        yield


@contextlib.contextmanager
def _subscribed(workflow: Workflow, tracker: RunTracker, reporter: Reporter) -> Iterator[None]:
    unsubscribe = [workflow.subscribe(tracker.apply), workflow.subscribe(reporter.event)]
    try:
        yield
    finally:
        for stop in unsubscribe:
            stop()
