"""One-line errors on standard error, and the exit codes of the command line.

Problem lines are written with ``sys.stderr.write``: never wrapped, never coloured,
whatever the terminal's width, so editors and CI can parse them.
"""

from __future__ import annotations

import enum
import sys
from collections.abc import Iterable


class ExitCode(enum.IntEnum):
    OK = 0
    TASK_FAILED = 1
    BAD_INPUT = 2
    LOCKED = 3
    INTERNAL = 70
    TIMED_OUT = 124
    SIGINT = 130
    SIGTERM = 143


class CliError(Exception):
    """A mistake of the user's the command reports in one line (and a hint)."""

    def __init__(self, message: str, hint: str | None = None, code: int = ExitCode.BAD_INPUT):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code


def write_error(message: str, hint: str | None = None) -> None:
    """``error: message`` (only its first line) and an optional ``hint:`` line."""
    lines = [f"error: {_one_line(message)}"]
    if hint:
        lines.append(f"hint: {hint}")
    _write(lines)


def write_warning(message: str) -> None:
    _write([f"warning: {_one_line(message)}"])


def write_problems(problems: Iterable[object]) -> None:
    """Each spec problem as its ``FILE:LINE:COLUMN: PATH: message`` line."""
    _write([_one_line(str(problem)) for problem in problems])


def _one_line(text: str) -> str:
    return " ".join(text.split("\n")) if "\n" in text else text


def _write(lines: list[str]) -> None:
    sys.stdout.flush()
    sys.stderr.write("".join(f"{line}\n" for line in lines))
    sys.stderr.flush()
