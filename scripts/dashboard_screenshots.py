"""Photograph every dashboard page against the demo: `make screenshots` (or
`.venv/bin/python scripts/dashboard_screenshots.py [OUT_DIR]`, default docs/screenshots).

Starts `returnbridge demo` on free ports in a scratch data dir, waits for its returns to
settle, signs in with the Shopify demo tenant's key in Chromium (Playwright, Debian's
chromium or RETURNBRIDGE_CHROMIUM) and saves a desktop and a phone view of each page.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from playwright.sync_api import Page, sync_playwright

from returnbridge.cli.servers import free_port, free_ports

CHROMIUM = os.environ.get("RETURNBRIDGE_CHROMIUM", "/usr/bin/chromium")
PAGES = {
    "returns": "/dashboard/returns",
    "review-queue": "/dashboard/review",
    "connections": "/dashboard/connections",
    "sources": "/dashboard/sources",
    "deliveries": "/dashboard/deliveries",
}


def start_demo(data_dir: Path) -> tuple[subprocess.Popen[str], str, str]:
    """The serving demo, its gateway URL and the Shopify tenant's key (from its output)."""
    command = [
        *(sys.executable, "-m", "returnbridge.cli.main", "demo"),
        *("--data-dir", str(data_dir), "--port", str(free_port())),
        *("--sandbox-port", str(free_ports(5))),
    ]
    env = {**os.environ, "COLUMNS": "200"}
    demo = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=env)  # noqa: S603 - our own CLI
    assert demo.stdout is not None
    deadline = time.monotonic() + 300
    for line in demo.stdout:
        print(line, end="", file=sys.stderr)
        found = re.search(r"Bearer (rbk_\S+)' (http://\S+)/v1/returns", line)
        if found:
            return demo, found.group(2), found.group(1)
        if time.monotonic() > deadline:
            break
    demo.terminate()
    raise SystemExit("the demo did not print its gateway URL and key")


def sign_in(page: Page, url: str, key: str) -> None:
    page.goto(url + "/dashboard/sign-in")
    page.get_by_label("Key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r"/dashboard/returns"))


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "docs/screenshots")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        demo, url, key = start_demo(Path(scratch) / "demo")
        try:
            with sync_playwright() as driver:
                browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
                desk = browser.new_page(viewport={"width": 1280, "height": 860})
                desk.goto(url + "/dashboard/sign-in")
                desk.screenshot(path=str(out / "sign-in.png"))
                sign_in(desk, url, key)
                for name, path in PAGES.items():
                    desk.goto(url + path)
                    # the long logs: the first screenful is enough to show them
                    whole = name not in ("deliveries",)
                    desk.screenshot(path=str(out / f"{name}.png"), full_page=whole)
                # the demo's restocking-fee return: items, tax, shipping, a fee, tenders
                desk.goto(url + "/dashboard/returns?q=TCK-1010")
                desk.locator("#returns tbody a").first.click()
                desk.screenshot(path=str(out / "return.png"), full_page=True)
                phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
                sign_in(phone, url, key)
                phone.screenshot(path=str(out / "phone-returns.png"), full_page=True)
                phone.goto(url + "/dashboard/review")
                phone.screenshot(path=str(out / "phone-review-queue.png"), full_page=True)
                browser.close()
        finally:
            demo.terminate()
            demo.wait(timeout=30)
    print(f"screenshots in {out}: {', '.join(sorted(p.name for p in out.glob('*.png')))}")


if __name__ == "__main__":
    main()
