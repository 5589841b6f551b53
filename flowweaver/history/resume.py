"""Resume: which tasks of an unfinished run keep their results, and why the others run.

A task is reused when it completed in the run being resumed, its fingerprint
(see :mod:`flowweaver.history.fingerprint`) is unchanged, its result was stored and loads
back, and every task upstream of it is reused too. Every other task runs.

A mapped task that runs again reuses its items by key (:func:`items`): an item that
completed in the run being resumed, whose task's fingerprint is unchanged, keeps its
result, whatever list the item source gives this time; its new list decides which
items exist and in what order.
"""

from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from flowweaver.task import Task


class PastTask(NamedTuple):
    """What the run being resumed recorded about one task."""

    status: str
    fingerprint: str | None
    result_state: str  # "stored", "unpicklable" or "none"
    result: bytes | None
    note: str | None
    parent: str | None = None


@dataclass(frozen=True)
class ResumeInfo:
    """What a resumed run reuses and what it runs again, for the user to see.

    ``from_run`` is the run resumed (``None``: there was nothing to resume, and
    every task runs); ``rerun`` gives the reason each other task runs again;
    ``changed`` lists the tasks whose definition changed since that run and
    ``unstored`` those whose result could not be stored or loaded back.
    """

    from_run: str | None
    message: str
    reused: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    unstored: tuple[str, ...] = ()
    rerun: dict[str, str] = field(default_factory=dict)


def plan(
    from_run: str,
    past: dict[str, PastTask],
    tasks: Sequence[Task],
    parents: Sequence[Sequence[int]],
    fingerprints: Sequence[str | None],
    blocked: Mapping[str, str] | None = None,
) -> tuple[ResumeInfo, dict[str, Any], dict[str, bytes]]:
    """The resume info, the reused results by name, and their pickles (to copy over).

    ``tasks`` are a workflow's, in the order they were added, with ``parents`` by
    position: that order is a topological one (see the loop below). ``blocked``
    says why a task is not reused whatever its fingerprint (its outputs are gone).
    """
    blocked = blocked or {}
    reused: dict[str, Any] = {}
    blobs: dict[str, bytes] = {}
    changed: list[str] = []
    unstored: list[str] = []
    rerun: dict[str, str] = {}
    # By position is upstream first: Workflow.add_task takes a task only once every
    # task it depends on is in, so parents[node] < node and whether those are reused
    # is settled before the node is looked at.
    for node, task in enumerate(tasks):
        before = past.get(task.name)
        lost = [tasks[up].name for up in parents[node] if tasks[up].name not in reused]
        reason = _reason_to_run(before, fingerprints[node]) or blocked.get(task.name)
        if reason is None and lost:
            reason = f"upstream task {lost[0]!r} runs again"
        if reason is None:
            assert before is not None and before.result is not None
            try:
                reused[task.name] = pickle.loads(before.result)
                blobs[task.name] = before.result
                continue
            except Exception as exc:
                reason = f"stored result could not be loaded ({type(exc).__name__}: {exc})"
        reason = _with_files(reason, task)
        if _changed(before, fingerprints[node]):
            changed.append(task.name)
            if not reason.startswith("definition"):
                reason += "; definition changed"
        rerun[task.name] = reason
        if reason.startswith(("result could not", "stored result")):
            unstored.append(task.name)
    info = ResumeInfo(
        from_run=from_run,
        message=_message(from_run, len(reused), len(tasks), changed),
        reused=tuple(reused),
        changed=tuple(changed),
        unstored=tuple(unstored),
        rerun=rerun,
    )
    return info, reused, blobs


def _with_files(reason: str, task: Task) -> str:
    """For a task that reads files, a changed fingerprint may be a changed file."""
    if reason == "definition changed" and task.reads:
        return "definition or the files it reads changed"
    return reason


def nothing_to_resume(message: str) -> ResumeInfo:
    return ResumeInfo(from_run=None, message=message)


def _changed(before: PastTask | None, fingerprint: str | None) -> bool:
    if before is None or fingerprint is None or before.fingerprint is None:
        return False
    return before.fingerprint != fingerprint


def _reason_to_run(before: PastTask | None, fingerprint: str | None) -> str | None:
    if before is None:
        return "new task"
    if before.status != "completed":
        return f"was {before.status}"
    if fingerprint is None:
        return "no stable fingerprint (a value without identity in its definition)"
    if before.fingerprint != fingerprint:
        return "definition changed"
    if before.result_state != "stored" or before.result is None:
        note = f": {before.note}" if before.note else ""
        return f"result could not be stored{note}"
    return None


def _message(from_run: str, reused: int, total: int, changed: list[str]) -> str:
    text = f"resuming run {from_run}: {reused} of {total} tasks reused"
    if changed:
        text += f"; changed: {', '.join(changed)}"
    return text


def items(
    past: dict[str, PastTask], tasks: Sequence[Task], fingerprints: Sequence[str | None]
) -> tuple[dict[str, dict[str, Any]], dict[str, bytes]]:
    """The completed items a resumed run may reuse, by mapped task then item name (its
    fingerprint unchanged), and their pickles."""
    mapped = {
        task.name: print_
        for task, print_ in zip(tasks, fingerprints, strict=True)
        if task.map is not None and print_ is not None
    }
    reused: dict[str, dict[str, Any]] = {}
    blobs: dict[str, bytes] = {}
    for name, item in past.items():
        owner = item.parent
        if owner not in mapped or item.status != "completed" or item.result is None:
            continue
        before = past.get(owner)
        if before is None or before.fingerprint != mapped[owner]:
            continue
        try:
            value = pickle.loads(item.result)
        except Exception:
            continue  # it runs again
        reused.setdefault(owner, {})[name] = value
        blobs[name] = item.result
    return reused, blobs
