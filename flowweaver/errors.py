"""FlowWeaver's exceptions: one tree, three kinds of outcome.

    FlowWeaverError
    ├── InputError                      your input is wrong (exit 2)
    │   ├── SpecError(ValueError)       a spec file has problems: ``.problems``
    │   ├── CycleError(ValueError)      the graph has a cycle: ``.cycle``
    │   ├── TaskNotPicklableError(ValueError)  tasks a worker process can't receive: ``.tasks``
    │   └── StateError                  the state folder is unusable (owner, mode, corrupt db)
    │       └── UnknownRunError(KeyError)   no run in the history has that id
    ├── LockedError                     another run of the workflow holds its lock (exit 3)
    ├── WorkflowError(RuntimeError)     tasks failed: ``.failed_tasks`` (exit 1)
    ├── RunTimeoutError(TimeoutError)   the run passed its deadline: ``.seconds`` (exit 124)
    └── AttemptError                    how FlowWeaver saw an attempt fail (it is the task's
        │                               error, kept in ``task.error``; the run goes on)
        ├── TaskTimeoutError(TimeoutError)     it ran past ``Task.timeout``
        ├── WorkerCrashedError(RuntimeError)   the process running it died
        ├── ShellCommandError(RuntimeError)    a shell task's command failed (``flowweaver.shell``)
        └── MissingOutputError(RuntimeError)   it returned without writing what it declared

    RunInterrupted(KeyboardInterrupt)   Ctrl-C or SIGTERM stopped a run: ``.signum``

Besides these, an attempt fails with whatever the task raised.

Anything else escaping FlowWeaver is a bug in FlowWeaver.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from typing import Any


class FlowWeaverError(Exception):
    """Base class of every error FlowWeaver raises on purpose.

    It pickles by the arguments it was made with (a worker process or a Dask worker
    sends it back so), not by its message: ``_made_with`` keeps them."""

    _made_with: tuple[Any, ...] | None = None

    def __reduce__(self) -> tuple[Any, ...]:
        made_with = self._made_with if self._made_with is not None else self.args
        return type(self), made_with, self.__dict__


class InputError(FlowWeaverError):
    """The user's input (a spec, an option, the state folder) is wrong."""


@dataclass(frozen=True, slots=True)
class Problem:
    """One problem found in a spec file, located 1-based."""

    file: str
    line: int
    column: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.file}:{self.line}:{self.column}: {where}{self.message}"


class SpecError(InputError, ValueError):
    """A spec file has one or more problems; each is in ``problems``."""

    def __init__(self, problems: list[Problem]) -> None:
        self._made_with = (problems,)
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class CycleError(InputError, ValueError):
    """The dependencies form a cycle; ``cycle`` lists it, first node repeated last."""

    def __init__(self, cycle: list[str], message: str = "circular dependency") -> None:
        self._made_with = (cycle, message)
        self.cycle = list(cycle)
        super().__init__(f"{message}: {' -> '.join(self.cycle)}")


class TaskNotPicklableError(InputError, ValueError):
    """Tasks that can't be sent to a worker process; ``tasks`` maps each name to why."""

    HINT = (
        "the process executor sends each task to another process, which imports its"
        " function by name: define it with `def` at the top level of a module"
    )

    def __init__(self, tasks: dict[str, str]) -> None:
        self._made_with = (tasks,)
        self.tasks = dict(tasks)
        lines = [
            f"task {name!r} can't run in a worker process: {why}" for name, why in tasks.items()
        ]
        super().__init__("\n".join([*lines, f"hint: {self.HINT}"]))


class StateError(InputError):
    """The state folder or its database cannot be used safely."""


class UnknownRunError(StateError, KeyError):
    """No run in the history has that id (or a prefix of ids is ambiguous)."""

    def __str__(self) -> str:  # KeyError's would quote the message
        return str(self.args[0]) if self.args else "unknown run"


class LockedError(FlowWeaverError):
    """Another run of the same workflow holds the lock."""

    def __init__(self, workflow: str, holder: str) -> None:
        self._made_with = (workflow, holder)
        self.workflow = workflow
        self.holder = holder
        super().__init__(f"workflow {workflow!r} is already running ({holder})")


class WorkflowError(FlowWeaverError, RuntimeError):
    """One or more tasks failed; ``failed_tasks`` maps each name to its error."""

    def __init__(self, workflow: str, failed_tasks: dict[str, str]) -> None:
        self._made_with = (workflow, failed_tasks)
        self.workflow = workflow
        self.failed_tasks = dict(failed_tasks)
        listing = "; ".join(f"{name}: {error}" for name, error in self.failed_tasks.items())
        count = len(self.failed_tasks)
        noun = "task" if count == 1 else "tasks"
        super().__init__(f"workflow {workflow!r}: {count} {noun} failed: {listing}")


class RunTimeoutError(FlowWeaverError, TimeoutError):
    """The run passed its deadline (the workflow's ``timeout``) and was stopped: what
    had not ended was cancelled (``always`` tasks and handlers still ran)."""

    exit_code = 124
    """As ``timeout(1)`` exits."""

    def __init__(self, workflow: str, seconds: float) -> None:
        self._made_with = (workflow, seconds)
        self.workflow = workflow
        self.seconds = seconds
        super().__init__(f"workflow {workflow!r} timed out after {seconds:g}s")


class RunInterrupted(KeyboardInterrupt):
    """A run was stopped by SIGINT or SIGTERM; ``signum`` says which."""

    def __init__(self, signum: int = signal.SIGINT) -> None:
        self.signum = int(signum)
        super().__init__(f"interrupted by {signal.Signals(self.signum).name}")

    @property
    def exit_code(self) -> int:
        """The shell's convention: 128 + the signal number (130, 143)."""
        return 128 + self.signum

    def __reduce__(self) -> tuple[Any, ...]:
        return type(self), (self.signum,)


class AttemptError(FlowWeaverError):
    """An attempt failed in a way FlowWeaver saw (a timeout, a dead worker, a shell
    command's exit code), rather than by an exception the task raised itself."""


class TaskTimeoutError(AttemptError, TimeoutError):
    """An attempt ran past its task's timeout."""

    def __init__(self, seconds: float) -> None:
        self._made_with = (seconds,)
        self.seconds = seconds
        super().__init__(f"timed out after {seconds:g}s")


class WorkerCrashedError(AttemptError, RuntimeError):
    """The worker process running an attempt died before it answered."""


class MissingOutputError(AttemptError, RuntimeError):
    """A task returned, but files it declared in ``writes`` are missing: ``paths``."""

    def __init__(self, paths: list[str]) -> None:
        self._made_with = (paths,)
        self.paths = list(paths)
        noun = "output" if len(self.paths) == 1 else "outputs"
        super().__init__(f"declared {noun} missing: {', '.join(self.paths)}")
