"""The example specs in ``specs/`` load, validate and run through the engine with the
executor each one names, doing the work they say they do."""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import pytest

from flowweaver import TaskStatus, Workflow
from flowweaver.executors import make_executor
from flowweaver.spec import load_workflow, validate_spec

SPECS = Path(__file__).resolve().parents[2] / "specs"


@pytest.fixture(autouse=True)
def _in_a_scratch_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delenv("SHELL_DEMO_OUT", raising=False)
    monkeypatch.delenv("COMPRESS_DEMO_OUT", raising=False)


def run(name: str) -> Workflow:
    workflow = load_workflow(SPECS / f"{name}.yaml")
    info = workflow.spec
    assert info is not None
    executor = make_executor(
        info.executor or "sequential", max_workers=info.max_workers, fail_fast=info.fail_fast
    )
    executor.execute(workflow)
    statuses = {task.name: task.status for task in workflow.get_all_tasks().values()}
    assert set(statuses.values()) == {TaskStatus.COMPLETED}, statuses
    return workflow


@pytest.mark.parametrize("spec", sorted(SPECS.glob("*.yaml")), ids=lambda path: path.stem)
def test_every_spec_validates_with_and_without_imports(spec: Path) -> None:
    assert validate_spec(spec) == []
    assert validate_spec(spec, check_imports=False) == []


def test_etl_writes_its_report(tmp_path: Path) -> None:
    workflow = run("etl")
    report = tmp_path / "build" / "reports" / "states-report.md"
    assert workflow.get_task_result("report") == "build/reports/states-report.md"
    text = report.read_text(encoding="utf-8")
    assert "| South | 16 | 125,576,562 | 38.0% | Texas |" in text
    assert "Total (50 states): 330,759,736" in text
    assert workflow.get_task_result("largest")[0] == ("California", 39_538_223)


def test_fanout_counts_the_primes_below_two_million_in_processes() -> None:
    workflow = run("fanout")
    assert workflow.spec is not None
    assert workflow.spec.executor == "process"
    assert workflow.get_task_result("total") == {"parts": 8, "primes": 148_933}
    counts = workflow.get_task_result("count")
    assert len(counts) == 8 and counts[0] == 22_044  # the primes below 250,000


def test_async_io_gathers_every_region_and_a_subprocess() -> None:
    workflow = run("async_io")
    summary = workflow.get_task_result("combine")
    assert summary.startswith("Northeast: 9 states; Midwest: 12 states; South: 16 states")
    version = ".".join(map(str, sys.version_info[:3]))
    assert summary.endswith(f"(child Python {version})")


def test_flaky_succeeds_on_its_third_attempt() -> None:
    workflow = run("flaky")
    download = workflow.get_all_tasks()["download"]
    assert download.attempts == 3
    assert workflow.get_task_result("cleanup") == "downloaded on attempt 3"
    assert not Path(workflow.get_task_result("workdir")).exists()


def test_shell_pipeline(tmp_path: Path) -> None:
    workflow = run("shell")
    assert workflow.get_task_result("count") == "16"
    assert workflow.get_task_result("earliest") == "Delaware,1787\nGeorgia,1788\nMaryland,1788"
    region = tmp_path / "build" / "shell-demo" / "region.csv"
    assert (
        workflow.get_task_result("size") == f"{region.stat().st_size} build/shell-demo/region.csv"
    )


def test_compress_maps_gzip_over_the_files_a_command_listed(tmp_path: Path) -> None:
    workflow = run("compress")
    assert workflow.get_task_result("split") == "Midwest.csv\nNortheast.csv\nSouth.csv\nWest.csv"
    assert workflow.get_task_result("compress") == [
        "Midwest.csv.gz",
        "Northeast.csv.gz",
        "South.csv.gz",
        "West.csv.gz",
    ]
    folder = tmp_path / "build" / "compress-demo"
    south = gzip.decompress((folder / "South.csv.gz").read_bytes()).decode()
    assert south == (folder / "South.csv").read_text() and south.count("\n") == 16
    sizes = sum(path.stat().st_size for path in folder.glob("*.gz"))
    assert workflow.get_task_result("total") == str(sizes)
