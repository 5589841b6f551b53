"""A small OTLP/HTTP trace receiver on 127.0.0.1, for the tests: it decodes what a real
exporter posts to ``/v1/traces`` with ``opentelemetry-proto`` and keeps the spans."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

STATUS_OK, STATUS_ERROR = 1, 2  # opentelemetry.proto.trace.v1.Status.StatusCode


@dataclass
class SpanRecord:
    """One received span, its ids as hex, its attributes as Python values."""

    name: str
    trace_id: str
    span_id: str
    parent_id: str
    start: float
    end: float
    status: int
    status_message: str
    attributes: dict[str, Any]
    events: list[tuple[str, dict[str, Any]]]
    resource: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> float:
        return self.end - self.start


def _value(any_value: Any) -> Any:
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def _attributes(pairs: Any) -> dict[str, Any]:
    return {pair.key: _value(pair.value) for pair in pairs}


class Receiver:
    """``with Receiver() as receiver``: ``receiver.endpoint`` takes traces; ``spans``
    holds what arrived; ``wait_for(n)`` waits (on a condition, not a sleep) for n."""

    def __init__(self) -> None:
        self.spans: list[SpanRecord] = []
        self.requests = 0
        self._arrived = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                receiver._keep(request, self.path, dict(self.headers))
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.paths: list[str] = []
        self.headers: list[dict[str, str]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def _keep(self, request: ExportTraceServiceRequest, path: str, headers: dict[str, str]) -> None:
        with self._arrived:
            self.requests += 1
            self.paths.append(path)
            self.headers.append(headers)
            for resource_spans in request.resource_spans:
                resource = _attributes(resource_spans.resource.attributes)
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        self.spans.append(
                            SpanRecord(
                                name=span.name,
                                trace_id=span.trace_id.hex(),
                                span_id=span.span_id.hex(),
                                parent_id=span.parent_span_id.hex(),
                                start=span.start_time_unix_nano / 1e9,
                                end=span.end_time_unix_nano / 1e9,
                                status=span.status.code,
                                status_message=span.status.message,
                                attributes=_attributes(span.attributes),
                                events=[(e.name, _attributes(e.attributes)) for e in span.events],
                                resource=resource,
                            )
                        )
            self._arrived.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[SpanRecord]:
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.spans) >= count, timeout)
            return list(self.spans)

    def named(self, name: str) -> list[SpanRecord]:
        return [span for span in self.spans if span.name == name]

    def one(self, name: str) -> SpanRecord:
        found = self.named(name)
        assert len(found) == 1, (name, [s.name for s in self.spans])
        return found[0]

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __iter__(self) -> Iterator[SpanRecord]:
        return iter(list(self.spans))
