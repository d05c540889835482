"""Signed push end to end: a real gateway on loopback, a vendor posting Standard Webhooks.

Deliveries go over HTTP to uvicorn, are verified, mapped, stored and run by the DBOS worker
against the Shopify sandbox. Tests about time use a second API face on the same runtime whose
clock the test holds (`push_clock` overridden), so nothing sleeps.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from returnbridge.api.app import create_app
from returnbridge.api.routes_push import push_clock
from returnbridge.api.signatures import new_secret
from returnbridge.cli.push_cmd import push_example, send_push
from returnbridge.cli.servers import BackgroundServer
from returnbridge.store.clock import SteppingClock
from support.gateway import RESTING, Gateway, simple_order

pytestmark = pytest.mark.timeout(180)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "mappings"


@dataclass
class Face:
    """An API server on the gateway's runtime whose push clock the test holds."""

    url: str
    clock: SteppingClock
    api: httpx.Client
    http: httpx.Client

    def now(self) -> datetime:
        return self.clock()


@pytest.fixture
def face(gateway: Gateway) -> Iterator[Face]:
    clock = SteppingClock(datetime.now(UTC).replace(microsecond=0), step=timedelta(0))
    app = create_app(gateway.runtime)
    app.dependency_overrides[push_clock] = lambda: clock
    server = BackgroundServer(app).start()
    api = httpx.Client(base_url=server.url, headers=dict(gateway.api.headers), timeout=30)
    http = httpx.Client(timeout=30)
    yield Face(server.url, clock, api, http)
    api.close()
    http.close()
    server.stop()


def canonical(external_id: str, order_id: int = 999999, **extra: Any) -> bytes:
    body: dict[str, Any] = {
        "external_id": external_id,
        "channel": "ticket",
        "order": {"platform_order_id": f"gid://shopify/Order/{order_id}"},
        "lines": [{"sku": "MUG-WHT", "quantity": 1}],
    }
    body.update(extra)
    return json.dumps(body).encode()


def create_source(api: httpx.Client, name: str = "helpdesk", **extra: Any) -> dict[str, Any]:
    created = api.post("/v1/push-sources", json={"name": name, **extra})
    assert created.status_code == 201, created.text
    body: dict[str, Any] = created.json()
    return body


def delivery_path(source: dict[str, Any]) -> str:
    return f"/v1/push-sources/{source['id']}/deliveries"


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["detail"]
    return body


def returns_of(api: httpx.Client) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = api.get("/v1/returns").json()["items"]
    return items


def test_signed_delivery_is_accepted_and_its_return_completes(gateway: Gateway) -> None:
    gateway.sandbox.seed_order(simple_order(3101))
    source = create_source(gateway.api)
    assert source["secret"].startswith("whsec_")
    public = gateway.runtime.settings.resolved_public_url
    assert source["delivery_url"] == f"{public}{delivery_path(source)}"

    with httpx.Client(base_url=gateway.server.url, timeout=30) as vendor:
        answer = send_push(
            vendor,
            delivery_path(source),
            canonical("TCK-PUSH-1", 3101, lines=[{"sku": "MUG-WHT", "quantity": 3}]),
            secret=source["secret"],
        )

    assert answer.status_code == 202, answer.text
    accepted = answer.json()
    assert accepted["duplicate"] is False
    assert accepted["return"]["source"] == "push"
    assert accepted["return"]["connection_id"] == gateway.connection_id
    assert answer.headers["location"] == accepted["url"]
    done = gateway.wait_for(accepted["return"]["id"])
    assert done["status"] == "completed"
    assert len(done["refunds"]) == 1
    assert len(gateway.sandbox.refunds_created()) == 1


def test_a_delivery_signed_by_the_reference_library_is_accepted(gateway: Gateway) -> None:
    source = create_source(gateway.api)
    body = canonical("TCK-REF-1")
    now = datetime.now(UTC)
    headers = {
        "webhook-id": "msg_reference_1",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(source["secret"]).sign("msg_reference_1", now, body.decode()),
        "content-type": "application/json",
    }

    answer = httpx.post(
        f"{gateway.server.url}{delivery_path(source)}", content=body, headers=headers, timeout=30
    )

    assert answer.status_code == 202, answer.text


def test_forged_deliveries_are_refused_and_store_nothing(face: Face) -> None:
    source = create_source(face.api)
    url = f"{face.url}{delivery_path(source)}"
    body = canonical("TCK-FORGED")

    wrong_secret = send_push(face.http, url, body, secret=new_secret(), at=face.now())
    unsigned = face.http.post(url, content=body, headers={"content-type": "application/json"})
    signed = send_push(face.http, url, body, secret=source["secret"], at=face.now())
    assert signed.status_code == 202, signed.text
    tampered = face.http.post(
        url,
        content=body.replace(b"TCK-FORGED", b"TCK-TAMPER"),
        headers={
            "webhook-id": "msg_tampered",
            "webhook-timestamp": signed.request.headers["webhook-timestamp"],
            "webhook-signature": signed.request.headers["webhook-signature"],
        },
    )

    assert assert_problem(wrong_secret, 401, "SIGNATURE_INVALID")
    assert assert_problem(unsigned, 401, "SIGNATURE_MISSING")
    assert assert_problem(tampered, 401, "SIGNATURE_INVALID")
    assert source["secret"] not in wrong_secret.text
    assert [r["external_id"] for r in returns_of(face.api)] == ["TCK-FORGED"]


def test_an_expired_delivery_is_refused(face: Face) -> None:
    source = create_source(face.api)
    url = f"{face.url}{delivery_path(source)}"
    signed_at = face.now()
    face.clock.advance(timedelta(minutes=5, seconds=1))

    late = send_push(face.http, url, canonical("TCK-LATE"), secret=source["secret"], at=signed_at)
    early = send_push(
        face.http,
        url,
        canonical("TCK-EARLY"),
        secret=source["secret"],
        at=face.now() + timedelta(minutes=5, seconds=1),
    )

    assert "expired" in assert_problem(late, 401, "SIGNATURE_EXPIRED")["detail"]
    assert_problem(early, 401, "SIGNATURE_EXPIRED")
    assert returns_of(face.api) == []


def test_a_source_may_narrow_the_timestamp_tolerance(face: Face) -> None:
    source = create_source(face.api, tolerance_seconds=30)
    url = f"{face.url}{delivery_path(source)}"
    signed_at = face.now()
    face.clock.advance(timedelta(seconds=31))

    late = send_push(face.http, url, canonical("TCK-31S"), secret=source["secret"], at=signed_at)

    assert "30 s" in assert_problem(late, 401, "SIGNATURE_EXPIRED")["detail"]


def test_a_replayed_delivery_is_refused_and_changes_nothing(db_gateway: Gateway) -> None:
    gateway = db_gateway
    source = create_source(gateway.api)
    url = f"{gateway.server.url}{delivery_path(source)}"
    body = canonical("TCK-REPLAY")
    with httpx.Client(timeout=30) as vendor:
        first = send_push(vendor, url, body, secret=source["secret"], webhook_id="msg_once")
        assert first.status_code == 202, first.text
        return_id = first.json()["return"]["id"]
        before = gateway.api.get(f"/v1/returns/{return_id}").json()

        replay = vendor.post(url, content=first.request.content, headers=first.request.headers)
        same_id_new_body = send_push(
            vendor, url, canonical("TCK-OTHER"), secret=source["secret"], webhook_id="msg_once"
        )

    refused = assert_problem(replay, 409, "DELIVERY_REPLAYED")
    assert refused["return_id"] == return_id
    assert_problem(same_id_new_body, 409, "DELIVERY_REPLAYED")
    assert [r["id"] for r in returns_of(gateway.api)] == [return_id]
    after = gateway.api.get(f"/v1/returns/{return_id}").json()
    assert after["revision"] == before["revision"]
    assert len(after["timeline"]) >= len(before["timeline"])
    assert not [e for e in after["timeline"] if "revision" in (e.get("reason") or "")]


def test_a_rotated_secret_overlaps_then_the_old_one_is_refused(face: Face) -> None:
    source = create_source(face.api)
    old = source["secret"]
    url = f"{face.url}{delivery_path(source)}"

    rotated = face.api.post(
        f"/v1/push-sources/{source['id']}/secrets/rotate", json={"overlap_seconds": 3600}
    )
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()["secret"]
    assert new != old
    listed = rotated.json()["secrets"]
    assert len(listed) == 2
    assert listed[0]["expires_at"] is not None
    assert listed[1]["expires_at"] is None

    during_old = send_push(face.http, url, canonical("TCK-OLD-1"), secret=old, at=face.now())
    during_new = send_push(face.http, url, canonical("TCK-NEW-1"), secret=new, at=face.now())
    assert during_old.status_code == 202, during_old.text
    assert during_new.status_code == 202, during_new.text

    face.clock.advance(timedelta(seconds=3600))
    after_old = send_push(face.http, url, canonical("TCK-OLD-2"), secret=old, at=face.now())
    after_new = send_push(face.http, url, canonical("TCK-NEW-2"), secret=new, at=face.now())

    assert_problem(after_old, 401, "SIGNATURE_INVALID")
    assert after_new.status_code == 202, after_new.text
    shown = face.api.get(f"/v1/push-sources/{source['id']}").json()
    assert [s["expires_at"] for s in shown["secrets"]] == [None]
    assert {r["external_id"] for r in returns_of(face.api)} == {
        "TCK-OLD-1",
        "TCK-NEW-1",
        "TCK-NEW-2",
    }


def test_rotation_keeps_the_old_secret_for_24_hours_by_default(face: Face) -> None:
    source = create_source(face.api)
    now = face.now()

    rotated = face.api.post(f"/v1/push-sources/{source['id']}/secrets/rotate")

    assert rotated.status_code == 200, rotated.text
    previous = rotated.json()["secrets"][0]
    assert datetime.fromisoformat(previous["expires_at"]) == now + timedelta(hours=24)


def test_secrets_are_shown_once_and_never_again(face: Face) -> None:
    source = create_source(face.api)
    rotated = face.api.post(f"/v1/push-sources/{source['id']}/secrets/rotate").json()

    shown = face.api.get(f"/v1/push-sources/{source['id']}").text
    listed = face.api.get("/v1/push-sources").text

    for secret in (source["secret"], rotated["secret"]):
        assert secret not in shown
        assert secret not in listed
        assert secret.removeprefix("whsec_") not in shown


def test_a_paused_source_refuses_deliveries_until_resumed(face: Face) -> None:
    source = create_source(face.api)
    url = f"{face.url}{delivery_path(source)}"
    paused = face.api.post(f"/v1/push-sources/{source['id']}/pause")
    assert paused.json()["status"] == "paused"

    refused = send_push(face.http, url, canonical("TCK-P"), secret=source["secret"], at=face.now())
    face.api.post(f"/v1/push-sources/{source['id']}/resume")
    accepted = send_push(face.http, url, canonical("TCK-P"), secret=source["secret"], at=face.now())

    assert_problem(refused, 403, "PUSH_SOURCE_PAUSED")
    assert accepted.status_code == 202, accepted.text


def test_an_unknown_source_is_404(face: Face) -> None:
    answer = send_push(
        face.http,
        f"{face.url}/v1/push-sources/src_nope/deliveries",
        canonical("TCK-X"),
        secret=new_secret(),
        at=face.now(),
    )
    assert_problem(answer, 404, "PUSH_SOURCE_NOT_FOUND")


def test_another_tenants_source_is_not_found_by_its_admin_routes(
    face: Face, gateway: Gateway
) -> None:
    source = create_source(face.api)
    admin_key = gateway.runtime.settings.resolved_admin_key
    with httpx.Client(
        base_url=face.url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=30
    ) as admin:
        other = admin.post("/v1/tenants", json={"name": "Globex"}).json()
    with httpx.Client(
        base_url=face.url, headers={"Authorization": f"Bearer {other['api_key']}"}, timeout=30
    ) as stranger:
        assert_problem(
            stranger.get(f"/v1/push-sources/{source['id']}"), 404, "PUSH_SOURCE_NOT_FOUND"
        )
        rotate = stranger.post(f"/v1/push-sources/{source['id']}/secrets/rotate")
        assert_problem(rotate, 404, "PUSH_SOURCE_NOT_FOUND")
        assert stranger.get("/v1/push-sources").json() == []


def test_a_mapped_delivery_becomes_a_canonical_return(face: Face, gateway: Gateway) -> None:
    mapping = (EXAMPLES / "social-message.yaml").read_text()
    source = create_source(face.api, "instagram", mapping=mapping)
    assert source["mapped"] is True
    payload = (EXAMPLES / "social-message.json").read_bytes()

    answer = send_push(
        face.http,
        f"{face.url}{delivery_path(source)}",
        payload,
        secret=source["secret"],
        at=face.now(),
    )

    assert answer.status_code == 202, answer.text
    stored = answer.json()["return"]
    assert stored["external_id"] == "instagram:aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3"
    assert stored["channel"] == "social"
    assert stored["order_reference"] == {"order_number": "#1004"}
    line = stored["return_request"]["lines"][0]
    assert (line["sku"], line["quantity"], line["reason"]) == (
        "SHIRT-LINEN-M",
        1,
        "customer message",
    )
    # The capture says "return": only requested, so it waits for a person.
    assert gateway.wait_for(stored["id"])["status"] == "needs_review"


def test_a_mapped_delivery_that_breaks_the_mapping_is_422_naming_the_field(face: Face) -> None:
    mapping = (EXAMPLES / "helpdesk-ticket.yaml").read_text()
    source = create_source(face.api, "zendesk", mapping=mapping)
    ticket = json.loads((EXAMPLES / "helpdesk-ticket.json").read_text())
    ticket["ticket"]["return_form"]["items"][0]["qty"] = "two"
    url = f"{face.url}{delivery_path(source)}"

    broken = send_push(
        face.http, url, json.dumps(ticket).encode(), secret=source["secret"], at=face.now()
    )
    good = send_push(
        face.http,
        url,
        (EXAMPLES / "helpdesk-ticket.json").read_bytes(),
        secret=source["secret"],
        at=face.now(),
    )

    refused = assert_problem(broken, 422, "MAPPING_FAILED")
    assert refused["field"] == "lines[0].quantity"
    assert "ticket.return_form.items[0].qty" in refused["detail"]
    assert good.status_code == 202, good.text
    assert good.json()["return"]["external_id"] == "35436"


def test_an_unmapped_delivery_that_is_not_a_return_is_422_naming_the_field(face: Face) -> None:
    source = create_source(face.api)
    body = json.dumps({"external_id": "TCK-BAD", "lines": [{"sku": "X", "quantity": 1}]})

    answer = send_push(
        face.http,
        f"{face.url}{delivery_path(source)}",
        body.encode(),
        secret=source["secret"],
        at=face.now(),
    )

    assert assert_problem(answer, 422, "VALIDATION_ERROR")["field"] == "order"


def test_a_source_with_an_invalid_mapping_is_refused_naming_the_mapping(face: Face) -> None:
    created = face.api.post(
        "/v1/push-sources", json={"name": "bad", "mapping": "name: x\nfields: {nope: a.b}"}
    )

    refused = assert_problem(created, 422, "INVALID_MAPPING")
    assert refused["field"] == "mapping"
    assert "nope" in refused["detail"]


def test_a_source_name_is_unique_per_tenant(face: Face) -> None:
    create_source(face.api, "twice")

    again = face.api.post("/v1/push-sources", json={"name": "twice"})

    assert_problem(again, 409, "SOURCE_NAME_TAKEN")


def test_a_tenant_with_push_sources_and_deliveries_can_be_deleted(
    face: Face, gateway: Gateway
) -> None:
    admin_key = gateway.runtime.settings.resolved_admin_key
    with httpx.Client(
        base_url=face.url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=30
    ) as admin:
        tenant = admin.post("/v1/tenants", json={"name": "Globex"}).json()
        connected = admin.post(
            f"/v1/tenants/{tenant['id']}/connections",
            json={
                "platform": "shopify",
                "name": "main",
                "base_url": gateway.sandbox.url,
                "credentials": {"access_token": "tok"},
            },
        )
        assert connected.status_code == 201, connected.text
        with httpx.Client(
            base_url=face.url, headers={"Authorization": f"Bearer {tenant['api_key']}"}, timeout=30
        ) as api:
            source = create_source(api)
            url = f"{face.url}{delivery_path(source)}"
            pushed = send_push(face.http, url, canonical("TCK-GONE"), secret=source["secret"])
            assert pushed.status_code == 202, pushed.text
            wait_until_resting(api, pushed.json()["return"]["id"])

        deleted = admin.delete(f"/v1/tenants/{tenant['id']}")

    assert deleted.status_code == 204, deleted.text
    gone = send_push(face.http, url, canonical("TCK-GONE-2"), secret=source["secret"])
    assert_problem(gone, 404, "PUSH_SOURCE_NOT_FOUND")


def wait_until_resting(api: httpx.Client, return_id: str) -> None:
    deadline = time.monotonic() + 60
    while api.get(f"/v1/returns/{return_id}").json()["status"] not in RESTING:
        assert time.monotonic() < deadline, f"return {return_id} never rested"
        time.sleep(0.05)


def test_push_example_creates_a_mapped_source_and_delivers_to_it(gateway: Gateway) -> None:
    answer = push_example(
        gateway.api,
        name="zendesk",
        mapping=(EXAMPLES / "helpdesk-ticket.yaml").read_text(),
        payload=(EXAMPLES / "helpdesk-ticket.json").read_bytes(),
    )

    assert answer.status_code == 202, answer.text
    stored = answer.json()["return"]
    assert (stored["external_id"], stored["channel"], stored["source"]) == (
        "35436",
        "ticket",
        "push",
    )
    assert stored["order_reference"]["order_number"] == "#1001"
