"""``load_workflow``: a spec file → a :class:`~flowweaver.Workflow`, or every problem in it."""

from __future__ import annotations

import contextlib
import datetime
import gc
import hashlib
import os
import stat
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from flowweaver.errors import Problem, SpecError
from flowweaver.spec.build import TaskFactory, build_workflow, check_run_if
from flowweaver.spec.dependencies import order_tasks
from flowweaver.spec.document import SPEC_DIR_VARIABLE, TaskDef, read_document
from flowweaver.spec.filechecks import FileChecks
from flowweaver.spec.imports import add_import_dirs
from flowweaver.spec.problems import FILE_START, TOP, Problems, mark_at
from flowweaver.spec.yamlnodes import compose
from flowweaver.task import Task
from flowweaver.workflow import Workflow


def load_workflow(
    path: str | os.PathLike[str],
    params: Mapping[str, Any] | None = None,
    *,
    check_imports: bool = True,
    run_id: str | None = None,
    warnings: list[Problem] | None = None,
) -> Workflow:
    """The workflow a spec file describes; :class:`SpecError` listing every problem if any.

    ``params`` override the spec's ``params`` (values as :func:`parse_param_value` reads
    them; text for a list or mapping param as a YAML flow value). With ``check_imports``
    the callables are imported and their signatures checked against the spec; without,
    nothing is imported and each callable is imported when it first runs (a workflow
    to look at: plan, graph, validate).

    The spec is loaded for one run: ``${run.id}`` is ``run_id`` (default: a new id,
    under which a :class:`~flowweaver.RunStore` then records the run), ``${run.date}``
    and ``${run.started}`` are now. Given a ``warnings`` list, it receives what is
    allowed but worth a look (see :mod:`flowweaver.spec.filechecks`).

    The spec's directory and the current directory are put on ``sys.path`` (and stay).
    """
    name = os.fspath(path)
    data = _read(name)
    text = _decode(name, data)
    digest = hashlib.sha256(data).hexdigest()
    del data  # (a big spec's bytes need not stay while it loads)
    report = Problems(name, text)
    run = run_values(run_id)
    with _collector_paused():
        workflow = _load(
            name, digest, text, report, dict(params or {}), run, check_imports, warnings
        )
    if workflow is None or report:
        raise SpecError(report.problems)
    return workflow


def validate_spec(
    path: str | os.PathLike[str],
    params: Mapping[str, Any] | None = None,
    *,
    check_imports: bool = True,
) -> list[Problem]:
    """Every problem in a spec file, in file order; an empty list when it is valid."""
    try:
        load_workflow(path, params, check_imports=check_imports)
    except SpecError as exc:
        return exc.problems
    return []


def run_values(run_id: str | None = None) -> dict[str, str]:
    """``${run.id}``, ``${run.date}`` (local) and ``${run.started}`` (ISO 8601) for a run
    starting now."""
    started = datetime.datetime.now().astimezone()
    return {
        "id": run_id or os.urandom(4).hex(),  # (secrets.token_hex, without its imports)
        "date": started.date().isoformat(),
        "started": started.isoformat(timespec="seconds"),
    }


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector: loading makes ~10 objects per line of YAML,
    none of them garbage, and its passes over them would take most of the time."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


MAX_SPEC_BYTES = 16 * 1024 * 1024
"""A spec larger than this is refused unread: 100,000 tasks take 2-10 MB, and a spec
of a million tasks would take gigabytes of memory to load."""


def _read(name: str) -> bytes:
    try:
        with open(name, "rb") as file:
            mode = os.fstat(file.fileno()).st_mode
            if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
                message = "is a device, not a spec file"
            else:
                data = file.read(MAX_SPEC_BYTES + 1)
                if len(data) <= MAX_SPEC_BYTES:
                    return data
                message = f"is larger than {MAX_SPEC_BYTES // 2**20} MB: not a spec file"
    except IsADirectoryError:
        message = "is a directory, not a spec file"
    except OSError as exc:
        message = f"cannot read the file: {exc.strerror or exc}"
    raise SpecError([Problem(name, 1, 1, "", message)])


def _decode(name: str, data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise SpecError([Problem(name, 1, 1, "", "the file is UTF-16: save it as UTF-8")])
    if b"\x00" in data:
        raise _byte_problem(
            name, data, data.index(b"\x00"), "not a text file: it contains NUL bytes"
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        message = f"not UTF-8 text: byte 0x{data[exc.start]:02x} can't be decoded"
        raise _byte_problem(name, data, exc.start, message) from None


def _byte_problem(name: str, data: bytes, offset: int, message: str) -> SpecError:
    """A file-level problem at byte ``offset`` of a file that isn't UTF-8 text."""
    text = data.decode("utf-8-sig", errors="replace")
    mark = mark_at(text, len(data[:offset].decode("utf-8-sig", errors="replace")))
    report = Problems(name, text)
    report.add(mark, TOP, message)
    return SpecError(report.problems)


def _load(
    name: str,
    digest: str,
    text: str,
    report: Problems,
    params: dict[str, Any],
    run: dict[str, str],
    check_imports: bool,
    warnings: list[Problem] | None,
) -> Workflow | None:
    """The workflow, or ``None``; the problems found are in ``report``."""
    root = compose(text, report)
    if root is None:
        if not report:
            report.add(FILE_START, TOP, "the file is empty: a spec needs at least 'tasks'")
        return None
    spec_dir = os.path.dirname(os.path.abspath(name))
    document = read_document(
        root, report, stem=Path(name).stem, spec_dir=spec_dir, overrides=params, run=run
    )
    del root  # each task's definition holds its own part of the tree, until its task is made
    if document is None:
        return None
    import_dirs = (spec_dir, os.getcwd())
    add_import_dirs(import_dirs)
    shell_env = {**document.file_env, **document.env, SPEC_DIR_VARIABLE: spec_dir}
    factory = TaskFactory(
        report,
        shell_env,
        check_imports=check_imports,
        import_dirs=import_dirs,
        folder=document.workdir or spec_dir,
    )
    files = FileChecks(document, Problems(name, text)) if warnings is not None else None
    tasks = _make_tasks(document.tasks, factory, files, report)
    handlers = {handler.name: factory.handler(handler) for handler in document.handlers}
    if report:
        return None
    made = {name: handler for name, handler in handlers.items() if handler is not None}
    workflow = build_workflow(document, tasks, os.path.abspath(name), digest, run, made)
    if warnings is not None and files is not None:
        warnings.extend(files.warnings())
    return workflow


def _make_tasks(
    definitions: list[TaskDef], factory: TaskFactory, files: FileChecks | None, report: Problems
) -> list[Task]:
    """The tasks of ``definitions``, dependencies first. Each definition's part of the
    tree and its values are dropped once its task is made and checked: a big spec's
    tree and its tasks are then never all in memory at once."""
    tasks: list[Task] = []
    for definition in order_tasks(definitions, report):
        task = factory.task(definition)
        check_run_if(definition, report)
        if task is not None:
            tasks.append(task)
            if files is not None:
                files.task(definition, task)
        definition.release()
    return tasks
