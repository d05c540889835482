"""The conformance suite every `OrderConnector` must pass, run against the platform's sandbox.

Subclass `ConnectorConformance` in the connector's contract tests (name the subclass `Test...`)
and provide a function-scoped `conformance_case` fixture that seeds a fresh order in the sandbox
and yields a `ConformanceCase`. The suite checks the contract the engine relies on: reads map
to the normalised models, searches are exact, a missing order is `NotFound`, a refund is found
by its key and shows up on the order, a lost answer never makes a second refund, throttling and
5xx are transient, a refused refund is permanent and sent once, restocked goods show in the
sandbox's stock, and webhook signatures are verified (forged ones refused).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal, Protocol

import pytest

from returnbridge.connectors.base.connector import (
    Capability,
    OrderConnector,
    OrderQuery,
    PlatformRefund,
    RefundCommand,
    RestockCommand,
    RestockLine,
)
from returnbridge.connectors.base.dedupe import find_by_key
from returnbridge.domain.errors import NotFound, PermanentError, TransientError

RefundFault = Literal["timeout_after_commit", "throttled", "server_error"]


class SandboxControls(Protocol):
    """What the suite needs from a platform's sandbox (its `/_sandbox` control surface)."""

    def fail_next_refund(self, fault: RefundFault) -> None:
        """The next refund write meets `fault`: `timeout_after_commit` (made, answer held
        longer than the connector waits), `throttled` (the platform's 429 or throttle answer),
        `server_error` (a 5xx before anything is made)."""

    def refund_writes(self) -> list[str | None]:
        """Every refund write the sandbox received, in order: the id of the refund it made,
        or None when it made none (refused, throttled, failed)."""

    def stock(self, sku: str, location_id: str) -> int:
        """Units of `sku` in stock at `location_id`."""


@dataclass(frozen=True)
class WebhookCase:
    """A delivery signed as the platform signs it, and the connector's verifier."""

    body: bytes
    headers: Mapping[str, str]
    verify: Callable[[bytes, Mapping[str, str]], bool]


@dataclass(frozen=True)
class ConformanceCase:
    """A connector plus what was seeded for it.

    The seeded order is paid and fulfilled, has `sku` on a line with at least two units, and
    `refund` refunds exactly one unit of that line (restocked to `location_id`) with
    `refund_total` minor units; `missing_order_id` is well-formed but does not exist.
    """

    connector: OrderConnector
    order_id: str
    order_name: str
    email: str
    sku: str
    location_id: str
    refund: RefundCommand
    refund_total: int
    missing_order_id: str
    sandbox: SandboxControls
    webhook: WebhookCase
    make_impatient: Callable[[], OrderConnector]
    """A second connector to the same store whose timeout is shorter than the sandbox's
    `timeout_after_commit` hold (close it after use)."""


def _attempt(
    connector: OrderConnector, command: RefundCommand
) -> tuple[PlatformRefund | None, TransientError | None]:
    """One `create_refund`: the refund, or the transient error it ended with."""
    try:
        return connector.create_refund(command), None
    except TransientError as error:
        return None, error


class ConnectorConformance:
    """Behaviour every connector shares; subclasses supply the `conformance_case` fixture."""

    @pytest.fixture
    def conformance_case(self) -> ConformanceCase:
        raise NotImplementedError("override conformance_case in the connector's contract tests")

    def test_declares_platform_and_capabilities(self, conformance_case: ConformanceCase) -> None:
        connector = conformance_case.connector
        assert isinstance(connector, OrderConnector)
        assert connector.platform
        assert all(isinstance(c, Capability) for c in connector.capabilities)

    def test_get_order_maps_the_seeded_order(self, conformance_case: ConformanceCase) -> None:
        order = conformance_case.connector.get_order(conformance_case.order_id)
        assert order.id == conformance_case.order_id
        assert order.name == conformance_case.order_name
        assert order.email == conformance_case.email
        assert order.platform == conformance_case.connector.platform
        assert order.amount_paid > 0
        assert order.already_refunded_amount == 0
        (line,) = order.line_by_sku(conformance_case.sku)
        assert line.quantity >= 2
        assert line.unit_price > 0
        assert line.already_returned_quantity == 0
        assert sum(p.amount for p in order.payments) == order.amount_paid

    def test_missing_order_is_not_found(self, conformance_case: ConformanceCase) -> None:
        with pytest.raises(NotFound):
            conformance_case.connector.get_order(conformance_case.missing_order_id)

    def test_find_by_name(self, conformance_case: ConformanceCase) -> None:
        if Capability.SEARCH_BY_NAME not in conformance_case.connector.capabilities:
            pytest.skip("connector cannot search by name")
        hits = conformance_case.connector.find_orders(OrderQuery(name=conformance_case.order_name))
        assert [h.id for h in hits] == [conformance_case.order_id]

    def test_find_by_email_and_sku(self, conformance_case: ConformanceCase) -> None:
        if Capability.SEARCH_BY_EMAIL not in conformance_case.connector.capabilities:
            pytest.skip("connector cannot search by email")
        query = OrderQuery(email=conformance_case.email, skus=(conformance_case.sku,))
        hits = conformance_case.connector.find_orders(query)
        assert conformance_case.order_id in [h.id for h in hits]
        assert all(conformance_case.sku in h.skus for h in hits)

    def test_find_without_match_is_empty(self, conformance_case: ConformanceCase) -> None:
        query = OrderQuery(email="nobody-at-all@example.invalid")
        assert conformance_case.connector.find_orders(query) == []

    def test_locations_include_the_restock_location(
        self, conformance_case: ConformanceCase
    ) -> None:
        locations = {loc.id: loc for loc in conformance_case.connector.list_locations()}
        assert locations[conformance_case.location_id].active

    def test_refund_is_found_by_its_key(self, conformance_case: ConformanceCase) -> None:
        connector = conformance_case.connector
        key = conformance_case.refund.idempotency_key
        made = connector.create_refund(conformance_case.refund)
        assert made.total == conformance_case.refund_total
        assert made.currency == conformance_case.refund.currency
        refunds = connector.list_refunds(conformance_case.order_id)
        assert [r.id for r in refunds] == [made.id]
        found = find_by_key(refunds, key)
        assert found is not None
        assert (found.id, found.total) == (made.id, made.total)
        assert find_by_key(refunds, key + "-other") is None

    def test_refund_with_one_key_happens_once(self, conformance_case: ConformanceCase) -> None:
        connector = conformance_case.connector
        first = connector.create_refund(conformance_case.refund)
        if Capability.IDEMPOTENT_REFUNDS in connector.capabilities:
            again = connector.create_refund(conformance_case.refund)
        else:  # no idempotency key: what the engine does before any repeat is a look-up
            found = find_by_key(
                connector.list_refunds(conformance_case.order_id),
                conformance_case.refund.idempotency_key,
            )
            assert found is not None
            again = found
        assert again.id == first.id
        refunds = connector.list_refunds(conformance_case.order_id)
        assert [r.id for r in refunds] == [first.id]
        assert [w for w in conformance_case.sandbox.refund_writes() if w] == [first.id]

    def test_lost_answer_after_commit_has_one_effect(
        self, conformance_case: ConformanceCase
    ) -> None:
        """The platform made the refund but its answer never arrived: the refund is found (by
        the connector itself, or by the engine's look-up before a retry), never made twice."""
        sandbox = conformance_case.sandbox
        sandbox.fail_next_refund("timeout_after_commit")
        impatient = conformance_case.make_impatient()
        try:
            made, lost = _attempt(impatient, conformance_case.refund)
            if made is None:  # the engine's look-up before its retry
                assert lost is not None
                assert lost.details.get("ambiguous") is True
                refunds = conformance_case.connector.list_refunds(conformance_case.order_id)
                made = find_by_key(refunds, conformance_case.refund.idempotency_key)
                assert made is not None, "the refund made before the timeout is not found"
        finally:
            impatient.close()
        assert made.total == conformance_case.refund_total
        assert [w for w in sandbox.refund_writes() if w] == [made.id]
        refunds = conformance_case.connector.list_refunds(conformance_case.order_id)
        assert [r.id for r in refunds] == [made.id]

    def test_throttled_refund_is_retried_or_transient(
        self, conformance_case: ConformanceCase
    ) -> None:
        sandbox = conformance_case.sandbox
        sandbox.fail_next_refund("throttled")
        made, throttled = _attempt(conformance_case.connector, conformance_case.refund)
        if made is None:  # the engine retries later; nothing was made
            assert throttled is not None
            assert throttled.details.get("ambiguous") is False
            assert [w for w in sandbox.refund_writes() if w] == []
            made = conformance_case.connector.create_refund(conformance_case.refund)
        assert made.total == conformance_case.refund_total
        assert [w for w in sandbox.refund_writes() if w] == [made.id]

    def test_server_error_is_transient_and_makes_nothing(
        self, conformance_case: ConformanceCase
    ) -> None:
        sandbox = conformance_case.sandbox
        sandbox.fail_next_refund("server_error")
        made, _ = _attempt(conformance_case.connector, conformance_case.refund)
        if made is None:
            assert [w for w in sandbox.refund_writes() if w] == []
            assert conformance_case.connector.list_refunds(conformance_case.order_id) == []
            made = conformance_case.connector.create_refund(conformance_case.refund)
        assert [w for w in sandbox.refund_writes() if w] == [made.id]

    def test_refused_refund_is_permanent_and_sent_once(
        self, conformance_case: ConformanceCase
    ) -> None:
        """A 4xx for a business reason (more units than were bought) is not retried."""
        refund = conformance_case.refund
        (line,) = refund.lines[:1]
        too_many = line.model_copy(update={"quantity": 999})
        money = refund.money
        command = refund.model_copy(
            update={
                "lines": (too_many,),
                "idempotency_key": refund.idempotency_key + "-too-many",
                "money": None
                if money is None
                else money.model_copy(
                    update={
                        "lines": tuple(
                            m.model_copy(update={"quantity": 999}) for m in money.lines[:1]
                        )
                    }
                ),
            }
        )
        with pytest.raises(PermanentError):
            conformance_case.connector.create_refund(command)
        assert conformance_case.sandbox.refund_writes() in ([], [None])
        assert conformance_case.connector.list_refunds(conformance_case.order_id) == []

    def test_restock_shows_in_the_sandbox_stock(self, conformance_case: ConformanceCase) -> None:
        connector = conformance_case.connector
        sandbox = conformance_case.sandbox
        before = sandbox.stock(conformance_case.sku, conformance_case.location_id)
        refund = connector.create_refund(conformance_case.refund)
        restocked = sum(line.quantity for line in conformance_case.refund.lines)
        if Capability.RESTOCK_WITH_REFUND not in connector.capabilities:
            assert Capability.RESTOCK in connector.capabilities
            assert sandbox.stock(conformance_case.sku, conformance_case.location_id) == before
            result = connector.restock(
                RestockCommand(
                    order_id=conformance_case.order_id,
                    key=conformance_case.refund.idempotency_key,
                    lines=tuple(
                        RestockLine(line_id=line.line_id, quantity=line.quantity)
                        for line in conformance_case.refund.lines
                    ),
                    location_id=conformance_case.location_id,
                )
            )
            assert sum(line.quantity for line in result.lines) == restocked
        else:
            assert (
                sum(line.quantity for line in refund.lines if line.restock != "none") == restocked
            )
        after = sandbox.stock(conformance_case.sku, conformance_case.location_id)
        assert after == before + restocked

    def test_webhook_signature_is_verified(self, conformance_case: ConformanceCase) -> None:
        webhook = conformance_case.webhook
        assert webhook.verify(webhook.body, webhook.headers)
        forged_body = webhook.body.replace(b"}", b', "forged": true}', 1)
        assert forged_body != webhook.body
        assert not webhook.verify(forged_body, webhook.headers)
        unsigned = {
            name: value
            for name, value in webhook.headers.items()
            if "signature" not in name.lower() and "hmac" not in name.lower()
        }
        assert not webhook.verify(webhook.body, unsigned)

    def test_refund_shows_on_the_order(self, conformance_case: ConformanceCase) -> None:
        connector = conformance_case.connector
        refund = connector.create_refund(conformance_case.refund)
        order = connector.get_order(conformance_case.order_id)
        (line,) = order.line_by_sku(conformance_case.sku)
        (refunded_line,) = refund.lines
        assert refunded_line.line_id == line.id
        assert line.already_returned_quantity == refunded_line.quantity
        assert order.already_refunded_amount == refund.total

    def test_suggested_refund_agrees_with_the_refund(
        self, conformance_case: ConformanceCase
    ) -> None:
        connector = conformance_case.connector
        if Capability.SUGGESTED_REFUND not in connector.capabilities:
            # no preview: the connector says so plainly, and the engine never asks
            with pytest.raises(PermanentError):
                connector.suggest_refund(conformance_case.refund)
            return
        suggested = connector.suggest_refund(conformance_case.refund)
        assert suggested.total == conformance_case.refund_total
        assert suggested.currency == conformance_case.refund.currency
        assert [(x.line_id, x.quantity) for x in suggested.lines] == [
            (x.line_id, x.quantity) for x in conformance_case.refund.lines
        ]
