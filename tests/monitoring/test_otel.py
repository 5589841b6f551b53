"""OpenTelemetry traces of ``flowweaver run``, sent by the real OTLP/HTTP exporter to a
receiver on 127.0.0.1 and decoded with opentelemetry-proto."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from _cli import write
from _monitoring import PARENT_SPAN, TRACE_ID, TRACEPARENT, env_with, fw_env, project
from _otlp import STATUS_ERROR, STATUS_OK, Receiver, SpanRecord

DEMO = """
name: demo
tasks:
  a: {call: mon_tasks:ok}
  b: {call: mon_tasks:boom, retries: 1, depends_on: [a]}
  c: {call: mon_tasks:ok, depends_on: [b]}
  sh: {shell: 'printf %s "$TRACEPARENT" > traceparent.txt', depends_on: [a]}
  py: {call: mon_tasks:current_span, kwargs: {out: py-span.txt}}
  user: {call: mon_tasks:makes_a_span}
  m:
    shell: 'echo ${item}'
    map: {over: [x, y]}
"""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as running:
        yield running


@pytest.fixture
def here(tmp_path: Path) -> Path:
    project(tmp_path)
    write(tmp_path, "demo.yaml", DEMO)
    return tmp_path


def otel_env(receiver: Receiver, **extra: str) -> dict[str, str]:
    return {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.endpoint, **extra}


def by_name(spans: list[SpanRecord]) -> dict[str, list[SpanRecord]]:
    found: dict[str, list[SpanRecord]] = {}
    for span in spans:
        found.setdefault(span.name, []).append(span)
    for named in found.values():
        named.sort(key=lambda span: span.attributes.get("flowweaver.attempt", 0))
    return found


def test_a_run_is_a_tree_of_spans_under_the_traceparent(here: Path, receiver: Receiver) -> None:
    done = fw_env(
        "run",
        "demo.yaml",
        "--otel",
        cwd=here,
        env=otel_env(receiver, TRACEPARENT=TRACEPARENT, OTEL_SERVICE_NAME="nightly"),
    )
    assert done.returncode == 1, done.stderr  # b failed: the exit code is the run's
    assert "warning" not in done.stderr
    spans = by_name(receiver.wait_for(12))
    run_id = json.loads(fw_env("show", "latest", "--output", "json", cwd=here).stdout)["id"]

    (run,) = spans["run demo"]
    assert run.trace_id == TRACE_ID and run.parent_id == PARENT_SPAN
    assert run.status == STATUS_ERROR
    assert run.attributes["cicd.pipeline.name"] == "demo"
    assert run.attributes["cicd.pipeline.run.id"] == run_id
    assert run.attributes["cicd.pipeline.result"] == "failure"
    assert run.attributes["flowweaver.exit_code"] == 1
    assert run.resource["service.name"] == "nightly"
    assert all(span.trace_id == TRACE_ID for named in spans.values() for span in named)

    (a,) = spans["a"]
    assert a.parent_id == run.span_id and a.status == STATUS_OK
    assert a.attributes["cicd.pipeline.task.name"] == "a"
    assert a.attributes["cicd.pipeline.task.run.result"] == "success"
    assert a.attributes["flowweaver.attempt"] == 1
    assert run.start <= a.start <= a.end <= run.end

    first, second = spans["b"]  # one span per attempt, each failed
    assert [first.attributes["flowweaver.attempt"], second.attributes["flowweaver.attempt"]] == [
        1,
        2,
    ]
    assert a.end <= first.start <= first.end <= second.start <= second.end
    for attempt in (first, second):
        assert attempt.parent_id == run.span_id
        assert attempt.status == STATUS_ERROR
        assert attempt.attributes["error.type"] == "ValueError"
        assert attempt.attributes["cicd.pipeline.task.run.result"] == "failure"
        assert attempt.events == [
            ("exception", {"exception.type": "ValueError", "exception.message": "bad thing"})
        ]

    (c,) = spans["c"]  # skipped: a span of no length, with its reason
    assert c.duration == 0 and c.start >= second.end
    assert c.attributes["cicd.pipeline.task.run.result"] == "skip"
    assert c.attributes["flowweaver.reason"] == "upstream failed"

    (m,) = spans["m"]  # a mapped task: its items' spans under its own
    assert m.parent_id == run.span_id and m.attributes["flowweaver.map.items"] == 2
    for key in ("x", "y"):
        (item,) = spans[f"m[{key}]"]
        assert item.parent_id == m.span_id
        assert item.attributes["flowweaver.map.key"] == key
        assert item.attributes["flowweaver.map.task"] == "m"
        assert m.start <= item.start <= item.end <= m.end

    (sh,) = spans["sh"]  # the shell command saw its own span as TRACEPARENT
    assert (here / "traceparent.txt").read_text() == f"00-{TRACE_ID}-{sh.span_id}-01"

    (py,) = spans["py"]  # the Python task ran inside its span
    assert (here / "py-span.txt").read_text() == f"{TRACE_ID} {py.span_id}"
    (user,) = spans["user"]
    (made,) = spans["user-span"]  # and a span it makes is its child, sent with the run's
    assert made.parent_id == user.span_id


def test_attempts_on_worker_processes_run_inside_their_spans(
    tmp_path: Path, receiver: Receiver
) -> None:
    project(tmp_path)
    write(
        tmp_path,
        "proc.yaml",
        """
        name: proc
        executor: process
        max_workers: 2
        tasks:
          py: {call: mon_tasks:current_span, kwargs: {out: py-span.txt}}
          sh: {shell: 'printf %s "$TRACEPARENT" > traceparent.txt'}
        """,
    )
    done = fw_env("run", "proc.yaml", cwd=tmp_path, env=otel_env(receiver, FLOWWEAVER_OTEL="1"))
    assert done.returncode == 0, done.stderr
    spans = by_name(receiver.wait_for(3))
    (run,) = spans["run proc"]
    assert run.parent_id == "" and run.status == STATUS_OK  # no TRACEPARENT: a root
    (py,) = spans["py"]
    (sh,) = spans["sh"]
    assert py.parent_id == sh.parent_id == run.span_id
    assert (tmp_path / "py-span.txt").read_text() == f"{run.trace_id} {py.span_id}"
    traceparent = (tmp_path / "traceparent.txt").read_text()
    assert traceparent.startswith(f"00-{run.trace_id}-{sh.span_id}-")
    assert int(traceparent[-2:], 16) & 1  # sampled (a root trace's id is random: bit 2 too)
    assert run.start <= py.start < py.end <= run.end


def test_opt_in_by_spec_and_out_by_option(tmp_path: Path, receiver: Receiver) -> None:
    project(tmp_path)
    spec = "name: opted\notel: true\ntasks:\n  a: {call: mon_tasks:ok}\n"
    write(tmp_path, "opted.yaml", spec)
    assert (
        fw_env("run", "opted.yaml", "--no-otel", cwd=tmp_path, env=otel_env(receiver)).returncode
        == 0
    )
    off = fw_env("run", "opted.yaml", cwd=tmp_path, env=otel_env(receiver, FLOWWEAVER_OTEL="0"))
    assert off.returncode == 0
    assert receiver.requests == 0  # the option, then the variable, win over the spec
    assert fw_env("run", "opted.yaml", cwd=tmp_path, env=otel_env(receiver)).returncode == 0
    assert {span.name for span in receiver.wait_for(2)} == {"run opted", "a"}


def test_a_disabled_sdk_makes_no_spans(here: Path, receiver: Receiver) -> None:
    env = otel_env(receiver, OTEL_SDK_DISABLED="true")
    done = fw_env("run", "demo.yaml", "--otel", cwd=here, env=env)
    assert done.returncode == 1 and done.stderr.count("warning") == 0
    assert receiver.requests == 0
    assert (here / "traceparent.txt").read_text() == ""  # no span: no TRACEPARENT


def test_a_bad_opt_in_variable_is_refused(tmp_path: Path) -> None:
    project(tmp_path)
    write(tmp_path, "w.yaml", "tasks:\n  a: {call: mon_tasks:ok}\n")
    done = fw_env("run", "w.yaml", cwd=tmp_path, env={"FLOWWEAVER_OTEL": "maybe"})
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: FLOWWEAVER_OTEL='maybe': expected 1 (traces on) or 0 (off)"
    )


PROBE = """
import json, sys
from flowweaver.cli.app import main
code = main(sys.argv[1:])
loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("opentelemetry", "prometheus_client"))
print(json.dumps(loaded), file=sys.stderr)
sys.exit(code)
"""


def test_without_the_opt_in_nothing_is_imported_or_sent(here: Path, receiver: Receiver) -> None:
    plain = "\n".join(line for line in DEMO.splitlines() if "span" not in line)
    write(here, "plain.yaml", plain)  # (its tasks don't import OpenTelemetry themselves)
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "run", "plain.yaml", "--output", "json"],
        cwd=here,
        env=env_with(otel_env(receiver, TRACEPARENT=TRACEPARENT)),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stderr.strip().splitlines()[-1]) == []
    assert receiver.requests == 0
    # (the shell task sees the TRACEPARENT it inherits, untouched)
    assert (here / "traceparent.txt").read_text() == TRACEPARENT


def _dead_port() -> int:
    with socket.socket() as sock:  # a port nothing listens on (refused)
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_dead_collector_costs_the_bounded_wait_and_one_warning(
    tmp_path: Path, receiver: Receiver
) -> None:
    project(tmp_path)
    write(tmp_path, "w.yaml", "name: w\ntasks:\n  a: {call: mon_tasks:ok}\n")
    start = time.monotonic()
    live = fw_env("run", "w.yaml", "--otel", cwd=tmp_path, env=otel_env(receiver))
    live_seconds = time.monotonic() - start
    assert live.returncode == 0 and live.stderr == ""
    with socket.socket() as silent:  # accepts connections (the kernel does), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        for endpoint in (
            f"http://127.0.0.1:{_dead_port()}",
            f"http://127.0.0.1:{silent.getsockname()[1]}",
        ):
            start = time.monotonic()
            dead = fw_env(
                "run",
                "w.yaml",
                "--otel",
                cwd=tmp_path,
                env={"OTEL_EXPORTER_OTLP_ENDPOINT": endpoint},
            )
            dead_seconds = time.monotonic() - start
            assert dead.returncode == 0  # the exit code never changes
            warnings = dead.stderr.strip().splitlines()
            assert len(warnings) == 1, dead.stderr
            assert warnings[0].startswith(
                f"warning: 2 of 2 trace spans not sent to {endpoint}/v1/traces: "
            )
            assert warnings[0].endswith("(gave up after 2s)")
            assert dead_seconds - live_seconds < 2.0 + 1.5, (dead_seconds, live_seconds)
    # the bound is OTEL_BSP_EXPORT_TIMEOUT when set
    fast = fw_env(
        "run",
        "w.yaml",
        "--otel",
        cwd=tmp_path,
        env={
            "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{_dead_port()}",
            "OTEL_BSP_EXPORT_TIMEOUT": "300",
        },
    )
    assert fast.returncode == 0 and fast.stderr.strip().endswith("(gave up after 0.3s)")


def test_a_missing_extra_or_protocol_is_refused_before_the_run(tmp_path: Path) -> None:
    project(tmp_path)
    write(tmp_path, "w.yaml", "name: w\ntasks:\n  a: {call: mon_tasks:ok}\n")
    done = fw_env(
        "run", "w.yaml", "--otel", cwd=tmp_path, env={"OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}
    )
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "error: OTLP protocol 'http/json' is not supported",
        "hint: set OTEL_EXPORTER_OTLP_PROTOCOL to http/protobuf (the default) or grpc",
    ]
    assert not (tmp_path / ".flowweaver").exists() or "w" not in fw_env("runs", cwd=tmp_path).stdout


def test_a_secret_is_masked_in_spans_and_the_textfile(tmp_path: Path, receiver: Receiver) -> None:
    project(tmp_path)
    token = "s3cr3t-t0ken-4242"
    spec = (
        "name: secretive\nsecrets: [API_TOKEN]\n"
        "tasks:\n"
        "  leak:\n"
        "    shell: 'echo \"denied for $API_TOKEN\" >&2; exit 3'\n"
    )
    write(tmp_path, "secretive.yaml", spec)
    env = otel_env(receiver, API_TOKEN=token)
    args = ("run", "secretive.yaml", "--otel", "--metrics-file", "metrics.prom")
    done = fw_env(*args, cwd=tmp_path, env=env)
    assert done.returncode == 1, done.stderr
    spans = receiver.wait_for(2)
    leak = next(span for span in spans if span.name == "leak")
    assert "***" in leak.status_message + repr(leak.events)  # the error is there, masked
    seen = repr([(s.name, s.status_message, s.attributes, s.events) for s in spans])
    assert token not in seen
    assert token not in (tmp_path / "metrics.prom").read_text()
