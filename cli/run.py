"""``flowweaver run``: load, pick the tasks, open the history, run, report, exit code."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowweaver.errors import RunInterrupted, RunTimeoutError, WorkflowError
from flowweaver.executors import Executor, make_executor
from flowweaver.history import RunStatus
from flowweaver.interrupts import catch_signals, pending_signal
from flowweaver.shell import ShellCommand
from flowweaver.workflow import Workflow

from . import store
from .checks import warn_soft_timeouts
from .errors import CliError, ExitCode
from .logs import log_to_stderr
from .options import DEFAULT_EXECUTOR, OutputMode, resolve_output
from .pools import resize_pools
from .quiet import HeldOutput
from .report_cmds import check_report_path, write_run_report
from .reporter import Reporter, RunHeader, RunOutcome
from .subset import select_tasks
from .tasklogs import TaskLogs
from .tracker import RunTracker

if TYPE_CHECKING:
    from flowweaver.history import Recorder


@dataclass(frozen=True)
class RunRequest:
    """The options of ``flowweaver run``, already checked."""

    spec: Path
    params: dict[str, Any]
    pools: dict[str, int] = field(default_factory=dict)
    executor: str | None = None
    workers: int | None = None
    fail_fast: bool = False
    only: tuple[str, ...] = ()
    resume: bool = False
    state_dir: Path | None = None
    wait: bool = False
    address: str | None = None
    output: OutputMode = OutputMode.AUTO
    quiet: bool = False
    log_lines: bool = False
    verbose: bool = False
    report: Path | None = None
    otel: bool | None = None  # None: $FLOWWEAVER_OTEL, else the spec's
    metrics_file: Path | None = None


def run_spec(request: RunRequest) -> int:
    """Run the spec; the exit code (0, 1, 124, 130, 143). Raises for 2, 3 and 70.

    SIGINT and SIGTERM are caught from the start: one that lands before the run
    begins interrupts it as it starts, so the summary and the history are written.
    With ``quiet``, what ``plain`` prints is held back, and printed only if the run
    does not succeed.
    """
    mode = output_mode(request)
    held = HeldOutput() if request.quiet else None
    log_to_stderr(verbose=request.verbose, stream=None if held is None else held.err)
    try:
        with catch_signals():
            code = _run_spec(request, mode, held)
            late = pending_signal()  # after the run ended, before the command did
    except BaseException:
        if held is not None:
            held.replay()
        raise
    code = 128 + late if late is not None and code == ExitCode.OK else code
    if held is not None and code != ExitCode.OK:
        held.replay()
    return code


def output_mode(request: RunRequest) -> OutputMode:
    """The output mode the options ask for; a :class:`CliError` for options that
    don't go together."""
    if request.quiet and request.output not in (OutputMode.AUTO, OutputMode.PLAIN):
        raise CliError(
            f"--quiet prints plain output when the run fails; it can't go with "
            f"--output {request.output.value}",
            hint="drop --output, or --quiet",
        )
    mode = OutputMode.PLAIN if request.quiet else resolve_output(request.output)
    if request.log_lines and mode is not OutputMode.JSON:
        raise CliError("--log-lines adds log records to --output json", hint="add --output json")
    return mode


def _run_spec(request: RunRequest, mode: OutputMode, held: HeldOutput | None) -> int:
    from flowweaver.spec import load_workflow

    workflow = select_tasks(load_workflow(request.spec, request.params), request.only)
    workflow.masker()  # an unset secret is an error before anything runs
    resize_pools(workflow, request.pools)
    name, executor = build_executor(workflow, request)
    if request.report is not None:
        check_report_path(request.report, "--report")
    if request.verbose or (not request.quiet and sys.stderr.isatty()):
        warn_soft_timeouts(workflow, name)  # it would repeat in every cron mail
    executor.check_pools(workflow)  # (as a missing workdir: before the run is recorded)
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
        reporter_options = ReporterOptions(held=held, log_lines=request.log_lines)
        return execute(workflow, executor, recorder, header, mode, reporter_options, monitoring)
    finally:
        recorder.close()
        if request.report is not None:  # whatever the run's outcome
            write_run_report(request.report, recorder.run_id, request.state_dir)


@dataclass(frozen=True)
class ReporterOptions:
    """How an output mode is made beyond its name."""

    held: HeldOutput | None = None
    """``--quiet``: where plain output is held back."""
    log_lines: bool = False
    """``--log-lines``: JSON output has a record per line tasks print."""


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
    options: ReporterOptions | None = None,
    monitoring: Monitoring | None = None,
) -> int:
    """Run with the output mode's reporter subscribed; the summary is always printed."""
    tasks = workflow.get_all_tasks()
    tracker = RunTracker(workflow.name, tasks)
    shell = [name for name, task in tasks.items() if isinstance(task.fn, ShellCommand)]
    logs = TaskLogs(header.run_id, no_tails=shell)
    reporter = make_reporter(mode, tracker, logs, options or ReporterOptions())
    with _subscribed(workflow, tracker, reporter, logs):
        reporter.start(header)
        try:
            outcome = _outcome(executor, workflow, recorder, tracker, monitoring or Monitoring())
            reporter.finish(tracker.snapshot(), outcome)
        finally:
            reporter.close()
    return outcome.exit_code


def make_reporter(
    mode: OutputMode, tracker: RunTracker, logs: TaskLogs, options: ReporterOptions
) -> Reporter:
    if mode is OutputMode.JSON:
        from .jsonl import JsonReporter

        return JsonReporter(logs, log_lines=options.log_lines)
    if mode is OutputMode.LIVE:
        from .live import LiveReporter

        return LiveReporter(tracker, logs=logs)
    from .plain import PlainReporter

    held = options.held
    if held is not None:
        return PlainReporter(held.out, held.err, logs=logs)
    return PlainReporter(logs=logs)


def _outcome(
    executor: Executor,
    workflow: Workflow,
    recorder: Recorder | None,
    tracker: RunTracker,
    monitoring: Monitoring,
) -> RunOutcome:
    tracker.begin()
    workflow.last_handlers = []
    try:
        with _monitored(workflow, recorder, monitoring):
            executor.execute(workflow, recorder=recorder)
    except WorkflowError:
        return _ended(workflow, RunStatus.FAILED, ExitCode.TASK_FAILED)
    except RunTimeoutError as exc:
        return _ended(workflow, RunStatus.TIMED_OUT, ExitCode.TIMED_OUT, str(exc))
    except RunInterrupted as exc:
        tracker.cancel_unfinished(str(exc))
        return _ended(workflow, RunStatus.INTERRUPTED, exc.exit_code)
    finally:
        tracker.end()
    return _ended(workflow, RunStatus.COMPLETED, ExitCode.OK)


def _ended(
    workflow: Workflow, status: RunStatus, code: int, message: str | None = None
) -> RunOutcome:
    """The outcome, with how the run's handlers ended (they ran before ``execute`` ended)."""
    return RunOutcome(status, code, tuple(workflow.last_handlers), message)


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
def _subscribed(
    workflow: Workflow, tracker: RunTracker, reporter: Reporter, logs: TaskLogs
) -> Iterator[None]:
    unsubscribe = [
        workflow.subscribe(tracker.apply),
        workflow.subscribe(reporter.event),
        workflow.subscribe_output(logs.take),  # first: the reporter reads it
        workflow.subscribe_output(reporter.output),
    ]
    try:
        yield
    finally:
        for stop in unsubscribe:
            stop()
