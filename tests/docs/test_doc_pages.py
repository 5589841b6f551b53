"""The README and ``docs/`` hold together: links resolve, the tests the guarantees
name exist, every page is reachable from the index, and the README stays short."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _docs import DOCS, README, ROOT, anchors, links, pages, prose

README_MAX_LINES = 300
TEST_NAME = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")
SCHEMES = ("http://", "https://", "mailto:")

LINKS = [
    (page, number, target)
    for page in pages()
    for number, target in links(page)
    if not target.startswith(SCHEMES)
]


def test_the_readme_is_a_front_door() -> None:
    lines = README.read_text(encoding="utf-8").count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines: move the detail to docs/"


def test_the_pages_link_to_each_other() -> None:
    assert len(LINKS) >= 40


@pytest.mark.parametrize(
    ("page", "number", "target"),
    LINKS,
    ids=[f"{page.relative_to(ROOT)}:{number} {target}" for page, number, target in LINKS],
)
def test_a_relative_link_resolves(page: Path, number: int, target: str) -> None:
    path, _, anchor = target.partition("#")
    linked = (page.parent / path).resolve() if path else page
    assert linked.is_relative_to(ROOT), f"{target} leaves the repository"
    assert linked.exists(), f"{target}: no such file"
    if anchor:
        assert linked.suffix == ".md", f"{target}: an anchor in a page that isn't Markdown"
        assert anchor in anchors(linked), f"{target}: no heading with that anchor"


def test_the_index_links_every_page_and_the_readme_links_the_index() -> None:
    index = DOCS / "index.md"
    linked = {(index.parent / target.partition("#")[0]).resolve() for _, target in links(index)}
    for page in DOCS.glob("*.md"):
        assert page == index or page.resolve() in linked, f"docs/index.md: link {page.name}"
    assert (DOCS / "index.md").resolve() in {
        (ROOT / target.partition("#")[0]).resolve() for _, target in links(README)
    }


def test_every_test_the_guarantees_name_exists() -> None:
    named = TEST_NAME.findall((DOCS / "guarantees.md").read_text(encoding="utf-8"))
    assert len(named) >= 20, "each guarantee names the test that proves it"
    for page in pages():
        named = TEST_NAME.findall(page.read_text(encoding="utf-8"))
        for path, name in named:
            test_file = ROOT / path
            assert test_file.is_file(), f"{page.name}: {path} does not exist"
            source = test_file.read_text(encoding="utf-8")
            assert re.search(rf"^(async )?def {name}\(", source, re.M), f"{path}::{name}"


def test_no_issue_numbers_in_user_documentation() -> None:
    for page in pages():
        for number, line in prose(page):
            assert not re.search(r"\bissues? #?\d+|\B#\d+\b", line, re.I), (
                f"{page.relative_to(ROOT)}:{number}: {line}"
            )
