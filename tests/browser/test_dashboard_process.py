"""The dashboard served by a real `returnbridge up` child process (SQLite, the Shopify
sandbox) in Chromium: a return parked on an ambiguous order is resolved from the review queue
and its page turns `completed` by itself; after the gateway restarts, the session still
holds (it is signed, not kept in memory) and the connections page still shows the refund made
before, from the database, while the per-process figures start again."""

from __future__ import annotations

import os
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from returnbridge.cli.servers import free_port
from support.gateway import Sandbox, simple_order
from support.processes import ServerProcess, process_env, seed_database, wait_until

pytestmark = pytest.mark.timeout(240)

CHROMIUM = os.environ.get("RETURNBRIDGE_CHROMIUM", "/usr/bin/chromium")


def test_a_gateway_process_serves_the_queue_and_remembers_refunds_across_a_restart(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    if not Path(CHROMIUM).is_file():
        pytest.fail(f"no Chromium at {CHROMIUM}: run scripts/ensure-chromium (make test does)")
    db_url = f"sqlite:///{tmp_path / 'rb.db'}"
    secret, api_key = seed_database(db_url, sandbox)
    sandbox.seed_order(simple_order(9001, email="noa@example.com"))
    sandbox.seed_order(simple_order(9002, email="noa@example.com"))
    env = process_env(db_url, tmp_path, secret_key=secret)
    port = free_port()
    gateway = ServerProcess("up", port=port, env=env, log=tmp_path / "gateway.log")
    gateway.start()
    try:
        with httpx.Client(
            base_url=gateway.url, headers={"Authorization": f"Bearer {api_key}"}, timeout=10
        ) as api:
            posted = api.post(
                "/v1/returns",
                json={
                    "external_id": "CHAT-90",
                    "channel": "chat",
                    "order": {"customer_email": "noa@example.com"},
                    "lines": [{"sku": "MUG-WHT", "quantity": 1}],
                },
            )
            assert posted.status_code == 202, posted.text
            return_id = posted.json()["return"]["id"]
            wait_until(
                lambda: api.get(f"/v1/returns/{return_id}").json()["status"] == "needs_review",
                timeout=60,
                what="the return to wait for review",
            )

        with sync_playwright() as driver:
            browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
            page = browser.new_page()
            page.goto(gateway.url + "/dashboard/sign-in")
            page.get_by_label("Key").fill(api_key)
            page.get_by_role("button", name="Sign in").click()
            expect(page).to_have_url(re.compile(r"/dashboard/returns$"))
            expect(page.locator(f'[data-return="{return_id}"]')).to_have_text("needs review")

            page.get_by_role("link", name="Review queue").click()
            item = page.locator(f"#r-{return_id}")
            item.get_by_label(re.compile(r"#9002")).check()
            item.get_by_role("button", name="Resolve").click()
            expect(page.locator("#status")).to_have_text("completed", timeout=60_000)
            refund_id = sandbox.refunds_created()[0]["refund_id"]
            page.get_by_role("link", name="Connections").click()
            row = page.locator("#connections tbody tr").first
            expect(row).to_contain_text("HTTP 200")
            expect(row).to_contain_text(refund_id)

            gateway.stop()
            gateway = ServerProcess("up", port=port, env=env, log=tmp_path / "gateway.log")
            gateway.start()
            page.reload()
            expect(page).to_have_url(re.compile(r"/dashboard/connections$"))  # still signed in
            expect(row).to_contain_text("none since start")
            expect(row).to_contain_text(refund_id)
            expect(row.locator("td").nth(4)).to_have_text("1")
            browser.close()
        assert len(sandbox.refunds_created()) == 1
    finally:
        gateway.stop()
