"""Pools and priorities in spec files: what they load as, and each problem, located."""

from __future__ import annotations

import textwrap
from pathlib import Path

from test_errors import at, problems

from flowweaver import Pool
from flowweaver.spec import load_workflow, spec_schema

SPEC = """
params:
  slots: 3
pools:
  db: ${params.slots}
  gpu: {size: 1, scope: host}
  api: {size: 2, scope: run}
defaults:
  pool: db
  priority: 5
tasks:
  load: {shell: echo load}
  train: {shell: echo train, pool: gpu, priority: -1}
  report: {shell: echo report, priority: 10, depends_on: [load]}
"""


def load(tmp_path: Path, text: str, **params: object) -> object:
    path = tmp_path / "spec.yaml"
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return load_workflow(path, params, check_imports=False)


def test_pools_and_priorities_load_with_the_defaults(tmp_path: Path) -> None:
    workflow = load(tmp_path, SPEC)
    assert workflow.pools == {  # type: ignore[attr-defined]
        "db": Pool(3),
        "gpu": Pool(1, scope="host"),
        "api": Pool(2),
    }
    tasks = workflow.get_all_tasks()  # type: ignore[attr-defined]
    assert [(t.name, t.pool, t.priority) for t in tasks.values()] == [
        ("load", "db", 5),
        ("train", "gpu", -1),
        ("report", "db", 10),
    ]
    assert load(tmp_path, SPEC, slots=8).pools["db"] == Pool(8)  # type: ignore[attr-defined]


def test_a_task_without_a_pool_or_priority_has_none_and_zero(tmp_path: Path) -> None:
    workflow = load(tmp_path, "tasks:\n  a: {shell: echo a}\n")
    task = workflow.get_task("a")  # type: ignore[attr-defined]
    assert (task.pool, task.priority, workflow.pools) == (None, 0, {})  # type: ignore[attr-defined]


EMPTY = '""'


def test_each_pool_problem_is_one_located_line(tmp_path: Path) -> None:
    text = """
        executor: dask
        pools:
          db: 2
          gpu: {size: 1, scope: host}
          none: 0
          neg: -2
          odd: {size: 1.5}
          api: {size: 3, scope: hots}
          nosize: {scope: run}
          extra: {size: 1, sise: 2}
          ../up: 1
        defaults: {pool: dbb}
        tasks:
          a: {shell: echo a, pool: gpuu, priority: high}
          b: {shell: echo b, priority: 1.5}
          c: {shell: echo c, pool: none}
          d: {shell: echo d, pool: ""}
        """
    assert problems(tmp_path, text) == [
        f"{at(text, 4, 'host')}: pools.gpu.scope: a host pool can't be used with executor: "
        "dask (its tasks may run on other machines): use scope: run",
        f"{at(text, 5, '0')}: pools.none: must be 1 or more, got 0",
        f"{at(text, 6, '-2')}: pools.neg: must be 1 or more, got -2",
        f"{at(text, 7, '1.5')}: pools.odd.size: expected a whole number, got the number 1.5",
        f"{at(text, 8, 'hots')}: pools.api.scope: expected one of run, host, got text 'hots' "
        "(did you mean 'host'?)",
        f"{at(text, 9, '{')}: pools.nosize: missing required key 'size'",
        f"{at(text, 10, 'sise')}: pools.extra.sise: unknown key 'sise' (did you mean 'size'?)",
        f"{at(text, 11, '../up')}: pools['../up']: '../up' is not a pool name (letters, digits, "
        "'_', '-', '.')",
        f"{at(text, 12, 'dbb')}: defaults.pool: unknown pool 'dbb' (did you mean 'db'?)",
        f"{at(text, 14, 'gpuu')}: tasks.a.pool: unknown pool 'gpuu' (did you mean 'gpu'?)",
        f"{at(text, 14, 'high')}: tasks.a.priority: expected a whole number, got text 'high'",
        f"{at(text, 15, '1.5')}: tasks.b.priority: expected a whole number, got the number 1.5",
        f"{at(text, 17, EMPTY)}: tasks.d.pool: '' is not a pool name (letters, digits, '_', "
        "'-', '.')",
    ]  # (c names a pool whose size is wrong: that is said once, at the pool)


def test_a_pool_in_a_spec_without_pools(tmp_path: Path) -> None:
    text = """
        defaults: {pool: db}
        tasks:
          a: {shell: echo a}
          b: {shell: echo b, pool: gpu}
        """
    assert problems(tmp_path, text) == [
        f"{at(text, 1, 'db')}: defaults.pool: unknown pool 'db': the spec declares no pools "
        "(add them under 'pools')",
        f"{at(text, 4, 'gpu')}: tasks.b.pool: unknown pool 'gpu': the spec declares no pools "
        "(add them under 'pools')",
    ]


def test_the_schema_describes_pools_pool_and_priority() -> None:
    schema = spec_schema()
    pools = schema["properties"]["pools"]
    assert "scope: host" in pools["description"]
    entry = pools["additionalProperties"]["anyOf"]
    assert entry[1]["properties"]["scope"]["anyOf"][0] == {"enum": ["run", "host"]}
    task = schema["properties"]["tasks"]["additionalProperties"]["properties"]
    defaults = schema["properties"]["defaults"]["properties"]
    for keys in (task, defaults):
        assert "pool" in keys and "priority" in keys
