"""The Typer commands. Each one parses its options and hands over to a module that
does the work; errors propagate to :func:`flowweaver.cli.app.main`, which turns
them into one-line messages and exit codes."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated

import typer

from flowweaver.executors import EXECUTOR_NAMES

from .options import (
    DEFAULT_EXECUTOR,
    GraphFormat,
    OutputMode,
    ReportFormat,
    ShowFormat,
    check_executor,
    split_param,
)

_EXECUTOR_CHOICES = ", ".join(EXECUTOR_NAMES[:-1]) + f" or {EXECUTOR_NAMES[-1]}"

app = typer.Typer(
    name="flowweaver",
    help="Run YAML workflow specs: from a terminal, from CI, from cron.",
    add_completion=False,
    pretty_exceptions_enable=False,
    no_args_is_help=True,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
cache_app = typer.Typer(help="The result cache of `cache: true` tasks.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")
cron_app = typer.Typer(
    help="Schedules from specs in your crontab; what ran and what was missed.",
    no_args_is_help=True,
)
app.add_typer(cron_app, name="cron")


def app_for(args: Sequence[str]) -> typer.Typer:
    """The app, with only the command (or group) that ``args`` start with when they
    name one. Typer works out the options of every command it holds (signatures,
    annotations, help) at each start; a command's options, help and errors don't
    depend on the others, so the others are left out. Anything else (``--help``, an
    unknown command and its did-you-mean) gets the whole app."""
    name = args[0] if args else None
    commands = [
        info
        for info in app.registered_commands
        if info.callback is not None
        and (info.name or typer.main.get_command_name(info.callback.__name__)) == name
    ]
    groups = [info for info in app.registered_groups if info.name == name]
    if not commands and not groups:
        return app
    narrowed = copy.copy(app)
    narrowed.registered_commands = commands
    narrowed.registered_groups = groups
    return narrowed


def _check_params(values: list[str] | None) -> list[str]:
    for value in values or ():
        split_param(value)
    return values or []


def _check_pools(values: list[str] | None) -> list[str]:
    from .pools import split_pool

    for value in values or ():
        split_pool(value)
    return values or []


def _check_executor(value: str | None) -> str | None:
    return check_executor(value)


SpecArg = Annotated[Path, typer.Argument(help="The YAML spec file.", show_default=False)]
ParamOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--param",
        "-p",
        help="NAME=VALUE overriding the spec's params (VALUE read as YAML: 5 is a number).",
        callback=_check_params,
    ),
]
StateDirOpt = Annotated[
    Path | None,
    typer.Option(help="The state folder [default: $FLOWWEAVER_HOME or .flowweaver]."),
]


def _version(value: bool) -> None:
    if value:
        from flowweaver import __version__

        typer.echo(f"flowweaver {__version__}")
        raise typer.Exit(0)


@app.callback()
def main_options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", "-V", help="Print the version.", is_eager=True, callback=_version
        ),
    ] = False,
) -> None:
    """Run YAML workflow specs: from a terminal, from CI, from cron."""


@app.command()
def run(
    spec: SpecArg,
    executor: Annotated[
        str | None,
        typer.Option(
            "--executor",
            "-e",
            help=f"{_EXECUTOR_CHOICES} [default: spec, else {DEFAULT_EXECUTOR}].",
            callback=_check_executor,
        ),
    ] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", "-w", min=1, help="At most this many tasks at once."),
    ] = None,
    param: ParamOpt = None,
    pool: Annotated[
        list[str] | None,
        typer.Option(
            "--pool",
            help="NAME=SIZE: the size of the spec's pool NAME for this run (repeatable).",
            callback=_check_pools,
        ),
    ] = None,
    fail_fast: Annotated[
        bool, typer.Option("--fail-fast", help="Start no new task after the first failure.")
    ] = False,
    only: Annotated[
        list[str] | None,
        typer.Option("--only", help="Run this task and everything upstream (repeatable)."),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the latest unfinished run.")
    ] = False,
    state_dir: StateDirOpt = None,
    wait: Annotated[
        bool, typer.Option("--wait", help="Wait for another run of the workflow to end.")
    ] = False,
    address: Annotated[
        str | None,
        typer.Option(help="The Dask scheduler to run on, e.g. tcp://host:8786."),
    ] = None,
    output: Annotated[
        OutputMode, typer.Option("--output", "-o", help="live on a terminal, else plain.")
    ] = OutputMode.AUTO,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Show the tracebacks of failed tasks.")
    ] = False,
    quiet: Annotated[
        bool,
        typer.Option(
            "--quiet", "-q", help="Print nothing if the run succeeds; plain output if not."
        ),
    ] = False,
    log_lines: Annotated[
        bool,
        typer.Option("--log-lines", help="With --output json: a record per line tasks print."),
    ] = False,
    report: Annotated[
        Path | None,
        typer.Option(
            metavar="FILE",
            help="Write the run's report there when it ends (.md: Markdown, else HTML).",
        ),
    ] = None,
    otel: Annotated[
        bool | None,
        typer.Option(
            "--otel/--no-otel",
            help="Send OpenTelemetry traces (OTEL_* variables configure them) "
            "[default: $FLOWWEAVER_OTEL, else the spec's otel].",
            show_default=False,
        ),
    ] = None,
    metrics_file: Annotated[
        Path | None,
        typer.Option(
            metavar="PATH",
            help="Write a Prometheus textfile there when the run ends [default: the spec's "
            "metrics_file].",
        ),
    ] = None,
) -> int:
    """Run a workflow spec."""
    from .options import parse_params
    from .pools import parse_pools
    from .run import RunRequest, run_spec

    request = RunRequest(
        spec=spec,
        params=parse_params(param or []),
        pools=parse_pools(pool or []),
        executor=executor,
        workers=workers,
        fail_fast=fail_fast,
        only=tuple(only or ()),
        resume=resume,
        state_dir=state_dir,
        wait=wait,
        address=address,
        output=output,
        quiet=quiet,
        log_lines=log_lines,
        verbose=verbose,
        report=report,
        otel=otel,
        metrics_file=metrics_file,
    )
    return run_spec(request)


@app.command()
def plan(spec: SpecArg, param: ParamOpt = None) -> int:
    """Print the execution layers: tasks of a layer need only earlier layers."""
    from . import inspect_cmds

    return inspect_cmds.plan(spec, param or [])


@app.command()
def validate(
    specs: Annotated[list[Path], typer.Argument(help="Spec files.", show_default=False)],
    no_imports: Annotated[
        bool, typer.Option("--no-imports", help="Don't import the tasks' modules.")
    ] = False,
    param: ParamOpt = None,
) -> int:
    """Check spec files; print each problem, and FILE: ok for each valid file."""
    from . import inspect_cmds

    return inspect_cmds.validate(specs, param or [], check_imports=not no_imports)


@app.command()
def graph(
    spec: SpecArg,
    format: Annotated[
        GraphFormat, typer.Option("--format", "-f", help="mermaid or dot.")
    ] = GraphFormat.MERMAID,
    param: ParamOpt = None,
) -> int:
    """Print the task graph as Mermaid or Graphviz DOT."""
    from . import inspect_cmds

    return inspect_cmds.graph(spec, param or [], format)


@app.command()
def schema() -> int:
    """Print the JSON Schema of spec files (for editors)."""
    from . import inspect_cmds

    return inspect_cmds.schema()


@app.command()
def runs(
    limit: Annotated[int, typer.Option(min=1, help="At most this many runs.")] = 20,
    workflow: Annotated[
        str | None,
        typer.Option(help="Only the runs of this workflow."),
    ] = None,
    state_dir: StateDirOpt = None,
) -> int:
    """List past runs, newest first."""
    from . import runs_cmds

    return runs_cmds.list_runs(state_dir, limit=limit, workflow=workflow)


RunArg = Annotated[str, typer.Argument(metavar="RUN", help="A run id, or latest.")]


@app.command()
def show(
    run_id: RunArg,
    task: Annotated[
        str | None,
        typer.Argument(metavar="[TASK]", help="One task: its attempts and tracebacks."),
    ] = None,
    output: Annotated[
        ShowFormat, typer.Option("--output", "-o", help="text or json.")
    ] = ShowFormat.TEXT,
    state_dir: StateDirOpt = None,
) -> int:
    """Show one run's tasks, or one task's attempts and tracebacks."""
    from . import runs_cmds

    if task is not None:
        return runs_cmds.show_task(state_dir, run_id, task, output)
    return runs_cmds.show_run(state_dir, run_id, output)


@app.command()
def logs(
    run_id: RunArg,
    task: Annotated[
        str | None, typer.Argument(metavar="[TASK]", help="One task's log (default: all).")
    ] = None,
    attempt: Annotated[
        int | None, typer.Option("--attempt", min=1, help="Only this attempt's part.")
    ] = None,
    tail: Annotated[
        int | None,
        typer.Option("--tail", min=0, help="Only the last N lines (attempt headers count)."),
    ] = None,
    state_dir: StateDirOpt = None,
) -> int:
    """Print what tasks printed in a run: each attempt under a header."""
    from . import logs_cmds

    return logs_cmds.show_logs(state_dir, run_id, task, attempt=attempt, tail=tail)


@app.command()
def prune(
    keep: Annotated[
        int | None,
        typer.Option("--keep", min=0, help="Keep the newest N runs of each workflow."),
    ] = None,
    older_than: Annotated[
        str | None,
        typer.Option("--older-than", metavar="AGE", help="Remove runs started before, e.g. 30d."),
    ] = None,
    workflow: Annotated[str | None, typer.Option(help="Only the runs of this workflow.")] = None,
    state_dir: StateDirOpt = None,
) -> int:
    """Remove old runs: their records, stored results and logs."""
    from . import logs_cmds

    return logs_cmds.prune_runs(state_dir, keep=keep, older_than=older_than, workflow=workflow)


@app.command()
def report(
    run_id: Annotated[
        str,
        typer.Argument(
            metavar="[RUN]",
            help="A run id (or a unique prefix), or latest [default: latest].",
            show_default=False,
        ),
    ] = "latest",
    output: Annotated[
        str | None,
        typer.Option(
            "--output",
            "-o",
            metavar="FILE",
            help="Where to write it; - for standard output [default: "
            "flowweaver-report-RUN_ID.html].",
            show_default=False,
        ),
    ] = None,
    format: Annotated[
        ReportFormat | None,
        typer.Option(
            help="html or md [default: the file's suffix, else html].", show_default=False
        ),
    ] = None,
    history: Annotated[
        int, typer.Option(min=0, metavar="N", help="Show the workflow's last N runs (0: none).")
    ] = 10,
    state_dir: StateDirOpt = None,
) -> int:
    """Write a run's report: one HTML file (or Markdown)."""
    from . import report_cmds

    return report_cmds.report(state_dir, run_id, output=output, format=format, history=history)


@app.command()
def ui(
    port: Annotated[
        int, typer.Option(min=0, max=65535, metavar="N", help="The port (0: any free one).")
    ] = 8321,
    host: Annotated[
        str,
        typer.Option(
            metavar="ADDRESS", help="The address to listen on (any but loopback is warned about)."
        ),
    ] = "127.0.0.1",
    state_dir: StateDirOpt = None,
) -> int:
    """Serve a read-only dashboard of the runs in a browser (Ctrl-C stops it)."""
    from . import ui as dashboard

    return dashboard.serve(state_dir, host=host, port=port)


@cache_app.command("list")
def cache_list(
    workflow: Annotated[str | None, typer.Option(help="Only the entries of this workflow.")] = None,
    output: Annotated[
        ShowFormat, typer.Option("--output", "-o", help="text or json.")
    ] = ShowFormat.TEXT,
    state_dir: StateDirOpt = None,
) -> int:
    """List the cached results: workflow, task, key, age, size."""
    from . import runs_cmds

    return runs_cmds.list_cache(state_dir, workflow=workflow, output=output)


@cache_app.command("clear")
def cache_clear(
    task: Annotated[
        str | None,
        typer.Argument(help="Only this task's results [default: all].", show_default=False),
    ] = None,
    workflow: Annotated[str | None, typer.Option(help="Only the entries of this workflow.")] = None,
    files: Annotated[
        bool,
        typer.Option("--files", help="Also forget the file hashes: every file is read again."),
    ] = False,
    state_dir: StateDirOpt = None,
) -> int:
    """Empty the result cache, or one task's part of it."""
    from . import runs_cmds

    return runs_cmds.clear_cache(state_dir, task=task, workflow=workflow, files=files)


@cron_app.command("install")
def cron_install(
    specs: Annotated[
        list[Path], typer.Argument(help="Spec files with a schedule:.", show_default=False)
    ],
    state_dir: Annotated[
        Path | None,
        typer.Option(
            help="The state folder the runs use, written as an absolute path "
            "[default: $FLOWWEAVER_HOME, else .flowweaver here]."
        ),
    ] = None,
    print_block: Annotated[
        bool, typer.Option("--print", help="Print the block instead of installing it.")
    ] = False,
) -> int:
    """Write a crontab line per spec into the flowweaver block (replacing it whole)."""
    from . import cron_cmds

    return cron_cmds.install(specs, state_dir, print_only=print_block)


@cron_app.command("remove")
def cron_remove() -> int:
    """Remove the flowweaver block from the crontab."""
    from . import cron_cmds

    return cron_cmds.remove()


@cron_app.command("status")
def cron_status(
    state_dir: Annotated[
        Path | None,
        typer.Option(help="Read the runs here [default: the state folder each line names]."),
    ] = None,
    output: Annotated[
        ShowFormat, typer.Option("--output", "-o", help="text or json.")
    ] = ShowFormat.TEXT,
) -> int:
    """Each scheduled workflow: last run, next due time, missed runs (exit 1 if any)."""
    from . import cron_status

    return cron_status.status(state_dir, output)
