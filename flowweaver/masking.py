"""Secrets: the values of named environment variables, never shown.

A workflow names its secrets (``secrets: [DB_PASSWORD]`` in a spec,
``Workflow(secrets=[...])`` in Python). When a run starts, a :class:`Masker` is made
of their values, and every place that shows or stores text reads it through that one
object: the error texts of task events, tracebacks, the log files and the lines passed
to the output modes, what the history stores, and the run dict handlers get. Later
observers get the same object (``Run.masker``), so no sink can forget it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from typing import Any

from flowweaver.errors import SecretError

MASK = "***"
"""What a secret's value is replaced with."""

ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
"""The name of an environment variable a workflow may name as a secret."""


def check_secret_names(names: Iterable[str]) -> tuple[str, ...]:
    """``names`` as a tuple; ``ValueError`` for one that can't name an environment variable."""
    if isinstance(names, str):
        raise TypeError("secrets must be a list of environment variable names, not a string")
    checked = tuple(names)
    for name in checked:
        if not isinstance(name, str) or not ENV_NAME.fullmatch(name):
            raise ValueError(f"secret {name!r} is not an environment variable name")
    return checked


class Masker:
    """Replaces every occurrence of a secret's value with ``***``.

    A value of several lines is also masked line by line (output is handled a line
    at a time), as GitHub Actions does. An empty masker (no secrets) is false, and
    ``mask`` then returns its argument.
    """

    __slots__ = ("_encoded", "_pattern", "values")

    def __init__(self, values: Iterable[str] = ()) -> None:
        pieces: set[str] = set()
        for value in values:
            if value:
                pieces.add(value)
                pieces.update(line.strip("\r") for line in value.split("\n") if line.strip())
        # longest first, so that a secret inside another is not masked half-way
        self.values: tuple[str, ...] = tuple(sorted(pieces, key=lambda v: (-len(v), v)))
        self._pattern = re.compile("|".join(map(re.escape, self.values))) if pieces else None
        self._encoded = tuple(value.encode("utf-8", "surrogatepass") for value in self.values)

    @classmethod
    def from_environment(
        cls, names: Iterable[str], environ: Mapping[str, str] | None = None
    ) -> Masker:
        """The masker of the secrets ``names``; :class:`SecretError` naming those unset."""
        env = os.environ if environ is None else environ
        names = list(names)
        missing = [name for name in names if name not in env]
        if missing:
            raise SecretError(missing)
        return cls(env[name] for name in names)

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Masker) and other.values == self.values

    def __hash__(self) -> int:
        return hash(self.values)

    def __repr__(self) -> str:
        return f"Masker({len(self.values)} values)"

    def __reduce__(self) -> tuple[type[Masker], tuple[tuple[str, ...]]]:
        return type(self), (self.values,)

    def mask(self, text: str) -> str:
        """``text`` with every secret's value replaced by ``***``."""
        pattern = self._pattern
        if pattern is None or not text:
            return text
        return pattern.sub(MASK, text)

    def mask_optional(self, text: str | None) -> str | None:
        return None if text is None else self.mask(text)

    def mask_data(self, value: Any) -> Any:
        """A copy of JSON-like ``value`` with every string masked; another scalar whose
        text holds a secret (a number given as ``--param``) becomes its masked text."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, Mapping):
            return {self.mask_data(k): self.mask_data(v) for k, v in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self.mask_data(item) for item in value]
        if value is None or isinstance(value, bool):
            return value
        text = str(value)
        masked = self.mask(text)
        return value if masked == text else masked

    def found_in(self, data: bytes) -> bool:
        """Whether ``data`` (a pickle, say) holds a secret's value as UTF-8."""
        return any(value in data for value in self._encoded)


NO_SECRETS = Masker()
"""The masker of a workflow with no secrets: masks nothing."""
