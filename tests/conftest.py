"""Shared test set-up: ``tests/`` is importable here and in worker processes.

Process-based executors pickle task functions by module path, so the helper
modules in this folder (``_contract_tasks``) must import in a fresh worker too.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

TESTS_DIR = str(Path(__file__).resolve().parent)

if TESTS_DIR not in sys.path:
    sys.path.insert(0, TESTS_DIR)
_paths = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
if TESTS_DIR not in _paths:
    os.environ["PYTHONPATH"] = os.pathsep.join([TESTS_DIR, *_paths])
