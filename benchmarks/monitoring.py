"""Monitoring: what traces and the Prometheus textfile cost a 10,000-task run.

- ``flowweaver run`` of the 10,000-task spec (``benchmarks.spec``) with ``--otel``,
  its spans sent to a collector stand-in on 127.0.0.1 (it reads each request and
  answers 200), against the same command without: the target is at most 2x.
- The same with ``--metrics-file``.
- In-process: a 10,000-task chain inside ``monitored()`` with nothing turned on
  against the bare run (off must cost nothing measurable), and with traces on (what a
  span costs a task in a library run, where the engine's own cost is a few µs).
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from benchmarks.chain import chain, functions
from benchmarks.harness import Case, interleaved, median, paired_case
from benchmarks.spec import MODULE, SPEC_TASKS, command, process_time, write_spec
from flowweaver import SequentialExecutor

OTEL_TARGET = 2.0
OFF_TARGET = 1.05


class _Collector(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def collector() -> Iterator[str]:
    """An OTLP/HTTP endpoint on 127.0.0.1 that takes every request."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        host, port = server.server_address[:2]
        yield f"http://{host!s}:{port}"
    finally:
        server.shutdown()
        server.server_close()


def command_cases(folder: Path, quick: bool) -> list[Case]:
    module = f"fwbench_mon_{os.getpid()}"
    (folder / f"{module}.py").write_text(MODULE, encoding="utf-8")
    path = write_spec(folder, SPEC_TASKS, module)
    runs = 2 if quick else 3
    counter = iter(range(1_000_000))

    def run(*extra: str) -> Callable[[], float]:
        def timed() -> float:
            state = folder / f"state-{next(counter)}"
            argv = [*command(), "run", str(path), "--output", "json", "--executor", "threaded"]
            elapsed, done = process_time([*argv, "--state-dir", str(state), *extra], folder)
            if done.returncode != 0:
                raise RuntimeError(f"exit {done.returncode}: {done.stderr.strip()[-200:]}")
            return elapsed

        return timed

    cases = []
    with collector() as endpoint:
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
        try:
            cases.append(
                paired_case(
                    "monitoring",
                    f"`flowweaver run --otel` {SPEC_TASKS:,} tasks",
                    "the same without --otel",
                    run(),
                    run("--otel"),
                    runs,
                    target=f"<= {OTEL_TARGET:g}x",
                    check=lambda engine, reference: engine <= OTEL_TARGET * reference,
                    tasks=SPEC_TASKS,
                    note="threaded, --output json; spans sent to a local collector stand-in",
                )
            )
        finally:
            del os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"]
    cases.append(
        paired_case(
            "monitoring",
            f"`flowweaver run --metrics-file` {SPEC_TASKS:,} tasks",
            "the same without it",
            run(),
            run("--metrics-file", str(folder / "bench.prom")),
            runs,
            tasks=SPEC_TASKS,
        )
    )
    return cases


def library_cases(quick: bool) -> list[Case]:
    from flowweaver.monitoring import monitored

    size = 10_000
    runs = 5 if quick else 9
    workflow = chain(functions(size))

    def bare() -> float:
        start = time.perf_counter()
        SequentialExecutor().execute(workflow)
        return time.perf_counter() - start

    def off() -> float:
        start = time.perf_counter()
        with monitored(workflow):
            SequentialExecutor().execute(workflow)
        return time.perf_counter() - start

    cases = [
        paired_case(
            "monitoring",
            f"in-process chain of {size:,}, monitoring off",
            "the bare run",
            bare,
            off,
            runs,
            target=f"<= {OFF_TARGET:g}x",
            check=lambda engine, reference: engine <= OFF_TARGET * reference,
            tasks=size,
        )
    ]
    with collector() as endpoint:
        os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"] = endpoint
        try:

            def traced() -> float:
                start = time.perf_counter()
                with monitored(workflow, otel=True):
                    SequentialExecutor().execute(workflow)
                return time.perf_counter() - start

            traced()  # (imports OpenTelemetry once)
            refs, engines = interleaved(bare, traced, max(runs // 3, 2))
        finally:
            del os.environ["OTEL_EXPORTER_OTLP_ENDPOINT"]
    cases.append(
        Case(
            "monitoring",
            f"in-process chain of {size:,}, traces on",
            median(engines),
            median(refs),
            "the bare run",
            "",
            None,
            tasks=size,
            note="the SDK's span and its OTLP encoding: no target in-process",
            engine_runs=tuple(engines),
            reference_runs=tuple(refs),
        )
    )
    return cases


def run(quick: bool) -> list[Case]:
    with tempfile.TemporaryDirectory(prefix="fwbench-mon-") as name:
        return library_cases(quick) + command_cases(Path(name), quick)
