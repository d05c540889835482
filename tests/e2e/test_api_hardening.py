"""The API's front door under hostile input: auth before the body, size limits, strict
validation, security headers, links from the configured URL, throttling, key rotation.

A real gateway on loopback; some tests speak raw HTTP over a socket to send what an HTTP
client would not (a body that never comes, a declared 100 MB, a chunked flood).
"""

from __future__ import annotations

import dataclasses
import json
import re
import socket
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from returnbridge.api.app import create_app
from returnbridge.cli.servers import BackgroundServer
from support.gateway import Gateway, gateway_settings

pytestmark = pytest.mark.timeout(180)

MIB = 1024 * 1024


def assert_problem(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["code"] == code
    assert body["detail"]
    return body


def event(external_id: str = "HRD-1", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "external_id": external_id,
        "order": {"platform_order_id": "gid://shopify/Order/999999"},
        "lines": [{"sku": "MUG-WHT", "quantity": 1}],
    }
    body.update(extra)
    return body


def list_ids(gateway: Gateway) -> list[str]:
    response = gateway.api.get("/v1/returns")
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def admin_client(gateway: Gateway, *, base_url: str | None = None) -> httpx.Client:
    key = gateway.runtime.settings.resolved_admin_key
    return httpx.Client(
        base_url=base_url or gateway.server.url,
        headers={"Authorization": f"Bearer {key}"},
        timeout=30,
    )


@pytest.fixture
def admin(gateway: Gateway) -> Iterator[httpx.Client]:
    with admin_client(gateway) as client:
        yield client


def tenant_key(gateway: Gateway) -> str:
    return str(gateway.api.headers["Authorization"]).removeprefix("Bearer ")


@dataclasses.dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def raw_exchange(url: str, request: bytes, *, chunks: Iterable[bytes] = ()) -> RawResponse:
    """Send bytes as they are, then read one HTTP/1.1 response (30 s at most)."""
    address = httpx.URL(url)
    with socket.create_connection((address.host, address.port or 80), timeout=30) as sock:
        sock.sendall(request)
        for chunk in chunks:
            sock.sendall(chunk)
        data = b""
        while b"\r\n\r\n" not in data:
            received = sock.recv(65536)
            assert received, f"connection closed before a response: {data!r}"
            data += received
        head, _, body = data.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in header_lines)
        }
        length = int(headers.get("content-length", "0"))
        while len(body) < length:
            received = sock.recv(65536)
            if not received:
                break
            body += received
    return RawResponse(int(status_line.split()[1]), headers, body)


def post_head(url: str, *, authorization: str | None, extra: str) -> bytes:
    address = httpx.URL(url)
    auth = f"Authorization: {authorization}\r\n" if authorization else ""
    return (
        f"POST /v1/returns HTTP/1.1\r\nHost: {address.host}:{address.port}\r\n"
        f"Content-Type: application/json\r\n{auth}{extra}\r\n"
    ).encode()


def other_app(gateway: Gateway, tmp_path: Path, **settings: Any) -> BackgroundServer:
    """The same gateway's data behind a second API server with other settings."""
    changed = gateway_settings(str(gateway.settings.database_url), tmp_path, **settings)
    return BackgroundServer(create_app(dataclasses.replace(gateway.runtime, settings=changed)))


# --- authentication before the body ------------------------------------------------------------


def test_unauthenticated_post_is_answered_401_before_its_body_arrives(gateway: Gateway) -> None:
    # The body is announced but never sent: only a gateway that authenticates first answers.
    head = post_head(gateway.server.url, authorization=None, extra="Content-Length: 500000\r\n")
    response = raw_exchange(gateway.server.url, head)

    assert response.status == 401
    assert response.json()["code"] == "UNAUTHENTICATED"


def test_wrong_key_is_answered_401_before_the_body_arrives(gateway: Gateway) -> None:
    head = post_head(
        gateway.server.url, authorization="Bearer rbk_wrong", extra="Content-Length: 500000\r\n"
    )
    response = raw_exchange(gateway.server.url, head)

    assert response.status == 401
    assert response.json()["code"] == "INVALID_API_KEY"


@pytest.mark.parametrize("path", ["/v1/returns", "/v1/tenants"])
def test_bearer_that_strips_to_empty_is_401(gateway: Gateway, path: str) -> None:
    for blank in (b"Bearer \xa0", b"Bearer \xa0\x85\xa0", b"bearer \xa0"):
        response = httpx.post(
            f"{gateway.server.url}{path}", json={"name": "x"}, headers={"Authorization": blank}
        )
        assert_problem(response, 401, "UNAUTHENTICATED")


def test_empty_admin_key_authenticates_nothing(gateway: Gateway, tmp_path: Path) -> None:
    with other_app(gateway, tmp_path / "blank", admin_key="") as server:
        blank = httpx.post(
            f"{server.url}/v1/tenants",
            json={"name": "Intruder"},
            headers={"Authorization": b"Bearer \xa0"},
        )
        guessed = httpx.post(
            f"{server.url}/v1/tenants",
            json={"name": "Intruder"},
            headers={"Authorization": "Bearer anything"},
        )

    assert_problem(blank, 401, "UNAUTHENTICATED")
    assert_problem(guessed, 403, "NOT_ADMIN")


# --- body size ---------------------------------------------------------------------------------


def test_declared_body_over_the_limit_is_413_without_reading_it(gateway: Gateway) -> None:
    head = post_head(
        gateway.server.url,
        authorization=f"Bearer {tenant_key(gateway)}",
        extra=f"Content-Length: {100 * MIB}\r\n",
    )
    response = raw_exchange(gateway.server.url, head)

    assert response.status == 413
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "BODY_TOO_LARGE"
    assert list_ids(gateway) == []


def test_chunked_body_over_the_limit_is_413(gateway: Gateway) -> None:
    head = post_head(
        gateway.server.url,
        authorization=f"Bearer {tenant_key(gateway)}",
        extra="Transfer-Encoding: chunked\r\n",
    )
    piece = b" " * (64 * 1024)

    def chunks() -> Iterator[bytes]:
        for _ in range(17):  # 1 MiB + 64 KiB
            yield f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        yield b"0\r\n\r\n"

    response = raw_exchange(gateway.server.url, head, chunks=chunks())

    assert response.status == 413
    assert response.json()["code"] == "BODY_TOO_LARGE"
    assert list_ids(gateway) == []


def test_body_under_the_limit_is_accepted(gateway: Gateway) -> None:
    response = gateway.post_return(event(customer_note="n" * 2000))
    assert response.status_code == 202, response.text


# --- strict validation -------------------------------------------------------------------------


def _refund(**fields: Any) -> dict[str, Any]:
    return {"refund": fields}


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        pytest.param(_refund(currency="XXX"), "refund.currency", id="currency-XXX"),
        pytest.param(_refund(currency="123"), "refund.currency", id="currency-digits"),
        pytest.param(_refund(currency="€€€"), "refund.currency", id="currency-symbols"),
        pytest.param(_refund(currency="ABC"), "refund.currency", id="currency-unknown"),
        pytest.param(
            {"lines": [{"sku": "A", "quantity": "1"}]}, "lines[0].quantity", id="qty-string"
        ),
        pytest.param(
            {"lines": [{"sku": "A", "quantity": True}]}, "lines[0].quantity", id="qty-bool"
        ),
        pytest.param(
            {"lines": [{"sku": "A", "quantity": 1.0}]}, "lines[0].quantity", id="qty-float"
        ),
        pytest.param({"revision": "1"}, "revision", id="revision-string"),
        pytest.param({"revision": True}, "revision", id="revision-bool"),
        pytest.param({"revision": 1.0}, "revision", id="revision-float"),
        pytest.param(_refund(return_label_fee="1_000"), "refund.return_label_fee", id="amt-under"),
        pytest.param(_refund(return_label_fee=" 5 "), "refund.return_label_fee", id="amt-spaces"),
        pytest.param(_refund(return_label_fee="+5"), "refund.return_label_fee", id="amt-plus"),
        pytest.param(
            _refund(return_label_fee="5e-1000000"), "refund.return_label_fee", id="amt-exp"
        ),
        pytest.param(_refund(return_label_fee="0.00001"), "refund.return_label_fee", id="amt-5dp"),
        pytest.param(
            _refund(shipping={"mode": "amount", "amount": "٥"}),
            "refund.shipping.amount",
            id="amt-arabic-digit",
        ),
        pytest.param(
            {"requested_at": "2026-01-02T03:04:05"}, "requested_at", id="timestamp-without-zone"
        ),
        pytest.param({"lines": [{"sku": "A", "quantity": 1}] * 251}, "lines", id="lines-251"),
        pytest.param({"metadata": {"blob": "x" * 17_000}}, "metadata", id="metadata-large"),
        pytest.param({"metadata": {"a": [[[[[[[[[1]]]]]]]]]}}, "metadata", id="metadata-deep"),
        pytest.param(
            {"metadata": {f"k{i}": i for i in range(300)}}, "metadata", id="metadata-keys"
        ),
        pytest.param({"restock_location_id": "g" * 201}, "restock_location_id", id="location"),
        pytest.param({"connection_id": "c" * 201}, "connection_id", id="connection-id"),
    ],
)
def test_loose_input_is_422_naming_the_field(
    gateway: Gateway, changes: dict[str, Any], field: str
) -> None:
    problem = assert_problem(gateway.post_return(event(**changes)), 422, "VALIDATION_ERROR")

    assert problem["field"] == field
    assert list_ids(gateway) == []


@pytest.mark.parametrize(
    ("content", "field"),
    [
        pytest.param(
            '{"external_id": "A", "external_id": "B", "order": {"order_number": "#1"},'
            ' "lines": [{"sku": "A", "quantity": 1}]}',
            "external_id",
            id="top-level",
        ),
        pytest.param(
            '{"external_id": "A", "order": {"order_number": "#1"},'
            ' "lines": [{"sku": "A", "quantity": 1, "quantity": 5}]}',
            "quantity",
            id="nested",
        ),
        pytest.param(
            '{"external_id": "A", "order": {"order_number": "#1"},'
            ' "lines": [{"sku": "A", "quantity": 1}],'
            ' "refund": {"shipping": {"mode": "amount", "amount": 5e-1000000}}}',
            "refund.shipping.amount",
            id="number-underflowing-to-zero",
        ),
        pytest.param(
            '{"external_id": "A", "order": {"order_number": "#1"},'
            ' "lines": [{"sku": "A", "quantity": 1}], "refund": {"return_label_fee": 1.00001}}',
            "refund.return_label_fee",
            id="number-beyond-minor-units",
        ),
    ],
)
def test_ambiguous_json_is_422_naming_the_field(gateway: Gateway, content: str, field: str) -> None:
    response = gateway.api.post(
        "/v1/returns", content=content, headers={"Content-Type": "application/json"}
    )

    assert assert_problem(response, 422, "VALIDATION_ERROR")["field"] == field
    assert list_ids(gateway) == []


def test_exact_amounts_as_numbers_and_strings_are_accepted(gateway: Gateway) -> None:
    content = (
        '{"external_id": "NUM-1", "order": {"order_number": "#1"},'
        ' "lines": [{"sku": "A", "quantity": 1}], "requested_at": "2026-01-02T03:04:05Z",'
        ' "refund": {"currency": "EUR", "return_label_fee": 1.5e0,'
        ' "shipping": {"mode": "amount", "amount": "2.50"}}, "metadata": {"score": 0.25}}'
    )
    response = gateway.api.post(
        "/v1/returns", content=content, headers={"Content-Type": "application/json"}
    )

    assert response.status_code == 202, response.text
    stored = response.json()["return"]["return_request"]
    assert stored["refund"]["return_label_fee"] == "1.5"
    assert stored["refund"]["shipping"]["amount"] == "2.50"
    assert stored["metadata"] == {"score": 0.25}


def test_duplicate_keys_in_admin_bodies_are_422(admin: httpx.Client) -> None:
    response = admin.post(
        "/v1/tenants",
        content='{"name": "A", "name": "B"}',
        headers={"Content-Type": "application/json"},
    )
    assert assert_problem(response, 422, "VALIDATION_ERROR")["field"] == "name"


def test_connection_credentials_are_bounded(gateway: Gateway, admin: httpx.Client) -> None:
    response = admin.post(
        f"/v1/tenants/{gateway.tenant_id}/connections",
        json={
            "platform": "shopify",
            "name": "big",
            "base_url": "https://x.example",
            "credentials": {"access_token": "t" * 20_000},
        },
    )
    assert assert_problem(response, 422, "VALIDATION_ERROR")["field"] == "credentials"


# --- headers and links -------------------------------------------------------------------------


def test_every_answer_says_nosniff_and_api_answers_say_no_store(
    gateway: Gateway, admin: httpx.Client
) -> None:
    answers = [
        gateway.api.get("/v1/returns"),
        gateway.post_return(event()),
        admin.post("/v1/tenants", json={"name": "Keyed"}),
        httpx.get(f"{gateway.server.url}/v1/returns"),
        httpx.get(f"{gateway.server.url}/health"),
        httpx.get(f"{gateway.server.url}/openapi.json"),
        httpx.get(f"{gateway.server.url}/nowhere"),
    ]
    for response in answers:
        assert response.headers["x-content-type-options"] == "nosniff", response.url
        assert response.headers["cache-control"] == "no-store", response.url


def test_links_come_from_the_public_url_never_the_host_header(
    gateway: Gateway, tmp_path: Path
) -> None:
    with other_app(
        gateway, tmp_path / "public", public_url="https://returns.example.com/"
    ) as server:
        response = httpx.post(
            f"{server.url}/v1/returns",
            json=event("LNK-1"),
            headers={"Authorization": f"Bearer {tenant_key(gateway)}", "Host": "evil.example"},
        )
        listed = httpx.get(
            f"{server.url}/v1/returns",
            headers={"Authorization": f"Bearer {tenant_key(gateway)}", "Host": "evil.example"},
        )

    assert response.status_code == 202, response.text
    return_id = response.json()["return"]["id"]
    expected = f"https://returns.example.com/v1/returns/{return_id}"
    assert response.headers["location"] == expected
    assert response.json()["url"] == expected
    assert listed.json()["items"][0]["url"] == expected


def test_docs_load_no_script_or_style_from_another_origin(gateway: Gateway) -> None:
    docs = httpx.get(f"{gateway.server.url}/docs")
    assert docs.status_code == 200
    assets = re.findall(r"""(?:src|href)\s*[:=]\s*['"]([^'"]+)['"]""", docs.text)
    scripts = [a for a in assets if a.endswith((".js", ".css"))]

    assert scripts, docs.text
    assert all(a.startswith("/") for a in assets), assets
    for asset in scripts:
        assert httpx.get(f"{gateway.server.url}{asset}").status_code == 200, asset


def test_openapi_declares_the_tenant_and_admin_key_schemes(gateway: Gateway) -> None:
    schema = httpx.get(f"{gateway.server.url}/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    assert schemes["TenantKey"] == schemes["TenantKey"] | {"type": "http", "scheme": "bearer"}
    assert schemes["AdminKey"]["scheme"] == "bearer"
    assert schema["paths"]["/v1/returns"]["post"]["security"] == [{"TenantKey": []}]
    assert schema["paths"]["/v1/tenants"]["post"]["security"] == [{"AdminKey": []}]


# --- throttling --------------------------------------------------------------------------------


def test_repeated_failed_authentication_is_throttled_per_address(gateway: Gateway) -> None:
    url = f"{gateway.server.url}/v1/returns"
    for _ in range(10):
        assert httpx.get(url, headers={"Authorization": "Bearer guess"}).status_code == 401

    throttled = httpx.get(url, headers={"Authorization": "Bearer guess"})
    problem = assert_problem(throttled, 429, "TOO_MANY_FAILED_AUTHENTICATIONS")
    assert 1 <= int(throttled.headers["retry-after"]) <= 60
    assert problem["detail"]

    # another client address (loopback 127.0.0.2) is not affected
    transport = httpx.HTTPTransport(local_address="127.0.0.2")
    with httpx.Client(transport=transport, headers=gateway.api.headers) as other:
        assert other.get(url).status_code == 200


def test_successful_requests_are_never_throttled(gateway: Gateway) -> None:
    for _ in range(30):
        assert gateway.api.get("/v1/returns").status_code == 200


# --- tenant keys and deletion ------------------------------------------------------------------


def test_rotated_key_replaces_the_old_one_at_once(gateway: Gateway, admin: httpx.Client) -> None:
    old_key = tenant_key(gateway)
    rotated = admin.post(f"/v1/tenants/{gateway.tenant_id}/api-key")

    assert rotated.status_code == 200, rotated.text
    assert rotated.headers["cache-control"] == "no-store"
    new_key = rotated.json()["api_key"]
    assert new_key != old_key
    assert rotated.json()["id"] == gateway.tenant_id
    url = f"{gateway.server.url}/v1/returns"
    assert_problem(
        httpx.get(url, headers={"Authorization": f"Bearer {old_key}"}), 401, "INVALID_API_KEY"
    )
    assert httpx.get(url, headers={"Authorization": f"Bearer {new_key}"}).status_code == 200


def test_revoked_key_stops_working_until_rotated(gateway: Gateway, admin: httpx.Client) -> None:
    revoked = admin.delete(f"/v1/tenants/{gateway.tenant_id}/api-key")

    assert revoked.status_code == 204, revoked.text
    assert_problem(gateway.api.get("/v1/returns"), 401, "INVALID_API_KEY")
    new_key = admin.post(f"/v1/tenants/{gateway.tenant_id}/api-key").json()["api_key"]
    response = httpx.get(
        f"{gateway.server.url}/v1/returns", headers={"Authorization": f"Bearer {new_key}"}
    )
    assert response.status_code == 200


def test_deleted_tenant_is_gone_with_its_returns(gateway: Gateway, admin: httpx.Client) -> None:
    assert gateway.post_return(event("DEL-1")).status_code == 202
    other = admin.post("/v1/tenants", json={"name": "Survivor"}).json()

    deleted = admin.delete(f"/v1/tenants/{gateway.tenant_id}")

    assert deleted.status_code == 204, deleted.text
    assert_problem(gateway.api.get("/v1/returns"), 401, "INVALID_API_KEY")
    assert_problem(admin.delete(f"/v1/tenants/{gateway.tenant_id}"), 404, "TENANT_NOT_FOUND")
    survivor = httpx.get(
        f"{gateway.server.url}/v1/returns",
        headers={"Authorization": f"Bearer {other['api_key']}"},
    )
    assert survivor.status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/tenants/ten_nope/api-key"),
        ("DELETE", "/v1/tenants/ten_nope/api-key"),
        ("DELETE", "/v1/tenants/ten_nope"),
    ],
)
def test_key_and_delete_routes_for_unknown_tenant_are_404(
    admin: httpx.Client, method: str, path: str
) -> None:
    assert_problem(admin.request(method, path), 404, "TENANT_NOT_FOUND")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/tenants/{id}/api-key"),
        ("DELETE", "/v1/tenants/{id}/api-key"),
        ("DELETE", "/v1/tenants/{id}"),
    ],
)
def test_key_and_delete_routes_refuse_a_tenant_key(
    gateway: Gateway, method: str, path: str
) -> None:
    response = gateway.api.request(method, path.format(id=gateway.tenant_id))
    assert_problem(response, 403, "NOT_ADMIN")
    assert gateway.api.get("/v1/returns").status_code == 200
