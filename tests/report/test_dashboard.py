"""``flowweaver ui`` over HTTP: only its own pages, read-only, reloading a run in
progress, refusing other host names, and stopping cleanly. (The browser tests click
through it.)"""

from __future__ import annotations

import http.client
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from _cli import fw, start_fw
from _report_project import make, run, run_id

from flowweaver.cli.ui import is_loopback


def start_ui(folder: Path, *args: str) -> tuple[subprocess.Popen[str], str]:
    process = start_fw("ui", "--port", "0", *args, cwd=folder)
    assert process.stdout is not None
    line = process.stdout.readline()
    found = re.search(r"http://[^ ]+/", line)
    assert found, (line, process.stderr.read() if process.stderr else "")
    return process, found.group(0)


def stop(process: subprocess.Popen[str], signum: int = signal.SIGINT) -> tuple[int, str]:
    process.send_signal(signum)
    _, err = process.communicate(timeout=30)
    return process.returncode, err


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = make(tmp_path_factory.mktemp("project"))
    run(folder)
    return folder


@pytest.fixture(scope="module")
def url(project: Path) -> Iterator[str]:
    process, address = start_ui(project)
    try:
        yield address
        assert stop(process) == (0, "flowweaver ui: stopped\n")
    finally:
        process.kill()
        process.wait(timeout=30)


def get(url: str, path: str, *, method: str = "GET", host: str | None = None) -> tuple[int, str]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    try:
        conn.putrequest(method, path, skip_host=host is not None)
        if host is not None:
            conn.putheader("Host", host)
        conn.endheaders()
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8")
    finally:
        conn.close()


def test_the_pages_are_served_with_a_strict_policy(url: str, project: Path) -> None:
    latest = run_id(project)
    for path in ("/", "/?workflow=report-demo", f"/runs/{latest}", "/runs/latest"):
        status, page = get(url, path)
        assert status == 200, path
        assert "<!DOCTYPE html>" in page
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=30)
    conn.request("GET", f"/runs/{latest}/logs/boom")
    response = conn.getresponse()
    assert response.status == 200
    policy = response.getheader("Content-Security-Policy") or ""
    assert policy.startswith("default-src 'none'")
    assert response.getheader("X-Content-Type-Options") == "nosniff"
    assert response.getheader("X-Frame-Options") == "DENY"
    conn.close()


@pytest.mark.parametrize(
    "path",
    [
        "/runs.db",
        "/etc/passwd",
        "/../runs.db",
        "/runs/",
        "/runs/..%2F..%2Fruns.db",
        "/runs/latest/logs/..%2F..%2Fruns.db",
        "/runs/latest/logs/..",
        "/runs/latest/logs/boom/extra",
        "/runs/latest/logs/nonexistent-task",
        "/runs/ffffffff",
        "/static/report.css",
        "/favicon.ico",
    ],
)
def test_every_other_path_is_not_found(url: str, path: str) -> None:
    status, page = get(url, path)
    assert status == 404, path
    assert "Not found" in page and "Traceback" not in page


def test_the_dashboard_is_read_only(url: str) -> None:
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        assert get(url, "/", method=method)[0] == 405
    assert get(url, "/", method="HEAD") == (200, "")


def test_other_host_names_are_refused_on_loopback(url: str) -> None:
    """A page on another site renamed to this address (DNS rebinding) reads nothing."""
    assert get(url, "/", host="attacker.example:8321")[0] == 403
    port = urlsplit(url).port
    for host in (f"localhost:{port}", f"127.0.0.1:{port}", "localhost"):
        assert get(url, "/", host=host)[0] == 200


def test_a_run_in_progress_reloads_until_it_ends(tmp_path: Path) -> None:
    folder = make(tmp_path)
    running = start_fw("run", "waiting.yaml", "-o", "plain", cwd=folder)
    process = None
    try:
        assert running.stdout is not None
        for line in running.stdout:
            if "hold running" in line:
                break
        process, address = start_ui(folder)
        status, page = get(address, "/runs/latest")
        assert status == 200
        assert '<meta http-equiv="refresh" content="2">' in page
        assert '<span class="badge running" id="run-status">running</span>' in page
        assert 'http-equiv="refresh"' in get(address, "/")[1]
        assert 'http-equiv="refresh"' in get(address, "/runs/latest/logs/hold")[1]
        (folder / "release.flag").touch()
        running.communicate(timeout=60)
        status, page = get(address, "/runs/latest")
        assert 'http-equiv="refresh"' not in page
        assert '<span class="badge completed" id="run-status">completed</span>' in page
    finally:
        running.kill()
        running.wait(timeout=30)
        if process is not None:
            stop(process)


def test_sigterm_stops_it_cleanly_too(project: Path) -> None:
    process, _ = start_ui(project)
    try:
        code, err = stop(process, signal.SIGTERM)
        assert (code, err) == (0, "flowweaver ui: stopped\n")
    finally:
        process.kill()
        process.wait(timeout=30)


def test_a_non_loopback_address_is_warned_about(project: Path) -> None:
    process, address = start_ui(project, "--host", "0.0.0.0")
    try:
        assert address.startswith("http://0.0.0.0:")
        code, err = stop(process)
        assert code == 0
        assert err.startswith(
            "warning: serving on 0.0.0.0, not the loopback address: anyone who can reach it "
            "can read these runs"
        )
    finally:
        process.kill()
        process.wait(timeout=30)


def test_loopback_addresses_are_recognised() -> None:
    assert all(map(is_loopback, ("127.0.0.1", "127.3.4.5", "::1", "[::1]", "localhost")))
    assert not any(map(is_loopback, ("0.0.0.0", "::", "192.168.1.4", "example.org")))


def test_a_busy_port_is_a_one_line_error(project: Path, url: str) -> None:
    port = str(urlsplit(url).port)
    result = fw("ui", "--port", port, cwd=project)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: cannot listen on 127.0.0.1:{port}: ")
    assert "hint: --port picks another port" in result.stderr


def test_a_folder_with_no_history_is_an_error(tmp_path: Path) -> None:
    result = fw("ui", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith(f"error: no run history in {tmp_path.resolve()}")
    assert not (tmp_path / ".flowweaver").exists()
