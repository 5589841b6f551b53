"""The entry point: ``flowweaver …`` and ``python -m flowweaver``.

Exit codes, by kind of outcome:

    0    success                     1    a task failed
    2    bad spec, option or state   3    another run holds the workflow's lock
    70   a bug in FlowWeaver         130/143  interrupted by SIGINT/SIGTERM

Every error is one ``error:`` line on stderr (and a ``hint:``), never a traceback,
except that ``--verbose`` adds the traceback of an internal error (exit 70).
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Sequence

from flowweaver.errors import InputError, LockedError, RunInterrupted, SpecError

from .errors import CliError, ExitCode, write_error, write_problems

VERSION_FLAGS = ("--version", "-V")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it)."""
    args = list(sys.argv[1:] if argv is None else argv) or ["--help"]
    if len(args) == 1 and args[0] in VERSION_FLAGS:
        return _print_version()  # before importing Typer: this must be fast
    try:
        return _dispatch(args)
    except BrokenPipeError:
        _silence_stdout()
        return ExitCode.TASK_FAILED
    except RunInterrupted as exc:
        return exc.exit_code
    except KeyboardInterrupt:
        return ExitCode.SIGINT
    except Exception as exc:
        return _report(exc, verbose="--verbose" in args or "-v" in args)


def _dispatch(args: list[str]) -> int:
    from .commands import app

    result = app(args=args, prog_name="flowweaver", standalone_mode=False)
    return int(result) if isinstance(result, int) else ExitCode.OK


def _report(exc: Exception, *, verbose: bool) -> int:
    """Print ``exc`` in one line (two with a hint); the exit code for its kind."""
    if isinstance(exc, SpecError):
        write_problems(exc.problems)
        return ExitCode.BAD_INPUT
    if isinstance(exc, CliError):
        write_error(exc.message, exc.hint)
        return exc.code
    if isinstance(exc, InputError):
        write_error(str(exc))
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
    if isinstance(exc, typer.Abort):
        return ExitCode.SIGINT
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


def _print_version() -> int:
    from flowweaver import __version__

    sys.stdout.write(f"flowweaver {__version__}\n")
    return ExitCode.OK


def _silence_stdout() -> None:
    """After a closed pipe (``| head``), don't fail again flushing stdout at exit."""
    import os

    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)


if __name__ == "__main__":
    sys.exit(main())
