"""The keys of a spec file: one table that the loader checks and the JSON Schema shows."""

from __future__ import annotations

from typing import Any

from flowweaver.executors import EXECUTOR_NAMES
from flowweaver.handlers import HANDLER_NAMES
from flowweaver.masking import ENV_NAME
from flowweaver.pools import NAME_PATTERN as POOL_NAME
from flowweaver.spec.envfiles import EnvFiles
from flowweaver.spec.interpolate import NAME, RUNTIME
from flowweaver.spec.kinds import (
    Choice,
    Command,
    CronSchedule,
    Duration,
    Flag,
    Items,
    MapSource,
    Names,
    Real,
    Text,
    Textual,
    Whole,
)
from flowweaver.spec.poolchecks import PoolEntry
from flowweaver.spec.records import Condition, Key, Record, Table
from flowweaver.task import RUN_IF

EXECUTORS = EXECUTOR_NAMES

_IDENT = r"[A-Za-z_][A-Za-z0-9_]*"
TASK_NAME = r"[A-Za-z0-9_][A-Za-z0-9_.-]*"
CALL = rf"{_IDENT}(?:\.{_IDENT})*(?::{_IDENT}(?:\.{_IDENT})*|\.{_IDENT})"
EXCEPTION = rf"{_IDENT}(?:\.{_IDENT})*(?::{_IDENT}(?:\.{_IDENT})*)?"

_task_name = Text(pattern=TASK_NAME, hint="a task name (letters, digits, '_', '-', '.')")
_identifier = Text(pattern=NAME.pattern, hint="a name (letters, digits and '_')")
_path = Text(nonempty=True)
_pool_name = Text(pattern=POOL_NAME, hint="a pool name (letters, digits, '_', '-', '.')")

POLICY_KEYS: dict[str, Key] = {
    "retries": Key(Whole(minimum=0), "Retries after a failed attempt: at most retries+1 attempts."),
    "retry_delay": Key(Duration(positive=False), "Delay before the first retry (30s, 500ms)."),
    "retry_backoff": Key(Real(minimum=1), "Each further delay is the previous one times this."),
    "max_retry_delay": Key(Duration(), "Cap on the delay between retries."),
    "retry_jitter": Key(Real(minimum=0, maximum=1), "Spread each delay by up to this fraction."),
    "retry_on": Key(
        Names(Text(pattern=EXCEPTION, hint="an exception class (ValueError, pkg.mod.Error)")),
        "Retry only these exception classes (builtins by name, others dotted).",
    ),
    "timeout": Key(Duration(), "Fail an attempt that runs longer than this (5m, 30)."),
    "cache": Key(Flag(), "Reuse a stored result for the same callable and arguments."),
    "cache_ttl": Key(Duration(), "How long a cached result stays valid (1d)."),
    "pool": Key(
        _pool_name, "A pool of 'pools': each attempt takes one of its slots while it runs."
    ),
    "priority": Key(
        Whole(), "Among ready tasks (those waiting for a pool too), higher starts first (0)."
    ),
}

_CALL = Text(pattern=CALL, hint="'module:function' or 'module.function'")
_COMMAND_HELP = "a string for /bin/sh -c (values quoted), or a list of arguments"


def _what_keys(runtime: frozenset[str] = frozenset()) -> dict[str, Key]:
    """What a task (``runtime``: its run-time references) or a handler runs."""
    return {
        "call": Key(_CALL, "Python callable to run: 'module:function' or 'module.function'."),
        "shell": Key(
            Command(), f"Command to run: {_COMMAND_HELP}.", interpolate="shell", runtime=runtime
        ),
        "args": Key(Items(), "Positional arguments of the callable.", runtime=runtime),
        "kwargs": Key(
            Table(keys=_identifier), "Keyword arguments of the callable.", runtime=runtime
        ),
    }


PREDICATE = Record(
    {
        "call": Key(_CALL, "Predicate called with upstream results, like a task: true runs it."),
        "shell": Key(Command(), f"Test command, {_COMMAND_HELP}: exit 0 runs it.", "shell"),
    },
    one_of=("call", "shell"),
)

CONDITION_KEYS: dict[str, Key] = {
    "run_if": Key(
        Choice(RUN_IF),
        "When the task may run given its upstream tasks: " + " | ".join(RUN_IF) + ".",
    ),
    "when": Key(
        Condition(PREDICATE),
        "Run only if true: true/false (or ${params.X}), {call: module:predicate} or "
        "{shell: test command}; false skips the task (condition false).",
        interpolate="none",
    ),
    "allow_failure": Key(Flag(), "The task may fail without failing the run."),
}

MAP_KEYS: dict[str, Key] = {
    "over": Key(
        MapSource(_task_name),
        "Where the items come from: an upstream task's name (its result is the list), "
        "a list, a ${params.NAME} list, or a mapping of lists (a matrix: one item per "
        "combination).",
        interpolate="none",
    ),
    "param": Key(
        _identifier, "The parameter of a call task's function that receives the item (item)."
    ),
    "key": Key(
        Text(nonempty=True),
        "How an item is named in outputs, the history and --only, e.g. '${item.id}' "
        "(default: the item itself when it is text or a number, else a short hash).",
        runtime=frozenset({"item"}),
    ),
    "max_parallel": Key(Whole(minimum=1), "At most this many items run at once."),
}

TASK_KEYS: dict[str, Key] = {
    **_what_keys(RUNTIME),
    "inputs": Key(
        Table(_task_name, keys=_identifier),
        "Parameter name -> upstream task whose result it receives.",
    ),
    "depends_on": Key(Names(_task_name), "Tasks that must complete before this one."),
    "description": Key(Text(), "What the task does."),
    **CONDITION_KEYS,
    "map": Key(
        Record(MAP_KEYS, required=("over",)),
        "Run once per item of a list: each item with its own attempts, retries, timeout "
        "and cache entry; ${item} is the item.",
        interpolate="none",
    ),
    "workdir": Key(
        Text(nonempty=True),
        "Folder the task runs in (relative: to the spec's workdir, else the spec's folder).",
    ),
    "reads": Key(
        Names(_path),
        "Files the task reads (globs, relative to its folder): their contents join its "
        "cache key and resume fingerprint.",
    ),
    "writes": Key(
        Names(_path),
        "Files the task must write (relative to its folder): missing ones fail it.",
    ),
    **POLICY_KEYS,
}

TASK = Record(TASK_KEYS, one_of=("call", "shell"))

HANDLER_KEYS: dict[str, Key] = {
    **_what_keys(),
    "env": Key(Table(Textual(), keys=_identifier), "Added to the environment of a shell handler."),
    "description": Key(Text(), "What the handler does."),
    **{name: key for name, key in POLICY_KEYS.items() if not name.startswith("cache")},
}

_HANDLER_HELP = {
    "on_failure": "Run when the run failed, was interrupted or timed out.",
    "on_success": "Run when the run succeeded.",
    "on_recovery": "Run after on_success when the workflow's previous run had not succeeded.",
    "on_exit": "Run last, whatever the outcome.",
}
HANDLERS = Record(
    {
        name: Key(Record(HANDLER_KEYS, one_of=("call", "shell")), _HANDLER_HELP[name], "none")
        for name in HANDLER_NAMES
    },
    noun="handler",
)

TOP_KEYS: dict[str, Key] = {
    "version": Key(Whole(only=1), "Spec format version: 1."),
    "name": Key(Text(nonempty=True), "Workflow name (default: the file's stem)."),
    "description": Key(Text(), "What the workflow does."),
    "schedule": Key(
        CronSchedule(),
        "When cron runs it (flowweaver cron install): '0 2 * * *', @hourly, @daily, "
        "@weekly or @monthly.",
        interpolate="none",
    ),
    "executor": Key(Choice(EXECUTORS), "How tasks run: " + " | ".join(EXECUTORS) + "."),
    "max_workers": Key(Whole(minimum=1), "Tasks running at once (threaded, process)."),
    "dask": Key(
        Record({"address": Key(Text(nonempty=True), "Scheduler address (tcp://host:8786).")}),
        "Dask settings for executor: dask; omit the address for a local cluster.",
    ),
    "fail_fast": Key(Flag(), "Start no new task after the first failure."),
    "keep_runs": Key(
        Whole(minimum=1),
        "Keep this many runs of the workflow: older runs' records, results and logs go.",
    ),
    "secrets": Key(
        Names(Text(pattern=ENV_NAME.pattern, hint="an environment variable name")),
        "Environment variables whose values are never shown (masked as ***).",
        interpolate="none",
    ),
    "timeout": Key(
        Duration(), "The whole run's deadline: past it the run is stopped as by SIGTERM (exit 124)."
    ),
    "otel": Key(
        Flag(),
        "Send OpenTelemetry traces of each run (configured by the OTEL_* variables; "
        "needs flowweaver[otel]).",
    ),
    "metrics_file": Key(
        Text(nonempty=True),
        "Prometheus textfile written when each run ends (relative to the spec's folder; "
        "needs flowweaver[metrics]).",
    ),
    "workdir": Key(
        Text(nonempty=True),
        "Folder the tasks run in (relative: to the spec's folder); it must exist.",
    ),
    "env_file": Key(
        EnvFiles(),
        "NAME=value files for ${env.NAME} and shell tasks (relative to the spec's folder); "
        "{path: .env.local, required: false} for an optional one.",
        interpolate="none",
    ),
    "params": Key(
        Table(keys=_identifier),
        "Parameters for ${params.NAME}; --param NAME=VALUE overrides them. Values may "
        "use ${env.X}, ${run.X}, ${spec.dir}.",
        interpolate="none",
    ),
    "env": Key(
        Table(Textual(), keys=_identifier),
        "Environment of shell tasks, and ${env.NAME}; values may use ${params.X}, ${env.X}, "
        "${run.X}, ${spec.dir}.",
        interpolate="none",
    ),
    "pools": Key(
        Table(PoolEntry(), keys=_pool_name),
        "Pools by name: a size (db: 2), or {size: 1, scope: host} for one shared by every "
        "run on the machine.",
    ),
    "defaults": Key(Record(POLICY_KEYS), "Policy keys applied to every task that lacks them."),
    "tasks": Key(
        Table(TASK, keys=_task_name, nonempty="no tasks: add at least one under 'tasks'"),
        "The tasks, by name.",
        interpolate="none",
    ),
    "handlers": Key(
        HANDLERS,
        "Run after the tasks: on_failure, on_success, on_recovery, on_exit (each like a task).",
        interpolate="none",
    ),
}

SPEC = Record(TOP_KEYS, required=("tasks",), ignore_prefix="x-")


def spec_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of spec files, for editors and the YAML language server.

    In a spec file add ``# yaml-language-server: $schema=<path to the saved schema>``.
    """
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://flowweaver.dev/schema/spec-v1.json",
        "title": "FlowWeaver workflow spec",
        **SPEC.schema(),
    }
