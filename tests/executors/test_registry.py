"""The executor registry is the one list: names, classes, the public API and the help."""

from __future__ import annotations

import subprocess
import sys

import pytest

import flowweaver
from flowweaver.executors import EXECUTOR_NAMES, REGISTRY, executor_class, make_executor


def test_every_registered_executor_is_public_and_made_by_its_name() -> None:
    for name, entry in REGISTRY.items():
        cls = executor_class(name)
        assert cls.__name__ == entry.cls
        assert entry.cls in flowweaver.__all__
        assert getattr(flowweaver, entry.cls) is cls
    assert tuple(REGISTRY) == EXECUTOR_NAMES


@pytest.mark.parametrize("name", [n for n in EXECUTOR_NAMES if n != "dask"])
def test_make_executor_passes_the_options_each_one_takes(name: str) -> None:
    executor = make_executor(name, max_workers=3, fail_fast=True)
    assert executor.fail_fast
    if name != "sequential":
        assert getattr(executor, "max_workers", None) == 3


def test_an_unknown_name_lists_the_choices() -> None:
    with pytest.raises(
        ValueError, match=r"unknown executor .thread. \(choose from sequential, threaded"
    ):
        make_executor("thread")


@pytest.mark.parametrize("name", ["threaded", "async", "process"])
@pytest.mark.parametrize("workers", [0, -1, True, 2.5])
def test_bad_worker_counts_are_refused_alike(name: str, workers: object) -> None:
    with pytest.raises(ValueError, match="max_workers must be at least 1"):
        make_executor(name, max_workers=workers)  # type: ignore[arg-type]


def test_the_run_help_lists_every_executor() -> None:
    shown = subprocess.run(
        [sys.executable, "-m", "flowweaver", "run", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
    ).stdout
    for name in EXECUTOR_NAMES:
        assert name in shown
