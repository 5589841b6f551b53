"""Finding the Python objects a spec names, without calling them.

``shop.etl:transform`` names attribute ``transform`` of module ``shop.etl``;
``shop.etl.transform`` is tried as the longest importable module prefix, then
attributes (dotted attribute paths work in both forms: ``pkg.mod:Class.method``).
Whatever goes wrong — a missing module, an error raised while importing it, a
missing attribute — becomes a :class:`ResolveError` with a one-line message.

One process may load several specs, and Python imports a module name once: if two
specs each sit beside their own ``tasks.py``, the second would get the first one's
module. Loading each spec's modules under names of their own would break the process
executor, whose workers import a task's function by its module name (with the
spec's folder on ``sys.path``) in a fresh interpreter. So a name stays one module,
and a spec whose folder (or the current directory) holds its own file for a module
name already imported from another file is refused, naming both files
(:meth:`Resolver._clash`).
"""

from __future__ import annotations

import builtins
import importlib
import inspect
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib.machinery import PathFinder
from typing import Any

from flowweaver.spec.problems import did_you_mean


class ResolveError(Exception):
    """A name in a spec can't be resolved; the message says why, in one line.

    ``module`` is set when the reason is a module that can't be imported (then every
    name in it fails alike), and ``short`` says that in a few words.
    """

    def __init__(self, message: str, module: str | None = None, short: str = "") -> None:
        super().__init__(message)
        self.module = module
        self.short = short or message


class MissingModuleError(ResolveError):
    """The module itself (not something it imports) does not exist."""

    def __init__(self, module: str) -> None:
        super().__init__(f"no module named {module!r}", module)


def add_import_dirs(dirs: Iterable[str]) -> None:
    """Put ``dirs`` at the front of ``sys.path`` (once each), so specs find their code.

    The change stays, so that worker processes started later find the same modules.
    """
    added = False
    for directory in reversed([os.path.abspath(d) for d in dirs]):
        if directory not in sys.path:
            sys.path.insert(0, directory)
            added = True
    if added:
        importlib.invalidate_caches()


class Resolver:
    """Resolves dotted names to objects, caching each answer (and each failure).

    With ``dirs`` (the folders ``spec`` looks for its modules in first), a module name
    already imported from another file than the one ``dirs`` hold is an error.
    """

    def __init__(self, spec: str = "", dirs: Sequence[str] = ()) -> None:
        self.spec = spec
        self.dirs = [os.path.abspath(d) for d in dirs]
        self._cache: dict[str, Any] = {}
        self._modules: dict[str, Any] = {}

    def resolve(self, target: str) -> Any:
        """The object ``target`` names; :class:`ResolveError` when there is none."""
        found = self._cache.get(target)
        if found is None:
            try:
                found = self._resolve(target)
            except ResolveError as exc:
                found = exc
            self._cache[target] = found
        if isinstance(found, ResolveError):
            raise found
        return found

    def callable(self, target: str) -> Callable[..., Any]:
        """The callable ``target`` names."""
        found = self.resolve(target)
        if not callable(found):
            raise ResolveError(f"{target!r} is not callable (it is a {type(found).__name__})")
        return found  # type: ignore[no-any-return]

    def exception(self, name: str) -> type[BaseException]:
        """The exception class ``name`` names: a builtin (``ValueError``) or a dotted name."""
        if "." in name or ":" in name:
            found = self.resolve(name)
        else:
            found = getattr(builtins, name, None)
            if found is None:
                hint = did_you_mean(name, _builtin_exceptions())
                raise ResolveError(f"no built-in exception {name!r}{hint}")
        if not (isinstance(found, type) and issubclass(found, BaseException)):
            raise ResolveError(f"{name!r} is not an exception class")
        return found

    def _resolve(self, target: str) -> Any:
        if ":" in target:
            module_name, _, attributes = target.partition(":")
            return _attribute(self._import(module_name), module_name, attributes.split("."))
        parts = target.split(".")
        first_missing: ResolveError | None = None
        for cut in range(len(parts) - 1, 0, -1):
            module_name = ".".join(parts[:cut])
            try:
                module = self._import(module_name)
            except MissingModuleError as exc:
                first_missing = first_missing or exc
                continue
            try:
                return _attribute(module, module_name, parts[cut:])
            except ResolveError:
                if first_missing is not None:
                    raise first_missing from None
                raise
        raise first_missing or ResolveError(f"{target!r} names no module")

    def _import(self, module_name: str) -> Any:
        """The module, imported once: a module that fails to import fails once (its code
        doesn't run again for each name in it)."""
        found = self._modules.get(module_name)
        if found is None:
            try:
                self._clash(module_name)
                found = _import(module_name)
            except ResolveError as exc:
                found = exc
            self._modules[module_name] = found
        if isinstance(found, ResolveError):
            raise found
        return found

    def _clash(self, module_name: str) -> None:
        """Raise if ``module_name`` (or a package above it) is imported already from
        another file than the one this spec's folders hold under that name."""
        search: list[str] | None = self.dirs
        parts = module_name.split(".")
        for count in range(1, len(parts) + 1):
            name = ".".join(parts[:count])
            own = PathFinder.find_spec(name, search) if search else None
            if own is None:
                return  # not in the spec's folders: whatever Python finds is the one
            loaded = getattr(sys.modules.get(name), "__file__", None)
            if loaded is None and name not in sys.modules:
                return  # not imported yet: this spec's folders come first on sys.path
            if loaded is not None and own.origin is not None and not _same(loaded, own.origin):
                raise ResolveError(
                    f"module {name!r} of {self.spec} is {_shown(own.origin)}, but {name!r} "
                    f"is already imported from {_shown(loaded)}: give one of them another name",
                    name,
                    f"module {name!r} is already imported from {_shown(loaded)}",
                )
            locations = own.submodule_search_locations
            search = list(locations) if locations is not None else None


def _same(path: str, other: str) -> bool:
    return os.path.realpath(path) == os.path.realpath(other)


def _shown(path: str) -> str:
    """``path`` relative to the current directory when it is inside it, else absolute."""
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive
        return path
    return path if relative.startswith(os.pardir) else relative


def _builtin_exceptions() -> list[str]:
    names = vars(builtins)
    return [n for n, v in names.items() if isinstance(v, type) and issubclass(v, BaseException)]


def _import(module_name: str) -> Any:
    failed = f"importing {module_name!r} failed"
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if module_name == missing or module_name.startswith(missing + "."):
            raise MissingModuleError(missing) from None
        raise ResolveError(f"{failed}: {_one_line(exc)}", module_name, failed) from None
    except (Exception, SystemExit) as exc:
        raise ResolveError(f"{failed}: {_one_line(exc)}", module_name, failed) from None


def _attribute(obj: Any, owner: str, names: list[str]) -> Any:
    for name in names:
        try:
            obj = getattr(obj, name)
        except AttributeError:
            public = [n for n in dir(obj) if not n.startswith("_")]
            hint = did_you_mean(name, public)
            raise ResolveError(f"{owner!r} has no attribute {name!r}{hint}") from None
        except Exception as exc:  # a lazy module attribute that raised
            raise ResolveError(f"reading {owner}.{name} failed: {_one_line(exc)}") from None
        owner = f"{owner}.{name}"
    return obj


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@dataclass(frozen=True)
class ImportedLater:
    """A callable imported when first called: what ``check_imports=False`` builds.

    It pickles as its target name, and shows the real signature when asked, so the
    engine binds upstream results to it as to the real callable.
    """

    target: str

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return Resolver().callable(self.target)(*args, **kwargs)

    @property
    def __signature__(self) -> inspect.Signature:
        return inspect.signature(Resolver().callable(self.target))
