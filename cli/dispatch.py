"""What ``flowweaver …`` does once it is more than ``--version``: run the Typer
command, turn every error into one line and an exit code (see :mod:`flowweaver.cli.app`).
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import traceback
from typing import Any, NoReturn

from flowweaver.errors import InputError, LockedError, RunInterrupted, SpecError
from flowweaver.interrupts import SIGNALS, pending_signal

from .errors import CliError, ExitCode, write_error, write_problems


def run(args: list[str]) -> int:
    """Run the command ``args``; the exit code."""
    try:
        code = _command(args)
    except KeyboardInterrupt:  # a Ctrl-C that no run was catching: nothing left to wait for
        _exit_now(ExitCode.SIGINT)
    _exit_at_once_on_signals(code)
    return code


def _command(args: list[str]) -> int:
    try:
        return _dispatch(args)
    except BrokenPipeError:
        _silence_stdout()
        return ExitCode.TASK_FAILED
    except RunInterrupted as exc:
        return exc.exit_code
    except Exception as exc:
        return _report(exc, verbose="--verbose" in args or "-v" in args)


def _dispatch(args: list[str]) -> int:
    import typer

    from .commands import app_for

    try:
        result = app_for(args)(args=args, prog_name="flowweaver", standalone_mode=False)
    except typer.Abort as exc:  # how Click passes on a KeyboardInterrupt
        raise KeyboardInterrupt from exc
    return int(result) if isinstance(result, int) else ExitCode.OK


def _exit_at_once_on_signals(code: int) -> None:
    """The command has ended; the interpreter's exit may still wait (up to the grace)
    for the threads that end abandoned shell commands' groups. A Ctrl-C or SIGTERM
    from now on ends the process at once and silently (no ``KeyboardInterrupt`` out of
    that wait), and so does one that came after the run ended (its handler kept it):
    the keeper (``flowweaver.keeper``) ends whatever group is still running.

    Handlers that a program installed itself are left alone, as the run's are.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    if pending_signal() is not None:
        _exit_now(code)

    def exit_at_once(signum: int, frame: Any) -> None:
        _exit_now(code if code >= 128 else 128 + signum)

    for signum in SIGNALS:
        if signal.getsignal(signum) in (signal.SIG_DFL, signal.default_int_handler):
            signal.signal(signum, exit_at_once)


def _exit_now(code: int) -> NoReturn:
    """Exit with ``code`` without waiting for threads or ``atexit`` handlers."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):  # e.g. a write that this signal interrupted
            stream.flush()
    os._exit(code)


def _report(exc: Exception, *, verbose: bool) -> int:
    """Print ``exc`` in one line (two with a hint); the exit code for its kind."""
    if isinstance(exc, SpecError):
        write_problems(exc.problems)
        return ExitCode.BAD_INPUT
    if isinstance(exc, CliError):
        write_error(exc.message, exc.hint)
        return exc.code
    if isinstance(exc, InputError):
        write_error(str(exc), getattr(exc, "hint", None))
        return ExitCode.BAD_INPUT
    if isinstance(exc, LockedError):
        write_error(str(exc), hint="--wait waits for it to end")
        return ExitCode.LOCKED
    usage = _usage_error(exc)
    if usage is not None:
        return usage
    if verbose:
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
    write_error(
        f"internal error: {type(exc).__name__}: {exc}",
        hint="this is a bug in FlowWeaver; --verbose shows the traceback",
    )
    return ExitCode.INTERNAL


def _usage_error(exc: Exception) -> int | None:
    """Typer's (Click's) own errors: a bad option, a missing argument, ``Exit``."""
    import typer

    if isinstance(exc, typer.Exit):
        return int(exc.exit_code)
    is_click = type(exc).__module__.startswith(("click", "typer"))
    if not (isinstance(exc, typer.TyperException) or is_click):
        return None
    message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    write_error(message, hint=_help_hint(exc))
    return int(getattr(exc, "exit_code", ExitCode.BAD_INPUT) or ExitCode.BAD_INPUT)


def _help_hint(exc: Exception) -> str:
    ctx = getattr(exc, "ctx", None)
    path = getattr(ctx, "command_path", None) or "flowweaver"
    return f"see '{path} --help'"


def _silence_stdout() -> None:
    """After a closed pipe (``| head``), don't fail again flushing stdout at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)
