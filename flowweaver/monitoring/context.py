"""An attempt's call inside its trace: what the tracing hook wraps each attempt in.

The tracing observer makes an attempt's span on the run's loop, when the attempt's
RUNNING event arrives; the attempt itself runs wherever the executor puts it (a
thread, the event loop, a worker process, a Dask worker). :class:`InSpan` carries the
span's W3C ``traceparent`` there with the call (it pickles with it) and, around the
call, makes it the attempt's context:

- shell commands the attempt starts get ``TRACEPARENT`` (and ``TRACESTATE``) in their
  environment, over the command's own;
- Python code runs with the span as the current OpenTelemetry context, so spans it
  makes are its children — when OpenTelemetry can be imported where it runs (always
  in the run's own process, which has imported it to trace the run).

Only the standard library is imported here; OpenTelemetry on the first call.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from flowweaver._call import is_coroutine_function
from flowweaver.shell import attempt_environment

_propagation: Any = None  # (extract, attach, detach) once imported; False: not importable


def in_span(fn: Callable[..., Any], traceparent: str, tracestate: str = "") -> Callable[..., Any]:
    """``fn``, to be called inside the span ``traceparent`` names (an ``async def``
    stays one, so the executor still awaits it on its loop)."""
    if is_coroutine_function(fn):
        return AsyncInSpan(fn, traceparent, tracestate)
    return InSpan(fn, traceparent, tracestate)


@dataclass
class InSpan:
    """Call ``fn`` with the span ``traceparent`` as its context (see the module)."""

    fn: Callable[..., Any]
    traceparent: str
    tracestate: str = ""

    def __call__(self, **kwargs: Any) -> Any:
        with _inside(self.traceparent, self.tracestate):
            value = self.fn(**kwargs)
        if inspect.isawaitable(value):  # a plain function that returned an awaitable
            return _awaited(value, self.traceparent, self.tracestate)
        return value


@dataclass
class AsyncInSpan:
    """The same for a coroutine function: the context is set inside its coroutine."""

    fn: Callable[..., Any]
    traceparent: str
    tracestate: str = ""

    async def __call__(self, **kwargs: Any) -> Any:
        with _inside(self.traceparent, self.tracestate):
            return await self.fn(**kwargs)


async def _awaited(awaitable: Any, traceparent: str, tracestate: str) -> Any:
    with _inside(traceparent, tracestate):
        return await awaitable


@contextlib.contextmanager
def _inside(traceparent: str, tracestate: str) -> Iterator[None]:
    environment = {"TRACEPARENT": traceparent}
    if tracestate:
        environment["TRACESTATE"] = tracestate
    shells = attempt_environment.set(environment)
    token = _attach(traceparent, tracestate)
    try:
        yield
    finally:
        if token is not None:
            _propagation[2](token)
        attempt_environment.reset(shells)


def _attach(traceparent: str, tracestate: str) -> object | None:
    """Make the span the current OpenTelemetry context; the token to detach it, or
    ``None`` where OpenTelemetry is not installed."""
    global _propagation
    if _propagation is None:
        try:
            from opentelemetry import context
            from opentelemetry.trace.propagation.tracecontext import (
                TraceContextTextMapPropagator,
            )
        except ImportError:
            _propagation = False
        else:
            _propagation = (TraceContextTextMapPropagator().extract, context.attach, context.detach)
    if _propagation is False:
        return None
    extract, attach, _ = _propagation
    carrier = {"traceparent": traceparent}
    if tracestate:
        carrier["tracestate"] = tracestate
    token: object = attach(extract(carrier))
    return token
