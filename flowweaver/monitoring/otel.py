"""OpenTelemetry traces of a run, made from its task events (imported only on opt-in).

:class:`Tracing` is an observer of the run's event stream. It makes one span for the
run (``run WORKFLOW``, a child of the trace ``TRACEPARENT`` names when it is set) and,
as the events come, one child span per task attempt (map items too, under a span of
their mapped task), with the times the events carry: an attempt on a worker process or
a Dask worker gets its span where the loop observes it, from its start to its end. A
failed attempt's span has status ERROR and an ``exception`` event; a task that was
skipped or cancelled before it started is a zero-length span with its reason.

Its attempt hook (:meth:`Tracing.prepare`) wraps each attempt's call so that it runs
inside its span (:mod:`flowweaver.monitoring.context`).

Spans go through a batch processor to an OTLP exporter configured by the standard
``OTEL_*`` variables. At the run's end the export gets a bounded time (2 s, or
``OTEL_BSP_EXPORT_TIMEOUT`` milliseconds); whatever could not be sent is reported by
one warning, and never changes the run's outcome.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.trace import Span, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from flowweaver import __version__
from flowweaver.events import TaskEvent
from flowweaver.executors.contract import Attempt
from flowweaver.monitoring.context import in_span
from flowweaver.task import Task, TaskStatus

EXIT_SECONDS = 2.0
"""How long the end of a run waits for its spans to be sent, by default."""

QUEUE_SIZE = 65_536
"""Spans the batch processor holds before it drops any (``OTEL_BSP_MAX_QUEUE_SIZE``
overrides it): a 10,000-task run fits, even when the collector is slow."""

_RUNNING, _COMPLETED, _FAILED = TaskStatus.RUNNING, TaskStatus.COMPLETED, TaskStatus.FAILED
_SKIPPED, _CANCELLED, _PENDING = TaskStatus.SKIPPED, TaskStatus.CANCELLED, TaskStatus.PENDING
_RESULTS = {
    "completed": "success",
    "failed": "failure",
    "interrupted": "cancellation",
    "timed_out": "timeout",
}
_TIMED_OUT = "timed out after "


class Tracing:
    """The spans of one run of a workflow (see the module). ``mask`` is applied to every
    text that goes into a span (names, errors, reasons): the workflow's secrets."""

    def __init__(
        self,
        workflow: str,
        tasks: Mapping[str, Task],
        *,
        run_id: str | None,
        start: float,
        mask: Callable[[str], str],
    ) -> None:
        environ = os.environ
        self._mask = mask
        self._tasks = tasks
        self._exporter = _Watched(_exporter(environ))
        self._processor = BatchSpanProcessor(
            self._exporter,
            max_queue_size=None if "OTEL_BSP_MAX_QUEUE_SIZE" in environ else QUEUE_SIZE,
        )
        _PROBLEMS.start()
        _RELAY.start(self._processor)
        self._tracer = _provider().get_tracer("flowweaver", __version__)
        self._common: dict[str, str] = {"cicd.pipeline.name": mask(workflow)}
        if run_id is not None:
            self._common["cicd.pipeline.run.id"] = mask(run_id)
        self._run = self._tracer.start_span(
            f"run {mask(workflow)}",
            context=_parent(environ),
            start_time=_ns(start),
            attributes=self._common,
        )
        self._context = trace.set_span_in_context(self._run)
        self._attempts: dict[tuple[str, int], Span] = {}  # open attempt spans
        self._mapped: dict[str, tuple[Span, Context]] = {}  # open spans of mapped tasks

    # -- the event stream ----------------------------------------------------------

    def event(self, event: TaskEvent) -> None:
        """An observer: open, end or make the spans the event says."""
        status = event.status
        if status is _RUNNING:
            if event.retry_in is not None:
                self._end_attempt(event, "failure")
            elif event.items is not None:
                self._open_mapped(event)
            else:
                self._open_attempt(event)
        elif status is _COMPLETED:
            self._ended(event, "success")
        elif status is _FAILED:
            self._ended(event, "failure")
        elif status is _SKIPPED:
            self._ended(event, "skip")
        elif status is _CANCELLED:
            self._ended(event, "cancellation")
        # PENDING (waiting for a pool slot): the attempt's span starts when it runs

    def _open_attempt(self, event: TaskEvent) -> None:
        parent = self._context
        if event.parent is not None and event.parent in self._mapped:
            parent = self._mapped[event.parent][1]
        span = self._tracer.start_span(
            self._mask(event.task),
            context=parent,
            start_time=_ns(event.time),
            attributes=self._task_attributes(event),
        )
        self._attempts[(event.task, event.attempt)] = span

    def _open_mapped(self, event: TaskEvent) -> None:
        attributes = self._task_attributes(event)
        del attributes["flowweaver.attempt"]  # its items have the attempts
        attributes["flowweaver.map.items"] = event.items or 0
        span = self._tracer.start_span(
            self._mask(event.task),
            context=self._context,
            start_time=_ns(event.time),
            attributes=attributes,
        )
        self._mapped[event.task] = (span, trace.set_span_in_context(span, self._context))

    def _ended(self, event: TaskEvent, result: str) -> None:
        """A task (or item) ended: its attempt's span, or its mapped task's, ends; one
        that never started is a span of no length."""
        if (event.task, event.attempt) in self._attempts:
            self._end_attempt(event, result)
            return
        mapped = self._mapped.pop(event.task, None)
        if mapped is not None:
            self._finish(mapped[0], event, result)
            return
        parent = self._context
        if event.parent is not None and event.parent in self._mapped:
            parent = self._mapped[event.parent][1]
        span = self._tracer.start_span(
            self._mask(event.task),
            context=parent,
            start_time=_ns(event.time),
            attributes=self._task_attributes(event),
        )
        self._finish(span, event, result)

    def _end_attempt(self, event: TaskEvent, result: str) -> None:
        span = self._attempts.pop((event.task, event.attempt), None)
        if span is not None:
            self._finish(span, event, result)

    def _finish(self, span: Span, event: TaskEvent, result: str) -> None:
        error = event.error
        if result == "failure" and error is not None and error.startswith(_TIMED_OUT):
            result = "timeout"
        span.set_attribute("cicd.pipeline.task.run.result", result)
        if event.cached:
            span.set_attribute("flowweaver.cached", True)
        if event.reused:
            span.set_attribute("flowweaver.reused", True)
        if event.allowed:
            span.set_attribute("flowweaver.allowed_failure", True)
        if result in ("skip", "cancellation"):
            reason = event.reason or error
            if reason:
                span.set_attribute("flowweaver.reason", self._mask(reason))
        elif result in ("failure", "timeout"):
            self._failed(span, error or "failed", result, event.retry_in)
        elif result == "success":
            span.set_status(Status(StatusCode.OK))
        span.end(end_time=_ns(event.time))

    def _failed(self, span: Span, error: str, result: str, retry_in: float | None) -> None:
        text = self._mask(error)
        kind = "timeout" if result == "timeout" else _error_type(text)
        message = text.split(": ", 1)[1] if text.startswith(f"{kind}: ") else text
        span.set_attribute("error.type", kind)
        if retry_in is not None:
            span.set_attribute("flowweaver.retry_in", retry_in)
        span.add_event("exception", {"exception.type": kind, "exception.message": message})
        span.set_status(Status(StatusCode.ERROR, text.splitlines()[0] if text else None))

    def _task_attributes(self, event: TaskEvent) -> dict[str, Any]:
        attributes: dict[str, Any] = {  # (the pipeline's name and run id: on the run's span)
            "cicd.pipeline.task.name": self._mask(event.task),
            "flowweaver.attempt": event.attempt,
        }
        task = self._tasks.get(event.task if event.parent is None else event.parent)
        if event.parent is not None:
            attributes["flowweaver.map.task"] = self._mask(event.parent)
            attributes["flowweaver.map.key"] = self._mask(event.task[len(event.parent) + 1 : -1])
        if task is not None and task.pool is not None:
            attributes["flowweaver.pool"] = self._mask(task.pool)
        return attributes

    # -- the attempt hook ----------------------------------------------------------

    def prepare(self, attempt: Attempt) -> None:
        """Wrap the attempt's call so that it runs inside its span."""
        span = self._attempts.get((attempt.name, attempt.number))
        if span is None:
            return
        context = span.get_span_context()  # (W3C trace context, as the propagator writes it)
        if not context.is_valid:  # (OTEL_SDK_DISABLED=true: spans are not made)
            return
        traceparent = f"00-{context.trace_id:032x}-{context.span_id:016x}-{context.trace_flags:02x}"
        tracestate = context.trace_state.to_header() if context.trace_state else ""
        attempt.fn = in_span(
            attempt.fn, traceparent, tracestate, trace.set_span_in_context(span, self._context)
        )

    # -- the end ---------------------------------------------------------------------

    def close(self, status: str, end: float, exit_code: int | None = None) -> str | None:
        """End the run's span (``status``: how the run ended, a ``RunStatus`` value) and
        send what is left, for a bounded time. Returns a warning when spans could not
        all be sent (the caller shows it), else ``None``."""
        end_ns = _ns(end)
        for span in [*self._attempts.values(), *(s for s, _ in self._mapped.values())]:
            span.end(end_time=end_ns)  # (cancelled tasks end before: none is left open)
        self._attempts.clear()
        self._mapped.clear()
        result = _RESULTS.get(status, "error")
        self._run.set_attribute("cicd.pipeline.result", result)
        if exit_code is not None:
            self._run.set_attribute("flowweaver.exit_code", exit_code)
        if result == "success":
            self._run.set_status(Status(StatusCode.OK))
        else:
            self._run.set_status(Status(StatusCode.ERROR, f"run {status.replace('_', ' ')}"))
        self._run.end(end_time=end_ns)
        return self._send(_exit_seconds(os.environ))

    def _send(self, seconds: float) -> str | None:
        """Send what the batch processor holds, waiting at most ``seconds``; a warning
        when spans were left unsent."""
        handed = _RELAY.stop(self._processor)
        done = threading.Event()

        def flush() -> None:
            try:
                self._processor.shutdown()  # type: ignore[no-untyped-call] # exports what is queued, then stops
            finally:
                done.set()

        threading.Thread(target=flush, name="flowweaver-otel-flush", daemon=True).start()
        if not done.wait(seconds):
            self._exporter.shutdown()  # no more retries; a request in flight is given up
        unsent = handed - self._exporter.sent
        if unsent <= 0:
            return None
        reason = _PROBLEMS.first()
        if reason is None:
            reason = "the collector refused them" if self._exporter.failures else "no answer"
        reason = f"{_shortened(reason)} (gave up after {seconds:g}s)"
        return f"{unsent} of {handed} trace spans not sent to {self._exporter.endpoint}: {reason}"


class _Watched(SpanExporter):
    """The OTLP exporter, counting the spans it sent and the batches it could not."""

    def __init__(self, exporter: SpanExporter) -> None:
        self._exporter = exporter
        self.sent = 0
        self.failures = 0
        self.endpoint = str(getattr(exporter, "_endpoint", "the collector"))
        self._closed = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            result = self._exporter.export(spans)
        except Exception:
            result = SpanExportResult.FAILURE
        if result is SpanExportResult.SUCCESS:
            self.sent += len(spans)
        else:
            self.failures += 1
        return result

    def shutdown(self) -> None:
        if not self._closed:
            self._closed = True
            self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class _Relay(SpanProcessor):
    """The process's tracer provider hands ended spans to the current run's batch
    processor: one provider (the global one, so that spans tasks make in this process
    are sent too) for every run the process makes. Counts the sampled spans handed on."""

    def __init__(self) -> None:
        self._current: SpanProcessor | None = None
        self._handed = 0

    def start(self, processor: SpanProcessor) -> None:
        self._current, self._handed = processor, 0

    def stop(self, processor: SpanProcessor) -> int:
        """The run of ``processor`` ends: how many spans it was handed."""
        if self._current is processor:
            self._current = None
        return self._handed

    def on_end(self, span: ReadableSpan) -> None:
        current = self._current
        if current is not None and span.context is not None and span.context.trace_flags.sampled:
            self._handed += 1
            current.on_end(span)


_RELAY = _Relay()
_PROPAGATOR = TraceContextTextMapPropagator()
_made: list[TracerProvider] = []


def _provider() -> TracerProvider:
    """The process's tracer provider (made once; the global one unless the program set
    its own): resource from ``OTEL_SERVICE_NAME``/``OTEL_RESOURCE_ATTRIBUTES`` (service
    ``flowweaver`` by default), sampler from ``OTEL_TRACES_SAMPLER``."""
    if not _made:
        resource = Resource.create()
        if str(resource.attributes.get(SERVICE_NAME, "")).startswith("unknown_service"):
            resource = resource.merge(Resource({SERVICE_NAME: "flowweaver"}))
        provider = TracerProvider(resource=resource, shutdown_on_exit=False)
        provider.add_span_processor(_RELAY)
        if isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
            trace.set_tracer_provider(provider)
        _made.append(provider)
    return _made[0]


def _exporter(environ: Mapping[str, str]) -> SpanExporter:
    """The OTLP exporter of the protocol ``OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL`` names
    (``http/protobuf`` by default; ``grpc`` when its exporter is installed, which
    ``check`` made sure of); its endpoint, headers, timeout and compression come from
    the ``OTEL_EXPORTER_OTLP_*`` variables (the exporter reads them)."""
    if protocol(environ) == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[import-not-found,unused-ignore]
            OTLPSpanExporter as GrpcSpanExporter,
        )

        return GrpcSpanExporter()  # type: ignore[no-any-return,unused-ignore]
    return OTLPSpanExporter()


def protocol(environ: Mapping[str, str]) -> str:
    """The OTLP protocol the variables ask for."""
    return (
        environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or environ.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()


def _parent(environ: Mapping[str, str]) -> Context | None:
    """The context ``TRACEPARENT`` (and ``TRACESTATE``) name, if set: the run's parent."""
    traceparent = environ.get("TRACEPARENT")
    if not traceparent:
        return None
    carrier = {"traceparent": traceparent}
    if environ.get("TRACESTATE"):
        carrier["tracestate"] = environ["TRACESTATE"]
    return _PROPAGATOR.extract(carrier)


def _exit_seconds(environ: Mapping[str, str]) -> float:
    value = environ.get("OTEL_BSP_EXPORT_TIMEOUT", "")
    try:
        return max(float(value) / 1000, 0.0) if value else EXIT_SECONDS
    except ValueError:
        return EXIT_SECONDS


def _shortened(text: str, limit: int = 160) -> str:
    """A logged problem in a few words: an OS error's own text when it has one
    (``[Errno 111] Connection refused``), else its first ``limit`` characters."""
    found = re.search(r"\[Errno -?\d+\] [^'\")\]]+", text)
    if found:
        return found.group(0).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _ns(seconds: float) -> int:
    return int(seconds * 1e9)


def _error_type(error: str) -> str:
    """``ValueError`` of ``ValueError: bad row``; ``_OTHER`` when the text names none."""
    head = error.split(":", 1)[0]
    return head if head.isidentifier() else "_OTHER"


class _Problems(logging.Handler):
    """Keeps what the SDK and the exporter log, instead of printing it (their warnings
    would reach stderr one by one): the first becomes the reason of the run's one
    warning."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self._messages: list[str] = []

    def start(self) -> None:
        """A run starts: forget the last one's; from now on the SDK's records come here."""
        self._messages = []
        sdk = logging.getLogger("opentelemetry")
        if self not in sdk.handlers:
            sdk.addHandler(self)
            sdk.propagate = False

    def emit(self, record: logging.LogRecord) -> None:
        lines = record.getMessage().splitlines()
        if lines and len(self._messages) < 10:
            self._messages.append(lines[0])

    def first(self) -> str | None:
        return self._messages[0] if self._messages else None


_PROBLEMS = _Problems()
