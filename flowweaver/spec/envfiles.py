"""``env_file``: ``NAME=value`` files (the dotenv format) for ``${env.NAME}`` and shell tasks.

``env_file: .env``, or a list, each a path or ``{path: .env.local, required: false}``;
paths are relative to the spec file. A missing required file is a spec problem; a line
that isn't ``NAME=value`` is a problem located in the env file itself. Values are read
with python-dotenv's ``dotenv_values`` (imported only when a spec has ``env_file``).

Precedence, strongest first: the spec's ``env:``, the process environment, later files,
earlier files: a file gives defaults and never overrides what the environment has.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from typing import Any

from flowweaver.errors import Problem
from flowweaver.spec.kinds import INVALID, Context, Flag, Kind, Text, describe
from flowweaver.spec.nodes import ListNode, MapNode, Node, ScalarNode
from flowweaver.spec.problems import KeyPath, Mark, Problems
from flowweaver.spec.records import Key, Record

_ENTRY = Record(
    {
        "path": Key(Text(nonempty=True), "The file, relative to the spec file."),
        "required": Key(Flag(), "Whether a missing file is a problem (default: true)."),
    },
    required=("path",),
)


@dataclass(frozen=True)
class EnvFile:
    """One ``env_file`` entry, checked, with where it is written."""

    path: str
    required: bool
    mark: Mark
    where: KeyPath


@dataclass(frozen=True)
class EnvFiles(Kind):
    """A path, or a list of paths and ``{path, required}`` mappings."""

    def check(self, node: Node, path: KeyPath, ctx: Context) -> Any:
        items = node.items if isinstance(node, ListNode) else [node]
        where = [(*path, i) for i in range(len(items))] if isinstance(node, ListNode) else [path]
        files = [self._entry(item, at, ctx) for item, at in zip(items, where, strict=True)]
        return INVALID if INVALID in files else files

    def _entry(self, node: Node, path: KeyPath, ctx: Context) -> Any:
        if isinstance(node, ScalarNode) and isinstance(node.value, str):
            value = Text(nonempty=True).check(node, path, ctx)
            return INVALID if value is INVALID else EnvFile(value, True, node.mark, path)
        if isinstance(node, MapNode):
            entry = _ENTRY.check(node, path, ctx)
            if entry is INVALID or "path" not in entry:
                return INVALID
            mark = node.items["path"].mark
            return EnvFile(entry["path"], entry.get("required", True), mark, (*path, "path"))
        return ctx.fail(
            node, path, f"expected a path or {{path: ..., required: ...}}, got {describe(node)}"
        )

    def schema(self) -> dict[str, Any]:
        one = {"anyOf": [{"type": "string", "minLength": 1}, _ENTRY.schema()]}
        return {"anyOf": [one, {"type": "array", "items": one}]}


def read_env_files(files: list[EnvFile], spec_dir: str, report: Problems) -> dict[str, str]:
    """The variables the files give, later files winning over earlier ones."""
    merged: dict[str, str] = {}
    for entry in files:
        full = os.path.normpath(os.path.join(spec_dir, os.path.expanduser(entry.path)))
        if not os.path.exists(full):
            if entry.required:
                report.add(
                    entry.mark,
                    entry.where,
                    f"env file {full} not found (write {{path: {entry.path}, required: false}}"
                    " if it may be missing)",
                )
            continue
        merged.update(_read(full, entry, report))
    return merged


def _read(full: str, entry: EnvFile, report: Problems) -> dict[str, str]:
    from dotenv import dotenv_values
    from dotenv.parser import parse_stream

    try:
        with open(full, encoding="utf-8") as file:
            text = file.read()
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
        report.add(entry.mark, entry.where, f"env file {full} can't be read: {reason}")
        return {}
    bad = [binding for binding in parse_stream(io.StringIO(text)) if binding.error]
    for binding in bad:
        shown = (
            binding.original.string.strip().splitlines()[0]
            if binding.original.string.strip()
            else ""
        )
        report.add_problem(
            Problem(
                full,
                binding.original.line,
                1,
                "",
                f"expected NAME=value (the dotenv format), got {shown[:40]!r}",
            )
        )
    if bad:
        return {}
    values = dotenv_values(stream=io.StringIO(text))
    return {name: value for name, value in values.items() if value is not None}
