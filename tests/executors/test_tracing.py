"""Every executor runs each attempt inside its span: Python code sees it as the current
OpenTelemetry context (coroutines too), shell commands as TRACEPARENT; the spans are
made on the loop, from the events, and sent by the real OTLP/HTTP exporter."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from _otel_tasks import fails, span_id, span_id_async
from _otlp import STATUS_ERROR, Receiver
from conftest import Make

from flowweaver import Task, Workflow, WorkflowError
from flowweaver.monitoring import monitored
from flowweaver.shell import ShellCommand


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    with Receiver() as running:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", running.endpoint)
        monkeypatch.delenv("TRACEPARENT", raising=False)
        yield running


def test_each_attempt_runs_inside_its_span(make: Make, receiver: Receiver) -> None:
    workflow = Workflow("traced", pools={"db": 1})
    workflow.add_task(Task("py", span_id, pool="db"))
    workflow.add_task(Task("co", span_id_async))
    workflow.add_task(Task("sh", ShellCommand(script='printf %s "$TRACEPARENT"')))
    workflow.add_task(Task("bad", fails, retries=1))
    with pytest.raises(WorkflowError), monitored(workflow, otel=True, run_id="r1"):
        make().execute(workflow)
    spans = {(s.name, s.attributes.get("flowweaver.attempt")): s for s in receiver.wait_for(6)}
    run = spans[("run traced", None)]
    assert run.attributes["cicd.pipeline.run.id"] == "r1"
    for name in ("py", "co"):
        span = spans[(name, 1)]
        assert span.parent_id == run.span_id
        assert workflow.get_task_result(name) == f"{run.trace_id}-{span.span_id}"
    assert spans[("py", 1)].attributes["flowweaver.pool"] == "db"
    sh = spans[("sh", 1)]
    assert workflow.get_task_result("sh").startswith(f"00-{run.trace_id}-{sh.span_id}-")
    for attempt in (1, 2):
        bad = spans[("bad", attempt)]
        assert bad.status == STATUS_ERROR and bad.parent_id == run.span_id
    assert spans[("py", 1)].start >= run.start and spans[("bad", 2)].end <= run.end
