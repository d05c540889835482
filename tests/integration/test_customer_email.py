"""The notify step sends the customer's email once, through a real SMTP server (aiosmtpd),
in the customer's locale; on SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from returnbridge.domain.errors import TransientError
from returnbridge.engine import notifying
from support.gateway import Gateway, Sandbox, simple_order
from support.smtp import SmtpServer

pytestmark = pytest.mark.timeout(180)


def full_return(order_id: int, external_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "external_id": external_id,
        "channel": "email",
        "order": {"platform_order_id": f"gid://shopify/Order/{order_id}"},
        "lines": [{"sku": "MUG-WHT", "quantity": 3}],
        "refund": {"shipping": {"mode": "full"}},
        **extra,
    }


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    with SmtpServer() as server:
        yield server


@pytest.fixture
def gateway(db_gateway: Gateway, smtp: SmtpServer) -> Gateway:
    response = db_gateway.api.put("/v1/email/settings", json=smtp.settings())
    assert response.status_code == 200, response.text
    return db_gateway


def _plain(text: str) -> str:
    """Babel separates amount and symbol with a no-break space; lines end in CRLF on the wire."""
    return text.replace("\xa0", " ").replace("\r\n", "\n")


def _mail_to(smtp: SmtpServer, address: str, count: int = 1) -> list[Any]:
    """The messages to `address`, once `count` arrived (a parked return rests before its
    email is sent); then a short look that no more come."""
    deadline = time.monotonic() + 20
    while len(smtp.inbox.to(address)) < count and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.3)
    return smtp.inbox.to(address)


def _events(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [e for e in body["timeline"] if e["event"] == name]


def test_the_customer_gets_one_refund_email_in_their_language(
    gateway: Gateway, sandbox: Sandbox, smtp: SmtpServer
) -> None:
    sandbox.seed_order(simple_order(4101, email="kunde@example.de"))
    event = full_return(4101, "MAIL-1", customer_locale="de-DE")
    body = gateway.wait_for(gateway.post_return(event).json()["return"]["id"])

    assert body["status"] == "completed"
    [message] = smtp.inbox.to("kunde@example.de")
    # 3 x 12.00 - 5.00 discount + 1.55 tax + 5.99 shipping + 0.30 shipping tax = 38.84 USD
    assert _plain(message["Subject"]) == "Ihre Erstattung über 38,84 $ ist unterwegs"
    assert message["From"] == "Acme Shop <returns@shop.example>"
    assert message["Reply-To"] == "help@shop.example"
    text = _plain(message.get_body(("plain",)).get_content())
    html = message.get_body(("html",)).get_content()
    assert "3 × White mug: 32,55 $" in text  # 36.00 - 5.00 discount + 1.55 tax
    assert "Versand: 6,29 $" in text
    assert "Erstattet insgesamt: 38,84 $" in text
    assert '<html lang="de">' in html
    [notified] = _events(body, "customer_notified")
    assert notified["data"]["template"] == "refund_issued"
    assert notified["data"]["status"] == "sent"
    log = gateway.api.get("/v1/email/deliveries", params={"return_id": body["id"]}).json()
    assert [(d["template"], d["status"], d["attempts"]) for d in log["items"]] == [
        ("refund_issued", "sent", 1)
    ]


def test_a_notify_step_retried_after_sending_does_not_send_again(
    gateway: Gateway, sandbox: Sandbox, smtp: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The fault: the step's last write fails once, after the email went out (the database
    # went away at that moment); DBOS retries the whole step.
    real = notifying.record_notified
    failures: list[str] = []

    def fails_once(*args: Any, **kwargs: Any) -> Any:
        if not failures:
            failures.append("after send")
            raise TransientError("DB_GONE", "the database went away after the send")
        return real(*args, **kwargs)

    monkeypatch.setattr(notifying, "record_notified", fails_once)
    sandbox.seed_order(simple_order(4102, email="client@example.fr"))
    event = full_return(4102, "MAIL-2", customer_locale="fr")
    body = gateway.wait_for(gateway.post_return(event).json()["return"]["id"])

    assert failures == ["after send"]
    assert body["status"] == "completed"
    [message] = smtp.inbox.to("client@example.fr")
    assert _plain(message["Subject"]) == "Votre remboursement de 38,84 $US est en route"
    assert len(_events(body, "customer_notified")) == 1


def test_a_return_of_a_tenant_without_email_settings_skips_the_step(
    db_gateway: Gateway, sandbox: Sandbox, smtp: SmtpServer
) -> None:
    sandbox.seed_order(simple_order(4103))
    body = db_gateway.wait_for(
        db_gateway.post_return(full_return(4103, "MAIL-3")).json()["return"]["id"]
    )
    assert body["status"] == "completed"
    skipped = [e for e in _events(body, "step_skipped") if e["to_status"] == "notified"]
    assert [e["reason"] for e in skipped] == ["customer notifications not configured"]
    assert smtp.inbox.messages == []


def test_a_mail_server_that_refuses_for_now_leaves_the_email_pending_not_the_return(
    gateway: Gateway, sandbox: Sandbox, smtp: SmtpServer
) -> None:
    smtp.inbox.refuse_next = 1
    sandbox.seed_order(simple_order(4104, email="later@example.com"))
    body = gateway.wait_for(gateway.post_return(full_return(4104, "MAIL-4")).json()["return"]["id"])

    assert body["status"] == "completed"
    assert smtp.inbox.refused == 1
    assert smtp.inbox.to("later@example.com") == []
    [queued] = _events(body, "customer_notification_pending")
    log = gateway.api.get("/v1/email/deliveries", params={"return_id": body["id"]}).json()
    [delivery] = log["items"]
    assert (delivery["status"], delivery["attempts"]) == ("pending", 1)
    assert "451" in delivery["last_error"]
    assert delivery["next_attempt_at"] is not None
    assert queued["data"]["delivery_id"] == delivery["id"]


def test_a_requested_return_tells_the_customer_it_was_received_once(
    gateway: Gateway, sandbox: Sandbox, smtp: SmtpServer
) -> None:
    sandbox.seed_order(simple_order(4105, email="waits@example.com"))
    event = full_return(
        4105,
        "MAIL-5",
        status="requested",
        customer_locale="de",
        order={
            "platform_order_id": "gid://shopify/Order/4105",
            "customer_email": "waits@example.com",
        },
    )
    body = gateway.wait_for(gateway.post_return(event).json()["return"]["id"])
    assert body["status"] == "needs_review"
    again = gateway.post_return(event)  # the same delivery again: no second email
    assert again.json()["duplicate"] is True

    [message] = _mail_to(smtp, "waits@example.com")
    assert _plain(message["Subject"]) == "Wir haben Ihre Rücksendung MAIL-5 erhalten"
    log = gateway.api.get("/v1/email/deliveries", params={"return_id": body["id"]}).json()
    assert [(d["template"], d["status"]) for d in log["items"]] == [("return_received", "sent")]


def test_an_order_we_cannot_find_asks_the_customer_for_its_number(
    gateway: Gateway, sandbox: Sandbox, smtp: SmtpServer
) -> None:
    event = {
        "external_id": "MAIL-6",
        "customer_locale": "fr-FR",
        "order": {"customer_email": "lost@example.com"},
        "lines": [{"sku": "MUG-WHT", "quantity": 1}],
    }
    body = gateway.wait_for(gateway.post_return(event).json()["return"]["id"])
    assert body["status"] == "needs_review"
    [message] = _mail_to(smtp, "lost@example.com")
    assert message["Subject"] == "Nous avons besoin de précisions sur votre retour MAIL-6"
    text = _plain(message.get_body(("plain",)).get_content())
    assert "le numéro de commande figurant sur votre confirmation de commande" in text
