"""Calling a task's function: binding upstream results, awaiting awaitables.

An :class:`Attempt` is one call of one task. It runs on whichever worker the
executor chose (the calling thread, a pool thread, an event loop, a process);
:func:`invoke` is the one place that calls user code on a thread.
"""

from __future__ import annotations

import functools
import inspect
import threading
import weakref
from collections.abc import Callable, Coroutine, Sequence
from types import (
    BuiltinFunctionType,
    CodeType,
    CoroutineType,
    FunctionType,
    MethodType,
    ModuleType,
    NoneType,
)
from typing import TYPE_CHECKING, Any, NamedTuple

from flowweaver.executors.contract import Attempt

if TYPE_CHECKING:
    import asyncio


_CO_VARKEYWORDS = inspect.CO_VARKEYWORDS
_CO_COROUTINE = inspect.CO_COROUTINE
_local = threading.local()
_NEVER_AWAITABLE = frozenset({type(None), bool, int, float, str, bytes, list, tuple, dict, set})


def on_abandon(callback: Callable[[], object]) -> None:
    """From inside a task: call ``callback`` if the engine abandons this attempt.

    The engine abandons an attempt at its timeout and on Ctrl-C/SIGTERM. Shell
    tasks use this to end their process group. Outside a task it does nothing.
    """
    attempt: Attempt | None = getattr(_local, "attempt", None)
    if attempt is not None:
        attempt.add_abandon_callback(callback)


def stop_calls_here(stopping: bool = True) -> None:
    """From now on, :func:`invoke` on this thread fails at once (an interrupted run);
    ``stop_calls_here(False)`` lifts it."""
    if stopping:
        _local.stopping = True
    else:
        _local.__dict__.pop("stopping", None)


def thread_state() -> dict[str, Any]:
    """This thread's calling state (the attempt it runs; whether calls are stopped).

    A thread that invokes many attempts fetches it once and passes it to
    :func:`invoke`, which then skips a thread-local lookup per call.
    """
    state: dict[str, Any] = _local.__dict__
    return state


def current_attempt() -> Attempt | None:
    """The attempt running on this thread, if any."""
    attempt: Attempt | None = getattr(_local, "attempt", None)
    return attempt


class Pending:
    """An awaitable a plain function returned, to be awaited on the caller's loop."""

    __slots__ = ("coroutine",)

    def __init__(self, awaitable: Any) -> None:
        self.coroutine = as_coroutine(awaitable)


def invoke(
    attempt: Attempt, await_here: bool = True, here: dict[str, Any] | None = None
) -> Attempt:  # (no keyword-only parameters: CPython 3.11 would not specialize its calls)
    """Call the attempt's function on this thread and record its outcome in the attempt,
    which is returned. If the function returns an awaitable, await it on this thread's
    own loop, or (``await_here=False``) hand it back as :class:`Pending`. ``here`` is
    this thread's :func:`thread_state`, when the caller has it at hand.

    Whatever the function raises, ``BaseException`` included, becomes the outcome.
    """
    if here is None:
        here = _local.__dict__
    try:
        here["attempt"] = attempt
        if attempt.abandoned or "stopping" in here:
            raise KeyboardInterrupt  # given up (Ctrl-C, timeout) before it started
        fn, kwargs, context = attempt.fn, attempt.kwargs, attempt.context
        if context is None:  # no hook bound anything: the plain call
            value = fn(**kwargs) if kwargs else fn()
            if type(value) not in _NEVER_AWAITABLE and inspect.isawaitable(value):
                value = _await_here(value, attempt) if await_here else Pending(value)
        else:  # in the attempt's context: what it binds is seen by the call
            value = context.run(fn, **kwargs) if kwargs else context.run(fn)
            if type(value) not in _NEVER_AWAITABLE and inspect.isawaitable(value):
                value = context.run(_await_here, value, attempt) if await_here else Pending(value)
    except BaseException as exc:
        attempt.ok, attempt.value = False, exc
        return attempt
    finally:
        here["attempt"] = None
    attempt.ok, attempt.value = True, value
    return attempt


def _await_here(awaitable: Any, attempt: Attempt) -> Any:
    """Run an awaitable on this thread's own event loop, cancellable by ``abandon``."""
    loop: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    if loop is None or loop.is_closed():
        import asyncio  # only threads that await need it

        loop = asyncio.new_event_loop()
        _local.loop = loop
    task = loop.create_task(guarded(awaitable))
    attempt.add_abandon_callback(lambda: loop.call_soon_threadsafe(task.cancel))
    try:
        ok, value = loop.run_until_complete(task)
    finally:
        if not task.done():
            task.cancel()
    if not ok:
        raise value
    return value


def close_thread_loop() -> None:
    """Close this thread's private event loop, if :func:`invoke` made one."""
    loop: asyncio.AbstractEventLoop | None = getattr(_local, "loop", None)
    if loop is not None and not loop.is_closed():
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    _local.loop = None


async def as_coroutine(awaitable: Any) -> Any:
    return await awaitable


async def guarded(awaitable: Any) -> tuple[bool, Any]:
    """Await ``awaitable`` on an event loop; ``(ok, result or exception)``.

    asyncio lets ``SystemExit`` and ``KeyboardInterrupt`` escape a task and stop the
    loop; here they become the attempt's failure like any other exception.
    Cancellation still propagates: that is how the engine stops a coroutine.
    """
    import asyncio

    try:
        return True, await awaitable
    except asyncio.CancelledError:
        raise
    except BaseException as exc:
        return False, exc


def is_coroutine_function(fn: Callable[..., Any]) -> bool:
    """Whether calling ``fn`` gives a coroutine (``async def``, a partial of one, or an
    object with an ``async def __call__``)."""
    if type(fn) is FunctionType:
        return bool(fn.__code__.co_flags & _CO_COROUTINE)
    while isinstance(fn, functools.partial):
        fn = fn.func
    return inspect.iscoroutinefunction(fn) or inspect.iscoroutinefunction(
        getattr(fn, "__call__", None)  # noqa: B004 - an async __call__ counts too
    )


def call_coroutine(attempt: Attempt) -> Coroutine[Any, Any, Any]:
    """The coroutine of an attempt whose function is a coroutine function."""
    kwargs = attempt.kwargs
    value = attempt.fn(**kwargs) if kwargs else attempt.fn()
    return (
        value if type(value) is CoroutineType or inspect.iscoroutine(value) else as_coroutine(value)
    )


# -- binding upstream results to parameters ---------------------------------------

_code_params: dict[CodeType, tuple[frozenset[str], bool]] = {}
NO_KEYWORDS: tuple[frozenset[str], bool] = (frozenset(), False)
"""What :func:`accepted_keywords` returns, this very object, for a function that takes
no keyword arguments."""


def accepted_keywords(fn: Callable[..., Any]) -> tuple[frozenset[str], bool]:
    """The parameter names ``fn`` accepts by keyword, and whether it takes ``**kwargs``.

    Plain functions are read from their code object (cached: a thousand lambdas
    made by one expression share one entry); anything else through ``inspect``.
    """
    if type(fn) is FunctionType:
        code = fn.__code__
        if not (code.co_argcount or code.co_kwonlyargcount or code.co_flags & _CO_VARKEYWORDS):
            return NO_KEYWORDS  # no parameters: no lookup (a code object's hash is not cached)
        found = _code_params.get(code)
        if found is None:
            first = code.co_posonlyargcount
            names = frozenset(code.co_varnames[first : code.co_argcount + code.co_kwonlyargcount])
            var_kw = bool(code.co_flags & _CO_VARKEYWORDS)
            found = (names, var_kw) if names or var_kw else NO_KEYWORDS
            _code_params[code] = found
        return found
    if type(fn) is MethodType and type(fn.__func__) is FunctionType:
        names, var_kw = accepted_keywords(fn.__func__)
        receiver = fn.__func__.__code__.co_varnames[:1]
        return names - frozenset(receiver), var_kw
    if type(fn) is functools.partial and type(fn.func) is FunctionType:
        return _partial_keywords(fn, fn.func.__code__)
    return _keywords_by_signature(fn)


def _partial_keywords(fn: functools.partial[Any], code: CodeType) -> tuple[frozenset[str], bool]:
    """What ``inspect.signature`` says of a partial of a plain function, from its code:
    the positional arguments it holds use up the first parameters, and the keywords
    it holds are not offered to upstream results."""
    positional = code.co_varnames[: code.co_argcount]
    keyword_only = code.co_varnames[code.co_argcount : code.co_argcount + code.co_kwonlyargcount]
    taken = max(len(fn.args), code.co_posonlyargcount)
    names = frozenset(positional[taken:]).union(keyword_only) - frozenset(fn.keywords)
    return names, bool(code.co_flags & _CO_VARKEYWORDS)


class _Shape(NamedTuple):
    """The parameters of a callable whose signature can't change, as ``inspect`` gives them."""

    positional: tuple[str, ...]  # positional-only first, then positional-or-keyword
    positional_only: int
    keyword_only: frozenset[str]
    var_kw: bool


_NO_SHAPE = _Shape((), 0, frozenset(), False)
_module_builtins: dict[Callable[..., Any], _Shape] = {}
_classes: weakref.WeakKeyDictionary[type, _Shape] = weakref.WeakKeyDictionary()


def _keywords_by_signature(fn: Callable[..., Any]) -> tuple[frozenset[str], bool]:
    """What ``inspect.signature`` says ``fn`` accepts by keyword. For a C function it
    parses the function's text signature (about 100 µs), so the parameters of a module's
    builtin function (``operator.truth``) or of a class are kept, and a partial of one
    is read from them: asked once per process, not once per task and run. Other
    callables (instances, bound methods) are asked each time: their answer could
    change, and keeping them would keep them alive."""
    if type(fn) is functools.partial:
        shape = _stable_shape(fn.func)
        if shape is not None:
            taken = max(len(fn.args), shape.positional_only)
            names = frozenset(shape.positional[taken:]).union(shape.keyword_only)
            names -= frozenset(fn.keywords)
            return (names, shape.var_kw) if names or shape.var_kw else NO_KEYWORDS
    else:
        shape = _stable_shape(fn)
        if shape is not None:
            names = frozenset(shape.positional[shape.positional_only :]) | shape.keyword_only
            return (names, shape.var_kw) if names or shape.var_kw else NO_KEYWORDS
    return _signature_keywords(fn)


def _stable_shape(fn: Callable[..., Any]) -> _Shape | None:
    """The kept parameters of a module's builtin function or a class (``None`` for any
    other callable), worked out on first use."""
    if isinstance(fn, BuiltinFunctionType) and isinstance(fn.__self__, (ModuleType, NoneType)):
        shape = _module_builtins.get(fn)
        if shape is None:
            shape = _module_builtins[fn] = _shape_of(fn)
        return shape
    if isinstance(fn, type) and type(fn) is type:  # a class (hashed by identity)
        shape = _classes.get(fn)
        if shape is None:
            shape = _classes[fn] = _shape_of(fn)
        return shape
    return None


def _shape_of(fn: Callable[..., Any]) -> _Shape:
    try:
        parameters = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return _NO_SHAPE
    kind = inspect.Parameter
    positional = [
        p for p in parameters if p.kind in (kind.POSITIONAL_ONLY, kind.POSITIONAL_OR_KEYWORD)
    ]
    return _Shape(
        tuple(p.name for p in positional),
        sum(p.kind is kind.POSITIONAL_ONLY for p in positional),
        frozenset(p.name for p in parameters if p.kind is kind.KEYWORD_ONLY),
        any(p.kind is kind.VAR_KEYWORD for p in parameters),
    )


def _signature_keywords(fn: Callable[..., Any]) -> tuple[frozenset[str], bool]:
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return NO_KEYWORDS
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    names = {p.name for p in signature.parameters.values() if p.kind in kinds}
    if isinstance(fn, functools.partial):
        names -= set(fn.keywords)
    var_kw = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
    return (frozenset(names), var_kw) if names or var_kw else NO_KEYWORDS


def parameter_name(task_name: str) -> str:
    """The parameter that receives a task's result: ``-`` and ``.`` become ``_``."""
    return task_name.replace("-", "_").replace(".", "_")


def bindings(
    fn: Callable[..., Any],
    parents: Sequence[tuple[str, int]],
    inputs: dict[str, int],
) -> tuple[tuple[str, int], ...]:
    """Which upstream results ``fn`` receives: ``(keyword, upstream position)`` pairs.

    ``parents`` are the upstream tasks' names and positions; ``inputs`` maps a
    parameter to an upstream position explicitly and wins over a name match.
    """
    names, var_kw = accepted_keywords(fn)
    if not names and not var_kw:
        return ()
    bound: dict[str, int] = {}
    mapped = set(inputs.values())
    for task_name, position in parents:
        keyword = parameter_name(task_name)
        if keyword in names or (var_kw and keyword.isidentifier() and position not in mapped):
            bound[keyword] = position
    bound.update(inputs)
    return tuple(bound.items())
