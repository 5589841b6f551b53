"""The entry point: ``flowweaver …`` and ``python -m flowweaver``.

Exit codes, by kind of outcome:

    0    success                     1    a task failed (cron status: a run missed)
    2    bad spec, option or state   3    another run holds the workflow's lock
    70   a bug in FlowWeaver         124  the run passed its deadline (timeout:)
    130/143  interrupted by SIGINT/SIGTERM

Every error is one ``error:`` line on stderr (and a ``hint:``), never a traceback,
except that ``--verbose`` adds the traceback of an internal error (exit 70).

Once the command has ended, a Ctrl-C or SIGTERM ends the process at once and silently
(see :mod:`flowweaver.cli.dispatch`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

VERSION_FLAGS = ("--version", "-V")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code (the console script exits with it).

    A Ctrl-C that ends the command, or that comes once it has ended, ends the process
    at once (see :mod:`flowweaver.cli.dispatch`).
    """
    args = list(sys.argv[1:] if argv is None else argv) or ["--help"]
    if len(args) == 1 and args[0] in VERSION_FLAGS:
        return _print_version()  # before importing anything else: this must be fast
    from .dispatch import run

    return run(args)


def _print_version() -> int:
    from flowweaver import __version__

    sys.stdout.write(f"flowweaver {__version__}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
