"""A mapped task's items: where they come from, and what each is called.

The run (``_run``) reads a mapped task's items when the task is about to run
(:func:`items_of`), names each (:func:`item_keys`) and hands the names to the engine,
which schedules the items like tasks. An item's name is ``task[key]``: in every
output, the history, ``--only`` and the logs.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flowweaver.task import Map
from flowweaver.templates import ITEM, Template

KEY_HASH_LENGTH = 10
"""Hex digits of the hash that names an item that is not a string or a number."""


class ItemsError(ValueError):
    """A mapped task's items can't be had: the message says why (its task fails with it)."""


def items_of(spec: Map, upstream: Any = None, from_shell: bool = False) -> list[Any]:
    """The items of a mapped task: ``upstream`` is the result of the task ``spec.over``
    names (``from_shell``: a shell task's output, read as a JSON array when it is one,
    else one item per non-empty line)."""
    over = spec.over
    if isinstance(over, str):
        if from_shell and isinstance(upstream, str):
            return _shell_items(upstream)
        if isinstance(upstream, (list, tuple)):
            return list(upstream)
        raise ItemsError(f"map over {over!r}: expected a list, got {_kind(upstream)}")
    if isinstance(over, Mapping):
        names = list(over)
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*over.values())]
    return list(over)


def _shell_items(output: str) -> list[Any]:
    text = output.strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
        except ValueError:
            pass
        else:
            if isinstance(value, list):
                return value
    return [line for line in output.splitlines() if line.strip()]


def _kind(value: Any) -> str:
    return "None" if value is None else type(value).__name__


def default_key(item: Any) -> str:
    """The item itself when it is a string or a number, else a short hash of its
    canonical JSON form."""
    if isinstance(item, str):
        return item
    if type(item) is int:  # (the common number, without the tests below)
        return str(item)
    if isinstance(item, (int, float)) and not isinstance(item, bool):
        return str(item)
    text = json.dumps(item, sort_keys=True, default=repr, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:KEY_HASH_LENGTH]


@dataclass(frozen=True)
class ItemKey:
    """A ``map.key`` template of a spec (``"${item.id}"``): an item's key is the
    template rendered with the item as ``${item}``. Picklable, as every ``Map`` is."""

    template: Template

    def __call__(self, item: Any) -> str:
        return self.template.text({ITEM: item})


def item_keys(spec: Map, items: Sequence[Any]) -> list[str]:
    """Each item's key; :class:`ItemsError` when two items share one."""
    key = spec.key
    if key is not None:
        keys = [str(key(i)) for i in items]
    else:
        kinds = set(map(type, items))
        if kinds == {str}:  # (the common lists, keyed without a call per item)
            keys = list(items)
        elif kinds == {int}:
            keys = list(map(str, items))
        else:
            keys = list(map(default_key, items))
    if len(set(keys)) != len(keys):
        seen: dict[str, int] = {}
        for position, name in enumerate(keys):
            if name in seen:
                raise ItemsError(
                    f"items {seen[name] + 1} and {position + 1} have the same key {name!r}:"
                    " every item needs a key of its own (see map.key)"
                )
            seen[name] = position
    return keys


SHOWN_KEYS = 5
"""How many of a task's keys an error about an unknown key lists."""


def only_items(spec: Map, items: list[Any], keys: list[str]) -> tuple[list[Any], list[str]]:
    """The items ``spec.only`` selects (all when it is ``None``), and their keys;
    :class:`ItemsError` naming a selected key that no item has."""
    only = spec.only
    if only is None:
        return items, keys
    unknown = sorted(only.difference(keys))
    if unknown:
        shown = ", ".join(keys[:SHOWN_KEYS]) + (", …" if len(keys) > SHOWN_KEYS else "")
        listed = ", ".join(repr(key) for key in unknown)
        noun = "key" if len(unknown) == 1 else "keys"
        raise ItemsError(f"no item has the {noun} {listed} (the keys are: {shown or 'none'})")
    kept = [position for position, key in enumerate(keys) if key in only]
    return [items[i] for i in kept], [keys[i] for i in kept]
