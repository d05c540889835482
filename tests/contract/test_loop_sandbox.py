"""The Loop sandbox over real HTTP: auth, versions, the minute budget, Return Create, actions
(with Loop's HTTP-200 refusals), asynchronous processing, signed webhooks (sent, dropped,
re-sent), the detailed list, programmatic webhooks and faults; answers validated against the
saved OpenAPI reconstruction (specs/loop/) where it defines them."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import jsonschema_rs
import pytest
import yaml

from returnbridge.sandbox.loop import BackgroundServer
from support.receiver import ReceivingServer

KEY = "k-acme"
API = "/api/2026-10"
SPECS = Path(__file__).resolve().parents[2] / "specs" / "loop"
START = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def _schemas() -> dict[str, Any]:
    spec = yaml.safe_load((SPECS / "loop-returns-returns-openapi.yml").read_text())
    components: dict[str, Any] = spec["components"]["schemas"]
    # Deliberate deviation, on Loop's documentation's word (research notes §1): return ids
    # are integers (the reconstruction types them as strings).
    for name in ("DetailedReturnList", "ReturnDetails"):
        components[name]["properties"]["id"] = {"type": ["integer", "string"]}
    return components


SCHEMAS = _schemas()


def valid(name: str, instance: Any) -> None:
    schema = {**SCHEMAS[name], "components": {"schemas": SCHEMAS}}
    jsonschema_rs.validator_for(schema).validate(instance)


def sign(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


class FakeClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def loop(clock: FakeClock) -> Iterator[httpx.Client]:
    with BackgroundServer(clock=clock) as server:
        client = httpx.Client(base_url=server.url, headers={"X-Authorization": KEY}, timeout=10)
        client.post(
            "/_sandbox/shops",
            json={"name": "acme", "api_key": KEY, "auto_process_seconds": None,
                  "unavailable_orders": ["#2"], "unavailable_zips": ["99999"]},
        ).raise_for_status()  # fmt: skip
        for number, zip_code in ((1, "10001"), (2, "10001"), (3, "99999")):
            client.post(
                "/_sandbox/shops/acme/orders",
                json={
                    "name": f"#{number}",
                    "provider_order_id": 5000 + number,
                    "email": "jane@example.com",
                    "zip": zip_code,
                    "phone": "+1 (555) 010-2000",
                    "line_items": [
                        {"id": 11, "sku": "MUG", "title": "Mug", "quantity": 3,
                         "price": "12.00", "tax": "1.55", "discount": "5.00"}
                    ],
                },
            ).raise_for_status()  # fmt: skip
        yield client
        client.close()


def _draft(loop: httpx.Client, name: str = "#1", secondary: str = "jane@example.com") -> Any:
    return loop.post(
        f"{API}/draft-returns",
        json={"order_name": name, "secondary_input": secondary, "is_gift": False},
    )


def _open(loop: httpx.Client, name: str = "#1", quantity: int = 3) -> dict[str, Any]:
    """Initialize, add the mug, submit, following the draft's templates."""
    draft = _draft(loop, name)
    assert draft.status_code == 201, draft.text
    add = draft.json()["_templates"]["add-returning-item"]
    added = loop.post(add["target"], json={"line_item_id": 11, "quantity": quantity})
    assert added.status_code == 200, added.text
    submitted = loop.post(added.json()["_templates"]["submit-draft-return"]["target"])
    return {"status": submitted.status_code, **submitted.json()}


def _opened(loop: httpx.Client, quantity: int = 3) -> int:
    return int(_open(loop, quantity=quantity)["draft_return"]["return_id"])


def _details(loop: httpx.Client, return_id: int) -> dict[str, Any]:
    answer = loop.get(f"{API}/warehouse/return/details", params={"return_id": return_id})
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    valid("ReturnDetails", body)
    return body


def _journal(loop: httpx.Client, operation: str) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = loop.get(
        "/_sandbox/journal", params={"operation": operation}
    ).json()
    return body


def _deliveries(loop: httpx.Client) -> list[dict[str, Any]]:
    body: list[dict[str, Any]] = loop.get("/_sandbox/shops/acme/webhook_deliveries").json()
    return body


def test_auth_versions_and_loops_error_bodies(loop: httpx.Client) -> None:
    for headers in ({"X-Authorization": "wrong"}, {"X-Authorization": ""}):
        refused = loop.get(f"{API}/warehouse/return/list", headers=headers)
        assert refused.status_code == 401
        assert refused.json() == {
            "error": {"code": "401", "http_code": "GEN-UNAUTHORIZED", "message": "Unauthorized."}
        }
    assert loop.get("/api/2019-01/draft-returns").json() == {"message": "Not Found"}
    assert loop.get("/api/2019-01/draft-returns").status_code == 404
    assert loop.get(f"{API}/no-such-thing").status_code == 404
    hal = {"Accept": "application/prs.hal-forms+json"}
    for version in ("2026-07", "v1"):
        assert loop.get(f"/api/{version}/draft-returns").status_code == 400  # Accept required
        assert loop.get(f"/api/{version}/draft-returns", headers=hal).status_code == 200
    entry = loop.get(f"{API}/draft-returns")
    assert entry.status_code == 200
    assert entry.headers["content-type"].startswith("application/prs.hal-forms+json")
    assert "initialize" in entry.json()["_templates"]
    assert [e["status"] for e in _journal(loop, "refused")][:2] == [401, 401]


def test_300_requests_a_minute_per_key_then_429(loop: httpx.Client, clock: FakeClock) -> None:
    with ThreadPoolExecutor(max_workers=30) as pool:  # loopback answers take ~45 ms here
        statuses = list(
            pool.map(lambda _: loop.get(f"{API}/draft-returns").status_code, range(300))
        )
    assert statuses == [200] * 300
    over = loop.get(f"{API}/draft-returns")
    assert (over.status_code, over.json()) == (429, {"message": "Too Many Attempts."})
    assert "retry-after" not in over.headers  # Loop documents none
    clock.now += 30
    assert loop.get(f"{API}/draft-returns").status_code == 429  # a sliding minute
    clock.now += 30
    assert loop.get(f"{API}/draft-returns").status_code == 200


def test_a_draft_is_initialized_filled_and_submitted_once(loop: httpx.Client) -> None:
    draft = _draft(loop).json()
    assert draft["draft_return"]["state"] == "created"
    assert draft["draft_return"]["return_id"] is None
    assert set(draft["_templates"]) == {"add-returning-item"}  # nothing to submit yet
    submit = f"{API}/draft-returns/{draft['draft_return']['id']}/submit"
    assert loop.post(submit).json()["errors"][0]["code"] == "no-returning-items"

    opened = _open(loop)
    assert opened["status"] == 200
    assert opened["draft_return"]["state"] == "submitted"
    assert opened["_templates"] == {}
    assert opened["draft_return"]["totals"]["return_total"] == {"amount": 3255, "currency": "USD"}
    return_id = opened["draft_return"]["return_id"]
    again = loop.post(opened["_links"]["self"]["href"] + "/submit")
    assert again.json()["draft_return"]["return_id"] == return_id  # no second return
    created = [e for e in _journal(loop, "submitDraftReturn") if e["effect"] == "return_created"]
    assert len(created) == 1

    details = _details(loop, return_id)
    assert (details["state"], details["refund"], details["order_name"]) == ("open", "0.00", "#1")
    assert (details["return_product_total"], details["return_discount_total"]) == (
        "36.00", "5.00"
    )  # fmt: skip
    assert (details["return_tax_total"], details["return_total"]) == ("1.55", "32.55")
    [line] = details["line_items"]
    assert (line["provider_line_item_id"], line["quantity"], line["price"]) == ("11", 3, "12.00")
    by_name = loop.get(f"{API}/warehouse/return/details", params={"order_name": "1"})
    assert by_name.json()["id"] == return_id


def test_drafts_are_refused_in_loops_words(loop: httpx.Client) -> None:
    for name in ("#2", "#3"):  # not covered: by order name, by postal code
        refused = _open(loop, name)
        assert refused["status"] == 422
        assert refused["errors"][0]["code"] == "returns-unavailable-for-order"
    assert _draft(loop, "#404").json()["errors"][0]["code"] == "order-not-found"
    wrong = _draft(loop, "#1", "x@example.com")
    assert (wrong.status_code, wrong.json()["errors"][0]["code"]) == (
        422, "secondary-input-mismatch"
    )  # fmt: skip
    for secondary in ("10001", "JANE@example.com", "15550102000"):
        assert _draft(loop, "#1", secondary).status_code == 201

    first = _opened(loop, quantity=2)
    draft = _draft(loop).json()
    target = draft["_templates"]["add-returning-item"]["target"]
    more = loop.post(target, json={"line_item_id": 11, "quantity": 2})
    assert (more.status_code, more.json()["errors"][0]["code"]) == (422, "quantity-unavailable")
    unknown = loop.post(target, json={"line_item_id": 12})
    assert unknown.json()["errors"][0]["code"] == "invalid-line-item"
    assert loop.post(f"{API}/warehouse/return/{first}/cancel").json() is True
    assert loop.post(target, json={"line_item_id": "11", "quantity": 3}).status_code == 200


def test_processing_is_asynchronous_and_reported_by_signed_webhooks(
    loop: httpx.Client, clock: FakeClock
) -> None:
    with ReceivingServer() as receiver:
        loop.post(
            "/_sandbox/shops/acme/webhooks", json={"url": receiver.url, "secret": "s3cret"}
        ).raise_for_status()
        return_id = _opened(loop)
        queued = loop.post(f"{API}/warehouse/return/{return_id}/process")
        assert (queued.status_code, queued.json()) == (200, True)
        assert loop.post(f"{API}/warehouse/return/{return_id}/process").json() is True
        assert _details(loop, return_id)["state"] == "open"  # queued, not done
        assert loop.post("/_sandbox/shops/acme/process_pending").json() == {"processed": 1}
        closed = _details(loop, return_id)
        assert (closed["state"], closed["refund"]) == ("closed", "32.55")

        again = loop.post(f"{API}/warehouse/return/{return_id}/process")
        assert again.status_code == 200  # Loop's refusal inside a 200
        valid("UnprocessableStateReturn", again.json())
        assert again.json() == {
            "errors": {
                "message": "Return is closed and therefore cannot be processed.",
                "code": "UNPROCESSABLE_RETURN",
            }
        }
        assert [e["effect"] for e in _journal(loop, "processReturn")] == [
            "processing_queued", "processing_queued", "refused_in_body"
        ]  # fmt: skip

        # the shop's delay on the sandbox clock completes a processing by itself
        loop.patch("/_sandbox/shops/acme", json={"auto_process_seconds": 5}).raise_for_status()
        later = _second_order_return(loop)
        loop.post(f"{API}/warehouse/return/{later}/process")
        assert _details(loop, later)["state"] == "open"
        clock.now += 5
        assert _details(loop, later)["state"] == "closed"

        deadline = time.monotonic() + 5
        while len(receiver.receiver.received()) < 4 and time.monotonic() < deadline:
            time.sleep(0.02)
        received = receiver.receiver.received()
        assert len(received) == 4
        for request in received:
            assert request.headers["x-loop-signature"] == sign("s3cret", request.body)
        bodies = [json.loads(r.body) for r in received]
        assert [b["trigger"] for b in bodies] == [
            "return.created", "return.closed", "return.created", "return.closed"
        ]  # fmt: skip
        assert {(b["topic"], b["id"]) for b in bodies[:2]} == {("return", return_id)}
        assert bodies[1]["refund"] == "32.55"
        assert all(d["status_code"] == 200 for d in _deliveries(loop))


def _second_order_return(loop: httpx.Client) -> int:
    loop.post(
        "/_sandbox/shops/acme/orders",
        json={"name": "#4", "provider_order_id": 5004, "email": "jo@example.com",
              "line_items": [{"id": 41, "quantity": 1, "price": "10.00"}]},
    ).raise_for_status()  # fmt: skip
    draft = _draft(loop, "#4", "jo@example.com").json()
    added = loop.post(
        draft["_templates"]["add-returning-item"]["target"], json={"line_item_id": 41}
    )
    return int(
        loop.post(added.json()["_templates"]["submit-draft-return"]["target"]).json()[
            "draft_return"
        ]["return_id"]
    )


def test_a_failed_processing_leaves_the_return_open(loop: httpx.Client) -> None:
    loop.post("/_sandbox/shops/acme/webhooks", json={"url": "http://127.0.0.1:9/", "secret": "s"})
    loop.post("/_sandbox/faults", json={"kind": "processing_failed", "operation": "processing"})
    return_id = _opened(loop)
    assert loop.post(f"{API}/warehouse/return/{return_id}/process").json() is True
    assert loop.post("/_sandbox/process_pending").json() == {"processed": 0}
    assert (_details(loop, return_id)["state"], _details(loop, return_id)["refund"]) == (
        "open", "0.00"
    )  # fmt: skip
    failed = _deliveries(loop)[-1]
    assert failed["trigger"] == "return.processing.failed"
    assert failed["body"]["topic"] == "return.processing"
    assert failed["body"]["message"] == "An error was encountered during processing."
    assert failed["signature"] == sign("s", failed["raw_body"].encode())
    loop.post(f"{API}/warehouse/return/{return_id}/process")
    assert loop.post("/_sandbox/process_pending").json() == {"processed": 1}


def test_close_cancel_flag_and_their_refusals(loop: httpx.Client) -> None:
    first, second, third = (_opened(loop, quantity=1) for _ in range(3))
    assert loop.post(f"{API}/warehouse/return/{first}/close").json() is True
    assert (_details(loop, first)["state"], _details(loop, first)["refund"]) == ("closed", "0.00")
    closed_again = loop.post(f"{API}/warehouse/return/{first}/close").json()
    valid("UnprocessableStateReturn", closed_again)
    assert closed_again["errors"]["code"] == "UNPROCESSABLE_RETURN"

    assert loop.post(f"{API}/warehouse/return/{second}/cancel").json() is True
    refused = loop.post(f"{API}/warehouse/return/{second}/process")
    assert refused.status_code == 200
    valid("UnprocessableCancelledReturn", refused.json())
    assert refused.json() == {"message": "Return is cancelled and therefore cannot be processed."}

    assert loop.post(f"{API}/warehouse/return/{third}/flag").json() is True
    in_review = loop.post(f"{API}/warehouse/return/{third}/process").json()
    valid("UnprocessableInReviewReturn", in_review)
    flagged = loop.post(f"{API}/warehouse/return/{third}/cancel").json()
    valid("FlaggedReturnCannotBeCancelled", flagged)
    assert flagged == {"content": "Return is flagged and cannot be processed."}

    loop.post(f"/_sandbox/shops/acme/returns/{first}/state", json={"state": "expired"})
    expired = loop.post(f"{API}/warehouse/return/{first}/cancel").json()
    valid("ExpiredReturnCannotBeCancelled", expired)
    assert expired == {"content": "Return is expired and cannot be processed."}
    assert loop.post(f"{API}/warehouse/return/999/close").status_code == 404
    triggers = [d["trigger"] for d in _deliveries(loop)]
    assert triggers == []  # no endpoint: nothing recorded


def test_notes(loop: httpx.Client) -> None:
    return_id = _opened(loop)
    none = loop.get(f"{API}/warehouse/return/{return_id}/notes")
    assert (none.status_code, none.json()) == (422, "false")
    for content in ("x" * 255, "", None):
        refused = loop.post(f"{API}/warehouse/return/{return_id}/note", json={"content": content})
        assert refused.status_code == 422
        valid("InvalidContentForNoteResponse", refused.json())
    added = loop.post(f"{API}/warehouse/return/{return_id}/note", json={"content": "x" * 254})
    assert (added.status_code, added.json()) == (200, "true")
    valid("SuccessMessage", added.json())
    notes = loop.get(f"{API}/warehouse/return/{return_id}/notes").json()["notes"]
    assert [n["content"] for n in notes] == ["x" * 254]
    for note in notes:
        valid("ReturnNote", note)
    assert _details(loop, return_id)["notes"][0]["content"] == "x" * 254


def test_the_detailed_list_filters_on_updated_at_and_pages(
    loop: httpx.Client, clock: FakeClock
) -> None:
    ids = [_opened(loop, quantity=1) for _ in range(3)]
    clock.now += 3600
    loop.post(f"{API}/warehouse/return/{ids[1]}/close")
    window = {"from": "2027-01-15T07:30:00Z", "to": "2027-01-15T08:30:00Z"}
    plain = loop.get(f"{API}/warehouse/return/list", params={**window, "filter": "created_at"})
    assert [r["id"] for r in plain.json()] == ids
    for row in plain.json():
        valid("DetailedReturnList", row)
    later = {"from": "2027-01-15T08:30:00.000Z", "to": "2027-01-15T09:30:00Z"}
    updated = loop.get(f"{API}/warehouse/return/list", params={**later, "filter": "updated_at"})
    assert [r["id"] for r in updated.json()] == [ids[1]]
    closed = loop.get(f"{API}/warehouse/return/list", params={**window, "state": "closed"})
    assert [r["id"] for r in closed.json()] == [ids[1]]

    pages: list[int] = []
    body = loop.get(
        f"{API}/warehouse/return/list", params={**window, "paginate": "true", "pageSize": "1"}
    ).json()
    assert body["previousPageUrl"] is None
    pages += [r["id"] for r in body["returns"]]
    while body["nextPageUrl"]:
        body = loop.get(body["nextPageUrl"]).json()
        pages += [r["id"] for r in body["returns"]]
    assert pages == ids
    back = loop.get(body["previousPageUrl"]).json()
    assert [r["id"] for r in back["returns"]] == [ids[1]]

    too_long = loop.get(
        f"{API}/warehouse/return/list",
        params={"from": "2026-01-01T00:00:00Z", "to": "2026-12-31T00:00:00Z"},
    )
    assert too_long.status_code == 422
    valid("InvalidToDate", too_long.json())
    bad_state = loop.get(f"{API}/warehouse/return/list", params={**window, "state": "done"})
    assert bad_state.status_code == 422
    valid("InvalidState", bad_state.json())


def test_a_dropped_webhook_is_recorded_unsent_and_can_be_resent(loop: httpx.Client) -> None:
    with ReceivingServer() as receiver:
        loop.post("/_sandbox/shops/acme/webhooks", json={"url": receiver.url, "secret": "k"})
        assert loop.post("/_sandbox/shops/acme/drop_webhooks", json={"count": 1}).json() == {
            "drop_webhooks": 1
        }
        return_id = _opened(loop)
        [dropped] = _deliveries(loop)
        assert (dropped["dropped"], dropped["return_id"], dropped["attempts"]) == (
            True, return_id, 0
        )  # fmt: skip
        time.sleep(0.2)
        assert receiver.receiver.received() == []
        loop.post(f"/_sandbox/shops/acme/webhook_deliveries/{dropped['id']}/resend")
        deadline = time.monotonic() + 5
        while not receiver.receiver.received() and time.monotonic() < deadline:
            time.sleep(0.02)
        [sent] = receiver.receiver.received()
        assert sent.body == dropped["raw_body"].encode()
        assert sent.headers["x-loop-signature"] == sign("k", sent.body)


def test_programmatic_webhooks(loop: httpx.Client) -> None:
    created = loop.post(
        f"{API}/webhooks",
        json={"topic": "return", "trigger": "return.closed", "url": "http://127.0.0.1:9/x",
              "status": "active"},
    )  # fmt: skip
    assert created.status_code == 200
    hook = created.json()
    assert (hook["trigger"], hook["status"]) == ("return.closed", "active")
    assert loop.get(f"{API}/webhooks").json()["webhooks"] == [hook]
    bad = loop.post(f"{API}/webhooks", json={"topic": "return", "trigger": "x", "url": "y"})
    assert bad.status_code == 422
    return_id = _opened(loop)
    loop.post(f"{API}/warehouse/return/{return_id}/close")
    [closed] = _deliveries(loop)  # return.created is not subscribed
    assert closed["trigger"] == "return.closed"
    assert closed["signature"] == sign("loop-webhook-secret", closed["raw_body"].encode())
    assert loop.delete(f"{API}/webhooks/{hook['id']}").status_code == 204
    assert loop.delete(f"{API}/webhooks/{hook['id']}").status_code == 404


def test_faults_hit_the_next_matching_calls(loop: httpx.Client) -> None:
    def fault(**seed: Any) -> None:
        loop.post("/_sandbox/faults", json=seed).raise_for_status()

    fault(kind="server_error", operation="getDetailedReturnsList")
    fault(kind="unavailable", operation="getDetailedReturnsList")
    fault(kind="rate_limit", operation="getDetailedReturnsList")
    window = {"from": "2027-01-15T07:30:00Z", "to": "2027-01-15T08:30:00Z"}
    statuses = [loop.get(f"{API}/warehouse/return/list", params=window).status_code for _ in "1234"]
    assert statuses == [500, 503, 429, 200]

    fault(kind="timeout_after_commit", operation="submitDraftReturn", delay=0.5)
    with pytest.raises(httpx.ReadTimeout):
        _submit_with_timeout(loop, 0.2)
    [created] = [e for e in _journal(loop, "submitDraftReturn") if e["effect"]]
    assert created["fault"] == "timeout_after_commit"

    fault(kind="reset", operation="processReturn")
    return_id = int(loop.get("/_sandbox/shops/acme/returns").json()[0]["id"])
    with pytest.raises(httpx.RemoteProtocolError):
        loop.post(f"{API}/warehouse/return/{return_id}/process")
    assert loop.get("/_sandbox/shops/acme/returns").json()[0]["processing_queued"] is False

    fault(kind="latency", operation="getReturnDetails", delay=0.3)
    began = time.monotonic()
    assert _details(loop, return_id)["state"] == "open"
    assert time.monotonic() - began >= 0.3
    refused = _journal(loop, "refused")
    assert [(e["attempted"], e["status"], e["fault"]) for e in refused] == [
        ("getDetailedReturnsList", 500, "server_error"),
        ("getDetailedReturnsList", 503, "unavailable"),
        ("getDetailedReturnsList", 429, "rate_limit"),
        ("processReturn", 0, "reset"),
    ]
    assert loop.get("/_sandbox/faults").json() == []


def _submit_with_timeout(loop: httpx.Client, timeout: float) -> None:
    draft = _draft(loop).json()
    added = loop.post(
        draft["_templates"]["add-returning-item"]["target"], json={"line_item_id": 11}
    ).json()
    loop.post(added["_templates"]["submit-draft-return"]["target"], timeout=timeout)


def test_reset_and_health(loop: httpx.Client) -> None:
    _opened(loop)
    assert loop.get("/health").json() == {"status": "ok"}
    assert loop.post("/_sandbox/reset").status_code == 204
    assert loop.get(f"{API}/draft-returns").status_code == 401  # the shop is gone
    assert loop.get("/_sandbox/journal").json()[-1]["status"] == 401
