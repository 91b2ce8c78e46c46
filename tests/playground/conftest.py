"""Browser tests of the playground: Debian's chromium driven by Playwright for Python, against the local host
(a real process) serving a sample or a test app, with the scripted OpenAI server as the model.

Playwright's own browser download is never used (``playwright install`` is not run): the browser is the system
one, launched by path. Each test gets a fresh browser context (its own storage), so tests do not see each
other's sessionStorage. Under ``CI=true`` a missing chromium or Playwright fails the tests instead of skipping.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.servers.model_fixtures import model, script

__all__ = ["model", "script"]

CHROMIUM = "/usr/bin/chromium"  # Debian's package
ROOT = Path(__file__).resolve().parents[2]
AXE = Path(__file__).parent / "node" / "node_modules" / "axe-core" / "axe.min.js"
#: Where the README's screenshots live; the tests that take them write there only when asked with
#: ``pytest tests/playground --screenshots`` (otherwise into the test's temporary folder), so a test run does
#: not leave the checkout changed.
IMAGES = ROOT / "docs" / "images"
# Flags for a headless system chromium in a container with no network beyond loopback.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage", "--no-proxy-server"]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--screenshots", action="store_true", default=False,
                     help="playground tests: save the README's screenshots into docs/images")


@pytest.fixture
def screenshot(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    """``screenshot(page, name)`` saves ``name`` (docs/images with ``--screenshots``) and returns its path."""
    folder = IMAGES if request.config.getoption("screenshots", default=False) else tmp_path

    def take(page: Any, name: str) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / name
        page.screenshot(path=str(path))
        assert path.stat().st_size > 10_000, "the screenshot is empty"
        return path

    return take


def missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the browser tests must run; scripts/test.sh installs it)")
    pytest.skip(reason)


@pytest.fixture(scope="package")
def browser() -> Iterator[Any]:
    """The system chromium, for the tests of this package only: Playwright's sync API runs an event loop on the
    main thread while it is open, which would make every later ``asyncio.run`` in the session fail. ``launch``
    gives it a fresh temporary profile (user-data-dir) of Playwright's own, removed when the browser closes
    (Playwright refuses an explicit ``--user-data-dir`` here)."""
    if not Path(CHROMIUM).exists():
        missing(f"{CHROMIUM} is not installed (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ModuleNotFoundError:
        missing("Playwright for Python is not installed (pip install playwright)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                             args=CHROMIUM_ARGS, timeout=60_000)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1200, "height": 820})
    context.set_default_timeout(20_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # Script errors and console errors (a Content-Security-Policy violation is one) fail the test; the
    # browser's own note on an HTTP error answer is not one: tests provoke those on purpose.
    page.on("console", lambda message: errors.append(message.text) if message.type == "error"
            and not message.text.startswith("Failed to load resource") else None)
    yield page
    context.close()
    assert not errors, f"the page reported errors: {errors}"


