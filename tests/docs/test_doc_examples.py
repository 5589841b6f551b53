"""Every example in the README and in ``docs/`` does what the page says.

- Each ```yaml block is a spec that loads (imports checked, except for the made-up
  ``shop`` package) and runs to the end the page describes; a ``# fragment:`` block is
  only parsed; a ``# invalid: FILE`` block produces exactly the problem lines of the
  ```text block that follows it.
- Each ```python block runs as a script, and prints what its ``# prints:`` comments say.
- Together the spec examples show every key of a spec.
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from _docs import ROOT, Block, block_after, blocks

from flowweaver import TaskStatus, WorkflowError
from flowweaver.cli.options import DEFAULT_EXECUTOR
from flowweaver.executors import make_executor
from flowweaver.spec import load_workflow, validate_spec
from flowweaver.spec.schema import TASK_KEYS, TOP_KEYS

ILLUSTRATIVE = {"shop", "ops"}
"""Made-up packages examples may name: their specs are loaded without imports."""

NOT_ALL_COMPLETED = {
    "tour": {"publish": TaskStatus.FAILED},
    "conditions": {
        "load": TaskStatus.SKIPPED,
        "deep-check": TaskStatus.SKIPPED,
        "lint": TaskStatus.FAILED,
    },
}
"""Workflows whose example, run in an empty folder, has tasks that don't complete on
purpose (the tour's first run fails; conditions skip), and how those end: everything
else in them completes."""

YAML = blocks("yaml")
FRAGMENTS = [block for block in YAML if block.marked("fragment") is not None]
INVALID = [block for block in YAML if block.marked("invalid") is not None]
SPECS = [block for block in YAML if block not in FRAGMENTS and block not in INVALID]
PYTHON = [block for block in blocks("python") if block.marked("fragment") is None]


def ids(found: list[Block]) -> list[str]:
    return [block.where for block in found]


@pytest.fixture(autouse=True)
def _in_a_scratch_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [str(ROOT / "specs"), *sys.path])
    monkeypatch.delenv("FW_DOCS_OUT", raising=False)
    monkeypatch.setenv("FLOWWEAVER_POOLS", str(tmp_path / "pools"))  # host pools' slot files


def check_imports(text: str) -> bool:
    """Whether a spec's modules are real (imports checked) or made up (not checked)."""
    document = yaml.safe_load(text)
    calls = [task.get("call", "") for task in (document.get("tasks") or {}).values()]
    return not any(re.split(r"[.:]", call)[0] in ILLUSTRATIVE for call in calls)


def test_the_pages_have_examples_of_each_kind() -> None:
    assert len(SPECS) >= 8 and INVALID and FRAGMENTS
    assert len(PYTHON) >= 10


@pytest.mark.parametrize("block", FRAGMENTS, ids=ids(FRAGMENTS))
def test_a_fragment_is_yaml(block: Block) -> None:
    yaml.safe_load(block.text)


@pytest.mark.parametrize("block", SPECS, ids=ids(SPECS))
def test_a_spec_example_loads_and_runs(block: Block, tmp_path: Path) -> None:
    path = tmp_path / "example.yaml"
    path.write_text(block.text, encoding="utf-8")
    imports = check_imports(block.text)
    workflow = load_workflow(path, check_imports=imports)
    info = workflow.spec
    assert info is not None
    if not imports or info.executor == "dask":
        return  # made-up modules, or a cluster to reach: loading it checked the spec
    executor = make_executor(info.executor or DEFAULT_EXECUTOR, max_workers=info.max_workers)
    with contextlib.suppress(WorkflowError):  # what ended how is checked below
        executor.execute(workflow)
    ending = NOT_ALL_COMPLETED.get(workflow.name, {})
    for name, task in workflow.get_all_tasks().items():
        expected = ending.get(name, TaskStatus.COMPLETED)
        assert task.status is expected, f"{block.where}: {name}: {task.error}"


@pytest.mark.parametrize("block", INVALID, ids=ids(INVALID))
def test_an_invalid_example_gives_the_problems_shown(block: Block, tmp_path: Path) -> None:
    name = block.marked("invalid")
    assert name, f"{block.where}: write '# invalid: FILE'"
    shown = block_after(block)
    assert shown is not None and shown.lang == "text", f"{block.where}: show its problems"
    (tmp_path / name).write_text(block.text, encoding="utf-8")
    problems = validate_spec(name, check_imports=check_imports(block.text))
    assert [str(problem) for problem in problems] == shown.text.splitlines()


@pytest.mark.parametrize("block", PYTHON, ids=ids(PYTHON))
def test_a_python_example_runs(block: Block, tmp_path: Path) -> None:
    (tmp_path / "specs").symlink_to(ROOT / "specs")  # examples name the shipped specs
    script = tmp_path / "example.py"
    script.write_text(block.text, encoding="utf-8")
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    for expected in re.findall(r"# prints: (.+)", block.text):
        assert expected.strip() in done.stdout, f"{block.where}: {expected}"


def test_every_key_has_an_example() -> None:
    written = set(
        re.findall(r"(?:^|[{,]) *([a-z_]+):", "\n".join(b.text for b in SPECS), re.MULTILINE)
    )
    assert set(TOP_KEYS) - written == set()
    assert set(TASK_KEYS) - written == set()
