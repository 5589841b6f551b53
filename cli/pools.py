"""``--pool NAME=SIZE``: a pool's size for this run, checked before anything runs."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from flowweaver.workflow import Workflow

from .errors import CliError
from .options import did_you_mean


def split_pool(item: str) -> tuple[str, int]:
    """``NAME=SIZE`` → ``(NAME, SIZE)``; a :class:`CliError` unless SIZE is a whole
    number of at least 1."""
    name, sep, text = item.partition("=")
    name = name.strip()
    if not sep or not name:
        raise CliError(
            f"--pool {item!r} is not NAME=SIZE",
            hint="write it as --pool NAME=SIZE, e.g. --pool db=4",
        )
    try:
        size = int(text.strip())
    except ValueError:
        raise CliError(
            f"--pool {item!r}: the size {text.strip()!r} is not a whole number",
            hint="a pool's size is how many tasks may use it at once, e.g. --pool db=4",
        ) from None
    if size < 1:
        raise CliError(
            f"--pool {item!r}: a pool's size must be 1 or more, got {size}",
            hint="a pool's size is how many tasks may use it at once, e.g. --pool db=4",
        )
    return name, size


def parse_pools(items: Sequence[str]) -> dict[str, int]:
    """The ``--pool`` options: each pool's size (the last one given wins)."""
    return dict(map(split_pool, items))


def resize_pools(workflow: Workflow, sizes: Mapping[str, int]) -> None:
    """Give ``workflow``'s pools the sizes asked for; a :class:`CliError` for a pool it
    does not have."""
    for name in sizes:
        if name not in workflow.pools:
            known = ", ".join(workflow.pools)
            hint = did_you_mean(name, workflow.pools)
            if hint is None:
                hint = f"its pools are {known}" if known else "the spec declares no pools"
            raise CliError(f"--pool {name}: no pool named {name!r} in {workflow.name!r}", hint=hint)
    for name, size in sizes.items():
        workflow.pools[name] = dataclasses.replace(workflow.pools[name], size=size)
