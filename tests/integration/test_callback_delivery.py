"""Vendor callbacks against a real receiving server, on SQLite and PostgreSQL: one signed
callback per status change, retries with every attempt logged, disable, replay, SSRF guard."""

from __future__ import annotations

import importlib.util
import random
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import make_url
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from returnbridge.notify.callbacks.dispatcher import CallbackDispatcher
from returnbridge.notify.callbacks.schedule import MAX_ATTEMPTS, MIN_RETRY_SPAN, DisablePolicy
from support.gateway import Gateway, Sandbox, gateway_settings, simple_order
from support.receiver import ReceivingServer

pytestmark = pytest.mark.timeout(180)

_SPEC = importlib.util.spec_from_file_location(
    "verify_callback", Path(__file__).parents[2] / "docs" / "examples" / "verify_callback.py"
)
assert _SPEC is not None
assert _SPEC.loader is not None
reference = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(reference)


@pytest.fixture
def receiver() -> Iterator[ReceivingServer]:
    with ReceivingServer() as server:
        yield server


def _sqlite(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'rb.db'}"


def _gateway(db_url: str, tmp_path: Path, sandbox: Sandbox, **settings: Any) -> Gateway:
    values: dict[str, Any] = {"callbacks_allow_private_addresses": True, **settings}
    return Gateway(gateway_settings(db_url, tmp_path, **values), sandbox)


@pytest.fixture
def gateway(db_url: str, tmp_path: Path, sandbox: Sandbox) -> Iterator[Gateway]:
    running = _gateway(db_url, tmp_path, sandbox, callback_tick_seconds=0.1)
    yield running
    running.close()


@pytest.fixture
def sqlite_gateway(tmp_path: Path, sandbox: Sandbox) -> Iterator[Gateway]:
    """For tests whose queries do not differ by database (kept off PostgreSQL for speed)."""
    running = _gateway(_sqlite(tmp_path), tmp_path, sandbox, callback_tick_seconds=0.1)
    yield running
    running.close()


def _return(order_id: int, external_id: str) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "order": {"platform_order_id": f"gid://shopify/Order/{order_id}"},
        "lines": [{"sku": "MUG-WHT", "quantity": 1}],
    }


def _subscribe(gateway: Gateway, url: str, **extra: Any) -> dict[str, Any]:
    response = gateway.api.post("/v1/callbacks/subscriptions", json={"url": url, **extra})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def _wait(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


# SQLite runs this through the whole gateway in tests/e2e/test_callback_e2e.py.
@pytest.mark.parametrize(
    "db_url", [pytest.param("postgres", marks=pytest.mark.postgres)], indirect=True
)
def test_the_vendor_gets_one_signed_callback_per_status_change(
    gateway: Gateway, sandbox: Sandbox, receiver: ReceivingServer
) -> None:
    subscription = _subscribe(gateway, receiver.url)
    sandbox.seed_order(simple_order(5101))
    body = gateway.wait_for(gateway.post_return(_return(5101, "CB-1")).json()["return"]["id"])
    changes = [e["to_status"] for e in body["timeline"] if e["from_status"] != e["to_status"]]
    assert changes[-1] == "completed"

    def settled() -> list[dict[str, Any]]:
        params = {"return_id": body["id"]}
        items: list[dict[str, Any]] = gateway.api.get(
            "/v1/callbacks/deliveries", params=params
        ).json()["items"]
        return items if all(d["status"] == "delivered" for d in items) else []

    _wait(lambda: len(settled()) == len(changes))  # sent, and the answers recorded
    received = receiver.receiver.received()
    assert len(received) == len(changes)
    oracle = Webhook(subscription["secret"])
    payloads = []
    for request in received:
        assert request.path == "/hooks/returns"
        payload = reference.verify(subscription["secret"], request.headers, request.body)
        assert oracle.verify(request.body, request.headers) == payload
        payloads.append(payload)
    assert sorted(p["type"] for p in payloads) == sorted(f"return.{s}" for s in changes)
    assert {p["data"]["external_id"] for p in payloads} == {"CB-1"}
    assert len({r.headers["webhook-id"] for r in received}) == len(changes)

    assert {(d["status"], d["attempts"], len(d["log"])) for d in settled()} == {("delivered", 1, 1)}


def test_a_forged_or_tampered_callback_fails_both_verifiers(
    sqlite_gateway: Gateway, sandbox: Sandbox, receiver: ReceivingServer
) -> None:
    subscription = _subscribe(sqlite_gateway, receiver.url, event_types=["return.completed"])
    sandbox.seed_order(simple_order(5102))
    sqlite_gateway.wait_for(
        sqlite_gateway.post_return(_return(5102, "CB-2")).json()["return"]["id"]
    )
    _wait(lambda: len(receiver.receiver.received()) == 1)
    [genuine] = receiver.receiver.received()
    assert reference.verify(subscription["secret"], genuine.headers, genuine.body)

    tampered = genuine.body.replace(b"CB-2", b"CB-9")
    with pytest.raises(reference.InvalidCallback):
        reference.verify(subscription["secret"], genuine.headers, tampered)
    with pytest.raises(WebhookVerificationError):
        Webhook(subscription["secret"]).verify(tampered, genuine.headers)
    forged = Webhook("whsec_" + "Zm9yZ2VkIGtleSBmb3IgdGVzdHMgb25seQ==")
    forged_signature = forged.sign(
        genuine.headers["webhook-id"],
        datetime.fromtimestamp(int(genuine.headers["webhook-timestamp"]), tz=UTC),
        genuine.body.decode(),
    )
    headers = {**genuine.headers, "webhook-signature": forged_signature}
    with pytest.raises(reference.InvalidCallback):
        reference.verify(subscription["secret"], headers, genuine.body)
    with pytest.raises(WebhookVerificationError):
        Webhook(subscription["secret"]).verify(genuine.body, headers)
    # A genuine signature replayed under another id (or time) does not verify either.
    for name, value in (("webhook-id", "msg_forged"), ("webhook-timestamp", "1")):
        moved = {**genuine.headers, name: value}
        with pytest.raises(reference.InvalidCallback):
            reference.verify(subscription["secret"], moved, genuine.body)
        with pytest.raises(WebhookVerificationError):
            Webhook(subscription["secret"]).verify(genuine.body, moved)


def test_a_failing_endpoint_is_retried_for_a_day_logged_then_disabled_and_replayed(
    db_url: str, tmp_path: Path, sandbox: Sandbox, receiver: ReceivingServer
) -> None:
    # The gateway's own callback worker waits a minute between rounds; the test runs rounds
    # itself on a clock it moves along the retry schedule (no sleeping through a day).
    gateway = _gateway(db_url, tmp_path, sandbox, callback_tick_seconds=60)
    try:
        receiver.receiver.status = 500
        subscription = _subscribe(gateway, receiver.url, event_types=["return.completed"])
        sandbox.seed_order(simple_order(5103))
        body = gateway.wait_for(gateway.post_return(_return(5103, "CB-3")).json()["return"]["id"])
        dispatcher = CallbackDispatcher(
            gateway.runtime.sessions,
            gateway.runtime.cipher,
            allow_private=True,
            disable=DisablePolicy(),  # 24 h and 10 failures
            rng=random.Random(7),
        )
        now = datetime.now(UTC)
        for _ in range(MAX_ATTEMPTS + 3):
            dispatcher.run_round(now)
            [delivery] = gateway.api.get(
                "/v1/callbacks/deliveries", params={"return_id": body["id"]}
            ).json()["items"]
            if delivery["next_attempt_at"] is None:
                break
            now = datetime.fromisoformat(delivery["next_attempt_at"])

        assert delivery["status"] == "failed"
        assert delivery["attempts"] == MAX_ATTEMPTS == len(delivery["log"])
        assert len(receiver.receiver.received()) == MAX_ATTEMPTS
        times = [datetime.fromisoformat(a["at"]) for a in delivery["log"]]
        assert times == sorted(times)
        assert times[-1] - times[0] >= MIN_RETRY_SPAN
        assert {a["status_code"] for a in delivery["log"]} == {500}
        assert delivery["last_error"] == "the endpoint answered 500"

        state = gateway.api.get(f"/v1/callbacks/subscriptions/{subscription['id']}").json()
        assert state["status"] == "disabled"
        assert "attempts since" in state["disabled_reason"]
        assert state["failing_since"] is not None

        # A return completed while the endpoint is disabled: its callback waits, pending.
        sandbox.seed_order(simple_order(5104))
        later = gateway.wait_for(gateway.post_return(_return(5104, "CB-4")).json()["return"]["id"])
        dispatcher.run_round(now + timedelta(hours=1))
        [waiting] = gateway.api.get(
            "/v1/callbacks/deliveries", params={"return_id": later["id"]}
        ).json()["items"]
        assert (waiting["status"], waiting["attempts"]) == ("pending", 0)

        # Fixed and enabled again: the waiting one goes out, the failed one on replay.
        receiver.receiver.status = 204
        patched = gateway.api.patch(
            f"/v1/callbacks/subscriptions/{subscription['id']}", json={"status": "active"}
        )
        assert patched.json()["status"] == "active"
        replayed = gateway.api.post(f"/v1/callbacks/deliveries/{delivery['id']}/replay")
        assert replayed.json() == {"replayed": 1}
        dispatcher.run_round(datetime.now(UTC) + timedelta(hours=30))
        items = gateway.api.get(
            "/v1/callbacks/deliveries", params={"subscription_id": subscription["id"]}
        ).json()["items"]
        assert {(d["return_id"], d["status"]) for d in items} == {
            (body["id"], "delivered"),
            (later["id"], "delivered"),
        }
        first = next(d for d in items if d["return_id"] == body["id"])
        assert len(first["log"]) == MAX_ATTEMPTS + 1  # the history is kept
        ids = [r.headers["webhook-id"] for r in receiver.receiver.received()]
        assert ids.count(first["webhook_id"]) == MAX_ATTEMPTS + 1  # same id on every attempt

        # Replay a subscription's deliveries: by status, and since when the status changed.
        replay = f"/v1/callbacks/subscriptions/{subscription['id']}/replay"
        second = next(d for d in items if d["return_id"] == later["id"])
        assert gateway.api.post(replay, json={}).json() == {"replayed": 0}  # none failed
        since = {"status": "delivered", "since": second["created_at"]}
        assert gateway.api.post(replay, json=since).json() == {"replayed": 1}
        naive = {"since": second["created_at"][:19]}
        assert gateway.api.post(replay, json=naive).status_code == 422
        again = gateway.api.get(f"/v1/callbacks/deliveries/{second['id']}").json()
        assert (again["status"], again["attempts"], len(again["log"])) == ("pending", 0, 1)
        assert gateway.api.post(replay, json={"status": "all"}).json() == {"replayed": 2}
    finally:
        gateway.close()


def test_a_round_records_a_bounded_batch_and_the_next_rounds_the_rest_once(
    db_url: str, tmp_path: Path, sandbox: Sandbox, receiver: ReceivingServer
) -> None:
    gateway = _gateway(db_url, tmp_path, sandbox, callback_tick_seconds=60)
    try:
        subscription = _subscribe(gateway, receiver.url)
        sandbox.seed_order(simple_order(5107))
        body = gateway.wait_for(gateway.post_return(_return(5107, "CB-7")).json()["return"]["id"])
        changes = [e for e in body["timeline"] if e["from_status"] != e["to_status"]]
        dispatcher = CallbackDispatcher(
            gateway.runtime.sessions, gateway.runtime.cipher, allow_private=True, scan_limit=2
        )
        now = datetime.now(UTC)
        recorded = [dispatcher.scan(now) for _ in range(len(changes))]
        assert recorded[: len(changes) // 2] == [2] * (len(changes) // 2)
        assert sum(recorded) == len(changes)
        assert dispatcher.scan(now) == 0
        pages, cursor = [], None
        while True:
            params = {"subscription_id": subscription["id"], "limit": 3}
            page = gateway.api.get(
                "/v1/callbacks/deliveries", params=params | ({"cursor": cursor} if cursor else {})
            ).json()
            pages.append(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        listed = [d for items in pages for d in items]
        event_ids = [d["payload"]["data"]["event_id"] for d in reversed(listed)]
        assert event_ids == sorted(set(event_ids))
        assert [d["payload"]["data"]["status"] for d in reversed(listed)] == [
            e["to_status"] for e in changes
        ]
    finally:
        gateway.close()


def test_workers_racing_on_the_same_deliveries_send_each_one_once(
    db_url: str, tmp_path: Path, sandbox: Sandbox, receiver: ReceivingServer
) -> None:
    gateway = _gateway(db_url, tmp_path, sandbox, callback_tick_seconds=60)
    try:
        _subscribe(gateway, receiver.url)
        sandbox.seed_order(simple_order(5108))
        body = gateway.wait_for(gateway.post_return(_return(5108, "CB-8")).json()["return"]["id"])
        changes = [e for e in body["timeline"] if e["from_status"] != e["to_status"]]
        workers = [
            CallbackDispatcher(gateway.runtime.sessions, gateway.runtime.cipher, allow_private=True)
            for _ in range(3)
        ]
        start = threading.Barrier(len(workers))
        now = datetime.now(UTC) + timedelta(minutes=1)
        errors: list[BaseException] = []

        def work(dispatcher: CallbackDispatcher) -> None:
            start.wait()
            for _ in range(3):
                try:
                    dispatcher.run_round(now)
                except Exception as error:  # SQLite may refuse a writer that lost the race
                    errors.append(error)

        threads = [threading.Thread(target=work, args=(w,)) for w in workers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        workers[0].run_round(now)  # whatever a refused SQLite writer left
        ids = [r.headers["webhook-id"] for r in receiver.receiver.received()]
        assert len(ids) == len(set(ids)) == len(changes)
        items = gateway.api.get("/v1/callbacks/deliveries", params={"return_id": body["id"]})
        assert {(d["status"], d["attempts"]) for d in items.json()["items"]} == {("delivered", 1)}
        if make_url(db_url).get_backend_name() == "postgresql":
            assert errors == []
    finally:
        gateway.close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_a_dead_endpoint_costs_one_attempt_a_round_and_holds_up_no_other(
    tmp_path: Path, sandbox: Sandbox, receiver: ReceivingServer
) -> None:
    gateway = _gateway(_sqlite(tmp_path), tmp_path, sandbox, callback_tick_seconds=60)
    try:
        dead = _subscribe(gateway, f"http://127.0.0.1:{_closed_port()}/hook")
        alive = _subscribe(gateway, receiver.url)
        sandbox.seed_order(simple_order(5109))
        body = gateway.wait_for(gateway.post_return(_return(5109, "CB-9")).json()["return"]["id"])
        changes = [e for e in body["timeline"] if e["from_status"] != e["to_status"]]
        dispatcher = CallbackDispatcher(
            gateway.runtime.sessions, gateway.runtime.cipher, allow_private=True
        )
        assert dispatcher.run_round(datetime.now(UTC) + timedelta(minutes=1)).delivered == len(
            changes
        )

        def log(subscription: dict[str, Any]) -> list[dict[str, Any]]:
            params = {"subscription_id": subscription["id"]}
            items: list[dict[str, Any]] = gateway.api.get(
                "/v1/callbacks/deliveries", params=params
            ).json()["items"]
            return items

        assert len(receiver.receiver.received()) == len(changes)
        assert {(d["status"], d["attempts"]) for d in log(alive)} == {("delivered", 1)}
        tried = [d for d in log(dead) if d["attempts"]]
        assert len(tried) == 1
        assert tried[0]["last_error"] == "the endpoint could not be reached"
        assert tried[0]["payload"]["type"] == "return.received"  # the oldest first
        assert {d["status"] for d in log(dead)} == {"pending"}
    finally:
        gateway.close()


def test_after_a_rotation_callbacks_carry_both_signatures_for_the_overlap(
    tmp_path: Path, sandbox: Sandbox, receiver: ReceivingServer
) -> None:
    gateway = _gateway(_sqlite(tmp_path), tmp_path, sandbox, callback_tick_seconds=60)
    try:
        old = _subscribe(gateway, receiver.url, event_types=["return.completed"])
        path = f"/v1/callbacks/subscriptions/{old['id']}/rotate-secret"
        rotated = gateway.api.post(path).json()
        assert rotated["secret"] != old["secret"]
        assert rotated["previous_secret_signs_until"] is not None
        dispatcher = CallbackDispatcher(
            gateway.runtime.sessions, gateway.runtime.cipher, allow_private=True
        )
        sandbox.seed_order(simple_order(5110))
        gateway.wait_for(gateway.post_return(_return(5110, "CB-10")).json()["return"]["id"])
        dispatcher.run_round(datetime.now(UTC))
        [overlapping] = receiver.receiver.received()
        assert len(overlapping.headers["webhook-signature"].split()) == 2
        for secret in (old["secret"], rotated["secret"]):
            reference.verify(secret, overlapping.headers, overlapping.body)
            Webhook(secret).verify(overlapping.body, overlapping.headers)

        latest = gateway.api.post(path, json={"overlap_seconds": 0}).json()
        assert latest["previous_secret_signs_until"] is None
        sandbox.seed_order(simple_order(5111))
        gateway.wait_for(gateway.post_return(_return(5111, "CB-11")).json()["return"]["id"])
        dispatcher.run_round(datetime.now(UTC))
        [_, alone] = receiver.receiver.received()
        reference.verify(latest["secret"], alone.headers, alone.body)
        for stale in (old["secret"], rotated["secret"]):
            with pytest.raises(reference.InvalidCallback):
                reference.verify(stale, alone.headers, alone.body)
            with pytest.raises(WebhookVerificationError):
                Webhook(stale).verify(alone.body, alone.headers)
        assert "secret" not in gateway.api.get(f"/v1/callbacks/subscriptions/{old['id']}").json()
    finally:
        gateway.close()


REFUSED = [
    "http://127.0.0.1:9/hook",
    "http://10.1.2.3/hook",
    "http://[::1]/hook",
    "http://169.254.169.254/latest/meta-data",
    "http://[::ffff:127.0.0.1]/hook",
    "http://localhost/hook",
    "ftp://example.com/hook",
    "http://[::1/hook",
    "http://93.184.216.34:99999/hook",
]


def test_callback_urls_to_private_addresses_are_refused_by_default(
    tmp_path: Path, sandbox: Sandbox
) -> None:
    gateway = Gateway(gateway_settings(_sqlite(tmp_path), tmp_path), sandbox)
    try:
        for url in REFUSED:
            response = gateway.api.post("/v1/callbacks/subscriptions", json={"url": url})
            assert response.status_code == 422, (url, response.text)
            problem = response.json()
            assert problem["code"] == "CALLBACK_URL_REFUSED", (url, problem)
            assert "callback" in problem["detail"], problem
        nul = {"url": "https://example.com/hook", "description": "a\x00b"}
        response = gateway.api.post("/v1/callbacks/subscriptions", json=nul)
        assert (response.status_code, response.json()["code"]) == (422, "VALIDATION_ERROR")
        assert gateway.api.get("/v1/callbacks/subscriptions").json() == []
    finally:
        gateway.close()


def test_a_callback_to_a_private_address_is_refused_at_send_and_the_refusal_logged(
    tmp_path: Path, sandbox: Sandbox, receiver: ReceivingServer
) -> None:
    # Saved while private addresses were allowed; a worker without the setting refuses to send
    # (as it would for a public name that resolves to a private address by then).
    db_url = _sqlite(tmp_path)
    gateway = _gateway(db_url, tmp_path, sandbox, callback_tick_seconds=60)
    try:
        subscription = _subscribe(
            gateway,
            receiver.url.replace("127.0.0.1", "localhost"),
            event_types=["return.completed"],
        )
        strict = CallbackDispatcher(
            gateway.runtime.sessions, gateway.runtime.cipher, allow_private=False
        )
        sandbox.seed_order(simple_order(5106))
        body = gateway.wait_for(gateway.post_return(_return(5106, "CB-6")).json()["return"]["id"])
        strict.run_round(datetime.now(UTC) + timedelta(minutes=1))
        items = gateway.api.get(
            "/v1/callbacks/deliveries", params={"subscription_id": subscription["id"]}
        ).json()["items"]
        assert {d["return_id"] for d in items} == {body["id"]}
        assert receiver.receiver.received() == []
        for delivery in items:
            assert (delivery["status"], delivery["attempts"]) == ("pending", 1)
            [attempt] = delivery["log"]
            assert attempt["status_code"] is None
            assert "private or reserved address" in attempt["error"]
    finally:
        gateway.close()


def test_a_tenant_sees_only_its_own_subscriptions_deliveries_and_emails(
    sqlite_gateway: Gateway, sandbox: Sandbox, receiver: ReceivingServer
) -> None:
    import httpx

    from returnbridge.store.tenants import create_tenant

    subscription = _subscribe(sqlite_gateway, receiver.url, event_types=["return.completed"])
    sandbox.seed_order(simple_order(5105))
    body = sqlite_gateway.wait_for(
        sqlite_gateway.post_return(_return(5105, "CB-5")).json()["return"]["id"]
    )
    _wait(lambda: len(receiver.receiver.received()) == 1)
    [delivery] = sqlite_gateway.api.get("/v1/callbacks/deliveries").json()["items"]
    with sqlite_gateway.runtime.sessions.begin() as session:
        _, other_key = create_tenant(session, "Other")
    other = httpx.Client(
        base_url=sqlite_gateway.server.url,
        headers={"Authorization": f"Bearer {other_key}"},
        timeout=30,
    )
    with other:
        assert other.get("/v1/callbacks/subscriptions").json() == []
        assert other.get("/v1/callbacks/deliveries").json()["items"] == []
        page = other.get("/v1/callbacks/deliveries", params={"cursor": delivery["id"]})
        assert page.status_code == 422
        sub_id, delivery_id = subscription["id"], delivery["id"]
        for path in (
            f"/v1/callbacks/subscriptions/{sub_id}",
            f"/v1/callbacks/deliveries/{delivery_id}",
        ):
            assert other.get(path).status_code == 404
        assert other.post(f"/v1/callbacks/deliveries/{delivery_id}/replay").status_code == 404
        assert other.delete(f"/v1/callbacks/subscriptions/{sub_id}").status_code == 404
        subscription_path = f"/v1/callbacks/subscriptions/{sub_id}"
        assert other.patch(subscription_path, json={"status": "disabled"}).status_code == 404
        assert other.post(f"{subscription_path}/rotate-secret").status_code == 404
        assert other.post(f"{subscription_path}/replay", json={}).status_code == 404
        assert other.get("/v1/email/deliveries", params={"return_id": body["id"]}).json() == {
            "items": []
        }
        assert other.get("/v1/email/settings").status_code == 404
    assert sqlite_gateway.api.get(f"/v1/callbacks/subscriptions/{sub_id}").status_code == 200
