"""Collecting located problems: where a value sits, what is wrong, and a did-you-mean."""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeAlias

from flowweaver.errors import Problem

_LINE_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")
_PLAIN_KEY = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class Mark:
    """A 1-based position in the spec text."""

    line: int
    column: int


FILE_START = Mark(1, 1)

KeyPath: TypeAlias = tuple[str | int, ...]
"""Where a value sits: keys and list indices from the top, formatted only when reported."""

TOP: KeyPath = ()


def mark_at(text: str, offset: int) -> Mark:
    """The mark of character ``offset`` of ``text``, counting lines as YAML does."""
    line, start = 1, 0
    for match in _LINE_BREAK.finditer(text, 0, offset):
        line, start = line + 1, match.end()
    return Mark(line, offset - start + 1)


def character_at(text: str, mark: Mark) -> str:
    """The character of ``text`` at ``mark``, or an empty string past its line's end."""
    lines = _LINE_BREAK.split(text, maxsplit=mark.line)
    line = lines[mark.line - 1] if mark.line <= len(lines) else ""
    return line[mark.column - 1 : mark.column] if mark.column >= 1 else ""


class Problems:
    """The problems found in one spec file, each kept inside the file's extent."""

    def __init__(self, file: str, text: str = "") -> None:
        self.file = file
        self._text = text
        self._lines: tuple[list[int], list[int]] | None = None
        self._problems: set[Problem] = set()

    def _line_extents(self) -> tuple[list[int], list[int]]:
        """Where each line starts, and its length: worked out when first needed (a
        valid spec needs neither, and a big one has hundreds of thousands of lines)."""
        if self._lines is None:
            starts = [0, *(match.end() for match in _LINE_BREAK.finditer(self._text))]
            lengths = [len(line) for line in _LINE_BREAK.split(self._text)]
            self._lines = (starts, lengths)
        return self._lines

    def line_text(self, line: int) -> str:
        """Line ``line`` (1-based) of the spec's text, without its line break."""
        starts, lengths = self._line_extents()
        if not 1 <= line <= len(starts):
            return ""
        start = starts[line - 1]
        return self._text[start : start + lengths[line - 1]]

    def add(self, mark: Mark, path: KeyPath, message: str) -> None:
        lengths = self._line_extents()[1]
        line = min(max(mark.line, 1), len(lengths))
        column = min(max(mark.column, 1), lengths[line - 1] + 1)
        if line < mark.line:  # a parser mark past the last line: point at its end
            column = lengths[line - 1] + 1
        one_line = _LINE_BREAKS.sub(lambda m: repr(m.group(0))[1:-1], message)
        self._problems.add(Problem(self.file, line, column, format_path(path), one_line))

    def add_problem(self, problem: Problem) -> None:
        """A problem found in another file the spec names (an env file), as it is."""
        self._problems.add(problem)

    @property
    def problems(self) -> list[Problem]:
        """Every problem once: this file's in file order, then the other files'."""
        return sorted(
            self._problems,
            key=lambda p: (p.file != self.file, p.file, p.line, p.column, p.path, p.message),
        )

    def __bool__(self) -> bool:
        return bool(self._problems)

    def __len__(self) -> int:
        return len(self._problems)


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest choice, or an empty string."""
    meant = closest(word, list(choices))
    return f" (did you mean {meant!r}?)" if meant is not None else ""


SHORT_WORD_CUTOFF = 0.55
"""difflib's ratio that two words beginning with the same two letters need: a letter is
a large share of a short word, so ``date`` and ``day`` score 0.57, below difflib's 0.6."""


def closest(word: str, choices: list[str]) -> str | None:
    """The choice ``word`` most likely stands for, or ``None`` rather than a guess.

    difflib's close match first; else the one choice that ``word`` (3 letters or more)
    begins, as an abbreviation (``desc``: ``description``); else, among the choices that
    begin with the same two letters, the closest at :data:`SHORT_WORD_CUTOFF`.
    """
    close = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    if close:
        return close[0]
    if len(word) >= 3:
        extended = [choice for choice in choices if choice.startswith(word)]
        if len(extended) == 1:
            return extended[0]
    alike = [choice for choice in choices if len(word) >= 2 and choice[:2] == word[:2]]
    scored = [(difflib.SequenceMatcher(None, word, c).ratio(), c) for c in alike]
    good = [(score, choice) for score, choice in scored if score >= SHORT_WORD_CUTOFF]
    return max(good)[1] if good else None


def child(path: KeyPath, key: str | int) -> KeyPath:
    """The path of ``key`` (a mapping key or a list index) under ``path``."""
    return (*path, key)


_LINE_BREAKS = re.compile(r"\r\n|[\r\n\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
"""What would break a problem's line: shown escaped (``\\n``) in the message."""


def format_path(path: KeyPath) -> str:
    """``tasks.load.depends_on[0]``; keys that aren't plain words as ``tasks['a b']``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _PLAIN_KEY.fullmatch(part) is None:
            text += f"[{part!r}]"
        else:
            text += f".{part}" if text else part
    return text
