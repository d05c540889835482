"""The HTTP API end to end: a real gateway on loopback (uvicorn, DBOS worker, real database).

Tests where the database matters (listing, filters, pagination, tenant isolation) run on SQLite
and PostgreSQL; the others run on a SQLite file only, to keep the run short. Every error answer
is checked to be a complete problem+json document.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

import httpx
import pytest
from sqlalchemy import create_engine

from returnbridge.api.app import create_app
from returnbridge.cli.servers import BackgroundServer
from returnbridge.settings import Settings
from support.gateway import Gateway, simple_order

if TYPE_CHECKING:
    from returnbridge.engine.runtime import Runtime

pytestmark = pytest.mark.timeout(180)

PROBLEM_FIELDS = {"type", "title", "status", "code", "detail"}


@pytest.fixture
def admin(gateway: Gateway) -> Iterator[httpx.Client]:
    with _admin_client(gateway) as client:
        yield client


def _admin_client(gateway: Gateway) -> httpx.Client:
    key = gateway.runtime.settings.resolved_admin_key
    return httpx.Client(
        base_url=gateway.server.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    )


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The response is a complete problem+json document with this status and code."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body.keys() >= PROBLEM_FIELDS, body
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"].startswith("https://")
    assert body["title"]
    assert body["detail"]
    return body


def event(external_id: str = "TCK-1", **extra: Any) -> dict[str, Any]:
    """A valid return event for an order the sandbox does not know (it ends in review)."""
    body: dict[str, Any] = {
        "external_id": external_id,
        "channel": "ticket",
        "order": {"platform_order_id": "gid://shopify/Order/999999"},
        "lines": [{"sku": "MUG-WHT", "quantity": 1}],
    }
    body.update(extra)
    return body


def second_tenant(gateway: Gateway, *, name: str = "Globex") -> tuple[str, httpx.Client]:
    """A tenant made through the admin API, with one connection; its id and an API client."""
    with _admin_client(gateway) as admin:
        created = admin.post("/v1/tenants", json={"name": name})
        assert created.status_code == 201, created.text
        tenant = created.json()
        connection = admin.post(
            f"/v1/tenants/{tenant['id']}/connections",
            json={
                "platform": "shopify",
                "name": "main",
                "base_url": gateway.sandbox.url,
                "credentials": {"access_token": gateway.sandbox.token},
            },
        )
        assert connection.status_code == 201, connection.text
    client = httpx.Client(
        base_url=gateway.server.url,
        headers={"Authorization": f"Bearer {tenant['api_key']}"},
        timeout=30,
    )
    return tenant["id"], client


def list_ids(gateway: Gateway, **params: Any) -> list[str]:
    response = gateway.api.get("/v1/returns", params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def post_ok(gateway: Gateway, body: dict[str, Any]) -> str:
    response = gateway.post_return(body)
    assert response.status_code == 202, response.text
    return str(response.json()["return"]["id"])


# --- create and read -------------------------------------------------------------------------


def test_post_return_answers_202_with_return_url_and_location(gateway: Gateway) -> None:
    response = gateway.post_return(event("TCK-100"))

    assert response.status_code == 202, response.text
    body = response.json()
    assert body["duplicate"] is False
    created = body["return"]
    assert created["external_id"] == "TCK-100"
    assert created["revision"] == 1
    assert created["channel"] == "ticket"
    assert created["source"] == "api"
    assert created["connection_id"] == gateway.connection_id
    assert created["order_reference"] == {"platform_order_id": "gid://shopify/Order/999999"}
    assert created["return_request"]["lines"][0]["sku"] == "MUG-WHT"
    public_url = gateway.runtime.settings.resolved_public_url
    assert body["url"] == f"{public_url}/v1/returns/{created['id']}"
    assert created["url"] == body["url"]
    assert response.headers["location"] == body["url"]


def test_get_return_url_answers_it_with_timeline_and_refunds(gateway: Gateway) -> None:
    gateway.sandbox.seed_order(simple_order(3001))
    posted = gateway.post_return(
        event(
            "TCK-101",
            order={"platform_order_id": "gid://shopify/Order/3001"},
            lines=[{"sku": "MUG-WHT", "quantity": 3}],
        )
    ).json()
    gateway.wait_for(posted["return"]["id"])

    public_url = gateway.runtime.settings.resolved_public_url
    response = gateway.api.get(posted["url"].removeprefix(public_url))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["id"] == posted["return"]["id"]
    assert body["status"] == "completed"
    assert body["timeline"][0]["to_status"] == "received"
    assert body["timeline"][-1]["to_status"] == "completed"
    assert len(body["refunds"]) == 1
    refund = body["refunds"][0]
    assert refund["status"] == "succeeded"
    assert refund["amount"] == body["refund_total"]
    assert refund["amount"]["currency"] == "USD"


def test_get_unknown_return_is_404_problem(gateway: Gateway) -> None:
    assert_problem(gateway.api.get("/v1/returns/ret_nope"), 404, "RETURN_NOT_FOUND")


def test_unknown_route_is_404_problem(gateway: Gateway) -> None:
    assert_problem(gateway.api.get("/v1/nothing-here"), 404, "NOT_FOUND")


def test_wrong_method_is_405_problem_with_allow_header(gateway: Gateway) -> None:
    response = gateway.api.delete("/v1/returns/ret_1")
    assert_problem(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["allow"] == "GET"


# --- validation ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param(
            {"lines": [{"sku": "MUG-WHT", "quantity": 0}]}, "lines[0].quantity", id="qty0"
        ),
        pytest.param({"lines": [{"quantity": 1}]}, "lines[0]", id="line-without-sku"),
        pytest.param({"order": {}}, "order", id="no-order-clue"),
        pytest.param({"external_id": None}, "external_id", id="external-id-missing"),
        pytest.param({"external_id": ""}, "external_id", id="external-id-empty"),
        pytest.param({"channel": "pigeon"}, "channel", id="unknown-channel"),
        pytest.param({"revision": 0}, "revision", id="revision-0"),
        pytest.param({"surprise": 1}, "surprise", id="unknown-field"),
        pytest.param({"order": {"order_number": "#1", "x": 1}}, "order.x", id="nested-unknown"),
        pytest.param({"lines": [], "refund": {"shipping": {"mode": "none"}}}, "body", id="empty"),
    ],
)
def test_invalid_return_is_422_problem_naming_the_field_and_stores_nothing(
    gateway: Gateway, changes: dict[str, Any], field: str
) -> None:
    body = event("TCK-200")
    body.update(changes)
    body = {k: v for k, v in body.items() if v is not None}

    problem = assert_problem(gateway.post_return(body), 422, "VALIDATION_ERROR")

    assert problem["field"] == field
    assert field in {e["field"] for e in problem["errors"]}
    assert problem["detail"].startswith(f"{field}: ")
    assert list_ids(gateway) == []


def test_body_that_is_not_json_is_422_problem(gateway: Gateway) -> None:
    response = gateway.api.post(
        "/v1/returns", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert assert_problem(response, 422, "VALIDATION_ERROR")["field"] == "body"
    assert list_ids(gateway) == []


def test_body_that_is_not_utf8_is_422_problem_on_the_body(gateway: Gateway) -> None:
    response = gateway.api.post(
        "/v1/returns", content=b"\xff\xfe", headers={"Content-Type": "application/json"}
    )
    assert assert_problem(response, 422, "VALIDATION_ERROR")["field"] == "body"


def test_body_nested_beyond_the_parser_is_400_problem(gateway: Gateway) -> None:
    depth = 100_000
    content = '{"metadata": {"x": ' + "[" * depth + "]" * depth + "}}"
    response = gateway.api.post(
        "/v1/returns", content=content, headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 400, "BAD_REQUEST")
    assert list_ids(gateway) == []


@pytest.mark.parametrize("number", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_number_in_metadata_is_422_problem(gateway: Gateway, number: str) -> None:
    content = (
        '{"external_id": "NAN-1", "order": {"order_number": "#1"},'
        ' "lines": [{"sku": "A", "quantity": 1}], "metadata": {"score": [1.5, ' + number + "]}}"
    )
    response = gateway.api.post(
        "/v1/returns", content=content, headers={"Content-Type": "application/json"}
    )
    assert assert_problem(response, 422, "VALIDATION_ERROR")["field"] == "metadata.score[1]"
    assert list_ids(gateway) == []


@pytest.mark.parametrize(
    ("refund", "field"),
    [
        (
            {"shipping": {"mode": "amount", "amount": "1e100000"}},
            "refund.shipping.amount",
        ),
        (
            {"restocking_fee": {"type": "fixed", "amount": "1000000000000000"}},
            "refund.restocking_fee.amount",
        ),
        ({"return_label_fee": "1E+20"}, "refund.return_label_fee"),
    ],
)
def test_amount_too_large_for_minor_units_is_422_problem(
    gateway: Gateway, refund: dict[str, Any], field: str
) -> None:
    response = gateway.post_return(event("BIG-1", refund=refund))
    assert assert_problem(response, 422, "VALIDATION_ERROR")["field"] == field
    assert list_ids(gateway) == []


def test_body_that_is_a_list_is_422_problem(gateway: Gateway) -> None:
    problem = assert_problem(
        gateway.api.post("/v1/returns", json=[event()]), 422, "VALIDATION_ERROR"
    )
    assert problem["field"] == "body"


def test_idempotency_key_longer_than_255_is_422_problem(gateway: Gateway) -> None:
    problem = assert_problem(gateway.post_return(event(), key="k" * 256), 422, "VALIDATION_ERROR")
    assert problem["field"] == "idempotency-key"
    assert list_ids(gateway) == []


def test_revision_beyond_storage_range_is_422_problem(db_gateway: Gateway) -> None:
    problem = assert_problem(db_gateway.post_return(event(revision=2**31)), 422, "VALIDATION_ERROR")
    assert problem["field"] == "revision"
    assert list_ids(db_gateway) == []


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param({"customer_note": "bad\x00note"}, "customer_note", id="note"),
        pytest.param({"external_id": "TCK\x00"}, "external_id", id="external-id"),
        pytest.param({"metadata": {"k": ["ok", "bad\x00"]}}, "metadata.k[1]", id="metadata"),
        pytest.param({"metadata": {"bad\x00key": 1}}, "metadata", id="metadata-key"),
    ],
)
def test_nul_character_in_text_is_422_problem(
    db_gateway: Gateway, changes: dict[str, Any], field: str
) -> None:
    problem = assert_problem(db_gateway.post_return(event(**changes)), 422, "VALIDATION_ERROR")
    assert problem["field"] == field
    assert list_ids(db_gateway) == []


# --- auth and tenants ------------------------------------------------------------------------


def test_missing_bearer_is_401_problem_with_www_authenticate(gateway: Gateway) -> None:
    response = httpx.get(f"{gateway.server.url}/v1/returns")
    assert_problem(response, 401, "UNAUTHENTICATED")
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_non_bearer_authorization_is_401_problem(gateway: Gateway) -> None:
    response = httpx.get(
        f"{gateway.server.url}/v1/returns", headers={"Authorization": "Basic dXNlcjpwYXNz"}
    )
    assert_problem(response, 401, "UNAUTHENTICATED")
    assert response.headers["www-authenticate"].startswith("Bearer")


def test_wrong_api_key_is_401_problem(gateway: Gateway) -> None:
    response = httpx.post(
        f"{gateway.server.url}/v1/returns",
        json=event(),
        headers={"Authorization": "Bearer rb_not_a_key"},
    )
    assert_problem(response, 401, "INVALID_API_KEY")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert list_ids(gateway) == []


def test_bad_key_with_bad_body_is_401_before_validation(gateway: Gateway) -> None:
    response = httpx.post(
        f"{gateway.server.url}/v1/returns",
        json={"surprise": 1},
        headers={"Authorization": "Bearer rb_not_a_key"},
    )
    assert_problem(response, 401, "INVALID_API_KEY")


def test_admin_routes_refuse_a_tenant_key(gateway: Gateway) -> None:
    assert_problem(gateway.api.post("/v1/tenants", json={"name": "Evil"}), 403, "NOT_ADMIN")
    response = gateway.api.post(
        f"/v1/tenants/{gateway.tenant_id}/connections",
        json={"platform": "shopify", "name": "x", "base_url": "https://x", "credentials": {}},
    )
    assert_problem(response, 403, "NOT_ADMIN")


def test_admin_routes_without_bearer_are_401(gateway: Gateway) -> None:
    response = httpx.post(f"{gateway.server.url}/v1/tenants", json={"name": "Nobody"})
    assert_problem(response, 401, "UNAUTHENTICATED")


def test_admin_creates_tenant_whose_key_works_once_connected(
    gateway: Gateway, admin: httpx.Client
) -> None:
    tenant_id, client = second_tenant(gateway)
    with client:
        response = client.post("/v1/returns", json=event("GLX-1"))
        assert response.status_code == 202, response.text
        assert response.json()["return"]["connection_id"] != gateway.connection_id
        assert [r["external_id"] for r in client.get("/v1/returns").json()["items"]] == ["GLX-1"]
    assert tenant_id != gateway.tenant_id


def test_connection_for_unknown_tenant_is_404_problem(admin: httpx.Client) -> None:
    response = admin.post(
        "/v1/tenants/ten_nope/connections",
        json={"platform": "shopify", "name": "x", "base_url": "https://x", "credentials": {}},
    )
    assert_problem(response, 404, "TENANT_NOT_FOUND")


@pytest.mark.parametrize(
    ("platform", "missing"),
    [
        ("shopify", "access_token"),
        ("woocommerce", "consumer_key, consumer_secret"),
        ("bigcommerce", "store_hash, access_token"),
    ],
)
def test_connection_without_its_platforms_credentials_is_422_problem(
    gateway: Gateway, admin: httpx.Client, platform: str, missing: str
) -> None:
    response = admin.post(
        f"/v1/tenants/{gateway.tenant_id}/connections",
        json={"platform": platform, "name": "x", "base_url": "https://x", "credentials": {}},
    )
    problem = assert_problem(response, 422, "MISSING_CREDENTIALS")
    assert problem["field"] == "credentials"
    assert problem["detail"].endswith(f"needs credentials {missing}")


def test_connection_with_a_setting_of_the_wrong_type_is_422_problem(
    gateway: Gateway, admin: httpx.Client
) -> None:
    response = admin.post(
        f"/v1/tenants/{gateway.tenant_id}/connections",
        json={
            "platform": "shopify",
            "name": "tolerant",
            "base_url": "https://x",
            "credentials": {"access_token": "shpat_x"},
            "settings": {"cross_check_tolerance": "2 cents"},
        },
    )
    problem = assert_problem(response, 422, "INVALID_SETTING")
    assert problem["field"] == "settings.cross_check_tolerance"


def test_woocommerce_connection_keeps_its_secrets_out_of_the_answer(
    gateway: Gateway, admin: httpx.Client
) -> None:
    response = admin.post(
        f"/v1/tenants/{gateway.tenant_id}/connections",
        json={
            "platform": "woocommerce",
            "name": "corner",
            "base_url": "https://shop.example.com",
            "credentials": {"consumer_key": "ck_visible", "consumer_secret": "cs_hidden_value"},
            "settings": {"api_refund": False},
        },
    )
    assert response.status_code == 201, response.text
    assert response.json()["settings"] == {"api_refund": False}
    assert "cs_hidden_value" not in response.text
    assert "ck_visible" not in response.text


@pytest.mark.parametrize("platform", ["magento", "amazon"])
def test_connection_for_a_platform_without_connector_is_422_problem(
    gateway: Gateway, admin: httpx.Client, platform: str
) -> None:
    response = admin.post(
        f"/v1/tenants/{gateway.tenant_id}/connections",
        json={"platform": platform, "name": "x", "base_url": "https://x", "credentials": {}},
    )
    problem = assert_problem(response, 422, "UNSUPPORTED_PLATFORM")
    assert problem["field"] == "platform"


def test_a_loop_connection_needs_its_api_key(gateway: Gateway, admin: httpx.Client) -> None:
    url = f"/v1/tenants/{gateway.tenant_id}/connections"
    body = {"platform": "loop", "name": "loop", "base_url": "https://api.loopreturns.com"}
    missing = admin.post(url, json={**body, "credentials": {}})
    assert assert_problem(missing, 422, "MISSING_CREDENTIALS")["field"] == "credentials"
    made = admin.post(url, json={**body, "credentials": {"api_key": "k", "webhook_secret": "s"}})
    assert made.status_code == 201, made.text
    assert made.json()["platform"] == "loop"
    assert "webhook_secret" not in made.text


def test_connection_base_url_beyond_storage_length_is_422_problem(db_gateway: Gateway) -> None:
    with _admin_client(db_gateway) as admin:
        response = admin.post(
            f"/v1/tenants/{db_gateway.tenant_id}/connections",
            json={
                "platform": "shopify",
                "name": "x",
                "base_url": "https://" + "x" * 600 + ".example",
                "credentials": {},
            },
        )
    problem = assert_problem(response, 422, "VALIDATION_ERROR")
    assert problem["field"] == "base_url"


def test_nul_character_in_admin_bodies_is_422_problem(db_gateway: Gateway) -> None:
    with _admin_client(db_gateway) as admin:
        tenant = admin.post("/v1/tenants", json={"name": "Nul\x00Corp"})
        assert assert_problem(tenant, 422, "VALIDATION_ERROR")["field"] == "name"
        connection = admin.post(
            f"/v1/tenants/{db_gateway.tenant_id}/connections",
            json={
                "platform": "shopify",
                "name": "x",
                "base_url": "https://x.example",
                "credentials": {},
                "settings": {"restock_location_id": "gid\x00"},
            },
        )
        problem = assert_problem(connection, 422, "VALIDATION_ERROR")
        assert problem["field"] == "settings.restock_location_id"


def test_tenant_without_name_is_422_problem(admin: httpx.Client) -> None:
    problem = assert_problem(admin.post("/v1/tenants", json={}), 422, "VALIDATION_ERROR")
    assert problem["field"] == "name"


def test_connection_answer_never_shows_credentials(gateway: Gateway, admin: httpx.Client) -> None:
    response = admin.post(
        f"/v1/tenants/{gateway.tenant_id}/connections",
        json={
            "platform": "shopify",
            "name": "second",
            "base_url": "https://second.example",
            "credentials": {"access_token": "shpat_very_secret"},
        },
    )
    assert response.status_code == 201, response.text
    assert "shpat_very_secret" not in response.text
    assert response.json()["tenant_id"] == gateway.tenant_id


def test_second_tenant_cannot_read_or_list_first_tenants_returns(db_gateway: Gateway) -> None:
    own_id = post_ok(db_gateway, event("ACME-1"))
    _tenant_id, other = second_tenant(db_gateway)
    with other:
        assert_problem(other.get(f"/v1/returns/{own_id}"), 404, "RETURN_NOT_FOUND")
        listed = other.get("/v1/returns")
        assert listed.status_code == 200, listed.text
        assert listed.json() == {"items": [], "next_cursor": None}
        # The same external id is a different return for another tenant, not a duplicate.
        theirs = other.post("/v1/returns", json=event("ACME-1"))
        assert theirs.status_code == 202, theirs.text
        assert theirs.json()["duplicate"] is False
        assert theirs.json()["return"]["id"] != own_id
        assert_problem(
            db_gateway.api.get(f"/v1/returns/{theirs.json()['return']['id']}"),
            404,
            "RETURN_NOT_FOUND",
        )
    assert list_ids(db_gateway) == [own_id]


def test_second_tenant_cannot_target_first_tenants_connection(gateway: Gateway) -> None:
    _tenant_id, other = second_tenant(gateway)
    with other:
        response = other.post(
            "/v1/returns", json=event("GLX-2", connection_id=gateway.connection_id)
        )
        assert assert_problem(response, 422, "UNKNOWN_CONNECTION")["field"] == "connection_id"


# --- idempotency -----------------------------------------------------------------------------


def test_same_idempotency_key_with_other_body_is_409_problem(gateway: Gateway) -> None:
    first = gateway.post_return(event("TCK-300"), key="delivery-300")
    assert first.status_code == 202, first.text

    changed = event("TCK-300", reason="another reason")
    problem = assert_problem(
        gateway.post_return(changed, key="delivery-300"), 409, "IDEMPOTENCY_KEY_REUSED"
    )

    assert problem.get("return_id") in (None, first.json()["return"]["id"])
    assert list_ids(gateway) == [first.json()["return"]["id"]]


def test_same_idempotency_key_and_body_answers_the_same_return(gateway: Gateway) -> None:
    first = gateway.post_return(event("TCK-301"), key="delivery-301")
    again = gateway.post_return(event("TCK-301"), key="delivery-301")
    assert (first.status_code, again.status_code) == (202, 202)
    assert again.json()["duplicate"] is True
    assert again.json()["return"]["id"] == first.json()["return"]["id"]
    assert again.headers["location"] == first.headers["location"]


def test_same_external_id_and_revision_without_key_is_one_return(gateway: Gateway) -> None:
    first = gateway.post_return(event("TCK-302"))
    second = gateway.post_return(event("TCK-302"))

    assert (first.status_code, second.status_code) == (202, 202)
    assert [first.json()["duplicate"], second.json()["duplicate"]] == [False, True]
    assert second.json()["return"]["id"] == first.json()["return"]["id"]
    assert list_ids(gateway) == [first.json()["return"]["id"]]


def test_idempotency_key_reused_for_another_return_is_409_problem(gateway: Gateway) -> None:
    first = gateway.post_return(event("TCK-305"), key="delivery-305")
    assert first.status_code == 202, first.text
    response = gateway.post_return(event("TCK-306"), key="delivery-305")
    assert_problem(response, 409, "IDEMPOTENCY_KEY_REUSED")
    assert list_ids(gateway) == [first.json()["return"]["id"]]


def test_same_event_under_a_new_key_is_a_duplicate(gateway: Gateway) -> None:
    first_id = post_ok(gateway, event("TCK-307"))
    again = gateway.post_return(event("TCK-307"), key="redelivery-307")
    assert again.status_code == 202, again.text
    assert again.json()["duplicate"] is True
    assert again.json()["return"]["id"] == first_id


def test_same_external_id_and_revision_with_other_body_is_409_problem(gateway: Gateway) -> None:
    first_id = post_ok(gateway, event("TCK-303"))
    response = gateway.post_return(event("TCK-303", reason="changed"))
    assert assert_problem(response, 409, "IDEMPOTENCY_KEY_REUSED")["return_id"] == first_id


def test_new_revision_updates_the_same_return(gateway: Gateway) -> None:
    first_id = post_ok(gateway, event("TCK-304"))
    response = gateway.post_return(event("TCK-304", revision=2, reason="updated"))
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["duplicate"] is False
    assert body["return"]["id"] == first_id
    assert body["return"]["revision"] == 2
    assert list_ids(gateway) == [first_id]


# --- listing ---------------------------------------------------------------------------------


def wait_all(gateway: Gateway, ids: list[str]) -> dict[str, str]:
    return {return_id: gateway.wait_for(return_id)["status"] for return_id in ids}


def test_list_filters_by_status_and_channel(db_gateway: Gateway) -> None:
    db_gateway.sandbox.seed_order(simple_order(3101))
    done = post_ok(
        db_gateway,
        event("WEB-1", channel="web", order={"platform_order_id": "gid://shopify/Order/3101"}),
    )
    review_ticket = post_ok(db_gateway, event("TCK-1", channel="ticket"))
    review_email = post_ok(db_gateway, event("EML-1", channel="email"))
    statuses = wait_all(db_gateway, [done, review_ticket, review_email])
    assert statuses == {
        done: "completed",
        review_ticket: "needs_review",
        review_email: "needs_review",
    }

    assert list_ids(db_gateway, status="completed") == [done]
    assert list_ids(db_gateway, status="needs_review") == [review_ticket, review_email]
    assert list_ids(db_gateway, status=["completed", "needs_review"]) == [
        done,
        review_ticket,
        review_email,
    ]
    assert list_ids(db_gateway, status="received") == []
    assert list_ids(db_gateway, channel="email") == [review_email]
    assert list_ids(db_gateway, channel="web", status="completed") == [done]
    assert list_ids(db_gateway, channel="web", status="needs_review") == []


def test_list_with_unknown_status_or_channel_is_422_problem(gateway: Gateway) -> None:
    problem = assert_problem(
        gateway.api.get("/v1/returns", params={"status": "lost"}), 422, "VALIDATION_ERROR"
    )
    assert problem["field"] == "status[0]"
    problem = assert_problem(
        gateway.api.get("/v1/returns", params={"channel": "pigeon"}), 422, "VALIDATION_ERROR"
    )
    assert problem["field"] == "channel"


def test_list_filters_by_creation_time(db_gateway: Gateway) -> None:
    ids = [post_ok(db_gateway, event(f"TCK-{n}")) for n in range(3)]
    items = db_gateway.api.get("/v1/returns").json()["items"]
    assert [i["id"] for i in items] == ids
    middle = items[1]["created_at"]

    assert list_ids(db_gateway, created_from=middle) == ids[1:]
    assert list_ids(db_gateway, created_to=middle) == ids[:1]
    assert list_ids(db_gateway, created_from=middle, created_to=items[2]["created_at"]) == [ids[1]]
    assert list_ids(db_gateway, created_from="2999-01-01T00:00:00Z") == []
    assert list_ids(db_gateway, created_to="2000-01-01T00:00:00+02:00") == []


@pytest.mark.parametrize(
    ("name", "value"),
    [("created_from", "0001-01-01T00:00:00+14:00"), ("created_to", "9999-12-31T23:59:59-14:00")],
)
def test_list_creation_time_beyond_utc_range_is_422_problem(
    db_gateway: Gateway, name: str, value: str
) -> None:
    response = db_gateway.api.get("/v1/returns", params={name: value})
    assert assert_problem(response, 422, "VALIDATION_ERROR")["field"] == name


@pytest.mark.parametrize("name", ["created_from", "created_to"])
def test_list_creation_time_without_timezone_is_422_problem(gateway: Gateway, name: str) -> None:
    response = gateway.api.get("/v1/returns", params={name: "2026-01-01T00:00:00"})
    assert assert_problem(response, 422, "VALIDATION_ERROR")["field"] == name


def test_list_cursor_pagination_walks_every_return_once(db_gateway: Gateway) -> None:
    ids = [post_ok(db_gateway, event(f"PG-{n}")) for n in range(5)]

    seen: list[str] = []
    pages = 0
    params: dict[str, Any] = {"limit": 2}
    while True:
        response = db_gateway.api.get("/v1/returns", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert len(page["items"]) <= 2
        seen += [item["id"] for item in page["items"]]
        pages += 1
        if page["next_cursor"] is None:
            break
        params = {"limit": 2, "cursor": page["next_cursor"]}

    assert pages == 3
    assert seen == ids


def test_list_limit_caps_the_page(gateway: Gateway) -> None:
    ids = [post_ok(gateway, event(f"LIM-{n}")) for n in range(3)]
    page = gateway.api.get("/v1/returns", params={"limit": 1}).json()
    assert [i["id"] for i in page["items"]] == ids[:1]
    assert page["next_cursor"]
    page = gateway.api.get("/v1/returns", params={"limit": 3}).json()
    assert [i["id"] for i in page["items"]] == ids
    assert page["next_cursor"] is None


@pytest.mark.parametrize("limit", ["0", "201", "ten"])
def test_list_limit_out_of_range_is_422_problem(gateway: Gateway, limit: str) -> None:
    response = gateway.api.get("/v1/returns", params={"limit": limit})
    assert assert_problem(response, 422, "VALIDATION_ERROR")["field"] == "limit"


@pytest.mark.parametrize(
    "cursor",
    ["garbage!!", "e30", "eyJhdCI6IjIwMjYtMDEtMDEiLCJpZCI6InIiLCJkZXNjIjpmYWxzZX0", "w4k"],
)
def test_list_malformed_cursor_is_422_problem(gateway: Gateway, cursor: str) -> None:
    response = gateway.api.get("/v1/returns", params={"cursor": cursor})
    assert assert_problem(response, 422, "INVALID_CURSOR")["field"] == "cursor"


def _cursor(**fields: Any) -> str:
    raw = json.dumps(fields).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        pytest.param(_cursor(at="0001-01-01T00:00:00+14:00", id="r", desc=False), id="before-utc"),
        pytest.param(_cursor(at="2026-01-01T00:00:00+00:00", id="r\x00", desc=False), id="nul"),
    ],
)
def test_list_cursor_the_database_cannot_hold_is_422_problem(
    db_gateway: Gateway, cursor: str
) -> None:
    response = db_gateway.api.get("/v1/returns", params={"cursor": cursor})
    assert assert_problem(response, 422, "INVALID_CURSOR")["field"] == "cursor"


def test_nul_character_in_path_or_query_is_422_problem(db_gateway: Gateway) -> None:
    response = db_gateway.api.get("/v1/returns/ret_%00x")
    assert assert_problem(response, 422, "VALIDATION_ERROR")["field"] == "return_id"
    response = db_gateway.api.get("/v1/returns", params={"channel": "web\x00"})
    assert assert_problem(response, 422, "VALIDATION_ERROR")["field"] == "channel"
    with _admin_client(db_gateway) as admin:
        response = admin.post(
            "/v1/tenants/ten_%00/connections",
            json={"platform": "shopify", "name": "x", "base_url": "https://x", "credentials": {}},
        )
    assert assert_problem(response, 422, "VALIDATION_ERROR")["field"] == "tenant_id"


# --- connection choice -----------------------------------------------------------------------


def test_tenant_with_two_connections_must_name_one(gateway: Gateway, admin: httpx.Client) -> None:
    created = admin.post(
        f"/v1/tenants/{gateway.tenant_id}/connections",
        json={
            "platform": "shopify",
            "name": "outlet",
            "base_url": gateway.sandbox.url,
            "credentials": {"access_token": gateway.sandbox.token},
        },
    )
    assert created.status_code == 201, created.text

    problem = assert_problem(gateway.post_return(event("TCK-400")), 422, "CONNECTION_REQUIRED")
    assert problem["field"] == "connection_id"
    assert list_ids(gateway) == []

    named = gateway.post_return(event("TCK-400", connection_id=created.json()["id"]))
    assert named.status_code == 202, named.text
    assert named.json()["return"]["connection_id"] == created.json()["id"]


def test_tenant_without_connections_must_get_one_first(
    gateway: Gateway, admin: httpx.Client
) -> None:
    created = admin.post("/v1/tenants", json={"name": "Initech"})
    assert created.status_code == 201, created.text
    with httpx.Client(
        base_url=gateway.server.url,
        headers={"Authorization": f"Bearer {created.json()['api_key']}"},
    ) as client:
        response = client.post("/v1/returns", json=event("INI-1"))
        problem = assert_problem(response, 422, "CONNECTION_REQUIRED")
        assert problem["field"] == "connection_id"
        assert client.get("/v1/returns").json()["items"] == []


def test_unknown_connection_id_is_422_problem(gateway: Gateway) -> None:
    response = gateway.post_return(event("TCK-401", connection_id="con_nope"))
    assert assert_problem(response, 422, "UNKNOWN_CONNECTION")["field"] == "connection_id"
    assert list_ids(gateway) == []


# --- operations ------------------------------------------------------------------------------


def test_unexpected_error_is_500_problem(gateway: Gateway) -> None:
    """An error no handler expects still leaves as problem+json, without its message."""
    app = create_app(gateway.runtime)

    def boom() -> None:
        raise RuntimeError("boom: secret detail")

    app.add_api_route("/boom", boom)
    server = BackgroundServer(app).start()
    try:
        response = httpx.get(f"{server.url}/boom")
    finally:
        server.stop()
    body = assert_problem(response, 500, "INTERNAL_ERROR")
    assert "secret" not in response.text
    assert body["title"] == "Internal error"


def test_health_answers_ok(gateway: Gateway) -> None:
    response = httpx.get(f"{gateway.server.url}/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_health_is_503_problem_when_the_database_does_not_answer() -> None:
    unreachable = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/none")
    runtime = cast("Runtime", SimpleNamespace(engine=unreachable, settings=Settings()))
    server = BackgroundServer(create_app(runtime)).start()
    try:
        response = httpx.get(f"{server.url}/health")
    finally:
        server.stop()
        unreachable.dispose()
    assert_problem(response, 503, "DATABASE_UNAVAILABLE")


def _received_total(text: str) -> float:
    pattern = r'^returnbridge_returns_received_total\{channel="chat",duplicate="false"\} (\S+)$'
    match = re.search(pattern, text, flags=re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def test_metrics_is_prometheus_text_counting_received_returns(gateway: Gateway) -> None:
    before = httpx.get(f"{gateway.server.url}/metrics")
    post_ok(gateway, event("CHT-1", channel="chat"))
    after = httpx.get(f"{gateway.server.url}/metrics")

    assert after.status_code == 200
    assert after.headers["content-type"].startswith("text/plain")
    assert "# TYPE returnbridge_returns_received_total counter" in after.text
    assert _received_total(after.text) == _received_total(before.text) + 1


def test_openapi_lists_return_paths_and_docs_serve_html(gateway: Gateway) -> None:
    schema = httpx.get(f"{gateway.server.url}/openapi.json")
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert {"post", "get"} <= paths["/v1/returns"].keys()
    assert "get" in paths["/v1/returns/{return_id}"]
    assert "/v1/tenants" in paths

    docs = httpx.get(f"{gateway.server.url}/docs")
    assert docs.status_code == 200
    assert docs.headers["content-type"].startswith("text/html")
    assert "swagger" in docs.text.lower()
