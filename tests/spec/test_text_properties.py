"""Whatever the text of a spec file, the loader answers with a workflow or a SpecError
whose every problem lies inside the file — never another exception."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from _spec_checks import check  # one checker: located, one line, fast
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flowweaver.spec import load_workflow

VALID = """\
version: 1
name: sample
params: {day: "2026-11-26", limit: 5}
env: {OUT: out}
x-p: &p {retries: 1, timeout: 30s}
defaults: {retry_delay: 500ms}
tasks:
  a: {<<: *p, call: fw_never_imported:f, kwargs: {limit: "${params.limit}"}}
  b:
    call: fw_never_imported.g
    depends_on: [a]
    inputs: {rows: a}
  c: {shell: "echo ${env.OUT} $${literal}", depends_on: b}
"""

TOKENS = [
    "tasks:",
    "\n",
    "  ",
    "    ",
    "a:",
    "b:",
    "call: m:f",
    "shell: echo",
    "depends_on: [a, b]",
    "retries: -1",
    "timeout: 5m",
    "&x",
    "*x",
    "<<: *x",
    "{",
    "}",
    "[",
    "]",
    ",",
    ": ",
    "- ",
    "!!python/object:os.system",
    "!tag",
    "${params.p}",
    "${env.HOME}",
    "$${",
    "'",
    '"',
    "#",
    "---",
    "...",
    "\t",
    "é",
    "\x85",
    "\u2028",
    "\r",
    "?",
    "|",
    ">",
    "%YAML 1.1",
    "@",
    "`",
    "x-a:",
    "version: 2",
    "params: {p: 1}",
    "inputs: {z: a}",
    "args: [1]",
    "~",
    "0x1F",
]


@pytest.fixture(autouse=True)
def _restore_sys_path(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "path", list(sys.path))


fuzz = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@fuzz
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map("".join))
def test_token_soup(tmp_path: Path, text: str) -> None:
    check(tmp_path, text.encode())


@fuzz
@given(st.text(max_size=200))
def test_any_text(tmp_path: Path, text: str) -> None:
    check(tmp_path, text.encode("utf-8", errors="surrogatepass"))


@fuzz
@given(st.binary(max_size=200))
def test_any_bytes(tmp_path: Path, data: bytes) -> None:
    check(tmp_path, data)


@fuzz
@given(st.data())
def test_mutations_of_a_valid_spec(tmp_path: Path, data: st.DataObject) -> None:
    text = VALID
    for _ in range(data.draw(st.integers(1, 4))):
        start = data.draw(st.integers(0, len(text)))
        end = data.draw(st.integers(start, min(len(text), start + 8)))
        insert = data.draw(st.sampled_from(["", *TOKENS]))
        text = text[:start] + insert + text[end:]
    check(tmp_path, text.encode())


def test_the_valid_spec_is_valid(tmp_path: Path) -> None:
    (tmp_path / "spec.yaml").write_text(VALID, encoding="utf-8")
    assert len(load_workflow(tmp_path / "spec.yaml", check_imports=False)) == 3
