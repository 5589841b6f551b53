"""Where tasks run, and the files they must leave behind.

``Workflow.workdir`` is the folder a run's tasks run in (``None``: the current
directory); ``Task.workdir`` is a task's own (relative: to the workflow's). A task's
``reads`` and ``writes`` are relative to its folder. Every folder must exist when
the run starts, else :class:`~flowweaver.errors.InputError` before anything runs.

A shell command runs in its task's folder on every executor: the folder is the
command's own working directory. A Python task runs with its folder as the current
directory, which belongs to the whole process; so how depends on how the executor
runs calls (its ``folder_mode``):

- ``call`` (sequential, process): one call at a time per process, so each call
  changes to its task's folder first;
- ``run`` (threaded, async): calls run at once on threads of this process, so the
  Python tasks must share one folder, and the run moves the process there;
- ``worker`` (dask): calls run in other processes, several at a time, so the Python
  tasks must share one folder, and each call moves its worker there (all to the
  same folder, so calls at once agree).

The process goes back to where it was when the run ends. A task that declares
``writes`` fails, after it returned, when one of them is missing
(:class:`~flowweaver.errors.MissingOutputError`). A workflow without folders,
reads or writes costs nothing here.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import glob
import inspect
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from flowweaver.conditions import Conditional, ConditionFalse
from flowweaver.errors import InputError, MissingOutputError
from flowweaver.shell import ShellCommand
from flowweaver.task import Task
from flowweaver.templates import shell_of, with_command

FOLDER_MODES = ("call", "run", "worker")

Wrap = Callable[[Callable[..., Any]], Callable[..., Any]]
"""How an attempt's function is wrapped: a folder to change to, outputs to check."""

Output = tuple[str, str]
"""A declared output: as written, and resolved to an absolute path or glob."""


def absolute(path: str, base: str) -> str:
    """``path`` (``~`` expanded) made absolute against ``base``, normalised."""
    return os.path.normpath(os.path.join(base, os.path.expanduser(path)))


def is_glob(path: str) -> bool:
    return any(character in path for character in "*?[")


def task_folder(task: Task, workdir: str | None, here: str) -> str:
    """The absolute folder ``task`` runs in, for a workflow whose folder is
    ``workdir`` (``None``: ``here``, the current directory)."""
    home = here if workdir is None else absolute(workdir, here)
    return home if task.workdir is None else absolute(task.workdir, home)


def missing(outputs: Sequence[Output]) -> list[str]:
    """The outputs, as written, that are not there (a glob that matches nothing)."""
    absent = []
    for written, path in outputs:
        found = bool(glob.glob(path, recursive=True)) if is_glob(path) else os.path.exists(path)
        if not found:
            absent.append(written)
    return absent


def expand(patterns: Iterable[str], folder: str) -> list[str]:
    """The files ``patterns`` match under ``folder``: absolute, sorted, each once.

    A pattern is a glob (``**`` spans folders) or a path; a folder stands for every
    file under it; a path that does not exist matches nothing."""
    found: set[str] = set()
    for pattern in patterns:
        path = absolute(pattern, folder)
        for match in glob.glob(path, recursive=True) if is_glob(path) else [path]:
            if os.path.isdir(match):
                found.update(_files_under(match))
            elif os.path.isfile(match):
                found.add(os.path.normpath(match))
    return sorted(found)


def _files_under(folder: str) -> Iterable[str]:
    for root, _dirs, names in os.walk(folder):
        for name in names:
            yield os.path.join(root, name)


def shown(path: str, folder: str) -> str:
    """``path`` relative to ``folder`` (``../x`` for one outside it), as keys and
    records name it: the same wherever the project folder is moved."""
    return os.path.relpath(path, folder)


@dataclass
class TaskCall:
    """Call ``fn`` in ``folder`` (``None``: where the process is), then check that the
    declared ``outputs`` exist. Picklable, so it runs on every executor's workers."""

    fn: Callable[..., Any]
    folder: str | None = None
    outputs: tuple[Output, ...] = ()

    def __call__(self, **kwargs: Any) -> Any:
        if self.folder is not None:
            os.chdir(self.folder)
        value = self.fn(**kwargs)
        if not self.outputs or type(value) is ConditionFalse:
            return value
        if inspect.isawaitable(value):
            return self._check_after(value)
        self.check()
        return value

    async def _check_after(self, awaitable: Any) -> Any:
        value = await awaitable
        self.check()
        return value

    def check(self) -> None:
        absent = missing(self.outputs)
        if absent:
            raise MissingOutputError(absent)


@dataclass
class Placement:
    """Where one run's process stays (``folder``) and how some tasks' calls are
    wrapped (``calls``, by task position)."""

    folder: str
    calls: dict[int, Wrap]
    _before: str | None = None

    def enter(self) -> None:
        """Move the process to the run's folder (remembering where it was)."""
        self._before = os.getcwd()
        if self.folder != self._before:
            os.chdir(self.folder)

    def return_home(self) -> None:
        """After the last task: back to the run's folder (a call may have moved away),
        where the handlers run."""
        if self._before is not None:
            with contextlib.suppress(OSError):
                os.chdir(self.folder)

    def leave(self) -> None:
        """The run is over: back to where the process was."""
        before, self._before = self._before, None
        if before is not None:
            with contextlib.suppress(OSError):
                os.chdir(before)


def place(tasks: Sequence[Task], workdir: str | None, mode: str, executor: str = "") -> Placement:
    """How a run of ``tasks`` puts each in its folder, for an executor of ``mode``.

    Raises :class:`InputError` when a folder does not exist, or when Python tasks
    need different folders on an executor whose calls share one process.
    """
    here = os.getcwd()
    home = here if workdir is None else absolute(workdir, here)
    folders = [home if task.workdir is None else absolute(task.workdir, home) for task in tasks]
    _check_exist(home, folders, tasks, explicit=workdir is not None)
    commands = [shell_of(task.fn) for task in tasks]
    python = [i for i, command in enumerate(commands) if command is None]
    shared = sorted({folders[i] for i in python})
    if mode != "call" and len(shared) > 1:
        raise _different_folders(tasks, folders, python, executor or mode)
    stay = shared[0] if mode == "run" and shared else home
    moving = mode == "worker" or (mode == "call" and any(f != home for f in shared))
    calls: dict[int, Wrap] = {}
    for i, task in enumerate(tasks):
        outputs = tuple((path, absolute(path, folders[i])) for path in task.writes)
        command = commands[i]
        if command is not None:
            calls[i] = _shell_wrap(task.fn, command, folders[i], outputs)
        elif moving or outputs:
            calls[i] = functools.partial(
                TaskCall, folder=folders[i] if moving else None, outputs=outputs
            )
    return Placement(stay, calls)


def _shell_wrap(
    own: Callable[..., Any], command: ShellCommand, folder: str, outputs: tuple[Output, ...]
) -> Wrap:
    """The command of a shell task's function ``own`` run in ``folder`` (unless it names
    its own), outputs checked."""
    if command.cwd is None:
        placed = with_command(own, dataclasses.replace(command, cwd=folder))
    else:
        placed = own

    def wrap(fn: Callable[..., Any]) -> Callable[..., Any]:
        if fn is own:
            fn = placed
        elif isinstance(fn, Conditional) and fn.fn is own:
            fn = dataclasses.replace(fn, fn=placed)
        return TaskCall(fn, None, outputs) if outputs else fn

    return wrap


def _check_exist(home: str, folders: list[str], tasks: Sequence[Task], *, explicit: bool) -> None:
    if explicit and not os.path.isdir(home):
        raise InputError(f"workdir {home} does not exist (create it before the run)")
    absent: dict[str, list[str]] = {}
    for folder, task in zip(folders, tasks, strict=True):
        if task.workdir is not None and not os.path.isdir(folder):
            absent.setdefault(folder, []).append(task.name)
    for folder, names in absent.items():
        listed = ", ".join(repr(name) for name in names)
        raise InputError(f"workdir {folder} of task {listed} does not exist")


def _different_folders(
    tasks: Sequence[Task], folders: list[str], python: list[int], executor: str
) -> InputError:
    first: dict[str, str] = {}
    for i in python:
        first.setdefault(folders[i], tasks[i].name)
    (a_dir, a), (b_dir, b) = list(first.items())[:2]
    return InputError(
        f"Python tasks {a!r} (in {a_dir}) and {b!r} (in {b_dir}) need different folders, "
        f"but the {executor} executor runs Python tasks in one process, which has one "
        "current directory: run them with the process or sequential executor, "
        "or give the other folders to shell tasks only"
    )
