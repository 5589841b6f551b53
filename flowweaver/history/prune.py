"""Retention: removing old runs' records, stored results and logs together.

Which runs go (:func:`choose`): per workflow, those past its newest ``keep`` runs
and/or those that started before ``older_than`` seconds ago (both given: only runs
both rules let go). A run that still holds its workflow's lock is running and is
never removed, whatever its age.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

from flowweaver.history import db
from flowweaver.history.lock import lock_path, probe
from flowweaver.logs.files import run_log_dir


class PrunedRun(NamedTuple):
    """A run :func:`prune` removed."""

    id: str
    workflow: str
    started: float


def choose(
    rows: Sequence[sqlite3.Row],
    *,
    keep: int | None,
    before: float | None,
    running: Callable[[str, str], bool],
) -> list[PrunedRun]:
    """Of ``rows`` (``id, workflow, started, status``, newest first), the runs to remove:
    past the newest ``keep`` of their workflow and/or started before ``before``;
    never one that ``running(workflow, run_id)`` says is running."""
    seen: dict[str, int] = {}
    chosen: list[PrunedRun] = []
    for row in rows:
        workflow = row["workflow"]
        rank = seen.get(workflow, 0)
        seen[workflow] = rank + 1
        if keep is not None and rank < keep:
            continue
        if before is not None and row["started"] >= before:
            continue
        if row["status"] == "running" and running(workflow, row["id"]):
            continue
        chosen.append(PrunedRun(row["id"], workflow, row["started"]))
    return chosen


def prune(
    database: db.Database,
    state_dir: Path,
    *,
    keep: int | None = None,
    before: float | None = None,
    workflow: str | None = None,
) -> list[PrunedRun]:
    """Remove the runs :func:`choose` picks (of ``workflow``, or of all): their rows,
    their stored results and their log folders. Returns them, newest first."""
    if keep is None and before is None:
        raise ValueError("say which runs to remove: keep, before, or both")

    def running(name: str, run_id: str) -> bool:
        holder = probe(lock_path(state_dir, name))
        return holder is not None and holder.get("run") == run_id

    with database.reading() as conn:
        rows = db.run_ages(conn, workflow)
    chosen = choose(rows, keep=keep, before=before, running=running)
    if chosen:
        with database.transaction() as conn:
            db.delete_runs(conn, [run.id for run in chosen])
        for run in chosen:
            shutil.rmtree(run_log_dir(state_dir, run.id), ignore_errors=True)
    return chosen
