"""A pool of daemon threads whose stuck workers can be written off.

The stock ``ThreadPoolExecutor`` joins its threads at interpreter exit, so a
call that never returns keeps the process alive. Here every worker is a daemon
thread, and :meth:`WorkerThreads.replace` starts a fresh worker for one that is
stuck on an abandoned attempt; the stuck one retires when its call returns.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from queue import SimpleQueue

from flowweaver._call import close_thread_loop, invoke, thread_state
from flowweaver.executors.contract import Attempt

_names = itertools.count(1)


class WorkerThreads:
    """``size`` daemon threads running attempts; each ended attempt goes to ``report``."""

    def __init__(
        self, size: int, report: Callable[[Attempt], object], *, await_here: bool = True
    ) -> None:
        self.size = size
        self._await_here = await_here
        self._report = report
        self._jobs: SimpleQueue[Attempt | None] = SimpleQueue()
        self._live = 0
        self._lock = threading.Lock()

    def submit(self, attempt: Attempt) -> None:
        with self._lock:
            if self._live < self.size:
                self._start_worker()
        self._jobs.put(attempt)

    def replace(self) -> None:
        """A worker is stuck on an abandoned attempt: start another in its place."""
        with self._lock:
            self._live -= 1
            self._start_worker()

    def shutdown(self) -> None:
        """Let idle workers exit; stuck ones exit when their call returns."""
        with self._lock:
            for _ in range(self._live):
                self._jobs.put(None)
            self._live = 0

    def _start_worker(self) -> None:
        self._live += 1
        thread = threading.Thread(
            target=self._work, name=f"flowweaver-worker-{next(_names)}", daemon=True
        )
        thread.start()

    def _work(self) -> None:
        jobs, report, await_here, here = self._jobs, self._report, self._await_here, thread_state()
        try:
            while True:  # (not "while <condition>": CPython 3.11 only specializes this one)
                attempt = jobs.get()
                if attempt is None:
                    return
                invoke(attempt, await_here, here)
                if attempt.abandoned:
                    return  # replaced while stuck: retire
                report(attempt)
        finally:
            close_thread_loop()
