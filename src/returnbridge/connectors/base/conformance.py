"""The conformance suite every `OrderConnector` must pass, run against the platform's sandbox.

Subclass `ConnectorConformance` in the connector's contract tests (name the subclass `Test...`)
and provide a function-scoped `conformance_case` fixture that seeds a fresh order in the sandbox
and yields a `ConformanceCase`. The suite checks the contract the engine relies on: reads map
to the normalised models, searches are exact, a missing order is `NotFound`, and a refund made
twice with one idempotency key exists once and shows up on the order.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from returnbridge.connectors.base.connector import (
    Capability,
    OrderConnector,
    OrderQuery,
    RefundCommand,
)
from returnbridge.domain.errors import NotFound


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

    def test_refund_with_one_key_happens_once(self, conformance_case: ConformanceCase) -> None:
        connector = conformance_case.connector
        first = connector.create_refund(conformance_case.refund)
        again = connector.create_refund(conformance_case.refund)
        assert again.id == first.id
        assert first.total == conformance_case.refund_total
        assert first.currency == conformance_case.refund.currency
        refunds = connector.list_refunds(conformance_case.order_id)
        assert [r.id for r in refunds] == [first.id]

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
            pytest.skip("connector has no refund preview")
        suggested = connector.suggest_refund(conformance_case.refund)
        assert suggested.total == conformance_case.refund_total
        assert suggested.currency == conformance_case.refund.currency
        assert [(x.line_id, x.quantity) for x in suggested.lines] == [
            (x.line_id, x.quantity) for x in conformance_case.refund.lines
        ]
