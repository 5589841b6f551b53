"""What ``validate`` points out in a valid spec about its folders and files.

Warnings, not problems: a run may still be right. Each is a problem line whose
message starts with ``warning:`` (``FILE:LINE:COLUMN: PATH: warning: …``):

- a ``workdir`` that does not exist (yet: a run stops before it starts without it);
- a ``reads`` glob that matches no file (yet: an upstream task may write it);
- a ``reads`` path outside its task's folder (``..``): allowed, shown;
- a ``writes`` path outside its task's folder.

Relative ``reads`` and ``writes`` of a spec without ``workdir`` resolve against the
current directory, as a run started here would.
"""

from __future__ import annotations

import os

from flowweaver.errors import Problem
from flowweaver.folders import absolute, expand, task_folder
from flowweaver.spec.document import Document, TaskDef
from flowweaver.spec.nodes import ListNode, MapNode
from flowweaver.spec.problems import Problems
from flowweaver.task import Task


class FileChecks:
    """The warnings about a workflow's folders and files, task by task (each as it is
    made, while its definition is there to point at); ``report`` is an empty
    collector for the spec file."""

    def __init__(self, document: Document, report: Problems) -> None:
        self.report = report
        self.workdir = document.workdir
        self.here = os.getcwd()
        if document.workdir is not None and not os.path.isdir(document.workdir):
            mark = document.workdir_mark or document.tasks[0].locate()
            report.add(mark, ("workdir",), _no_folder(document.workdir))

    def task(self, definition: TaskDef, task: Task) -> None:
        """The warnings about ``task``'s folder, ``reads`` and ``writes``."""
        if task.workdir is None and not task.reads and not task.writes:
            return
        report = self.report
        folder = task_folder(task, self.workdir, self.here)
        if task.workdir is not None and not os.path.isdir(folder):
            report.add(definition.locate("workdir"), definition.path("workdir"), _no_folder(folder))
        for key, paths in (("reads", task.reads), ("writes", task.writes)):
            for position, pattern in enumerate(paths):
                written = (
                    definition.node.items.get(key) if isinstance(definition.node, MapNode) else None
                )
                where = (key, position) if isinstance(written, ListNode) else (key,)
                for message in _path_warnings(key, pattern, folder):
                    report.add(definition.locate(*where), definition.path(*where), message)

    def warnings(self) -> list[Problem]:
        """The warnings found, each a problem whose message starts ``warning:``."""
        return [
            Problem(p.file, p.line, p.column, p.path, f"warning: {p.message}")
            for p in self.report.problems
        ]


def _no_folder(folder: str) -> str:
    return f"workdir {folder} does not exist (yet: a run stops before it starts without it)"


def _path_warnings(key: str, pattern: str, folder: str) -> list[str]:
    found: list[str] = []
    if os.path.relpath(absolute(pattern, folder), folder).split(os.sep)[0] == os.pardir:
        allowed = " (allowed)" if key == "reads" else ""
        found.append(f"{key} {pattern!r} is outside the task's folder {folder}{allowed}")
    if key == "reads" and not expand([pattern], folder):
        found.append(
            f"reads {pattern!r} matches no file in {folder} (yet: an upstream task may write it)"
        )
    return found
