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
from dataclasses import dataclass, field
from typing import Any

from flowweaver._call import is_coroutine_function
from flowweaver.shell import attempt_environment

_propagation: Any = None  # (extract, attach, detach) once imported; False: not importable


def in_span(
    fn: Callable[..., Any], traceparent: str, tracestate: str = "", context: Any = None
) -> Callable[..., Any]:
    """``fn``, to be called inside the span ``traceparent`` names (an ``async def``
    stays one, so the executor still awaits it on its loop). ``context``: the span's
    OpenTelemetry context, when the caller has it at hand (it is used in this process,
    and not pickled: another process rebuilds it from ``traceparent``)."""
    wrapper = AsyncInSpan if is_coroutine_function(fn) else InSpan
    call = wrapper(fn, traceparent, tracestate)
    call.context = context
    return call


@dataclass
class InSpan:
    """Call ``fn`` with the span ``traceparent`` as its context (see the module)."""

    fn: Callable[..., Any]
    traceparent: str
    tracestate: str = ""
    context: Any = field(default=None, compare=False, repr=False)

    def __call__(self, **kwargs: Any) -> Any:
        with _inside(self):
            value = self.fn(**kwargs)
        if inspect.isawaitable(value):  # a plain function that returned an awaitable
            return _awaited(value, self)
        return value

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "context": None}  # (rebuilt where it runs)


@dataclass
class AsyncInSpan(InSpan):
    """The same for a coroutine function: the context is set inside its coroutine."""

    async def __call__(self, **kwargs: Any) -> Any:
        with _inside(self):
            return await self.fn(**kwargs)


async def _awaited(awaitable: Any, call: InSpan) -> Any:
    with _inside(call):
        return await awaitable


@contextlib.contextmanager
def _inside(call: InSpan) -> Iterator[None]:
    environment = {"TRACEPARENT": call.traceparent}
    if call.tracestate:
        environment["TRACESTATE"] = call.tracestate
    shells = attempt_environment.set(environment)
    token = _attach(call)
    try:
        yield
    finally:
        if token is not None:
            _propagation[2](token)
        attempt_environment.reset(shells)


def _attach(call: InSpan) -> object | None:
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
    if call.context is None:
        carrier = {"traceparent": call.traceparent}
        if call.tracestate:
            carrier["tracestate"] = call.tracestate
        call.context = extract(carrier)
    token: object = attach(call.context)
    return token
