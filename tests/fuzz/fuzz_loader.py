"""Fuzz the spec loader with atheris: any input is a workflow or a SpecError.

    make fuzz                        # FUZZ_SECONDS=60 by default
    .venv/bin/python tests/fuzz/fuzz_loader.py -max_total_time=60 tests/fuzz/corpus

The corpus is seeded from ``specs/`` and ``specs/invalid/``. Only ``SpecError`` is
caught: anything else the loader raises is a crash, which atheris reports with the
input that caused it (``crash-…`` file). Each such input becomes a regression test.
Every problem must also lie inside the file (line and column), as the property tests
check. Each input is also composed by the spec loader's composer and by its reference,
the composer it replaced (``tests/_yaml_reference.py``): tree, positions and problems
must agree, as ``tests/spec/test_yaml_model.py`` checks on generated documents.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile

import atheris

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "spec"))
sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

with atheris.instrument_imports():
    import _yaml_reference
    from test_yaml_model import outcome, without_path

    from flowweaver.errors import SpecError
    from flowweaver.spec import load_workflow, yamlnodes

LINE_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")
_FOLDER = tempfile.mkdtemp(prefix="fuzz-loader-")
_PATH = os.path.join(_FOLDER, "spec.yaml")


def same_as_reference(data: bytes) -> None:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return
    if "\x00" in text:
        return
    tree, problems = outcome(yamlnodes.compose, text)
    expected_tree, expected = outcome(_yaml_reference.compose, text)
    if "<<" in text:  # see test_yaml_model: one difference of path, with merge keys
        problems, expected = (
            [without_path(p) for p in problems],
            [without_path(p) for p in expected],
        )
    if tree != expected_tree or problems != expected:
        raise AssertionError(f"the composer and its reference differ: {problems!r} {expected!r}")


def test_one_input(data: bytes) -> None:
    same_as_reference(data)
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
