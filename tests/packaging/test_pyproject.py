"""The package's own metadata: what building and installing it reads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_license_is_an_spdx_expression_the_build_backend_reads() -> None:
    # a table (``{text = "MIT"}``) makes setuptools print a deprecation banner at every
    # install; the SPDX string needs setuptools 77 or later to build
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+
    data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert data["project"]["license"] == "MIT"
    floors = [
        re.fullmatch(r"setuptools>=(\d+)(?:\.\d+)*", requirement)
        for requirement in data["build-system"]["requires"]
        if requirement.startswith("setuptools")
    ]
    assert len(floors) == 1 and floors[0] is not None, data["build-system"]["requires"]
    assert int(floors[0].group(1)) >= 77
