"""Fingerprints of task definitions (for resume) and cache keys (for ``cache: true``).

Both are SHA-256 digests over a canonical encoding:

- a callable is its import path (module and qualified name) and its source text
  (``inspect.getsource``), or its bytecode and constants when there is no source;
  a ``functools.partial`` adds its arguments, defaults and closure values are
  included; a shell command (or any dataclass instance) is its type and fields;
- a value is encoded by structure for ``None``, numbers, strings, bytes, lists,
  tuples, dicts (key order ignored) and sets; anything else by its pickle, else by
  its ``repr`` -- unless that repr shows a memory address (``<... at 0x...>``),
  which is no identity at all: such a value is :class:`UnhashableError`.

A task's fingerprint is its callable, the inputs mapping and its sorted upstream
names; a mapped task's also holds its map's ``param`` and ``key`` (which item goes to
which parameter, and what names it), not its list: its items are reused by key; and,
when they are not the defaults, its ``run_if``, ``when`` (a bool, or the predicate's
identity) and ``allow_failure``: a changed condition runs the task again on resume. A
cache key is its callable and the keyword arguments it is called with
(the upstream results it receives). Only the task's own source is read: a change
in a helper it calls is not seen. A task with a ``workdir``, ``reads`` or ``writes``
adds them to both, and the files it reads (paths and content hashes, see
:mod:`flowweaver.history.files`) are given as ``files``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import pickle
import types
from collections.abc import Iterable, Mapping
from typing import Any

from flowweaver.task import Task

VERSION = b"flowweaver-fingerprint-1"
_MAX_DEPTH = 64


class UnhashableError(Exception):
    """A value or callable has no stable identity to hash."""


def task_fingerprint(task: Task, upstream: Iterable[str], files: bytes = b"") -> str | None:
    """The digest of ``task``'s definition (and of the ``files`` it reads), or ``None``
    when it cannot be computed."""
    try:
        inputs = task.inputs
        parts = [
            VERSION,
            callable_identity(task.fn),
            encode(sorted(inputs.items())) if inputs else _EMPTY_LIST,
            encode(sorted(upstream)),
        ]
        if task.workdir is not None or task.reads or task.writes or files:
            parts += _placed(task, files)
        if task.map is not None:
            parts += _mapped(task)
        if task.run_if != "success" or task.when is not None or task.allow_failure:
            parts.append(_conditions(task))
        if task.pool is not None or task.priority:
            parts.append(b"scheduled:" + encode([task.pool, task.priority]))
    except UnhashableError:
        return None
    return _digest(parts)


class Fingerprints:
    """:func:`task_fingerprint` of the many tasks of one run, with the same digests,
    sharing what they have in common.

    Most of a spec's tasks are one function called with its own arguments, with no
    inputs mapping, folder, map, condition or pool: for those the encoding's fixed
    parts (the version, the function's identity, an empty inputs mapping) are joined
    once, each upstream name is encoded once however many tasks name it, and each
    keyword's name once; only the task's own argument values are encoded for it.
    Any other task takes :func:`task_fingerprint`."""

    __slots__ = ("_keys", "_names")

    def __init__(self) -> None:
        self._names: dict[str, bytes] = {}  # an upstream name: its item of the sorted list
        self._keys: dict[str, bytes] = {}  # a keyword's name: its encoding

    def __call__(self, task: Task, upstream: list[str]) -> str | None:
        fn = task.fn
        if (
            fn.__class__ is not functools.partial
            or fn.func.__class__ is not types.FunctionType
            or task.inputs
            or task.workdir is not None
            or task.reads
            or task.writes
            or task.map is not None
            or task.run_if != "success"
            or task.when is not None
            or task.allow_failure
            or task.pool is not None
            or task.priority
        ):
            return task_fingerprint(task, upstream)
        try:
            identity = self._partial(fn)
        except UnhashableError:
            return None
        names = self._names
        listed = []
        for name in sorted(upstream):
            item = names.get(name)
            if item is None:
                if name.__class__ is not str:
                    return task_fingerprint(task, upstream)
                item = names[name] = _length(_str_item(name))
            listed.append(item)
        listing = _LIST + b"".join(listed)
        return hashlib.sha256(
            b"".join(
                [
                    _PLAIN_HEAD,
                    len(identity).to_bytes(8, "big"),
                    identity,
                    _PLAIN_INPUTS,
                    len(listing).to_bytes(8, "big"),
                    listing,
                ]
            )
        ).hexdigest()

    def _partial(self, fn: functools.partial[Any]) -> bytes:
        """:func:`callable_identity` of a partial of a plain function."""
        keywords = fn.keywords
        if not keywords:
            pairs = _EMPTY_DICT
        else:
            keys = self._keys
            encoded = []
            for key, value in keywords.items():
                name = keys.get(key)
                if name is None:
                    name = keys[key] = encode(key, 1)
                encoded.append(name + encode(value, 1))
            if len(encoded) > 1:
                encoded.sort()
            pairs = _DICT + b"".join([len(pair).to_bytes(8, "big") + pair for pair in encoded])
        args = fn.args
        return b"".join(
            [
                b"partial:",
                _function_identity(fn.func),  # type: ignore[arg-type]
                _EMPTY_LIST if not args else _LIST + _items(args, 1),
                pairs,
            ]
        )


def _str_item(text: str) -> bytes:
    data = repr(text).encode()
    return _STR + len(data).to_bytes(8, "big") + data


def _conditions(task: Task) -> bytes:
    """A task's ``run_if``, ``when`` and ``allow_failure`` (left out of the digest when
    all are the defaults, so that a plain task's fingerprint never changed)."""
    when = task.when
    condition = encode(when) if when is None or isinstance(when, bool) else callable_identity(when)
    return b"".join(
        [b"conditions:", encode(task.run_if), _length(condition), encode(task.allow_failure)]
    )


def _mapped(task: Task) -> list[bytes]:
    """A mapped task's ``param`` and ``key``; nothing for a task that isn't mapped."""
    spec = task.map
    if spec is None:
        return []
    key = b"" if spec.key is None else callable_identity(spec.key)
    return [b"map", encode(spec.param), key]


def cache_key(task: Task, kwargs: Mapping[str, Any], files: bytes = b"") -> str | None:
    """The cache key of calling ``task`` with ``kwargs`` (having read ``files``), or
    ``None`` (not cacheable)."""
    try:
        parts = [
            VERSION,
            b"cache",
            callable_identity(task.fn),
            encode(dict(kwargs)),
            *_placed(task, files),
        ]
    except UnhashableError:
        return None
    return _digest(parts)


def files_identity(listing: Iterable[tuple[str, int, str]]) -> bytes:
    """The bytes that identify the files a task reads: ``(path, size, sha256)`` rows."""
    return b"files:" + encode([(path, sha256) for path, _size, sha256 in listing])


def _placed(task: Task, files: bytes) -> list[bytes]:
    """A task's folder, reads and writes, and the files it read; nothing for a task
    without them (its digests stay what they were before these keys existed)."""
    if task.workdir is None and not task.reads and not task.writes and not files:
        return []
    return [b"placed", encode([task.workdir, list(task.reads), list(task.writes)]), files]


def callable_identity(fn: Any, depth: int = 0) -> bytes:
    """The bytes that identify what calling ``fn`` does."""
    if depth > _MAX_DEPTH:
        raise UnhashableError("callable nested too deeply")
    if isinstance(fn, functools.partial):  # (its arguments as a list and a dict)
        keywords = fn.keywords
        return b"".join(
            [
                b"partial:",
                callable_identity(fn.func, depth + 1),
                _EMPTY_LIST if not fn.args else _LIST + _items(fn.args, 1),
                _EMPTY_DICT if not keywords else _pairs(keywords, 1),
            ]
        )
    if isinstance(fn, types.MethodType):
        return b"method:" + callable_identity(fn.__func__, depth + 1) + encode(fn.__self__)
    if isinstance(fn, types.FunctionType):
        return _function_identity(fn)
    if isinstance(fn, types.BuiltinFunctionType):
        owner = fn.__self__  # a module, or the object of a bound built-in method
        bound = b"" if owner is None or isinstance(owner, types.ModuleType) else encode(owner)
        return b"builtin:" + _path(fn).encode() + bound
    if isinstance(fn, type):
        return b"class:" + _path(fn).encode() + _source(fn)
    if dataclasses.is_dataclass(fn):
        fields = {f.name: getattr(fn, f.name) for f in dataclasses.fields(fn)}
        return b"dataclass:" + _path(type(fn)).encode() + _source(type(fn)) + encode(fields)
    return b"instance:" + _path(type(fn)).encode() + _source(type(fn)) + encode(fn)


_function_identities: dict[types.FunctionType, tuple[Any, Any, bytes]] = {}
_KEPT_IDENTITIES = 4096


def _function_identity(fn: types.FunctionType) -> bytes:
    """A function's identity; kept per function while its defaults are the same
    immutable values and it has no closure nor keyword-only defaults (10,000 tasks
    that call one function with different arguments work it out once)."""
    defaults, kwdefaults = fn.__defaults__, fn.__kwdefaults__
    known = _function_identities.get(fn)
    if known is not None and known[0] is defaults and known[1] is kwdefaults:
        return known[2]
    identity = _work_out_identity(fn)
    if fn.__closure__ is None and kwdefaults is None and _immutable(defaults):
        if len(_function_identities) >= _KEPT_IDENTITIES:  # functions made by the million
            _function_identities.clear()  # (lambdas in a loop) are not kept alive forever
        _function_identities[fn] = (defaults, kwdefaults, identity)
    return identity


def _immutable(values: tuple[Any, ...] | None) -> bool:
    return values is None or all(type(value) in _SCALARS for value in values)


def _work_out_identity(fn: types.FunctionType) -> bytes:
    closure = [cell.cell_contents for cell in fn.__closure__ or () if _filled(cell)]
    return b"".join(
        [
            b"function:",
            _path(fn).encode(),
            _code_text(fn),
            encode(list(fn.__defaults__ or ())),
            encode(dict(fn.__kwdefaults__ or {})),
            encode([_closure_value(value) for value in closure]),
        ]
    )


def _closure_value(value: Any) -> Any:
    if callable(value) and not isinstance(value, type):
        return callable_identity(value, 1)
    return value


def _filled(cell: types.CellType) -> bool:
    try:
        cell.cell_contents  # noqa: B018 - an empty cell raises
    except ValueError:
        return False
    return True


def _path(obj: Any) -> str:
    module = getattr(obj, "__module__", None) or "?"
    name = getattr(obj, "__qualname__", None) or getattr(obj, "__name__", None) or "?"
    return f"{module}:{name}"


_code_texts: dict[types.CodeType, bytes] = {}


def _code_text(fn: types.FunctionType) -> bytes:
    """A function's source, else its bytecode; read once per code object (10,000 tasks
    that call one function with different arguments tokenize its source once)."""
    code = fn.__code__
    text = _code_texts.get(code)
    if text is None:
        text = _code_texts[code] = _source(fn) or _code_identity(code)
    return text


def _source(obj: Any) -> bytes:
    try:
        return inspect.getsource(obj).encode()
    except (OSError, TypeError):
        return b""


def _code_identity(code: types.CodeType) -> bytes:
    consts = [
        _code_identity(c) if isinstance(c, types.CodeType) else repr(c).encode()
        for c in code.co_consts
    ]
    return b"code:" + code.co_code + b"|".join(consts) + repr(code.co_names).encode()


_SCALARS: dict[type, bytes] = {
    kind: f"{kind.__name__}:".encode() for kind in (type(None), bool, int, float, str, bytes)
}


def encode(value: Any, depth: int = 0) -> bytes:
    """A canonical byte encoding of ``value``; raises :class:`UnhashableError`."""
    kind = type(value)
    prefix = _SCALARS.get(kind)
    if prefix is not None:  # the common case first: a task's arguments are mostly these
        text = repr(value).encode()
        return prefix + len(text).to_bytes(8, "big") + text
    if depth > _MAX_DEPTH:
        raise UnhashableError("value nested too deeply")
    if kind is list:  # (and a tuple, a dict: exact types; their subclasses below)
        return _LIST + _items(value, depth + 1)
    if kind is dict:
        return _pairs(value, depth + 1)
    if kind is tuple:
        return _TUPLE + _items(value, depth + 1)
    return _encode_other(value, depth)


def _items(values: Iterable[Any], depth: int) -> bytes:
    """A list's or a tuple's items, each encoded at ``depth`` and length-prefixed."""
    parts = []
    for value in values:
        prefix = _SCALARS.get(type(value))
        if prefix is None:
            data = encode(value, depth)
        else:
            text = repr(value).encode()
            data = prefix + len(text).to_bytes(8, "big") + text
        parts.append(len(data).to_bytes(8, "big"))
        parts.append(data)
    return b"".join(parts)


def _pairs(mapping: Mapping[Any, Any], depth: int) -> bytes:
    """A dict: its key-value pairs encoded at ``depth``, sorted, length-prefixed."""
    pairs = sorted([encode(key, depth) + encode(value, depth) for key, value in mapping.items()])
    return _DICT + b"".join([len(pair).to_bytes(8, "big") + pair for pair in pairs])


def _encode_other(value: Any, depth: int) -> bytes:
    """:func:`encode` of what is not a scalar, list, tuple or dict of the exact type."""
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        return f"{type(value).__name__}:".encode() + _length(repr(value).encode())
    if isinstance(value, (list, tuple)):
        items = [encode(item, depth + 1) for item in value]
        return f"{type(value).__name__}[".encode() + b"".join(map(_length, items))
    if isinstance(value, dict):
        pairs = sorted(encode(k, depth + 1) + encode(v, depth + 1) for k, v in value.items())
        return b"dict{" + b"".join(map(_length, pairs))
    if isinstance(value, (set, frozenset)):
        items = sorted(encode(item, depth + 1) for item in value)
        return b"set{" + b"".join(map(_length, items))
    if isinstance(value, (types.FunctionType, functools.partial)):
        return b"callable:" + _length(callable_identity(value, depth + 1))
    return b"object:" + _path(type(value)).encode() + _length(_opaque(value))


_LIST, _TUPLE, _DICT = b"list[", b"tuple[", b"dict{"
_EMPTY_LIST, _EMPTY_DICT = _LIST, _DICT  # what an empty one encodes to
_STR = _SCALARS[str]
_PLAIN_HEAD = len(VERSION).to_bytes(8, "big") + VERSION
_PLAIN_INPUTS = len(_EMPTY_LIST).to_bytes(8, "big") + _EMPTY_LIST
"""The parts of :func:`task_fingerprint` that :class:`Fingerprints` joins once."""


def _opaque(value: Any) -> bytes:
    try:
        return pickle.dumps(value, protocol=4)
    except Exception:
        text = repr(value)
        if " at 0x" in text:
            raise UnhashableError(f"{type(value).__name__} has no stable identity") from None
        return text.encode()


def _length(data: bytes) -> bytes:
    return len(data).to_bytes(8, "big") + data


def _digest(parts: list[bytes]) -> str:
    """The SHA-256 of the parts, each length-prefixed."""
    return hashlib.sha256(
        b"".join([len(part).to_bytes(8, "big") + part for part in parts])
    ).hexdigest()
