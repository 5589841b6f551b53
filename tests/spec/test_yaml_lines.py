"""The line reader of the common block style against the composer it stands in for.

On generated block-style documents — nested mappings and lists (a list at its key's
indent too), one-line ``[…]`` and ``{…}``, plain, quoted and typed scalars, comments and
blank lines — and on the same documents broken or stretched by one edit (a character
that means something to YAML, a line moved in or out, a line repeated or dropped), the
line reader either declines or gives exactly the tree the composer gives (it used to be
the only way): every value, its type, and the position of every value and key, with no
problem found in the text. On the clean documents it must not decline, so it is used.
"""

from __future__ import annotations

import os
import textwrap

import _yaml_reference
from hypothesis import given, settings
from hypothesis import strategies as st
from test_yaml_model import outcome, shape

from flowweaver.spec import yamlnodes
from flowweaver.spec.problems import Problems
from flowweaver.spec.yamllines import block_tree

PLAIN_KEYS = ["a", "b", "call", "tasks", "task-1", "x.y", "on", "true", "null", "_k"]
ODD_KEYS = ["5", "<<", "'a'", "a b", "é", "-", "? a", "a:b", '"q"']
SCALARS = [
    "a",
    "b c",
    "task-1",
    "5",
    "-3",
    "+1",
    "0x1f",
    "0o17",
    "0b101",
    "1_000",
    "012",
    "1.5",
    "1e3",
    "1:30",
    ".inf",
    "-.inf",
    ".nan",
    "true",
    "Yes",
    "no",
    "on",
    "null",
    "NULL",
    "~",
    "2026-11-26",
    "2026-11-26 10:00:00",
    "=",
    "mod:func",
    "a#b",
    "${params.x}",
    "a, b",
    "x[1]",
    "é ü",
    "'quoted'",
    "'a # b'",
    '"double"',
    "''",
    '""',
]
ODD_SCALARS = [
    "a: b",
    "x:",
    "<<",
    "'it''s'",
    '"a\\tb"',
    "&anchor v",
    "*alias",
    "!!str 5",
    "!!int x",
    "| block",
    "> folded",
    "%x",
    "@x",
    "`x",
    "?x",
    ":x",
    "-x",
    "- x",
    "[a, [b]]",
    "{a: {b: c}}",
    "[a,]",
    "[a, , b]",
    "{a: }",
    "{a}",
    "'open",
]
FLOW_ITEMS = ["a", "task-1", "5", "-3", "-x", "1.5", "true", "null", "~", "b c", "é"]
EDITS = [":", ": ", "#", " #", " ", "\t", "-", "- ", "'", '"', "&a ", "*a", "!!str ", "|", ">"]
EDITS += ["\r", "\\", "[", "]", "{", "}", ",", "?", "%", "@", "\u2028", "\x85", "\ufeff", "\n"]


@st.composite
def values(draw: st.DrawFn, indent: int, depth: int, odd: bool) -> list[str]:
    """A value's text: its first line's tail after ``key:`` (or ``-``), then more lines."""
    choice = draw(st.integers(0, 9 if depth < 4 else 3))
    if choice <= 2:
        pool = SCALARS + ODD_SCALARS if odd else SCALARS
        return [" " + draw(st.sampled_from(pool))]
    if choice == 3:
        items = draw(st.lists(st.sampled_from(FLOW_ITEMS), max_size=4))
        if draw(st.booleans()):
            return [" [" + ", ".join(items) + "]"]
        pairs = dict(zip(PLAIN_KEYS, items, strict=False))
        return [" {" + ", ".join(f"{k}: {v}" for k, v in pairs.items()) + "}"]
    step = draw(st.sampled_from([2, 2, 4, 1]))
    if choice <= 6:
        inner = draw(mappings(indent + step, depth + 1, odd))
    else:
        same = draw(st.booleans())
        inner = draw(sequences(indent if same else indent + step, depth + 1, odd))
    return [draw(st.sampled_from(["", "", " # note"])), *inner]


@st.composite
def mappings(draw: st.DrawFn, indent: int, depth: int, odd: bool) -> list[str]:
    lines: list[str] = []
    pool = PLAIN_KEYS + ODD_KEYS if odd else PLAIN_KEYS
    keys = draw(st.lists(st.sampled_from(pool), min_size=1, max_size=4, unique=not odd))
    for key in keys:
        first, *rest = draw(values(indent, depth, odd))
        lines.append(" " * indent + key + ":" + first)
        lines.extend(rest)
        if draw(st.integers(0, 5)) == 0:
            lines.append(" " * draw(st.integers(0, 6)) + "# a comment")
        if draw(st.integers(0, 5)) == 0:
            lines.append("")
    return lines


@st.composite
def sequences(draw: st.DrawFn, indent: int, depth: int, odd: bool) -> list[str]:
    lines = []
    for _ in range(draw(st.integers(1, 3))):
        pool = SCALARS + ODD_SCALARS if odd else SCALARS
        item = draw(st.sampled_from([*pool, "[a, b]", "{a: 1}"]))
        lines.append(" " * indent + "-" + " " * draw(st.integers(1, 2)) + item)
    return lines


@st.composite
def documents(draw: st.DrawFn, odd: bool) -> str:
    if draw(st.integers(0, 5)) == 0:
        lines = draw(sequences(0, 1, odd))
    else:
        lines = draw(mappings(0, 0, odd))
    if draw(st.booleans()):
        lines.insert(0, "# a file")
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n"]))


@st.composite
def edited(draw: st.DrawFn) -> str:
    """A block document, broken or stretched by one edit."""
    text = draw(documents(odd=draw(st.booleans())))
    lines = text.split("\n")
    which = draw(st.integers(0, len(lines) - 1))
    kind = draw(st.integers(0, 4))
    if kind == 0:
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(st.sampled_from(EDITS)) + text[at:]
    elif kind == 1:
        lines[which] = " " + lines[which]
        text = "\n".join(lines)
    elif kind == 2:
        lines[which] = lines[which][1:] if lines[which].startswith(" ") else lines[which]
        text = "\n".join(lines)
    elif kind == 3:
        lines.insert(which, lines[which])
        text = "\n".join(lines)
    else:
        del lines[which]
        text = "\n".join(lines)
    return text


def reference(text: str) -> tuple[object, list[str]]:
    _yaml_reference._Loader = yamlnodes._Loader
    return outcome(_yaml_reference.compose, text)


def assert_same_or_declined(text: str) -> bool:
    tree = block_tree(text, yamlnodes._plain_scalar)
    if tree is None:
        return False
    expected_tree, problems = reference(text)
    assert problems == []
    assert shape(tree) == expected_tree
    return True


EXAMPLES = int(os.environ.get("YAML_MODEL_EXAMPLES", "300"))


@settings(max_examples=EXAMPLES, deadline=None)
@given(documents(odd=False))
def test_a_clean_block_document_is_read_by_lines_as_the_composer_reads_it(text: str) -> None:
    assert assert_same_or_declined(text), "declined a document in the block style"


@settings(max_examples=EXAMPLES, deadline=None)
@given(documents(odd=True))
def test_odd_values_and_keys_are_declined_or_read_the_same(text: str) -> None:
    assert_same_or_declined(text)


@settings(max_examples=EXAMPLES * 2, deadline=None)
@given(edited())
def test_an_edited_document_is_declined_or_read_the_same(text: str) -> None:
    assert_same_or_declined(text)
    assert outcome(yamlnodes.compose, text) == reference(text)


def test_a_spec_in_the_block_style_is_read_by_lines() -> None:
    text = textwrap.dedent(
        """\
        version: 1
        name: nightly  # the workflow
        params:
          day: 2026-11-26
          limit: 10
        tasks:
          extract:
            call: etl.steps:extract
            args: [1, two, 3.5]
            env: {REGION: eu, DEBUG: false}
          load:
            shell: 'echo done # not a comment'
            depends_on:
            - extract
            retries: 2
        """
    )
    tree = block_tree(text, yamlnodes._plain_scalar)
    assert tree is not None
    assert shape(tree) == reference(text)[0]


def test_what_only_the_composer_can_judge_goes_to_it() -> None:
    for text in ("a: 1\na: 2\n", "a: &x 1\nb: *x\n", "a: !!int x\n", "a:\nb: 1\n", "a: b: c\n"):
        assert block_tree(text, yamlnodes._plain_scalar) is None, text
        report = Problems("t.yaml", text)
        yamlnodes.compose(text, report)
        assert [str(p) for p in report.problems] == reference(text)[1]
