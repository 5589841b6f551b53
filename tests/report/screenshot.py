"""Make the report screenshot the documentation shows: ``python tests/report/screenshot.py
docs/report.png`` (``make test`` must have installed Chromium and the dev packages).

It records four nightly runs of a small order pipeline with ``flowweaver run`` in a
temporary folder — the last one slower in one task, retrying another, and failing to
publish — writes that run's report, and has headless Chromium take a picture of the
top of the page. The browser tests make the same picture and check it is not blank.
"""

from __future__ import annotations

import sys
import tempfile
import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

TESTS = Path(__file__).resolve().parents[1]
if str(TESTS) not in sys.path:
    sys.path.insert(0, str(TESTS))

from _browser import chromium  # noqa: E402
from _cli import fw  # noqa: E402

if TYPE_CHECKING:
    from playwright.sync_api import Page

WIDTH, HEIGHT = 1280, 1180

MODULE = """
import time

def nap(seconds):
    time.sleep(float(seconds))

def extract_orders(day):
    nap(0.30)
    return 1200

def extract_customers():
    nap(0.22)
    return 310

def validate():
    nap(0.12)

def join(slow):
    nap(0.55 if slow else 0.20)

def by_region():
    nap(0.15)

def top_products():
    nap(0.20)

_attempts = []

def load_warehouse():
    _attempts.append(1)
    nap(0.12)
    if len(_attempts) == 1:
        raise ConnectionResetError("warehouse: connection reset by peer")
    nap(0.10)

def build_report():
    nap(0.12)

def publish(fail):
    nap(0.08)
    if fail:
        raise RuntimeError("dashboards.internal answered 503 Service Unavailable")

def notify():
    pass
"""

SPEC = """
name: nightly-orders
description: The day's orders into the warehouse, and the morning dashboard
params: {day: "2026-11-26", slow_join: 0, fail_publish: 0}
tasks:
  extract-orders: {call: nightly:extract_orders, kwargs: {day: "${params.day}"}}
  extract-customers: {call: nightly:extract_customers}
  validate: {call: nightly:validate, depends_on: [extract-orders]}
  join:
    call: nightly:join
    depends_on: [validate, extract-customers]
    kwargs: {slow: "${params.slow_join}"}
  by-region: {call: nightly:by_region, depends_on: [join]}
  top-products: {call: nightly:top_products, depends_on: [join]}
  load-warehouse:
    call: nightly:load_warehouse
    depends_on: [join]
    retries: 2
    retry_delay: 0.15
  build-report: {call: nightly:build_report, depends_on: [by-region, top-products]}
  publish:
    call: nightly:publish
    depends_on: [build-report, load-warehouse]
    kwargs: {fail: "${params.fail_publish}"}
  notify: {call: nightly:notify, depends_on: [publish]}
"""


def record_runs(folder: Path) -> str:
    """Four runs of the pipeline in ``folder``; the id of the last one (it failed)."""
    (folder / "nightly.py").write_text(textwrap.dedent(MODULE), encoding="utf-8")
    (folder / "nightly.yaml").write_text(textwrap.dedent(SPEC), encoding="utf-8")
    for night in range(3):
        day = f"--param=day=2026-11-2{3 + night}"
        done = fw("run", "nightly.yaml", "-o", "plain", day, cwd=folder)
        assert done.returncode == 0, done.stderr
    last = ("--param=day=2026-11-26", "--param=slow_join=1", "--param=fail_publish=1")
    failed = fw("run", "nightly.yaml", "-o", "plain", *last, cwd=folder)
    assert failed.returncode == 1, failed.stderr
    return fw("runs", "--limit", "1", cwd=folder).stdout.splitlines()[1].split()[0]


def write_report(folder: Path) -> Path:
    """The report of the last of :func:`record_runs`' runs, in ``folder``."""
    run_id = record_runs(folder)
    done = fw("report", run_id, "-o", "report.html", cwd=folder)
    assert done.returncode == 0, done.stderr
    return folder / "report.html"


def take(page: Page, report: Path, out: Path) -> bytes:
    """Open ``report`` in ``page`` and save the top of it as ``out`` (PNG)."""
    page.set_viewport_size({"width": WIDTH, "height": HEIGHT})
    page.goto(report.as_uri())
    return page.screenshot(path=str(out))


def main(argv: list[str]) -> int:
    out = Path(argv[1] if len(argv) > 1 else "report.png").resolve()
    with tempfile.TemporaryDirectory() as folder:
        report = write_report(Path(folder))
        with chromium() as browser:
            take(browser.new_page(), report, out)
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
