"""``python -m benchmarks [--quick] [--only NAME] [--json PATH]``: run, print, save."""

from __future__ import annotations

import argparse
import compileall
import importlib
import sys
from pathlib import Path

from benchmarks.harness import Case, table, write_json

FAMILIES = (
    "chain",
    "threads",
    "aio",
    "dag",
    "priorities",
    "pools",
    "plan",
    "spec",
    "memory",
    "cpu",
    "report",
    "mapped",
    "logs",
    "command",
    "monitoring",
)
DEFAULT_JSON = Path(__file__).parent / "results" / "latest.json"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer runs of the big sizes")
    parser.add_argument("--only", action="append", choices=FAMILIES, help="one case family")
    parser.add_argument("--json", type=Path, default=DEFAULT_JSON, help="where to write JSON")
    args = parser.parse_args(argv)
    _compile_sources()
    cases: list[Case] = []
    for family in args.only or FAMILIES:
        print(f"running {family} …", file=sys.stderr, flush=True)
        module = importlib.import_module(f"benchmarks.{family}")
        cases.extend(module.run(args.quick))
    print(table(cases))
    write_json(args.json, cases, quick=args.quick)
    print(f"\nwritten: {args.json}")
    return 0


def _compile_sources() -> None:
    """Write the package's bytecode first: the command rows time a command as a user
    has it installed, not one compiling its modules at every start (as it would under
    ``PYTHONDONTWRITEBYTECODE``, which an editable install never overrides)."""
    root = Path(__file__).resolve().parent.parent
    for folder in ("flowweaver", "cli"):
        compileall.compile_dir(root / folder, quiet=1)


if __name__ == "__main__":
    sys.exit(main())
