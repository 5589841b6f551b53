"""The census nightly example (``specs/census_nightly.yaml``): conditions, clean-up and handlers.

A nightly job keeps a snapshot of the census rows (``data/states.csv``) in its
output folder: each night it stages the rows in a scratch folder and merges them
into the snapshot; on request it rebuilds the snapshot from scratch first. A
freshness check that may fail, a report that runs whatever happened, a clean-up
that always runs, and an alert file that the ``on_failure`` handler writes (and
``on_recovery`` removes). Nothing here uses the network.
"""

from __future__ import annotations

import datetime
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

SNAPSHOT = "snapshot.json"
ALERT = "ALERT.txt"


def make_scratch() -> str:
    """A fresh scratch folder for this run (the clean-up removes it)."""
    return tempfile.mkdtemp(prefix="flowweaver-nightly-")


def stage(extract: list[dict[str, str]], scratch: str) -> str:
    """Write the night's rows into the scratch folder; the staged file's path."""
    staged = Path(scratch) / "staged.json"
    staged.write_text(json.dumps(extract), encoding="utf-8")
    return str(staged)


def full_reload(extract: list[dict[str, str]], out_dir: str) -> int:
    """Rebuild the snapshot from the source alone; how many rows it holds."""
    snapshot = _keyed(extract)
    _write(Path(out_dir), snapshot)
    return len(snapshot)


def merge(stage: str, out_dir: str) -> int:
    """Merge the staged rows into the snapshot (made if missing); how many changed."""
    folder = Path(out_dir)
    path = folder / SNAPSHOT
    snapshot = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    staged = _keyed(json.loads(Path(stage).read_text(encoding="utf-8")))
    changed = sum(1 for key, row in staged.items() if snapshot.get(key) != row)
    snapshot.update(staged)
    _write(folder, snapshot)
    return changed


def check_freshness(extract: list[dict[str, str]], max_age_years: int = 1) -> str:
    """Fail when the source is older than ``max_age_years`` (the 2020 census is)."""
    year = 2020 if "population_2020" in extract[0] else 0
    if datetime.date.today().year - year > max_age_years:
        raise ValueError(f"the source is the {year} census: older than {max_age_years} year")
    return f"fresh ({year})"


def report(merge: int | None, check_freshness: str | None, out_dir: str) -> str:
    """Write the night's report, whatever the steps above it did (``run_if: done``
    passes ``None`` for a step that did not complete)."""
    lines = [
        "# Nightly snapshot",
        f"- rows changed: {'not merged' if merge is None else merge}",
        f"- freshness: {check_freshness or 'check failed (allowed)'}",
    ]
    path = Path(out_dir) / "nightly-report.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)


def remove_scratch(scratch: str | None) -> str:
    """Remove the scratch folder (``run_if: always``: after a failure or Ctrl-C too)."""
    if scratch:
        shutil.rmtree(scratch, ignore_errors=True)
    return "removed"


def write_alert(out_dir: str, run: dict[str, Any]) -> str:
    """The ``on_failure`` handler: an alert file a monitor (or a person) picks up."""
    failed = "".join(f"  {task}: {error}\n" for task, error in run["failed"].items())
    text = f"nightly run {run['run_id']} {run['status']} (exit {run['exit_code']})\n{failed}"
    path = Path(out_dir) / ALERT
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return str(path)


def clear_alert(out_dir: str) -> str:
    """The ``on_recovery`` handler: the run after a failed one succeeded."""
    (Path(out_dir) / ALERT).unlink(missing_ok=True)
    return "cleared"


def _keyed(rows: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {row["abbreviation"]: row for row in rows}


def _write(folder: Path, snapshot: dict[str, Any]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / SNAPSHOT).write_text(json.dumps(snapshot, sort_keys=True), encoding="utf-8")
