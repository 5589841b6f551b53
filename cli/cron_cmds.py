"""``cron install`` and ``cron remove``: the schedules of specs in the user's crontab
(SPEC section 13); ``cron status`` is in ``cron_status.py``.

Cron stays the scheduler: these commands only write the crontab block (``crontab.py``,
``cron_block.py``).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

from flowweaver.errors import Problem, SpecError

from . import crontab
from .cron_block import Entry, block_lines, interpreter, read_block
from .errors import CliError, ExitCode


def install(specs: Sequence[Path], state_dir: Path | None, *, print_only: bool) -> int:
    """Write one crontab line per spec into FlowWeaver's block (replacing it whole)."""
    from flowweaver.history.statedir import prepare_state_dir, resolve_state_dir

    folder = os.path.abspath(resolve_state_dir(state_dir))
    entries = _entries(specs, folder)
    lines = block_lines(entries, interpreter(), time.time())
    if print_only:
        sys.stdout.write("".join(f"{line}\n" for line in [crontab.BEGIN, *lines, crontab.END]))
        return ExitCode.OK
    prepare_state_dir(folder)
    text = crontab.read()
    before = crontab.find_block(text)
    crontab.write(crontab.with_block(text, lines))
    _say_installed(entries, read_block(before)[1] if before is not None else [])
    return ExitCode.OK


def remove() -> int:
    """Remove FlowWeaver's block from the crontab; nothing else changes."""
    text = crontab.read()
    block = crontab.find_block(text)
    if block is None:
        sys.stdout.write("no flowweaver block in the crontab: nothing to remove\n")
        return ExitCode.OK
    crontab.write(crontab.without_block(text))
    names = ", ".join(entry.workflow for entry in read_block(block)[1]) or "no workflows"
    sys.stdout.write(f"removed the flowweaver block from the crontab ({names})\n")
    return ExitCode.OK


def _entries(specs: Sequence[Path], state_dir: str) -> list[Entry]:
    """An entry per spec (each file once); every spec problem, a spec without a
    schedule or two specs of one workflow are errors, and nothing is installed."""
    from flowweaver.spec import load_workflow

    problems: list[Problem] = []
    entries: dict[str, Entry] = {}
    unscheduled: list[str] = []
    for spec in specs:
        try:
            workflow = load_workflow(spec, check_imports=False)
        except SpecError as exc:
            problems.extend(exc.problems)
            continue
        info = workflow.spec
        assert info is not None  # a workflow loaded from a file knows it
        if info.schedule is None:
            unscheduled.append(os.fspath(spec))
            continue
        entry = Entry(workflow.name, info.schedule, info.path, state_dir)
        _check_names(entries.values(), entry)
        entries[info.path] = entry
    if problems:
        raise SpecError(problems)
    if unscheduled:
        raise CliError(
            f"no schedule in {', '.join(unscheduled)}: nothing was installed",
            hint="add one to the spec, e.g. schedule: '0 2 * * *' (see docs/scheduling.md)",
        )
    return list(entries.values())


def _check_names(known: Iterable[Entry], entry: Entry) -> None:
    for other in known:
        if other.workflow == entry.workflow and other.spec != entry.spec:
            raise CliError(
                f"{other.spec} and {entry.spec} are both workflow {entry.workflow!r}: "
                "their runs would share one history and one lock",
                hint="give one of them a name: of its own",
            )


def _say_installed(entries: list[Entry], before: list[Entry]) -> None:
    from flowweaver.spec.schedules import local_minute, parse_schedule

    now = time.time()
    lines = [f"installed {_count(len(entries), 'scheduled workflow')} into the crontab:"]
    width = max(len(entry.workflow) for entry in entries)
    for entry in entries:
        due = local_minute(parse_schedule(entry.schedule).next_due(now))
        lines.append(f"  {entry.workflow:<{width}}  {entry.schedule}  next due {due}")
    dropped = sorted({e.workflow for e in before} - {e.workflow for e in entries})
    if dropped:
        lines.append(f"no longer scheduled: {', '.join(dropped)}")
    sys.stdout.write("".join(f"{line}\n" for line in lines))


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"
