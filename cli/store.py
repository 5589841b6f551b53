"""The seam to the run history (:class:`flowweaver.RunStore`, SPEC section 5).

Everything the command line asks of the store goes through here: opening the
store, opening a run's recorder (which takes the workflow's lock), and turning
what a resumed run reuses into words for the output modes.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowweaver.workflow import Workflow

if TYPE_CHECKING:
    from flowweaver.history import ResumeInfo, RunRecorder, RunStore


def open_store(state_dir: Path | None) -> RunStore:
    """The store in ``state_dir`` (``None``: ``$FLOWWEAVER_HOME``, else ``.flowweaver``).

    Raises ``StateError`` (exit 2) for a folder that is unsafe or not a history."""
    from flowweaver.history import RunStore

    return RunStore(state_dir)


def open_recorder(
    workflow: Workflow, state_dir: Path | None, *, resume: bool, wait: bool
) -> RunRecorder:
    """A recorder for a run of ``workflow``: it holds the workflow's lock until the
    run ends (``LockedError``, exit 3, when another run holds it)."""
    return open_store(state_dir).open_run(workflow, resume=resume, wait=wait)


def resume_summary(info: ResumeInfo | None) -> dict[str, Any]:
    """What a resumed run reuses and runs again, JSON-ready; empty when not resuming."""
    if info is None:
        return {}
    return {
        "message": info.message,
        "from_run": info.from_run,
        "reused": list(info.reused),
        "changed": list(info.changed),
        "unstored": list(info.unstored),
        "rerun": dict(info.rerun),
    }


def resume_lines(summary: dict[str, Any]) -> list[str]:
    """``resuming run ab12cd34: 3 of 5 tasks reused; changed: b`` (the store's words),
    then which tasks are reused and which run again because their result wasn't stored."""
    if not summary:
        return []
    lines = [str(summary["message"])]
    labels = (("reused", "reused"), ("unstored", "result not stored, running again"))
    for key, label in labels:
        if summary.get(key):
            lines.append(f"  {label}: {', '.join(summary[key])}")
    return lines
