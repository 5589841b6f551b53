"""Run-time templates: a task's arguments or command, known only when it starts.

A spec may write, in a task's ``shell`` command, ``args`` or ``kwargs``, references
that have no value when the spec is loaded: ``${item}`` and ``${item.FIELD}`` (the
item of a mapped task), ``${tasks.NAME}`` and ``${tasks.NAME.FIELD}`` (the result of
upstream task NAME). The loader turns such text into a :class:`Template`, and the
task's function into a :class:`Templated` call, which the run calls like any task
function: with the item as the map's ``param`` and each upstream result it refers to
as an ``inputs`` keyword of its own. It renders its templates from those values, then
calls the function, or runs the command. Everything here pickles, so the rendering
happens where the executor runs the task (a thread, a process worker, Dask).

Rendering: in a shell command string each value is shell-quoted (an item ``a; rm -rf x``
stays one argument); in a list command and in longer text a value is text, a string
as it is and anything else as JSON; an argument that is exactly one reference is the
value itself.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from flowweaver.shell import ShellCommand

ITEM = "item"
"""The source of ``${item}`` references."""

TASKS = "tasks."
"""The prefix of the source of ``${tasks.NAME}`` references (``tasks.NAME``)."""

ITEM_VARIABLE = "FLOWWEAVER_ITEM"
"""A mapped shell task's item, as JSON, in its command's environment."""


class TemplateError(ValueError):
    """A reference can't be rendered (a missing field): the attempt fails with it."""


@dataclass(frozen=True)
class Ref:
    """A reference: the value of ``source`` (``item``, ``tasks.NAME``), then ``fields``
    into it, one after the other; ``text`` is how it is written (``${item.id}``)."""

    source: str
    fields: tuple[str, ...] = ()
    text: str = ""

    def value(self, values: Mapping[str, Any]) -> Any:
        value = values[self.source]
        for name in self.fields:
            value = _field(value, name, self)
        return value


def _field(value: Any, name: str, ref: Ref) -> Any:
    if isinstance(value, Mapping):
        if name in value:
            return value[name]
        known = ", ".join(map(str, list(value)[:10])) or "none"
        raise TemplateError(f"{ref.text}: no field {name!r} (its fields: {known})")
    if isinstance(value, (list, tuple)) and name.isdigit():
        if int(name) < len(value):
            return value[int(name)]
        raise TemplateError(f"{ref.text}: no element {name} (it has {len(value)})")
    kind = "None" if value is None else type(value).__name__
    raise TemplateError(f"{ref.text}: can't take field {name!r} of a {kind}")


def as_text(value: Any) -> str:
    """A value inside text: a string as it is, anything else as JSON."""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, default=str)


@dataclass(frozen=True)
class Template:
    """Text with references: ``parts`` are literal text and :class:`Ref` s, in order."""

    parts: tuple[str | Ref, ...]

    @property
    def refs(self) -> tuple[Ref, ...]:
        return tuple(part for part in self.parts if isinstance(part, Ref))

    def text(self, values: Mapping[str, Any], *, quote: bool = False) -> str:
        """The text with each reference replaced by its value as text (shell-quoted
        with ``quote``)."""
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                text = as_text(part.value(values))
                out.append(shlex.quote(text) if quote else text)
        return "".join(out)

    def value(self, values: Mapping[str, Any]) -> Any:
        """The value of a template that is exactly one reference, else its text."""
        if len(self.parts) == 1 and isinstance(self.parts[0], Ref):
            return self.parts[0].value(values)
        return self.text(values)

    def __str__(self) -> str:
        return "".join(part if isinstance(part, str) else part.text for part in self.parts)


def render(value: Any, values: Mapping[str, Any]) -> Any:
    """``value`` (an argument) with every :class:`Template` in it rendered."""
    if isinstance(value, Template):
        return value.value(values)
    if isinstance(value, list):
        return [render(item, values) for item in value]
    if isinstance(value, dict):
        return {key: render(item, values) for key, item in value.items()}
    return value


def has_templates(value: Any) -> bool:
    """Whether an argument holds a :class:`Template` anywhere."""
    if isinstance(value, Template):
        return True
    if isinstance(value, (list, tuple)):
        return any(has_templates(item) for item in value)
    if isinstance(value, dict):
        return any(has_templates(item) for item in value.values())
    return False


Command = Template | tuple[Template | str, ...]
"""A shell command to render: a string for ``/bin/sh -c``, or a list of arguments."""


@dataclass
class Templated:
    """Call ``fn`` (a task's function, or its :class:`~flowweaver.shell.ShellCommand`)
    with its templates rendered.

    The run passes the item as ``item`` (the map's param: a ``call`` task's function
    receives it too) and the result of each upstream task ``NAME`` that a
    ``${tasks.NAME}`` refers to under ``upstream[NAME]``, a keyword of the task's
    ``inputs``. A call's ``args`` and ``kwargs``, or a shell task's ``command``, are
    rendered from them; a mapped shell command has the item in its environment as
    ``FLOWWEAVER_ITEM`` (JSON).
    """

    fn: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    command: Command | None = None
    item: str | None = None
    upstream: dict[str, str] = field(default_factory=dict)

    def __call__(self, **given: Any) -> Any:
        values = {TASKS + name: given.pop(keyword, None) for name, keyword in self.upstream.items()}
        if self.item is not None:
            values[ITEM] = given.get(self.item)
        fn = self.fn
        if isinstance(fn, ShellCommand):
            return self._shell(fn, values)()
        args = render(list(self.args), values)
        kwargs = render(self.kwargs, values)
        return fn(*args, **kwargs, **given)

    def _shell(self, command: ShellCommand, values: dict[str, Any]) -> ShellCommand:
        """The command to run, rendered: ``${item}`` quoted in a string, as is in a list."""
        changes: dict[str, Any] = {}
        template = self.command
        if isinstance(template, Template):
            changes["script"] = template.text(values, quote=True)
        elif template is not None:
            changes["argv"] = [
                part.text(values) if isinstance(part, Template) else part for part in template
            ]
        if self.item is not None:
            changes["env"] = {**command.env, ITEM_VARIABLE: as_json(values[ITEM])}
        return dataclasses.replace(command, **changes)

    @property
    def __signature__(self) -> inspect.Signature:
        """What the run may pass: the function's own parameters (less those ``args`` and
        ``kwargs`` fill; none for a command) and the ``inputs`` keywords of the results
        the templates refer to."""
        params: list[inspect.Parameter] = []
        if not isinstance(self.fn, ShellCommand):
            params = _left_open(self.fn, len(self.args), self.kwargs)
        extra = [
            inspect.Parameter(keyword, inspect.Parameter.KEYWORD_ONLY, default=None)
            for keyword in self.upstream.values()
        ]
        at = len(params)
        if params and params[-1].kind is inspect.Parameter.VAR_KEYWORD:
            at -= 1
        return inspect.Signature([*params[:at], *extra, *params[at:]])


def as_json(value: Any) -> str:
    """A value as JSON (text too: ``"a.csv"`` with its quotes)."""
    return json.dumps(value, ensure_ascii=False, default=str)


def _left_open(fn: Callable[..., Any], positional: int, keywords: Mapping[str, Any]) -> list[Any]:
    """``fn``'s parameters that the first ``positional`` arguments and ``keywords`` do
    not fill (none when Python can't tell its signature)."""
    try:
        signature = inspect.signature(fn)
    except (TypeError, ValueError):
        return []
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    left: list[inspect.Parameter] = []
    for param in signature.parameters.values():
        if param.kind in kinds and positional > 0:
            positional -= 1
            continue
        if param.name in keywords and param.kind is not inspect.Parameter.VAR_KEYWORD:
            continue
        left.append(param)
    return left


def shell_of(fn: Callable[..., Any]) -> ShellCommand | None:
    """The command a task runs, if it is a shell task (templated or not)."""
    if isinstance(fn, ShellCommand):
        return fn
    if isinstance(fn, Templated) and isinstance(fn.fn, ShellCommand):
        return fn.fn
    return None


def with_command(fn: Callable[..., Any], command: ShellCommand) -> Callable[..., Any]:
    """A shell task's function with its command replaced by ``command`` (placed in its
    folder): the command itself, or the templated call of it."""
    if isinstance(fn, Templated):
        return dataclasses.replace(fn, fn=command)
    return command
