"""Every ``flowweaver …`` command line the README and ``docs/`` show exists, checked
against the real Typer app, so that a renamed command or option breaks this test.

- In ```console blocks (``$ `` lines), ```sh and ```bash blocks (every line) and
  ```cron blocks (after the schedule), each ``flowweaver`` command of a line (pipes,
  ``&&``, redirections and variable assignments around it are understood) is parsed
  by Click as the command would parse it: commands, options, their values and the
  arguments must all be accepted.
- In inline code, a span that starts with ``flowweaver `` may use placeholders
  (``SPEC``, ``[RUN]``, ``a|b``): its commands and option names must exist.
- ``docs/cli.md`` has a section for every command, which names each of its options,
  and every option it names in inline code is one of that command's.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
import typer.main
from _docs import DOCS, INLINE_CODE, ROOT, Block, blocks, inline_code, pages

from flowweaver.cli.commands import app

COMMAND = typer.main.get_command(app)  # Typer's own (vendored) Click objects: duck-typed here
HELP = {"--help", "-h"}
SEPARATORS = {"|", "||", "&&", ";", "&"}
REDIRECTIONS = {">", ">>", "<", ">&", "&>", "<&"}
PROGRAMS = {"flowweaver"}

Line = tuple[str, str]  # (where, command line)


def block_lines(block: Block) -> list[str]:
    lines = [line.strip() for line in block.text.splitlines()]
    if block.lang == "console":
        return [line[2:] for line in lines if line.startswith("$ ")]
    if block.lang == "cron":
        return [schedule_removed(line) for line in lines if line and not line.startswith("#")]
    return [line for line in lines if line and not line.startswith("#")]


def schedule_removed(line: str) -> str:
    fields = line.split()
    return " ".join(fields[1:] if fields[0].startswith("@") else fields[5:])


def shown_lines() -> list[Line]:
    found = []
    for block in blocks("console", "sh", "bash", "cron"):
        found.extend((block.where, line) for line in block_lines(block))
    return found


def flowweaver_commands(line: str) -> list[list[str]]:
    """The argument lists of each ``flowweaver`` command of a shell line."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    commands: list[list[str]] = [[]]
    for token in lexer:
        if token in SEPARATORS:
            commands.append([])
        else:
            commands[-1].append(token)
    return [args for words in commands if (args := flowweaver_args(words)) is not None]


def flowweaver_args(words: list[str]) -> list[str] | None:
    """The arguments of a simple command when it runs ``flowweaver``, else ``None``."""
    words = without_redirections(words)
    while words and "=" in words[0] and not words[0].startswith("-"):
        words = words[1:]  # NAME=value before the program
    if words and Path(words[0]).name in PROGRAMS:
        return words[1:]
    if words[1:3] == ["-m", "flowweaver"] and Path(words[0]).name.startswith("python"):
        return words[3:]
    return None


def without_redirections(words: list[str]) -> list[str]:
    kept: list[str] = []
    skip = False
    for index, word in enumerate(words):
        following = words[index + 1] if index + 1 < len(words) else ""
        if skip:
            skip = False
        elif word in REDIRECTIONS:
            skip = True  # and the file it names
        elif not (word.isdigit() and following in REDIRECTIONS):
            kept.append(word)
    return kept


def is_group(command: Any) -> bool:
    return hasattr(command, "commands")


def option_names(command: Any) -> set[str]:
    names = set(HELP)
    for param in command.params:
        if param.param_type_name == "option":
            names.update(param.opts, param.secondary_opts)
    return names


def leaf(args: list[str]) -> tuple[Any, list[str], str]:
    """The command that ``args`` name, the arguments left for it, and its path."""
    command: Any = COMMAND
    path = "flowweaver"
    while is_group(command) and args and not args[0].startswith("-"):
        sub = command.commands.get(args[0])
        assert sub is not None, f"no command '{path} {args[0]}'"
        command, path, args = sub, f"{path} {args[0]}", args[1:]
    return command, args, path


def check_parses(args: list[str]) -> None:
    """``flowweaver ARGS`` parses: the commands, options, values and arguments exist,
    and the option callbacks (executor names, ``--param NAME=VALUE``) accept them."""
    command, rest, path = leaf(args)
    if is_group(command):
        unknown = [arg for arg in rest if arg.startswith("-") and arg not in option_names(command)]
        assert not unknown, f"'{path}' has no option {unknown[0]}"
        assert rest, f"'{path}' needs a command"
        return  # --version or --help: prints and exits
    try:
        command.make_context(path, list(rest))
    except typer.Exit as done:  # --help
        assert done.exit_code == 0
    except Exception as error:
        message = error.format_message() if hasattr(error, "format_message") else error
        pytest.fail(f"'{path} {shlex.join(rest)}': {message}")


def check_names(args: list[str]) -> None:
    """Placeholders allowed: only the commands and the option names must exist."""
    command, rest, path = leaf([word.strip("[]") for word in args if word.strip("[]")])
    names = option_names(command)
    for word in rest:
        if word.startswith("-"):
            option = word.split("=", 1)[0]
            assert option in names, f"'{path}' has no option {option}"


def inline_lines() -> list[Line]:
    found = []
    for page in pages():
        for number, span in inline_code(page):
            if span.startswith(("flowweaver ", "python -m flowweaver ")):
                found.append((f"{page.relative_to(ROOT)}:{number}", span))
    return found


SHOWN = shown_lines()
INLINE = inline_lines()


def test_the_pages_show_commands() -> None:
    assert sum(bool(flowweaver_commands(line)) for _, line in SHOWN) >= 30
    assert len(INLINE) >= 30


@pytest.mark.parametrize(("where", "line"), SHOWN, ids=[f"{w} {s}" for w, s in SHOWN])
def test_a_command_line_shown_parses(where: str, line: str) -> None:
    for args in flowweaver_commands(line):
        check_parses(args)


@pytest.mark.parametrize(("where", "span"), INLINE, ids=[f"{w} {s}" for w, s in INLINE])
def test_a_command_in_inline_code_exists(where: str, span: str) -> None:
    words = span.split()
    check_names(words[3:] if words[0] == "python" else words[1:])


def test_the_parsing_sees_through_shell_syntax() -> None:
    line = "cd /x && A=1 .venv/bin/flowweaver run a.yaml -o plain >> log 2>&1 | tee y"
    assert flowweaver_commands(line) == [["run", "a.yaml", "-o", "plain"]]
    assert flowweaver_commands("python -m flowweaver plan a.yaml") == [["plan", "a.yaml"]]
    assert flowweaver_commands("dask worker tcp://x:8786 --nworkers 2") == []


def leaves(command: Any, path: str = "flowweaver") -> dict[str, Any]:
    """Every command that runs something, by its path (``flowweaver cache clear``)."""
    if not is_group(command):
        return {path: command}
    found: dict[str, Any] = {}
    for name, sub in command.commands.items():
        found.update(leaves(sub, f"{path} {name}"))
    return found


def cli_sections() -> dict[str, str]:
    """docs/cli.md's ``## `flowweaver …` `` sections: command path → the section's text.
    A heading may name several commands: `` `flowweaver runs`, `show` ``."""
    found = {}
    for part in re.split(r"^## ", (DOCS / "cli.md").read_text(encoding="utf-8"), flags=re.M):
        heading, _, body = part.partition("\n")
        spans = INLINE_CODE.findall(heading)
        if not spans or not spans[0].startswith("flowweaver "):
            continue
        for span in spans:
            words = span.removeprefix("flowweaver ").split()
            _, _, path = leaf([word for word in words if not word.isupper()])
            found[path] = body
    return found


SECTIONS = cli_sections()
COMMANDS = leaves(COMMAND)


@pytest.mark.parametrize("path", sorted(COMMANDS))
def test_every_command_has_a_section_naming_its_options(path: str) -> None:
    assert path in SECTIONS, f"docs/cli.md: no section '## `{path} …`'"
    for param in COMMANDS[path].params:
        if param.param_type_name == "option":
            name = max(param.opts, key=len)
            assert re.search(rf"(?<![\w-]){name}(?![\w-])", SECTIONS[path]), (
                f"docs/cli.md: the section of '{path}' doesn't name {name}"
            )


@pytest.mark.parametrize("path", sorted(SECTIONS))
def test_the_options_a_section_names_exist(path: str) -> None:
    sharing = [other for other, text in SECTIONS.items() if text is SECTIONS[path]]
    names = set().union(*(option_names(COMMANDS[other]) for other in sharing))
    for span in INLINE_CODE.findall(SECTIONS[path]):
        if span.startswith("-"):
            option = span.split()[0].split("=", 1)[0]
            assert option in names, f"docs/cli.md: '{path}' has no option {option}"
