"""Pools: at most N attempts of a group of tasks at once, in a run or on the machine.

A *run pool* (``scope="run"``) is counted by the engine alone: a task whose pool is
full waits in the pool's queue, in its place (priority, then the ready order), and
takes the next slot that frees.

A *host pool* (``scope="host"``) is shared by every FlowWeaver run of the user on the
machine, whatever its state folder: its slots are the files ``0.lock`` … ``N-1.lock``
in ``$FLOWWEAVER_POOLS/NAME/`` (else ``~/.cache/flowweaver/pools/NAME/``), each taken
with an exclusive ``flock``. The kernel drops a lock when its holder dies, however it
dies, so a killed run never leaks a slot. A run holds a slot only while one of its
attempts needs it: the engine asks for a slot when a task waits for one
(:class:`HostSlots.want`), and gives one back when none of its tasks waits.

Waiting for a host slot blocks no one: one thread per slot file blocks in ``flock``
until the kernel hands it the lock (no polling: the wait ends the moment the holder
releases the slot or dies), then tells the run's loop. A slot it gets after the run
no longer wants one is released at once. Before waiting, the run takes the slots that
are free without waiting (:meth:`HostSlots.take_free`), so a task says it waits for a
host pool only when every slot of it is taken on the machine.
"""

from __future__ import annotations

import fcntl
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

POOLS_VARIABLE = "FLOWWEAVER_POOLS"
"""The environment variable naming the folder of host pools' slot files."""

SCOPES = ("run", "host")

NAME_PATTERN = r"[A-Za-z0-9_][A-Za-z0-9_.-]*"
"""A pool's name: it names a folder (``..`` can't be one)."""
_NAME = re.compile(NAME_PATTERN)


@dataclass(frozen=True)
class Pool:
    """A pool of ``size`` slots, for one run (``scope="run"``) or the whole machine
    (``scope="host"``)."""

    size: int
    scope: str = "run"

    def __post_init__(self) -> None:
        if isinstance(self.size, bool) or not isinstance(self.size, int) or self.size < 1:
            raise ValueError(f"a pool's size must be at least 1, got {self.size!r}")
        if self.scope not in SCOPES:
            raise ValueError(f"a pool's scope is 'run' or 'host', got {self.scope!r}")

    @property
    def host(self) -> bool:
        return self.scope == "host"


def as_pool(name: str, value: int | Pool) -> Pool:
    """Pool ``name`` from its size, or the pool itself; ``ValueError`` for a bad name."""
    if not isinstance(name, str) or _NAME.fullmatch(name) is None:
        raise ValueError(
            f"pool name {name!r}: use letters, digits, '_', '-' and '.', not first '.' or '-'"
        )
    return value if isinstance(value, Pool) else Pool(value)


def pools_folder() -> Path:
    """Where host pools keep their slot files."""
    configured = os.environ.get(POOLS_VARIABLE)
    if configured:
        return Path(configured).expanduser()
    return Path.home() / ".cache" / "flowweaver" / "pools"


def prepare_slots(name: str, size: int) -> Path:
    """Make host pool ``name``'s folder and slot files (owner only); its folder. Raises
    ``OSError`` when they can't be made or opened for locking (another user's folder)."""
    folder = pools_folder() / name
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    for number in range(size):
        with open(folder / f"{number}.lock", "a+b"):
            pass
    return folder


class HostSlots:
    """The slots of one host pool that a run holds, and the waits for more.

    ``granted(name)`` is called (from a waiting thread) when a slot is had; the run then
    counts it with :meth:`take_granted` on its loop's thread.
    """

    def __init__(self, name: str, size: int, granted: Callable[[str], object]) -> None:
        as_pool(name, size)  # (its name names a folder)
        self.name = name
        self.size = size
        self.folder = pools_folder() / name
        self._granted = granted
        self._lock = threading.Lock()
        self._held: list[IO[bytes]] = []  # slot files this run holds, counted by the engine
        self._ready: list[IO[bytes]] = []  # slot files had, not yet counted
        self._waiting: set[int] = set()  # slot numbers a thread waits for
        self._wanted = 0
        self._closed = False

    def want(self, count: int) -> None:
        """The run waits for ``count`` more slots than it holds: a thread waits for each
        slot file it does not hold (the first ``count`` to come are kept)."""
        with self._lock:
            self._wanted = count - len(self._ready)  # (had but not yet counted: on their way)
            if self._wanted <= 0 or self._closed:
                return
        for number in range(self.size):
            with self._lock:
                if self._wanted <= 0 or number in self._waiting:
                    continue
                if self._held_number(number):
                    continue
                self._waiting.add(number)
            threading.Thread(
                target=self._wait_for,
                args=(number,),
                name=f"flowweaver-pool-{self.name}-{number}",
                daemon=True,
            ).start()

    def take_free(self, count: int) -> int:
        """Take up to ``count`` slots that are free now, without waiting; how many."""
        got = 0
        with self._lock:
            if self._closed or count <= 0:
                return 0
        for number in range(self.size):
            if got >= count:
                break
            with self._lock:
                if number in self._waiting or self._held_number(number):
                    continue  # (a thread waits for it: it is taken)
            handle = self._locked(number, fcntl.LOCK_EX | fcntl.LOCK_NB)
            if handle is None:
                continue
            with self._lock:
                self._held.append(handle)
            got += 1
        return got

    def take_granted(self) -> int:
        """Count the slots had since last asked (on the loop's thread); how many."""
        with self._lock:
            ready, self._ready = self._ready, []
            self._held.extend(ready)
            return len(ready)

    def give_back(self) -> None:
        """Release one slot this run holds and no longer needs."""
        with self._lock:
            handle = self._held.pop() if self._held else None
        if handle is not None:
            handle.close()  # closing the file drops the lock

    def close(self) -> None:
        """The run is over: release every slot; a slot had later is released at once."""
        with self._lock:
            self._closed = True
            self._wanted = 0
            handles, self._held, self._ready = self._held + self._ready, [], []
        for handle in handles:
            handle.close()

    def _locked(self, number: int, how: int) -> IO[bytes] | None:
        """Slot file ``number``, open and locked (``how``: blocking or not); ``None``
        when it is taken, or can't be opened (checked when the run started)."""
        try:
            handle = open(self.folder / f"{number}.lock", "a+b")  # noqa: SIM115 - held while the slot is
        except OSError:
            return None
        try:
            fcntl.flock(handle.fileno(), how)
        except OSError:
            handle.close()
            return None
        return handle

    def _held_number(self, number: int) -> bool:
        path = str(self.folder / f"{number}.lock")
        return any(handle.name == path for handle in [*self._held, *self._ready])

    def _wait_for(self, number: int) -> None:
        """On a thread of its own: block until slot ``number`` is ours, then hand it over
        (or drop it, when the run no longer wants it)."""
        handle = self._locked(number, fcntl.LOCK_EX)
        if handle is None:
            with self._lock:
                self._waiting.discard(number)
            return
        with self._lock:
            self._waiting.discard(number)
            keep = not self._closed and self._wanted > 0
            if keep:
                self._wanted -= 1
                self._ready.append(handle)
        if keep:
            self._granted(self.name)
        else:
            handle.close()
