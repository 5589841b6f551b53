"""Reading the documentation as data: its pages, fenced blocks, inline code, headings
and links. The doc tests are built on these few functions.

A fenced block whose first line is ``# fragment: …`` shows part of something and is
only parsed; a YAML block whose first line is ``# invalid: FILE`` is a spec that is
wrong on purpose, and the next fenced block (```text) holds the problems it produces.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"

FENCE = re.compile(r"^```(\S*)\s*$")
INLINE_CODE = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\[([^\]\n]*)\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6}) +(.+?) *#* *$")


@dataclass(frozen=True)
class Block:
    """A fenced block: its page, the line of its opening fence, its language, its text."""

    page: Path
    line: int
    lang: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def first_line(self) -> str:
        return self.text.split("\n", 1)[0]

    def marked(self, marker: str) -> str | None:
        """The rest of the first line when it is ``# MARKER: rest``, else ``None``."""
        prefix = f"# {marker}:"
        return (
            self.first_line[len(prefix) :].strip() if self.first_line.startswith(prefix) else None
        )


def pages() -> list[Path]:
    """The README and every page of the manual."""
    return [README, *sorted(DOCS.glob("*.md"))]


@cache
def _split(page: Path) -> tuple[tuple[Block, ...], tuple[tuple[int, str], ...]]:
    """The page's fenced blocks, and its other lines (number, text)."""
    blocks: list[Block] = []
    prose: list[tuple[int, str]] = []
    opened: tuple[int, str] | None = None
    body: list[str] = []
    for number, line in enumerate(page.read_text(encoding="utf-8").splitlines(), start=1):
        fence = FENCE.match(line)
        if opened is None and fence:
            opened, body = (number, fence.group(1)), []
        elif opened is not None and line.rstrip() == "```":
            blocks.append(Block(page, opened[0], opened[1], "\n".join(body) + "\n"))
            opened = None
        elif opened is not None:
            body.append(line)
        else:
            prose.append((number, line))
    assert opened is None, f"{page}:{opened}: a fenced block is never closed"
    return tuple(blocks), tuple(prose)


def blocks(*langs: str) -> list[Block]:
    """Fenced blocks of every page in these languages."""
    return [block for page in pages() for block in _split(page)[0] if block.lang in langs]


def block_after(block: Block) -> Block | None:
    """The fenced block that follows ``block`` on its page."""
    found = _split(block.page)[0]
    index = found.index(block)
    return found[index + 1] if index + 1 < len(found) else None


def prose(page: Path) -> list[tuple[int, str]]:
    """The page's lines outside fenced blocks."""
    return list(_split(page)[1])


def inline_code(page: Path) -> list[tuple[int, str]]:
    """Every inline code span outside fenced blocks: (line, text)."""
    return [(n, span) for n, line in prose(page) for span in INLINE_CODE.findall(line)]


def links(page: Path) -> list[tuple[int, str]]:
    """Every Markdown link target outside fenced blocks and inline code: (line, target)."""
    found = []
    for number, line in prose(page):
        for _, target in LINK.findall(INLINE_CODE.sub("", line)):
            found.append((number, target))
    return found


def slug(heading: str) -> str:
    """The anchor GitHub makes of a heading: lower case, punctuation dropped, spaces
    to hyphens (link text and inline code count as their text)."""
    text = LINK.sub(r"\1", heading).strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The anchors of a page's headings; a repeated heading gets ``-1``, ``-2`` …"""
    seen: dict[str, int] = {}
    for _, line in prose(page):
        heading = HEADING.match(line)
        if heading is None:
            continue
        base = slug(heading.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        if count:
            seen[f"{base}-{count}"] = 1
    return set(seen)
