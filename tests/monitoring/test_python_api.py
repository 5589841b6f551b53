"""``flowweaver.monitoring.monitored`` from Python: one mask for spans and labels, and
a textfile kept right without a history."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _otel_tasks import fails
from _otlp import Receiver
from prometheus_client.parser import text_string_to_metric_families

from flowweaver import SequentialExecutor, Task, Workflow, WorkflowError
from flowweaver.monitoring import monitored

SECRET = "s3cr3t"


def mask(text: str) -> str:
    return text.replace(SECRET, "***")


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    with Receiver() as running:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", running.endpoint)
        monkeypatch.delenv("TRACEPARENT", raising=False)
        yield running


def workflow(ok: bool) -> Workflow:
    made = Workflow(f"etl-{SECRET}")
    made.add_task(Task(f"load-{SECRET}", (lambda: 1) if ok else fails))
    made.add_task(Task("after", lambda: 2, depends_on=[f"load-{SECRET}"]))
    return made


def test_secrets_never_reach_spans_or_labels(tmp_path: Path, receiver: Receiver) -> None:
    flow = workflow(ok=False)
    path = tmp_path / "etl.prom"
    with pytest.raises(WorkflowError), monitored(flow, otel=True, metrics_file=path, mask=mask):
        SequentialExecutor().execute(flow)
    spans = receiver.wait_for(3)
    assert {span.name for span in spans} == {"run etl-***", "load-***", "after"}
    load = next(span for span in spans if span.name == "load-***")
    assert load.events == [
        ("exception", {"exception.type": "ValueError", "exception.message": "token *** refused"})
    ]
    assert SECRET not in repr(spans)
    text = path.read_text(encoding="utf-8")
    assert SECRET not in text and 'task="load-***"' in text


def last_success(path: Path) -> float:
    for family in text_string_to_metric_families(path.read_text(encoding="utf-8")):
        if family.name == "flowweaver_run_last_success_timestamp_seconds":
            return float(family.samples[0].value)
    raise AssertionError("no last success")


def test_without_a_history_the_file_keeps_the_last_success(tmp_path: Path) -> None:
    path = tmp_path / "etl.prom"
    flow = workflow(ok=True)
    with monitored(flow, metrics_file=path):
        SequentialExecutor().execute(flow)
    first = last_success(path)
    assert first > 0
    flow = workflow(ok=False)
    with pytest.raises(WorkflowError), monitored(flow, metrics_file=path):
        SequentialExecutor().execute(flow)
    assert last_success(path) == first
