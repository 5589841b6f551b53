"""``flowweaver ui``: a read-only dashboard of one state folder's runs, in a browser.

A standard-library ``ThreadingHTTPServer`` serves three kinds of page, the same
pages a report file has (:mod:`flowweaver.report`), read from the history at each
request (SQLite in WAL mode: a run writing it never blocks a reader):

    /                       the runs, newest first (``?workflow=NAME``: one workflow's)
    /runs/RUN               a run's report (it reloads itself while the run goes on)
    /runs/RUN/logs/TASK     what a task printed

Every other path is a 404, and every method but GET and HEAD a 405: no file is ever
served from a path in a URL. A task's log is found by its name among the run's
tasks, never from the URL's text. Bound to the loopback address, the server answers
only requests addressed to a loopback name (a page elsewhere can't reach it by
renaming its own host: DNS rebinding). Ctrl-C or SIGTERM stops it, exit 0.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
import signal
import socket
import sys
from collections.abc import Iterator
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from .errors import CliError, ExitCode, write_warning

if TYPE_CHECKING:
    from flowweaver.history import RunStore

REFRESH_SECONDS = 2
BIG_RUN_REFRESH_SECONDS = 10  # a run of more than BIG_RUN tasks takes a second to draw
BIG_RUN = 1000
RUNS_SHOWN = 200
_RUN_ID = re.compile(r"[0-9a-f]{1,32}|latest")
_LOOPBACK_NAMES = {"localhost", "127.0.0.1", "::1"}


class Dashboard:
    """The pages, by path: :meth:`page` answers a GET with a status and an HTML page."""

    def __init__(self, store: RunStore) -> None:
        self.store = store

    def page(self, target: str) -> tuple[int, str]:
        from flowweaver.errors import StateError, UnknownRunError

        url = urlsplit(target)
        parts = [unquote(part) for part in url.path.split("/")]
        try:
            if parts == ["", ""]:
                workflow = parse_qs(url.query).get("workflow", [None])[0]
                return HTTPStatus.OK, self.runs(workflow)
            run = len(parts) in (3, 5) and parts[1] == "runs" and _RUN_ID.fullmatch(parts[2])
            if run and len(parts) == 3:
                return HTTPStatus.OK, self.run(parts[2])
            if run and parts[3] == "logs":
                return self.log(parts[2], parts[4])
        except UnknownRunError as exc:
            return not_found(str(exc).strip("'\""))
        except StateError as exc:
            return HTTPStatus.SERVICE_UNAVAILABLE, _message("The history is unreadable", str(exc))
        return not_found(f"There is no page at {url.path}.")

    def runs(self, workflow: str | None) -> str:
        from flowweaver.report.html import runs_page

        runs = self.store.outlines(RUNS_SHOWN, workflow)
        running = any(run.status == "running" for run in runs)
        return runs_page(
            runs,
            workflow=workflow,
            workflows=self.store.workflows(),
            state_dir=str(self.store.path.resolve()),
            refresh=REFRESH_SECONDS if running else None,
        )

    def run(self, run_id: str) -> str:
        from flowweaver.report.html import report_page
        from flowweaver.report.model import build_report

        report = build_report(self.store, run_id)
        every = REFRESH_SECONDS if len(report.rows) <= BIG_RUN else BIG_RUN_REFRESH_SECONDS
        return report_page(report, dashboard=True, refresh=every if report.running else None)

    def log(self, run_id: str, task: str) -> tuple[int, str]:
        from flowweaver.report.html import log_page
        from flowweaver.report.logs import read_log

        record = self.store.run(run_id)
        found = [t for t in record.tasks if t.name == task]
        if not found:
            return not_found(f"Run {record.id} has no task {task!r}.")
        refresh = REFRESH_SECONDS if record.status == "running" else None
        text = read_log(self.store, record.id, task)
        return HTTPStatus.OK, log_page(record, found[0], text, refresh=refresh)


def not_found(message: str) -> tuple[int, str]:
    return HTTPStatus.NOT_FOUND, _message("Not found", message)


def _message(title: str, message: str) -> str:
    from flowweaver.report.html import message_page

    return message_page(title, message)


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def version_string(self) -> str:
        return "FlowWeaver"

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _answer(self, *, body: bool) -> None:
        status: int
        if not self.server.allows(self.headers.get("Host", "")):
            status, page = HTTPStatus.FORBIDDEN, _message("Forbidden", "Unknown host name.")
        else:
            try:
                status, page = self.server.dashboard.page(self.path)
            except Exception as exc:  # a bug: one line on the terminal, a 500 in the browser
                write_warning(f"ui: {self.path}: internal error: {type(exc).__name__}: {exc}")
                status, page = HTTPStatus.INTERNAL_SERVER_ERROR, _message("Internal error", "")
        data = page.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        for name, value in self.server.headers.items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(data)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Methods other than GET and HEAD, and malformed requests: a plain answer."""
        if code == HTTPStatus.NOT_IMPLEMENTED:
            code = HTTPStatus.METHOD_NOT_ALLOWED
        self.close_connection = True
        data = f"{code} {HTTPStatus(code).phrase}\n".encode()
        self.send_response(code)
        if code == HTTPStatus.METHOD_NOT_ALLOWED:
            self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged: the terminal stays quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    dashboard: Dashboard
    hosts: set[str] | None  # the Host names answered (None: any)
    headers: dict[str, str]

    def allows(self, host: str) -> bool:
        if self.hosts is None:
            return True
        name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
        return name.strip("[]").lower() in self.hosts


def serve(state_dir: Path | None, *, host: str, port: int) -> int:
    """Serve the dashboard until Ctrl-C or SIGTERM; exit 0."""
    from flowweaver.history.statedir import resolve_state_dir
    from flowweaver.report.html import content_security_policy

    from .store import open_store

    folder = resolve_state_dir(state_dir)
    if not (folder / "runs.db").is_file():
        raise CliError(
            f"no run history in {folder.resolve()}",
            hint="run it where `flowweaver run` ran, or give --state-dir",
        )
    store = open_store(state_dir)
    server = _bind(host, port)
    server.dashboard = Dashboard(store)
    loopback = is_loopback(host)
    server.hosts = {*_LOOPBACK_NAMES, host.lower()} if loopback else None
    server.headers = {
        "Content-Security-Policy": content_security_policy(),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }
    if not loopback:
        write_warning(
            f"serving on {host}, not the loopback address: anyone who can reach it can "
            "read these runs (task names, errors, logs, params)"
        )
    shown = f"[{host}]" if ":" in host else host
    address = f"http://{shown}:{server.server_address[1]}/"
    with _stopped_by_signals():
        try:
            sys.stdout.write(
                f"flowweaver ui: {store.path.resolve()} at {address} (Ctrl-C stops it)\n"
            )
            sys.stdout.flush()
            server.serve_forever()
        except (KeyboardInterrupt, _Stop):
            pass
        finally:
            server.server_close()
            store.close()
    sys.stderr.write("flowweaver ui: stopped\n")
    return ExitCode.OK


def is_loopback(host: str) -> bool:
    """Whether ``host`` is a loopback address (or ``localhost``)."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _bind(host: str, port: int) -> _Server:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET

    class Server(_Server):
        address_family = family

    try:
        return Server((host.strip("[]"), port), _Handler)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        raise CliError(
            f"cannot listen on {host}:{port}: {reason}",
            hint="--port picks another port (--port 0: any free one)",
        ) from None


class _Stop(Exception):  # noqa: N818 - a signal to stop serving, not an error
    """SIGTERM: stop serving, as Ctrl-C does."""


@contextlib.contextmanager
def _stopped_by_signals() -> Iterator[None]:
    def stop(signum: int, frame: object) -> None:
        raise _Stop

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
