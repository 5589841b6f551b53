"""Tasks for the tracing tests: they report the span they run inside (importable in
worker processes and on Dask workers, like the other helper modules here)."""

from __future__ import annotations

import asyncio


def span_id() -> str:
    """The current OpenTelemetry span's trace and span ids, as hex."""
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}-{context.span_id:016x}"


async def span_id_async() -> str:
    await asyncio.sleep(0)
    return span_id()


def fails() -> None:
    raise ValueError("token s3cr3t refused")
