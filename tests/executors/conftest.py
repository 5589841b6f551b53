"""The executors every contract test runs on: ``make`` (each kind) and
``make_concurrent`` (the ones that run tasks at once), and one Dask cluster per module."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from flowweaver import AsyncExecutor, SequentialExecutor, ThreadedExecutor
from flowweaver.executors.base import Executor

Make = Callable[..., Executor]


def _sequential(**options: Any) -> Executor:
    return SequentialExecutor(**options)


def _threaded(**options: Any) -> Executor:
    return ThreadedExecutor(4, **options)


def _async(**options: Any) -> Executor:
    return AsyncExecutor(**options)


def _process(**options: Any) -> Executor:
    from flowweaver.executors.process import ProcessExecutor

    return ProcessExecutor(2, **options)  # type: ignore[no-any-return]


def _dask(**options: Any) -> Executor:
    raise AssertionError("made by the dask_address fixture")  # placeholder, see _closing


def _module_exists(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


# Decided at collection time: the process and Dask executors are written in
# parallel with this suite; each joins the contract as soon as its module exists.
_CONCURRENT = [pytest.param(_threaded, id="threaded"), pytest.param(_async, id="async")]
if _module_exists("flowweaver.executors.process"):
    _CONCURRENT.append(pytest.param(_process, id="process"))
if _module_exists("flowweaver.executors.dask"):
    _CONCURRENT.append(pytest.param(_dask, id="dask", marks=pytest.mark.dask))
_ALL = [pytest.param(_sequential, id="sequential"), *_CONCURRENT]


def _closing(factory: Make, request: pytest.FixtureRequest) -> Iterator[Make]:
    made: list[Executor] = []
    if factory is _dask:
        pytest.importorskip("distributed")
        from flowweaver.executors.dask import DaskExecutor

        # one cluster for the module: a local cluster per run costs seconds
        address = request.getfixturevalue("dask_address")

        def factory(**options: Any) -> Executor:
            return DaskExecutor(address, max_workers=2, **options)  # type: ignore[no-any-return]

    def make(**options: Any) -> Executor:
        executor = factory(**options)
        made.append(executor)
        return executor

    yield make
    for executor in made:
        close = getattr(executor, "close", None) or getattr(executor, "shutdown", None)
        if callable(close):
            close()


@pytest.fixture(scope="module")
def dask_address() -> Iterator[str]:
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
        # no dashboard, and its HTTP server on a free port: 8787 may be taken
        scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"},
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


@pytest.fixture(params=_ALL)
def make(request: pytest.FixtureRequest) -> Iterator[Make]:
    yield from _closing(request.param, request)


@pytest.fixture(params=_CONCURRENT)
def make_concurrent(request: pytest.FixtureRequest) -> Iterator[Make]:
    yield from _closing(request.param, request)
