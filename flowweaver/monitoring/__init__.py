"""Monitoring a run: OpenTelemetry traces and a Prometheus textfile (SPEC section 12).

Both are observers of the run's one event stream, subscribed for the time of a run:

    from flowweaver import RunStore, ThreadedExecutor
    from flowweaver.monitoring import monitored

    store = RunStore(".flowweaver")
    with monitored(workflow, otel=True, metrics_file="/var/lib/node_exporter/etl.prom",
                   store=store):
        ThreadedExecutor().execute(workflow, store=store)

- ``otel``: traces (:mod:`flowweaver.monitoring.otel`, which imports OpenTelemetry:
  the ``flowweaver[otel]`` extra), configured by the standard ``OTEL_*`` variables.
  It also hooks every attempt (``Workflow.wrap_attempts``), so that tasks run inside
  their span (:mod:`flowweaver.monitoring.context`).
- ``metrics_file``: the textfile (:mod:`flowweaver.monitoring.metrics`, which imports
  ``prometheus_client``: the ``flowweaver[metrics]`` extra), written when the run ends,
  however it ends.

How the run ended is read from what ``execute`` raised. Neither ever changes it: a
collector that can't be reached, or a file that can't be written, is one warning on
the ``flowweaver`` logger. Without either, nothing here is imported but this module.

Every text that goes into a span or a label passes through ``mask`` (the workflow's
secrets become ``***``): one function, the same for both.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from flowweaver._logger import logger
from flowweaver.errors import InputError, RunInterrupted, RunTimeoutError, WorkflowError

if TYPE_CHECKING:
    from flowweaver.history import RunStore
    from flowweaver.monitoring.metrics import RunMetrics
    from flowweaver.monitoring.otel import Tracing
    from flowweaver.workflow import Workflow


OTEL_VARIABLE = "FLOWWEAVER_OTEL"
"""The environment variable that turns traces on (``1``) or off (``0``)."""

_YES = ("1", "true", "yes", "on")
_NO = ("", "0", "false", "no", "off")

Mask = Callable[[str], str]
"""What hides secrets in a text that leaves the run (a span's attribute, a label)."""


class SetupError(InputError):
    """Monitoring can't work as asked (an extra is missing); ``hint`` says what to do."""

    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.hint = hint


def no_mask(text: str) -> str:
    """The mask of a run without secrets."""
    return text


def otel_wanted(
    option: bool | None, spec: bool = False, environ: Mapping[str, str] = os.environ
) -> bool:
    """Whether a run is traced: ``--otel``/``--no-otel`` when given, else
    ``FLOWWEAVER_OTEL`` when set, else the spec's ``otel:``. Raises
    :class:`InputError` for a ``FLOWWEAVER_OTEL`` that says neither yes nor no."""
    if option is not None:
        return option
    value = environ.get(OTEL_VARIABLE)
    if value is None:
        return spec
    if value.strip().lower() in _YES:
        return True
    if value.strip().lower() in _NO:
        return False
    raise InputError(f"{OTEL_VARIABLE}={value!r}: expected 1 (traces on) or 0 (off)")


def check(
    *, otel: bool, metrics_file: str | os.PathLike[str] | None, environ: Mapping[str, str]
) -> None:
    """Refuse, before the run starts, what can't work: an extra that is not installed,
    an OTLP protocol without its exporter, a metrics file whose folder is missing.
    Raises :class:`InputError` (its ``hint`` says what to do)."""
    if otel:
        _check_otel(environ)
    if metrics_file is not None:
        from importlib.util import find_spec

        from flowweaver.monitoring.metrics import check_path

        if find_spec("prometheus_client") is None:
            raise _missing("the metrics file needs prometheus_client", "metrics")
        problem = check_path(Path(metrics_file))
        if problem is not None:
            raise InputError(f"metrics file {metrics_file}: {problem}")


def _check_otel(environ: Mapping[str, str]) -> None:
    from importlib.util import find_spec

    if find_spec("opentelemetry") is None or find_spec("opentelemetry.sdk") is None:
        raise _missing("traces need the OpenTelemetry SDK", "otel")
    if find_spec("opentelemetry.exporter.otlp.proto.http") is None:
        raise _missing("traces need the OTLP exporter", "otel")
    from flowweaver.monitoring.otel import protocol

    wanted = protocol(environ)
    if wanted == "grpc":
        if find_spec("opentelemetry.exporter.otlp.proto.grpc") is None:
            raise SetupError(
                "OTEL_EXPORTER_OTLP_PROTOCOL=grpc needs the OTLP gRPC exporter, which is not "
                "installed",
                "pip install opentelemetry-exporter-otlp-proto-grpc, or use http/protobuf",
            )
    elif wanted != "http/protobuf":
        raise SetupError(
            f"OTLP protocol {wanted!r} is not supported",
            "set OTEL_EXPORTER_OTLP_PROTOCOL to http/protobuf (the default) or grpc",
        )


def _missing(what: str, extra: str) -> SetupError:
    return SetupError(f"{what}, which is not installed", f"pip install 'flowweaver[{extra}]'")


def _status(exc: BaseException | None) -> tuple[str, int | None]:
    """How the run ended, as a ``RunStatus`` value, and the command's exit code."""
    if exc is None:
        return "completed", 0
    if isinstance(exc, RunInterrupted):
        return "interrupted", exc.exit_code
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted", None
    if isinstance(exc, RunTimeoutError):
        return "timed_out", RunTimeoutError.exit_code
    if isinstance(exc, WorkflowError):
        return "failed", 1
    return "failed", None


@contextlib.contextmanager
def monitored(
    workflow: Workflow,
    *,
    otel: bool = False,
    metrics_file: str | os.PathLike[str] | None = None,
    run_id: str | None = None,
    store: RunStore | None = None,
    mask: Mask | None = None,
) -> Iterator[None]:
    """Trace and/or measure the run of ``workflow`` made inside the block (see the
    module). ``run_id`` names the run in the spans (default: the one its spec was
    loaded for, if any); ``store`` is the history the last success is read from when
    the run does not succeed. Traces are configured by the ``OTEL_*`` variables of
    ``os.environ``. Raises :class:`InputError` before the block when an extra is
    missing (see :func:`check`)."""
    if not otel and metrics_file is None:
        yield
        return
    check(otel=otel, metrics_file=metrics_file, environ=os.environ)
    if mask is None:  # the run's one masking step: its workflow's secrets
        mask = workflow.masker().mask
    if run_id is None and workflow.spec is not None:
        run_id = workflow.spec.run_id
    start = time.time()
    stops: list[Callable[[], None]] = []
    tracing = metrics = None
    if otel:
        from flowweaver.monitoring.otel import Tracing

        tracing = Tracing(
            workflow.name,
            workflow.get_all_tasks(),
            run_id=run_id,
            start=start,
            mask=mask,
        )
        stops += [workflow.subscribe(tracing.event), workflow.wrap_attempts(tracing.prepare)]
    if metrics_file is not None:
        from flowweaver.monitoring.metrics import RunMetrics

        metrics = RunMetrics(metrics_file, workflow.name, mask)
        stops.append(workflow.subscribe(metrics.event))
    failure: BaseException | None = None
    try:
        yield
    except BaseException as exc:
        failure = exc
        raise
    finally:
        for stop in stops:
            stop()
        status, exit_code = _status(failure)
        end = time.time()
        if metrics is not None:
            _write_metrics(metrics, status, start, end, workflow.name, store)
        if tracing is not None:
            _close_tracing(tracing, status, end, exit_code)


def _write_metrics(
    metrics: RunMetrics, status: str, start: float, end: float, name: str, store: RunStore | None
) -> None:
    try:
        last = None  # the history's, when there is one: this run's end if it completed
        if store is not None:
            last = store.last_success(name)
        metrics.write(status, start, end, last)
    except Exception as exc:
        logger.warning("metrics file %s not written: %s", metrics.path, exc)


def _close_tracing(tracing: Tracing, status: str, end: float, exit_code: int | None) -> None:
    try:
        problem = tracing.close(status, end, exit_code)
    except Exception as exc:
        problem = f"traces not sent: {exc}"
    if problem is not None:
        logger.warning("%s", problem)
