"""Tasks for the captured-output tests; importable in worker processes (process, Dask)."""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import sys
import threading
import time
from pathlib import Path


def line(task: str, number: int, size: int = 0) -> str:
    """The ``number``-th line ``task`` prints (``size`` characters of padding)."""
    return f"{task} {number:05d} {'x' * size}".rstrip()


def meet(folder: str | None, name: str, parties: int, limit: float = 20.0) -> None:
    """Wait until ``parties`` tasks have come here (through files: tasks in other
    processes), so that they print at the same time."""
    if folder is None:
        return
    Path(folder, f"{name}.here").touch()
    deadline = time.monotonic() + limit
    while len(list(Path(folder).glob("*.here"))) < parties and time.monotonic() < deadline:
        time.sleep(0.005)


def talk(
    name: str,
    lines: int,
    size: int = 0,
    folder: str | None = None,
    parties: int = 0,
) -> int:
    """Print ``lines`` numbered lines: to stdout, stderr and the root logger in turn."""
    meet(folder, name, parties)
    log = logging.getLogger("talk")
    for number in range(lines):
        text = line(name, number, size)
        if number % 3 == 0:
            print(text)
        elif number % 3 == 1:
            sys.stderr.write(text + "\n")
        else:
            log.warning(text)
        if number % 7 == 0:
            time.sleep(0)  # let the other tasks' threads in
    return lines


def talk_on_two_threads(name: str, outs: int, errs: int, size: int = 0) -> None:
    """Print ``outs`` lines to stdout while a second thread, started in this attempt's
    context (as ``asyncio.to_thread`` starts one), prints ``errs`` lines to stderr."""
    start = threading.Barrier(2, timeout=20)

    def to_stderr() -> None:
        start.wait()
        for number in range(errs):
            print(line(f"{name}-err", number, size), file=sys.stderr)

    helper = threading.Thread(target=contextvars.copy_context().run, args=(to_stderr,))
    helper.start()
    start.wait()
    for number in range(outs):
        print(line(f"{name}-out", number, size))
    helper.join(20)


async def talk_async(name: str, lines: int) -> int:
    """``talk`` as a coroutine: it yields to the loop between lines."""
    for number in range(lines):
        print(line(name, number))
        await asyncio.sleep(0)
    return lines


def talk_low(name: str, folder: str | None = None, parties: int = 0) -> int:
    """Output a Python ``print`` doesn't make: to file descriptors 1 and 2, and from a
    child process (the process executor captures those)."""
    meet(folder, name, parties)
    print(line(name, 0))
    sys.stdout.flush()
    os.write(1, f"{line(name, 1)}\n".encode())
    os.write(2, f"{line(name, 2)}\n".encode())
    os.system(f"echo '{line(name, 3)}'")  # a child writing to fd 1
    print(line(name, 4))
    return 5


def print_then_hang(marker: str, seconds: float = 30.0) -> None:
    """Print a line, then hang (a timeout ends the attempt)."""
    print("before the hang")
    sys.stdout.flush()
    deadline = time.monotonic() + seconds
    while not os.path.exists(marker) and time.monotonic() < deadline:
        time.sleep(0.01)


def fail_with_cause() -> None:
    """Fail with an error that has a cause: both go into the traceback."""
    try:
        int("not a number")
    except ValueError as exc:
        raise RuntimeError("could not compute the total") from exc


def flaky(counter: str) -> str:
    """Fail on the first attempt (a file counts attempts), succeed on the second."""
    path = Path(counter)
    tries = int(path.read_text()) + 1 if path.exists() else 1
    path.write_text(str(tries))
    print(f"attempt {tries} here")
    if tries == 1:
        raise ValueError("first attempt fails")
    return "ok"


def quiet() -> int:
    return 1


def leak(token: str) -> str:
    """Show a secret every way a task can: print it, log it, raise it."""
    value = os.environ["FW_TEST_SECRET"]
    print(f"printed {value}")
    logging.getLogger("leak").warning("logged %s", value)
    sys.stderr.write(f"param {token}\n")
    raise RuntimeError(f"raised {value}")


def give(token: str) -> str:
    """Return a secret (a result holding it is not stored)."""
    return f"result {token}"


def say_item(item: str) -> str:
    """A mapped task's call: print the item, fail on ``bad``."""
    print(f"item {item}")
    if item == "bad":
        raise ValueError(f"bad item {item}")
    return item
