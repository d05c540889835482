"""Browser tests: Playwright driving Debian's chromium (`scripts/ensure-chromium` installs it;
RETURNBRIDGE_CHROMIUM names another binary) against a whole gateway on loopback."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Playwright, expect, sync_playwright

CHROMIUM = os.environ.get("RETURNBRIDGE_CHROMIUM", "/usr/bin/chromium")

# Assertions wait for the page up to this long: a loaded 2-core machine running the suite in
# three processes can take seconds to answer; nothing here asserts how fast.
expect.set_options(timeout=20_000)


@pytest.fixture
def playwright(gateway: object) -> Iterator[Playwright]:
    """Per test, started after the gateway: Playwright's sync API runs an event loop in this
    thread, and DBOS refuses to launch beside a running loop."""
    with sync_playwright() as driver:
        yield driver


@pytest.fixture
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"no Chromium at {CHROMIUM}: run scripts/ensure-chromium (make test does)")
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
    yield chromium
    chromium.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where page screenshots go: RETURNBRIDGE_SCREENSHOTS (docs/screenshots via
    `make screenshots`), else the test's own directory."""
    wanted = os.environ.get("RETURNBRIDGE_SCREENSHOTS")
    target = Path(wanted) if wanted else tmp_path / "shots"
    target.mkdir(parents=True, exist_ok=True)
    return target
