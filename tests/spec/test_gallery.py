"""The example specs in ``specs/`` load, validate and run through the engine with the
executor each one names, doing the work they say they do."""

from __future__ import annotations

import gzip
import sys
from pathlib import Path

import pytest

from flowweaver import TaskStatus, Workflow, WorkflowError
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


def test_census_nightly_skips_its_full_reload_allows_its_check_to_fail_and_cleans_up(
    tmp_path: Path,
) -> None:
    workflow = load_workflow(SPECS / "census_nightly.yaml")
    make_executor("threaded").execute(workflow)  # the allowed failure fails nothing
    ended = {name: (task.status, task.error) for name, task in workflow.get_all_tasks().items()}
    assert ended["full-reload"] == (TaskStatus.SKIPPED, "condition false")
    assert ended["check-freshness"][0] is TaskStatus.FAILED
    assert "older than 1 year" in str(ended["check-freshness"][1])
    others = {name: status for name, (status, _) in ended.items()}
    del others["full-reload"], others["check-freshness"]
    assert set(others.values()) == {TaskStatus.COMPLETED}, ended
    assert workflow.get_workflow_stats()["allowed_failures"] == 1
    assert workflow.timeout == 600
    out = tmp_path / "build" / "census-nightly"
    assert (out / "nightly-report.md").read_text().splitlines()[1:] == [
        "- rows changed: 50",
        "- freshness: check failed (allowed)",
    ]
    assert not Path(workflow.get_task_result("scratch")).exists()  # cleaned up
    assert not (out / "ALERT.txt").exists()
    assert workflow.last_handlers == []  # on_failure is for failed runs only


def test_census_nightly_alerts_when_it_fails_and_clears_the_alert_when_it_recovers(
    tmp_path: Path,
) -> None:
    from flowweaver import RunStore

    store = RunStore(tmp_path / "state")
    failing = load_workflow(SPECS / "census_nightly.yaml", {"source": "missing.csv"})
    with pytest.raises(WorkflowError) as caught:
        make_executor("threaded").execute(failing, store=store)
    assert set(caught.value.failed_tasks) == {"extract"}
    statuses = {name: task.status for name, task in failing.get_all_tasks().items()}
    assert statuses["cleanup"] is TaskStatus.COMPLETED  # run_if: always
    assert statuses["report"] is TaskStatus.COMPLETED  # run_if: done
    assert statuses["merge"] is TaskStatus.SKIPPED
    assert not Path(failing.get_task_result("scratch")).exists()
    alert = tmp_path / "build" / "census-nightly" / "ALERT.txt"
    assert alert.read_text().startswith(f"nightly run {store.run('latest').id} failed (exit 1)\n")
    assert "  extract: FileNotFoundError" in alert.read_text()

    full = load_workflow(SPECS / "census_nightly.yaml", {"full_reload": True})
    make_executor("threaded").execute(full, store=store)
    assert full.get_task_result("full-reload") == 50
    assert [(h.name, h.status) for h in full.last_handlers] == [("on_recovery", "completed")]
    assert not alert.exists()


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
