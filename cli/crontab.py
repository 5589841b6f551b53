"""The user's crontab, through the ``crontab`` command, and the block FlowWeaver owns in it.

    read() -> str                          # ``crontab -l`` ('' when there is none)
    write(text)                            # ``crontab -`` (``crontab -r`` for none)
    find_block(text) -> list[str] | None   # the lines between the markers
    with_block(text, lines) -> str         # the block replaced (or added at the end)
    without_block(text) -> str             # the block removed

Only the lines from ``# BEGIN flowweaver`` to ``# END flowweaver`` are ever changed;
every other line, comment and blank line is written back exactly as it was read.
"""

from __future__ import annotations

import shutil
import subprocess

from .errors import CliError

BEGIN = "# BEGIN flowweaver"
END = "# END flowweaver"
TIMEOUT = 30.0
"""Seconds the ``crontab`` command may take: it only reads or writes a small file."""

_NO_CRONTAB = "no crontab for "


def read() -> str:
    """The user's crontab (``crontab -l``); empty when they have none."""
    done = _crontab(["-l"])
    if done.returncode != 0:
        if _NO_CRONTAB in done.stderr:
            return ""
        raise _failed("crontab -l", done)
    return done.stdout


def write(text: str) -> None:
    """Install ``text`` as the user's crontab (``crontab -``); nothing left: no crontab
    (``crontab -r``), as before an install into none."""
    if not text:
        done = _crontab(["-r"])
        if done.returncode != 0 and _NO_CRONTAB not in done.stderr:
            raise _failed("crontab -r", done, hint="the crontab is unchanged")
        return
    done = _crontab(["-"], stdin=text)
    if done.returncode != 0:
        raise _failed("crontab -", done, hint="the crontab is unchanged")


def find_block(text: str) -> list[str] | None:
    """The lines of FlowWeaver's block, markers excluded; ``None`` when there is none."""
    lines = _lines(text)
    start, end = _bounds(lines)
    return None if start is None else lines[start + 1 : end]


def with_block(text: str, block: list[str]) -> str:
    """``text`` with FlowWeaver's block replaced by ``block`` (markers added), in place;
    at the end when it had none."""
    lines = _lines(text)
    wrapped = [BEGIN, *block, END]
    start, end = _bounds(lines)
    if start is None:
        lines.extend(wrapped)
    else:
        lines[start : end + 1] = wrapped
    return _joined(lines)


def without_block(text: str) -> str:
    """``text`` without FlowWeaver's block; unchanged when it has none."""
    lines = _lines(text)
    start, end = _bounds(lines)
    if start is not None:
        del lines[start : end + 1]
    return _joined(lines)


def _bounds(lines: list[str]) -> tuple[int | None, int]:
    """Where the block's markers are; a marker without its pair is an error, since no
    one can tell where a block ends without its end."""
    begins = [i for i, line in enumerate(lines) if line.strip() == BEGIN]
    ends = [i for i, line in enumerate(lines) if line.strip() == END]
    if not begins and not ends:
        return None, 0
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        raise CliError(
            f"the crontab's '{BEGIN}' and '{END}' lines don't make one block",
            hint="fix them with 'crontab -e', then run the command again",
        )
    return begins[0], ends[0]


def _lines(text: str) -> list[str]:
    """The lines of a crontab, split at newlines only (a carriage return stays put)."""
    lines = text.split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def _joined(lines: list[str]) -> str:
    """Lines as a crontab file: cron ignores a last line without its newline."""
    return "".join(f"{line}\n" for line in lines)


def _crontab(args: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    program = shutil.which("crontab")
    if program is None:
        raise CliError(
            "no 'crontab' command on this machine",
            hint="install cron (Debian, Ubuntu: apt-get install cron), or use a systemd "
            "timer: see docs/scheduling.md",
        )
    try:
        return subprocess.run(
            [program, *args],
            input=stdin,
            stdin=subprocess.DEVNULL if stdin is None else None,
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise CliError(f"crontab {' '.join(args)}: no answer in {TIMEOUT:g}s") from None
    except OSError as exc:
        raise CliError(f"crontab {' '.join(args)}: {exc.strerror or exc}") from None


def _failed(
    command: str, done: subprocess.CompletedProcess[str], hint: str | None = None
) -> CliError:
    said = " ".join(done.stderr.split()) or f"exit status {done.returncode}"
    return CliError(f"{command} failed: {said}", hint=hint)
