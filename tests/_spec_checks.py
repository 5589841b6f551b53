"""One checker for the spec loader's property tests: whatever the input, a workflow
or a SpecError whose every problem is located inside the file, in one line, fast."""

from __future__ import annotations

import re
import time
from pathlib import Path

from flowweaver import SpecError
from flowweaver.spec import load_workflow

LINE_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")
SECONDS = 1.0


def check(directory: Path, data: bytes) -> None:
    """Load ``data`` as a spec: a workflow or a SpecError located in the file, fast."""
    path = directory / "spec.yaml"
    path.write_bytes(data)
    started = time.perf_counter()
    try:
        load_workflow(path, check_imports=False)
    except SpecError as exc:
        assert exc.problems
        lines = LINE_BREAK.split(data.decode("utf-8-sig", errors="replace"))
        for problem in exc.problems:
            assert problem.file == str(path)
            assert 1 <= problem.line <= len(lines), (problem, data)
            assert 1 <= problem.column <= len(lines[problem.line - 1]) + 1, (problem, data)
            assert "\n" not in str(problem), problem
    elapsed = time.perf_counter() - started
    assert elapsed < SECONDS, f"took {elapsed:.2f}s"
