"""Fuzz the spec loader with atheris: any input is a workflow or a SpecError.

    make fuzz                        # FUZZ_SECONDS=60 by default
    .venv/bin/python tests/fuzz/fuzz_loader.py -max_total_time=60 tests/fuzz/corpus

The corpus is seeded from ``specs/`` and ``specs/invalid/``. Only ``SpecError`` is
caught: anything else the loader raises is a crash, which atheris reports with the
input that caused it (``crash-…`` file). Each such input becomes a regression test.
Every problem must also lie inside the file (line and column), as the property tests
check.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

import atheris

with atheris.instrument_imports():
    from flowweaver.errors import SpecError
    from flowweaver.spec import load_workflow

LINE_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")
_FOLDER = tempfile.mkdtemp(prefix="fuzz-loader-")
_PATH = os.path.join(_FOLDER, "spec.yaml")


def test_one_input(data: bytes) -> None:
    with open(_PATH, "wb") as file:
        file.write(data)
    try:
        load_workflow(_PATH, check_imports=False)
    except SpecError as exc:
        lines = LINE_BREAK.split(data.decode("utf-8-sig", errors="replace"))
        for problem in exc.problems:
            inside = 1 <= problem.line <= len(lines) and (
                1 <= problem.column <= len(lines[problem.line - 1]) + 1
            )
            if not inside or "\n" in str(problem):
                raise AssertionError(f"problem outside the file: {problem!r}") from None


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
