"""Every YAML example of the README runs, and together they show every key.

Blocks whose first line is ``# fragment: ...`` show part of a spec and are not run.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from flowweaver import TaskStatus
from flowweaver.executors import make_executor
from flowweaver.spec import load_workflow
from flowweaver.spec.schema import TASK_KEYS, TOP_KEYS

DOC = Path(__file__).resolve().parents[2] / "README.md"
BLOCKS = [
    block
    for block in re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    if not block.startswith("# fragment:")
]


@pytest.fixture(autouse=True)
def _in_a_scratch_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delenv("FW_DOCS_OUT", raising=False)


@pytest.mark.parametrize("text", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_example_runs(tmp_path: Path, text: str) -> None:
    path = tmp_path / "example.yaml"
    path.write_text(text, encoding="utf-8")
    workflow = load_workflow(path)
    info = workflow.spec
    assert info is not None
    if info.executor == "dask":
        return  # needs a cluster; loading it checked the spec
    make_executor(info.executor or "sequential", max_workers=info.max_workers).execute(workflow)
    assert {task.status for task in workflow.get_all_tasks().values()} == {TaskStatus.COMPLETED}


def test_every_key_has_an_example() -> None:
    written = set(re.findall(r"(?:^|[{,]) *([a-z_]+):", "\n".join(BLOCKS), re.MULTILINE))
    assert set(TOP_KEYS) - written == set()
    assert set(TASK_KEYS) - written == set()
