"""A real browser for the tests: the system's Chromium, headless, driven by Playwright.

Playwright's own browser downloads are never used (``playwright install`` can't work
here): Playwright launches ``/usr/bin/chromium``, which ``make test`` installs from
Debian's packages when it is missing. Without it the browser tests fail, naming the
command that installs it: they are never skipped.

:class:`Guard` watches a page: every request must stay on the allowed origins (the
report's ``file://``, the dashboard's own loopback address), no dialog may open (a
script that ran would open one), and no console error may appear (a blocked inline
script or style is one).
"""

from __future__ import annotations

import base64
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CHROMIUM = Path("/usr/bin/chromium")
INSTALL = (
    "command -v chromium >/dev/null || "
    "(apt-get update && apt-get install -y chromium chromium-driver)"
)
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@contextlib.contextmanager
def chromium() -> Iterator[Browser]:
    """The system's Chromium, headless."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `{INSTALL}` (make test does, as root)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@dataclass
class Guard:
    """What a page did that it must not: requests elsewhere, dialogs, console errors."""

    allowed: tuple[str, ...]
    requests: list[str] = field(default_factory=list)
    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> Page:
        page.route("**/*", self._route)
        page.on("dialog", self._dialog)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(str(error)))
        return page

    def check(self) -> None:
        assert self.dialogs == [], f"a script ran: {self.dialogs}"
        assert self.requests == [], f"requests left the page: {self.requests}"
        assert self.errors == [], f"console errors: {self.errors}"

    def _route(self, route: Any) -> None:
        url = route.request.url
        if url.startswith(self.allowed):
            route.continue_()
        else:
            self.requests.append(url)
            route.abort()

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(f"{dialog.type}: {dialog.message}")
        dialog.dismiss()

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.errors.append(message.text)


def new_page(browser: Browser, guard: Guard, *, javascript: bool = True) -> Page:
    context = browser.new_context(
        java_script_enabled=javascript, viewport={"width": 1280, "height": 900}
    )
    return guard.watch(context.new_page())


def pixel_spread(browser: Browser, png: bytes) -> tuple[float, int]:
    """A PNG's luminance variance and how many colours it has, sampled on a grid (a
    blank page: 0 and 1). Chromium decodes it, in a blank page of its own."""
    page = browser.new_page()
    try:
        url = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
        variance, colours = page.evaluate(_SPREAD, url)
    finally:
        page.close()
    return float(variance), int(colours)


_SPREAD = """async (url) => {
  const image = new Image();
  image.src = url;
  await image.decode();
  const canvas = document.createElement("canvas");
  canvas.width = image.width;
  canvas.height = image.height;
  const context = canvas.getContext("2d");
  context.drawImage(image, 0, 0);
  const data = context.getImageData(0, 0, image.width, image.height).data;
  const values = [];
  const colours = new Set();
  const stepX = Math.max(1, Math.floor(image.width / 200));
  const stepY = Math.max(1, Math.floor(image.height / 200));
  for (let y = 0; y < image.height; y += stepY) {
    for (let x = 0; x < image.width; x += stepX) {
      const i = (y * image.width + x) * 4;
      values.push(0.299 * data[i] + 0.587 * data[i + 1] + 0.114 * data[i + 2]);
      colours.add((data[i] << 16) | (data[i + 1] << 8) | data[i + 2]);
    }
  }
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
  return [variance, colours.size];
}"""
