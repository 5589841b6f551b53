"""``python -m benchmarks [--quick] [--only NAME] [--json PATH]``: run, print, save."""

from __future__ import annotations

import argparse
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
    cases: list[Case] = []
    for family in args.only or FAMILIES:
        print(f"running {family} …", file=sys.stderr, flush=True)
        module = importlib.import_module(f"benchmarks.{family}")
        cases.extend(module.run(args.quick))
    print(table(cases))
    write_json(args.json, cases, quick=args.quick)
    print(f"\nwritten: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
