"""The dashboard in real Chromium: sign in, find a return, resolve one from the review queue
and watch it complete; approve a requested return and cancel another; refusals (wrong key,
missing CSRF token, a post from another site, another tenant's return); a phone-sized screen.
Each page is photographed (see conftest `shots`)."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect

from returnbridge.dashboard import queries
from returnbridge.store.tenants import create_tenant, rotate_api_key
from support.gateway import Gateway, Sandbox, simple_order

pytestmark = pytest.mark.timeout(180)


def _key(gateway: Gateway) -> str:
    return str(gateway.api.headers["Authorization"]).removeprefix("Bearer ")


def _seed(gateway: Gateway, sandbox: Sandbox) -> tuple[str, str]:
    """One return that completes and one parked on an ambiguous order; their ids."""
    sandbox.seed_order(simple_order(4001, email="kim@example.com"))
    sandbox.seed_order(simple_order(4002, email="kim@example.com"))
    sandbox.seed_order(simple_order(5001, email="ann@example.com"))
    plain = {
        "external_id": "TICKET-77",
        "channel": "ticket",
        "order": {"order_number": "#5001", "customer_email": "ann@example.com"},
        "lines": [{"sku": "MUG-WHT", "quantity": 1}],
    }
    ambiguous = {
        "external_id": "DM-1",
        "channel": "social",
        "order": {"customer_email": "kim@example.com"},
        "lines": [{"sku": "MUG-WHT", "quantity": 2}],
    }
    done = gateway.wait_for(gateway.post_return(plain).json()["return"]["id"])
    parked = gateway.wait_for(gateway.post_return(ambiguous).json()["return"]["id"])
    assert (done["status"], parked["status"]) == ("completed", "needs_review")
    return done["id"], parked["id"]


def _sign_in(page: Page, gateway: Gateway, key: str) -> None:
    page.goto(gateway.server.url + "/dashboard")
    expect(page).to_have_url(re.compile(r"/dashboard/sign-in"))
    page.get_by_label("Key").fill(key)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_find_a_return_resolve_it_from_the_queue_and_see_it_complete(
    gateway: Gateway, sandbox: Sandbox, browser: Browser, shots: Path
) -> None:
    done_id, parked_id = _seed(gateway, sandbox)
    page = browser.new_page(viewport={"width": 1280, "height": 860})
    page.goto(gateway.server.url + "/dashboard/sign-in")
    page.screenshot(path=str(shots / "sign-in.png"))
    _sign_in(page, gateway, _key(gateway))

    expect(page).to_have_url(re.compile(r"/dashboard/returns$"))
    rows = page.locator("#returns tbody tr")
    expect(rows).to_have_count(2)
    expect(page.get_by_role("img", name=re.compile("Returns per day"))).to_be_visible()
    page.screenshot(path=str(shots / "returns.png"), full_page=True)

    page.get_by_label("Search").fill("TICKET-77")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    page.get_by_role("link", name="TICKET-77").click()
    expect(page.locator("#status")).to_have_text("completed")
    expect(page.locator("table.breakdown tr.total")).to_contain_text("10.85 USD")
    expect(page.locator(".timeline")).to_contain_text("refunded")
    page.screenshot(path=str(shots / "return.png"), full_page=True)

    page.get_by_role("link", name="Review queue").click()
    item = page.locator(f"#r-{parked_id}")
    expect(item).to_contain_text("order ambiguous")
    expect(item.locator(f'[data-return="{parked_id}"]')).to_have_text("needs review")
    page.screenshot(path=str(shots / "review-queue.png"), full_page=True)
    item.get_by_label(re.compile(r"#4001")).check()
    item.get_by_role("button", name="Resolve").click()

    expect(page).to_have_url(re.compile(rf"/dashboard/returns/{parked_id}"))
    expect(page.get_by_role("status")).to_contain_text("resolved")
    expect(page.locator("#status")).to_have_text("completed", timeout=60_000)  # live refresh
    expect(page.locator(".timeline")).to_contain_text("order resolved")
    expect(page.locator(".timeline")).to_contain_text(re.compile(r"dashboard:tenant:"))
    assert len(sandbox.refunds_created()) == 2
    body = gateway.api.get(f"/v1/returns/{parked_id}").json()
    assert body["matched_order_id"] == "gid://shopify/Order/4001"

    pages = {"Connections": "connections", "Sources": "sources", "Emails & callbacks": "deliveries"}
    for link, name in pages.items():
        page.get_by_role("link", name=link).click()
        expect(page).to_have_url(re.compile(rf"/dashboard/{name}$"))
        page.screenshot(path=str(shots / f"{name}.png"), full_page=True)
    page.get_by_role("link", name="Connections").click()
    health = page.locator("table tbody tr").first
    expect(health).to_contain_text("shopify")
    expect(health).to_contain_text("cost points free")
    expect(health).to_contain_text("HTTP 200")
    expect(health.locator("td").nth(4)).to_have_text("2")  # its returns, from the database
    expect(health.locator("td").nth(5)).to_contain_text(sandbox.refunds_created()[-1]["refund_id"])
    page.goto(f"{gateway.server.url}/dashboard/returns/{done_id}")
    expect(page.locator("#status")).to_have_text("completed")


def test_wrong_keys_missing_tokens_and_other_tenants_are_refused(
    gateway: Gateway, sandbox: Sandbox, browser: Browser
) -> None:
    _done_id, parked_id = _seed(gateway, sandbox)
    page = browser.new_page()
    _sign_in(page, gateway, "rbk_not-a-key")
    expect(page.get_by_role("alert")).to_contain_text("not a tenant's API key")
    expect(page).to_have_url(re.compile(r"/dashboard/sign-in"))

    _sign_in(page, gateway, _key(gateway))
    expect(page).to_have_url(re.compile(r"/dashboard/returns"))
    cookie = next(c for c in page.context.cookies() if c["name"] == "rb_dashboard")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert _key(gateway) not in cookie["value"]

    # A form posted without the page's token (a cross-site request) does nothing.
    jar = {"rb_dashboard": cookie["value"]}
    cancel = f"{gateway.server.url}/dashboard/returns/{parked_id}/cancel"
    forged = httpx.post(cancel, cookies=jar, data={})
    assert forged.status_code == 403
    # Nor does one with the token that a browser says came from another site.
    token = page.locator("input[name=csrf]").first.get_attribute("value")
    assert token
    for headers in ({"Origin": "http://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        elsewhere = httpx.post(cancel, cookies=jar, data={"csrf": token}, headers=headers)
        assert elsewhere.status_code == 403
        assert "another site" in elsewhere.text
    assert gateway.api.get(f"/v1/returns/{parked_id}").json()["status"] == "needs_review"
    # The sign-in form (no session token yet) refuses another site's post too: no login CSRF.
    planted = httpx.post(
        f"{gateway.server.url}/dashboard/sign-in",
        data={"key": _key(gateway)},
        headers={"Origin": "http://evil.example"},
    )
    assert planted.status_code == 403
    assert "rb_dashboard" not in planted.cookies

    # Another tenant signed in sees none of Acme's returns.
    with gateway.runtime.sessions.begin() as session:
        _other, other_key = create_tenant(session, "Other shop")
    other = browser.new_page()
    _sign_in(other, gateway, other_key)
    expect(other.locator("#returns tbody")).to_contain_text("No returns match")
    other.goto(f"{gateway.server.url}/dashboard/returns/{parked_id}")
    expect(other.get_by_role("heading", name="Not found")).to_be_visible()

    # Words on our pages come from us: a made-up notice in a link is not shown.
    page.goto(f"{gateway.server.url}/dashboard/returns?flash=call-0800-scam&problem=x&done=y")
    expect(page.locator("#returns")).to_be_visible()
    expect(page.locator(".flash")).to_have_count(0)
    # An unknown address, too; the page's own files are still served.
    missing = page.goto(f"{gateway.server.url}/dashboard/no-such-page")
    assert missing is not None
    assert missing.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    css = page.request.get(f"{gateway.server.url}/dashboard/static/dashboard.css")
    assert css.ok
    assert "text/css" in css.headers["content-type"]
    page.goto(f"{gateway.server.url}/dashboard/")
    expect(page).to_have_url(re.compile(r"/dashboard/returns$"))
    # A malformed request answers a page in our words, not problem+json.
    page.goto(f"{gateway.server.url}/dashboard/returns?page=0")
    expect(page.get_by_role("heading", name="Not accepted")).to_be_visible()
    page.goto(f"{gateway.server.url}/dashboard/returns")

    # Signing out ends the session; so does rotating the key.
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/dashboard/sign-in"))
    page.goto(gateway.server.url + "/dashboard/returns")
    expect(page).to_have_url(re.compile(r"/dashboard/sign-in"))
    expect(other.locator("#returns")).to_have_count(0)  # (still on the 404 page)
    with gateway.runtime.sessions.begin() as session:
        rotate_api_key(session, _other.id)
    other.goto(gateway.server.url + "/dashboard/returns")
    expect(other).to_have_url(re.compile(r"/dashboard/sign-in"))


def test_the_dashboard_fits_a_phone(
    gateway: Gateway, sandbox: Sandbox, browser: Browser, shots: Path
) -> None:
    done_id, _parked_id = _seed(gateway, sandbox)
    phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    _sign_in(phone, gateway, _key(gateway))
    expect(phone.get_by_role("link", name="Review queue")).to_be_visible()
    expect(phone.locator("#returns tbody tr")).to_have_count(2)
    overflow = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1  # tables scroll inside their box, the page does not
    phone.screenshot(path=str(shots / "phone-returns.png"), full_page=True)
    phone.get_by_role("link", name="Review queue").click()
    expect(phone.get_by_role("button", name="Resolve")).to_be_visible()
    phone.screenshot(path=str(shots / "phone-review-queue.png"), full_page=True)
    for path in ("connections", "sources", "deliveries", f"returns/{done_id}"):
        phone.goto(f"{gateway.server.url}/dashboard/{path}")
        expect(phone.get_by_role("heading", level=1)).to_be_visible()
        sideways = phone.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert sideways <= 1, path


def test_approve_retry_and_a_queue_that_follows_a_decision_made_elsewhere(
    gateway: Gateway, sandbox: Sandbox, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    sandbox.seed_order(simple_order(6001, email="lee@example.com"))
    sandbox.seed_order(simple_order(4001, email="kim@example.com"))
    sandbox.seed_order(simple_order(4002, email="kim@example.com"))
    requested = {
        "external_id": "REQ-9",
        "channel": "email",
        "status": "requested",
        "order": {"order_number": "#6001", "customer_email": "lee@example.com"},
        "lines": [{"sku": "MUG-WHT", "quantity": 1}],
    }
    ambiguous = {
        "external_id": "DM-2",
        "channel": "social",
        "order": {"customer_email": "kim@example.com"},
        "lines": [{"sku": "MUG-WHT", "quantity": 1}],
    }
    unknown = {
        "external_id": "TEL-3",
        "channel": "phone",
        "order": {"order_number": "#7001"},
        "lines": [{"sku": "MUG-WHT", "quantity": 1}],
    }
    missing_id = gateway.wait_for(gateway.post_return(unknown).json()["return"]["id"])["id"]
    waiting_id = gateway.wait_for(gateway.post_return(requested).json()["return"]["id"])["id"]
    parked_id = gateway.wait_for(gateway.post_return(ambiguous).json()["return"]["id"])["id"]
    page = browser.new_page()
    _sign_in(page, gateway, _key(gateway))

    # Pages of returns, newest first (one a page here), the filters kept from page to page.
    monkeypatch.setattr(queries, "PAGE", 1)
    page.goto(gateway.server.url + "/dashboard/returns?status=needs_review")
    rows = page.locator("#returns tbody tr")
    expect(rows).to_contain_text("DM-2")
    page.get_by_role("link", name="Older").click()
    expect(rows).to_contain_text("REQ-9")
    page.get_by_role("link", name="Older").click()
    expect(rows).to_contain_text("TEL-3")
    expect(page.get_by_role("link", name="Older")).to_have_count(0)
    expect(page.locator("select[name=status]")).to_have_value("needs_review")
    monkeypatch.undo()

    # The search reads the order reference the vendor sent, not only matched orders.
    page.goto(gateway.server.url + "/dashboard/returns")
    page.get_by_label("Search").fill("KIM@example")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_have_count(1)
    expect(rows).to_contain_text("DM-2")
    page.locator("select[name=status]").select_option("completed")
    page.get_by_role("button", name="Filter").click()
    expect(rows).to_contain_text("No returns match")

    page.get_by_role("link", name="Review queue").click()
    expect(page.locator("h1 .count")).to_have_text("3")
    item = page.locator(f"#r-{waiting_id}")
    expect(item).to_contain_text("awaiting approval")
    expect(item.get_by_role("button", name="Resolve")).to_have_count(0)
    item.get_by_role("button", name="Approve").click()
    expect(page).to_have_url(re.compile(rf"/dashboard/returns/{waiting_id}"))
    expect(page.locator("#status")).to_have_text("completed", timeout=60_000)  # live refresh
    expect(page.locator(".timeline")).to_contain_text("approved")

    # Not found until the order exists; then a retry takes it through.
    page.get_by_role("link", name="Review queue").click()
    expect(page.locator(f"#r-{missing_id}")).to_contain_text("order not found")
    sandbox.seed_order(simple_order(7001, email="max@example.com"))
    page.locator(f"#r-{missing_id}").get_by_role("button", name="Retry").click()
    expect(page.get_by_role("status")).to_contain_text("again")
    expect(page.locator("#status")).to_have_text("completed", timeout=60_000)
    expect(page.locator(".timeline")).to_contain_text("retry requested")

    page.get_by_role("link", name="Review queue").click()
    expect(page.locator("h1 .count")).to_have_text("1")
    # Decided elsewhere (the API) while the queue is open: the queue shows it by itself.
    elsewhere = gateway.api.post(f"/v1/returns/{parked_id}/resolve", json={"order": "#4002"})
    assert elsewhere.status_code == 202, elsewhere.text
    badge = page.locator(f'#r-{parked_id} [data-return="{parked_id}"]')
    expect(badge).to_have_text("completed", timeout=60_000)
    # Its buttons are stale now: the engine refuses, the page says why in our words.
    page.locator(f"#r-{parked_id}").get_by_role("button", name="Cancel return").click()
    expect(page.get_by_role("alert")).to_contain_text("needs_review")
    expect(page.locator("#status")).to_have_text("completed")
    page.get_by_role("link", name="Review queue").click()
    expect(page.get_by_text("Nothing is waiting for a decision.")).to_be_visible()

    assert len(sandbox.refunds_created()) == 3
    approved = gateway.api.get(f"/v1/returns/{waiting_id}").json()
    assert approved["matched_order_id"] == "gid://shopify/Order/6001"
    assert gateway.api.get(f"/v1/returns/{parked_id}").json()["status"] == "completed"


def test_the_admin_opens_a_tenant_decides_as_admin_and_a_new_admin_key_ends_it(
    gateway: Gateway, sandbox: Sandbox, browser: Browser, monkeypatch: pytest.MonkeyPatch
) -> None:
    _done_id, parked_id = _seed(gateway, sandbox)
    settings = gateway.runtime.settings
    page = browser.new_page()
    _sign_in(page, gateway, settings.resolved_admin_key)
    expect(page).to_have_url(re.compile(r"/dashboard/tenants$"))
    expect(page.get_by_role("link", name="Review queue")).to_have_count(0)  # no tenant yet
    page.locator("tr", has_text=gateway.tenant_id).get_by_role("button", name="Open").click()
    expect(page).to_have_url(re.compile(r"/dashboard/returns$"))
    expect(page.locator(".who")).to_contain_text("Acme (admin")
    expect(page.locator("#returns tbody tr")).to_have_count(2)

    page.goto(f"{gateway.server.url}/dashboard/returns/{parked_id}")
    page.get_by_role("button", name="Cancel return").click()
    expect(page.locator("#status")).to_have_text("cancelled")
    expect(page.locator(".timeline")).to_contain_text("dashboard:admin")
    assert len(sandbox.refunds_created()) == 1  # the completed return's, none for the cancelled

    # Another admin key (the old one leaked, say) ends the admin's sessions.
    monkeypatch.setitem(settings.__dict__, "resolved_admin_key", "another-admin-key-" + "x" * 30)
    page.goto(f"{gateway.server.url}/dashboard/returns")
    expect(page).to_have_url(re.compile(r"/dashboard/sign-in"))
