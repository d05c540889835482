"""The dashboard over plain HTTP (no browser): the admin key's tenant picker, the session's
expiry rules, the live-status endpoint, the security headers and the open-redirect guard."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from returnbridge.api.app import create_app
from returnbridge.cli.servers import BackgroundServer
from returnbridge.engine.runtime import close_runtime, open_runtime
from returnbridge.store.tenants import create_tenant
from support.gateway import gateway_settings

ADMIN = "admin-key-for-the-dashboard-test-0123456789"


@pytest.fixture
def site(db_url: str, tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    runtime = open_runtime(gateway_settings(db_url, tmp_path, admin_key=ADMIN))
    server = BackgroundServer(create_app(runtime)).start()
    keys = {}
    with runtime.sessions.begin() as session:
        for name in ("Alpha shop", "Beta shop"):
            tenant, key = create_tenant(session, name)
            keys[name] = key
            keys[f"{name} id"] = tenant.id
    yield server.url, keys
    server.stop()
    close_runtime()


def _csrf(page: str) -> str:
    marker = 'name="csrf" value="'
    start = page.index(marker) + len(marker)
    return page[start : page.index('"', start)]


def test_the_admin_picks_a_tenant_and_sees_only_that_one(site: tuple[str, dict[str, str]]) -> None:
    url, keys = site
    with httpx.Client(base_url=url, timeout=10) as browser:
        assert (
            browser.get("/dashboard/returns").headers["location"].startswith("/dashboard/sign-in")
        )
        signed = browser.post("/dashboard/sign-in", data={"key": ADMIN})
        assert (signed.status_code, signed.headers["location"]) == (303, "/dashboard/tenants")
        picker = browser.get("/dashboard/tenants")
        assert "Alpha shop" in picker.text
        assert "Beta shop" in picker.text
        assert browser.get("/dashboard/returns").headers["location"] == "/dashboard/tenants"
        token = _csrf(picker.text)
        refused = browser.post("/dashboard/tenants", data={"tenant_id": keys["Beta shop id"]})
        assert refused.status_code == 403
        chosen = browser.post(
            "/dashboard/tenants", data={"tenant_id": keys["Beta shop id"], "csrf": token}
        )
        assert chosen.status_code == 303
        page = browser.get("/dashboard/returns")
        assert page.status_code == 200
        assert "Beta shop" in page.text
        assert "(admin" in page.text
        csp = page.headers["content-security-policy"]
        assert "script-src 'self'" in csp
        assert "frame-ancestors 'none'" in csp
        assert page.headers["cache-control"] == "no-store"
        live = browser.get("/dashboard/returns/status", params={"ids": "ret_x,ret_y"})
        assert live.json() == {"statuses": {}}


def test_sessions_end_with_the_key_and_sign_in_goes_only_to_our_pages(
    site: tuple[str, dict[str, str]],
) -> None:
    url, keys = site
    with httpx.Client(base_url=url, timeout=10) as browser:
        away = browser.post(
            "/dashboard/sign-in",
            data={"key": keys["Alpha shop"], "next": "//evil.example/steal"},
        )
        assert away.headers["location"] == "/dashboard/returns"
        assert browser.get("/dashboard/returns").status_code == 200
        assert browser.get("/dashboard/returns/status").status_code == 200
        revoked = httpx.post(
            f"{url}/v1/tenants/{keys['Alpha shop id']}/api-key",
            headers={"Authorization": f"Bearer {ADMIN}"},
        )
        assert revoked.status_code == 200  # rotated: the old key no longer works
        assert browser.get("/dashboard/returns").status_code == 303
        assert browser.get("/dashboard/returns/status").status_code == 401
        bad = browser.post("/dashboard/sign-in", data={"key": keys["Alpha shop"]})
        assert bad.status_code == 401
        assert "not a tenant" in bad.text
