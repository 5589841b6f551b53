"""Pools in a spec: the kind of a ``pools:`` entry, and the rules that tie tasks to pools.

``pools: {db: 2, gpu: {size: 1, scope: host}}`` declares them; a task (or ``defaults``)
names one with ``pool: db``. A task naming a pool the spec does not declare, and a host
pool in a spec run by the Dask executor, are problems.
"""

from __future__ import annotations

from typing import Any

from flowweaver.pools import SCOPES, Pool
from flowweaver.spec.kinds import INVALID, Choice, Context, Kind, Whole
from flowweaver.spec.nodes import MapNode, Node, ScalarNode
from flowweaver.spec.problems import KeyPath, Problems, did_you_mean
from flowweaver.spec.records import Key, Record

_SIZE = Whole(minimum=1)
_POOL = Record(
    {
        "size": Key(_SIZE, "At most this many attempts in the pool at once."),
        "scope": Key(
            Choice(SCOPES),
            "run: counted in each run (the default); host: shared by every run of this "
            "user on the machine.",
        ),
    },
    required=("size",),
)


class PoolEntry(Kind):
    """A pool: its size (``db: 2``), or ``{size: 1, scope: host}``."""

    def check(self, node: Node, path: KeyPath, ctx: Context) -> Any:
        plain = Context(ctx.report)  # (the pools' values are resolved already)
        if not isinstance(node, MapNode):
            size = _SIZE.check(node, path, plain)
            return INVALID if size is INVALID else Pool(size)
        before = len(ctx.report)
        values = _POOL.check(node, path, plain)
        if len(ctx.report) > before or "size" not in values:
            return INVALID
        return Pool(values["size"], values.get("scope", "run"))

    def schema(self) -> dict[str, Any]:
        return {"anyOf": [_SIZE.schema(), _POOL.schema()]}


def check_pools(root: MapNode, tasks: list[Any], executor: str | None, report: Problems) -> None:
    """Report tasks naming pools the spec does not declare (a pool that ``defaults``
    gives them once, where it is written), and host pools with ``executor: dask``."""
    node = root.items.get("pools")
    declared = list(node.keys) if isinstance(node, MapNode) else []
    defaults = root.items.get("defaults")
    default = defaults.items.get("pool") if isinstance(defaults, MapNode) else None
    for task in tasks:
        name = task.values.get("pool")
        if not isinstance(name, str) or name in declared:
            continue
        own = task.node.items.get("pool") if isinstance(task.node, MapNode) else None
        if own is not None:
            if _names(own, name):  # (else its own pool is wrong, and said so already)
                report.add(own.mark, task.path("pool"), _unknown(name, declared))
        elif default is not None:
            report.add(default.mark, ("defaults", "pool"), _unknown(name, declared))
            default = None  # (once)
    if executor == "dask" and isinstance(node, MapNode):
        _check_host_pools(node, report)


def _names(node: Node, name: str) -> bool:
    """Whether ``node`` gives the pool ``name`` (itself, or by a reference)."""
    value = node.value if isinstance(node, ScalarNode) else None
    return value == name or (isinstance(value, str) and "${" in value)


def _unknown(name: str, declared: list[str]) -> str:
    if not declared:
        return f"unknown pool {name!r}: the spec declares no pools (add them under 'pools')"
    return f"unknown pool {name!r}{did_you_mean(name, declared)}"


def _check_host_pools(pools: MapNode, report: Problems) -> None:
    for name, entry in pools.items.items():
        scope = entry.items.get("scope") if isinstance(entry, MapNode) else None
        if isinstance(scope, ScalarNode) and scope.value == "host":
            report.add(
                scope.mark,
                ("pools", name, "scope"),
                "a host pool can't be used with executor: dask (its tasks may run on other "
                "machines): use scope: run",
            )
