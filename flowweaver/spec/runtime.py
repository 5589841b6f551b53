"""Run-time references of a task (``${item}``, ``${tasks.NAME}``): checked, and built into
the :class:`~flowweaver.templates.Templated` call that renders them when the task starts.

The interpolation (:mod:`flowweaver.spec.interpolate`) keeps them in
:class:`RuntimeText` strings of a task's ``shell``, ``args``, ``kwargs`` and
``map.key``. Here a task's upstream references become dependencies (each result
arrives as an ``inputs`` keyword of its own), ``${item}`` outside a mapped task is a
problem, and a task that has either gets its templated function.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from flowweaver._call import parameter_name
from flowweaver.shell import ShellCommand
from flowweaver.spec.interpolate import RuntimeText
from flowweaver.spec.problems import KeyPath, Mark, Problems
from flowweaver.templates import ITEM, TASKS, Template, Templated

if TYPE_CHECKING:
    from flowweaver.spec.document import TaskDef

TEMPLATED_KEYS = ("shell", "args", "kwargs")
"""The task keys whose strings may hold run-time references."""

DEFAULT_PARAM = "item"
"""The parameter that receives a mapped task's item when ``map.param`` doesn't say."""

INPUT_PREFIX = "_tasks_"
"""How the ``inputs`` keyword that carries an upstream result to a template starts."""


def runtime_texts(values: dict[str, Any]) -> list[tuple[KeyPath, RuntimeText]]:
    """Every string with run-time references in a task's templated keys, with its path
    under the task."""
    found: list[tuple[KeyPath, RuntimeText]] = []
    for key in TEMPLATED_KEYS:
        if key in values:
            _collect(values[key], (key,), found)
    return found


_INSIDE = (RuntimeText, list, dict)
"""The kinds of values that are or may hold a :class:`RuntimeText`."""


def _collect(value: Any, path: KeyPath, found: list[tuple[KeyPath, RuntimeText]]) -> None:
    kind = type(value)
    if kind is RuntimeText:
        found.append((path, value))
    elif kind is list:
        for position, item in enumerate(value):
            if type(item) in _INSIDE:  # (a plain value is passed over without a call)
                _collect(item, (*path, position), found)
    elif kind is dict:
        for name, item in value.items():
            if type(item) in _INSIDE:
                _collect(item, (*path, name), found)


_NO_REFERENCES: Mapping[str, tuple[Mark, KeyPath]] = MappingProxyType({})


def upstream_references(
    texts: Iterable[tuple[KeyPath, RuntimeText]],
) -> Mapping[str, tuple[Mark, KeyPath]]:
    """The upstream tasks a task's ``${tasks.NAME}`` references (in its ``texts``, see
    :func:`runtime_texts`) name, each with the first place it is named (its mark, and
    its path under the task)."""
    found: dict[str, tuple[Mark, KeyPath]] = {}
    for path, text in texts:
        for ref, mark in zip(text.template.refs, text.marks, strict=True):
            if ref.source.startswith(TASKS):
                found.setdefault(ref.source[len(TASKS) :], (mark, path))
    return found or _NO_REFERENCES


def check_references(task: TaskDef, report: Problems) -> None:
    """``${item}`` outside a mapped task; a ``map.key`` that doesn't use the item;
    ``map.param`` on a shell task (which gets the item as ``${item}``)."""
    spec = task.values.get("map")
    if spec is None:
        for path, text in task.runtime:
            for ref, mark in zip(text.template.refs, text.marks, strict=True):
                if ref.source == ITEM:
                    message = f"{ref.text} is the item of a mapped task: this task has no 'map'"
                    report.add(mark, task.path(*path), message)
        return
    key = spec.get("key")
    if isinstance(key, str) and not isinstance(key, RuntimeText) and "${" not in key:
        message = "map.key must use ${item} (as '${item.id}'), else every item has the same key"
        report.add(task.locate("map", "key"), task.path("map", "key"), message)
    if "shell" in task.values and "call" not in task.values and "param" in spec:
        message = (
            "'param' names the parameter of a 'call' task's function; a shell command "
            "gets the item as ${item}"
        )
        report.add(task.locate_key("map", "param"), task.path("map", "param"), message)


def input_keywords(task: TaskDef) -> dict[str, str]:
    """The ``inputs`` keyword that carries each upstream result a template refers to,
    by upstream task name: ``_tasks_<name>``, unique within the task."""
    taken = set(task.values.get("inputs", {}))
    keywords: dict[str, str] = {}
    for name in task.references:
        keyword = base = INPUT_PREFIX + parameter_name(name)
        suffix = 1
        while keyword in taken:
            suffix += 1
            keyword = f"{base}_{suffix}"
        taken.add(keyword)
        keywords[name] = keyword
    return keywords


def item_param(task: TaskDef) -> str | None:
    """The parameter that receives the item, for a mapped task; ``None`` otherwise."""
    spec = task.values.get("map")
    return None if spec is None else spec.get("param", DEFAULT_PARAM)


def shell_function(
    command: str | list[str], env: dict[str, str], task: TaskDef, upstream: dict[str, str]
) -> Callable[..., Any]:
    """A shell task's function: its command, templated when it refers to run-time
    values or the task is mapped."""
    if isinstance(command, str):
        shell = ShellCommand(script=str(command), env=env)
        template: Template | tuple[Template | str, ...] | None = (
            command.template if isinstance(command, RuntimeText) else None
        )
    else:
        shell = ShellCommand(argv=[str(part) for part in command], env=env)
        parts = tuple(_template(part) for part in command)
        template = parts if any(isinstance(part, Template) for part in parts) else None
    item = item_param(task)
    if template is None and item is None:
        return shell
    return Templated(shell, command=template, item=item, upstream=upstream)


def call_function(
    fn: Callable[..., Any],
    args: list[Any],
    kwargs: dict[str, Any],
    task: TaskDef,
    upstream: dict[str, str],
) -> Callable[..., Any] | None:
    """A call task's templated function, or ``None`` when its arguments hold no
    run-time reference."""
    if not any(path[0] in ("args", "kwargs") for path, _ in task.runtime):
        return None
    return Templated(
        fn,
        args=tuple(_template(value) for value in args),
        kwargs={name: _template(value) for name, value in kwargs.items()},
        item=item_param(task),
        upstream=upstream,
    )


def _template(value: Any) -> Any:
    """A value of ``args``/``kwargs``/``shell`` with each :class:`RuntimeText` made its
    template (and any other string plain text)."""
    if isinstance(value, RuntimeText):
        return value.template
    if isinstance(value, list):
        return [_template(item) for item in value]
    if isinstance(value, dict):
        return {name: _template(item) for name, item in value.items()}
    return value
