"""A failed attempt, described once for every place that shows or stores it.

:func:`describe` makes the :class:`~flowweaver.executors.contract.Failure` of an
exception: its error text, its whole traceback (chained causes included; an
exception from a worker process or a Dask worker carries its remote traceback as
its cause), and the place in the task's own code where it was raised — the
deepest frame that is not FlowWeaver's, the standard library's or an installed
package's (else the deepest that is not FlowWeaver's) — all masked.
"""

from __future__ import annotations

import os
import re
import sysconfig
import traceback
from collections.abc import Iterator
from functools import lru_cache

from flowweaver.executors.contract import Failure, RemoteTraceback, error_text
from flowweaver.masking import NO_SECRETS, Masker

_FRAME = re.compile(r'^\s*File "([^"]+)", line (\d+)', re.MULTILINE)


def describe(exc: BaseException, masker: Masker = NO_SECRETS) -> Failure:
    """The failure an attempt ended with; a traceback only when there is one."""
    error = masker.mask(error_text(exc))
    if not _has_trace(exc):
        return Failure(error)
    where = where_raised(exc)
    return Failure(error, masker.mask(format_failure(exc)), masker.mask_optional(where))


def format_failure(exc: BaseException) -> str:
    """The whole traceback of ``exc``, chained causes included, without the frames of
    FlowWeaver's own call machinery it was raised through (a shell command's failure,
    raised by FlowWeaver, is then its error line alone)."""
    tb = exc.__traceback__
    while tb is not None and _is_ours(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def where_raised(exc: BaseException) -> str | None:
    """``file.py:LINE`` in the task's code where ``exc`` (or, when it was raised by
    FlowWeaver for it, the exception it wraps) was raised."""
    for link in _chain(exc):
        frames = _frames(link)
        if not frames:
            continue
        own = [f for f in frames if not _is_ours(f[0])]
        user = [f for f in own if not _is_library(f[0])]
        chosen = user or own
        if chosen:
            path, line = chosen[-1]
            return f"{os.path.basename(path)}:{line}"
    return None


def _has_trace(exc: BaseException) -> bool:
    return any(
        link.__traceback__ is not None or isinstance(link, RemoteTraceback) for link in _chain(exc)
    )


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    link: BaseException | None = exc
    while link is not None and id(link) not in seen:
        seen.add(id(link))
        yield link
        link = link.__cause__ or (None if link.__suppress_context__ else link.__context__)


def _frames(exc: BaseException) -> list[tuple[str, int]]:
    if isinstance(exc, RemoteTraceback):
        return [(path, int(line)) for path, line in _FRAME.findall(exc.text)]
    return [(f.filename, f.lineno or 0) for f in traceback.extract_tb(exc.__traceback__)]


def _is_ours(path: str) -> bool:
    return path.startswith(_dirs()[0])


def _is_library(path: str) -> bool:
    return path.startswith((*_dirs()[1], "<"))


@lru_cache(maxsize=1)
def _dirs() -> tuple[str, tuple[str, ...]]:
    """FlowWeaver's folder; the standard library's and installed packages' folders."""
    import flowweaver

    ours = os.path.dirname(os.path.abspath(flowweaver.__file__)) + os.sep
    paths = sysconfig.get_paths()
    names = ("stdlib", "platstdlib", "purelib", "platlib")
    libraries = tuple(sorted({os.path.abspath(paths[n]) + os.sep for n in names if n in paths}))
    return ours, libraries
