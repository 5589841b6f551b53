"""``flowweaver.monitoring.monitored`` from Python: one mask for spans and labels, and
a textfile kept right without a history."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _otel_tasks import fails
from _otlp import STATUS_ERROR, Receiver
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
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


def _fail() -> None:
    raise RuntimeError("no")


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(st.booleans(), st.integers(0, 2), st.lists(st.integers(0, 5), max_size=2)),
        min_size=1,
        max_size=6,
    )
)
def test_spans_and_metrics_against_a_model(
    tmp_path: Path, receiver: Receiver, plan: list[tuple[bool, int, list[int]]]
) -> None:
    """Random DAGs of tasks that complete or fail after their retries: each task's spans
    and its textfile attempts are what a small model of the run says."""
    flow = Workflow("model")
    expected: dict[str, int] = {}  # task -> attempts made (0: skipped)
    completed: set[str] = set()
    for i, (ok, retries, ups) in enumerate(plan):
        name = f"t{i}"
        deps = sorted({f"t{u}" for u in ups if u < i})
        flow.add_task(Task(name, (lambda: 1) if ok else _fail, retries=retries, depends_on=deps))
        runs = all(dep in completed for dep in deps)
        expected[name] = (1 if ok else retries + 1) if runs else 0
        if runs and ok:
            completed.add(name)
    before = len(receiver.spans)  # (hypothesis seeds `random`: trace ids may repeat)
    run_id = f"model-{before}"
    path = tmp_path / f"{run_id}.prom"
    try:
        with monitored(flow, otel=True, metrics_file=path, run_id=run_id):
            SequentialExecutor().execute(flow)
    except WorkflowError:
        assert len(completed) < len(plan)
    count = 1 + sum(max(n, 1) for n in expected.values())
    spans = receiver.wait_for(before + count)[before:]
    assert len(spans) == count
    (run,) = [s for s in spans if s.attributes.get("cicd.pipeline.run.id") == run_id]
    mine = [s for s in spans if s is not run]
    assert all(s.parent_id == run.span_id for s in mine)
    for name, attempts in expected.items():
        found = sorted(
            (s for s in mine if s.name == name), key=lambda s: s.attributes["flowweaver.attempt"]
        )
        if attempts == 0:
            (skipped,) = found
            assert skipped.duration == 0 and skipped.attributes["flowweaver.reason"]
        else:
            assert [s.attributes["flowweaver.attempt"] for s in found] == list(
                range(1, attempts + 1)
            )
            ok = plan[int(name[1:])][0]
            assert [s.status == STATUS_ERROR for s in found] == [not ok] * attempts
    samples = {
        s.labels["task"]: s.value
        for f in text_string_to_metric_families(path.read_text(encoding="utf-8"))
        for s in f.samples
        if f.name == "flowweaver_task_attempts"
    }
    assert samples == expected
