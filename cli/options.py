"""Option values checked before anything runs: output mode, executor, ``--param``."""

from __future__ import annotations

import difflib
import enum
import os
import sys
from collections.abc import Iterable, Sequence
from typing import Any

from .errors import CliError

DEFAULT_EXECUTOR = "threaded"


class OutputMode(str, enum.Enum):
    AUTO = "auto"
    LIVE = "live"
    PLAIN = "plain"
    JSON = "json"


class GraphFormat(str, enum.Enum):
    MERMAID = "mermaid"
    DOT = "dot"


class ShowFormat(str, enum.Enum):
    TEXT = "text"
    JSON = "json"


class ReportFormat(str, enum.Enum):
    HTML = "html"
    MD = "md"


def resolve_output(mode: OutputMode, *, isatty: bool | None = None) -> OutputMode:
    """``auto`` is ``live`` on a terminal (and a terminal that can move its cursor),
    ``plain`` anywhere else."""
    if mode is not OutputMode.AUTO:
        return mode
    tty = sys.stdout.isatty() if isatty is None else isatty
    dumb = os.environ.get("TERM", "") in ("", "dumb")
    return OutputMode.LIVE if tty and not dumb else OutputMode.PLAIN


def parse_params(items: Sequence[str]) -> dict[str, Any]:
    """``NAME=VALUE`` pairs, values read as YAML scalars (``5`` is an integer)."""
    from flowweaver.spec import parse_param_value

    return {name: parse_param_value(value) for name, value in map(split_param, items)}


def split_param(item: str) -> tuple[str, str]:
    """``NAME=VALUE`` → ``(NAME, VALUE)``; a :class:`CliError` without ``=`` or a name."""
    name, sep, value = item.partition("=")
    if not sep or not name.strip():
        raise CliError(
            f"--param {item!r} is not NAME=VALUE",
            hint="write it as --param NAME=VALUE, e.g. --param limit=5",
        )
    return name.strip(), value


def check_executor(name: str | None) -> str | None:
    from flowweaver.executors import EXECUTOR_NAMES

    if name is None or name in EXECUTOR_NAMES:
        return name
    raise CliError(f"unknown executor {name!r}", hint=f"choose one of {_listing(EXECUTOR_NAMES)}")


def did_you_mean(name: str, choices: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f"did you mean {close[0]!r}?" if close else None


def _listing(names: Iterable[str]) -> str:
    return ", ".join(names)
