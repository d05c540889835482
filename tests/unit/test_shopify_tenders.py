"""Shopify's parent transactions: tenders go back through the order's original payments."""

from __future__ import annotations

from returnbridge.connectors.base.connector import (
    RefundCommand,
    SuggestedRefund,
    SuggestedTender,
    TenderCommand,
)
from returnbridge.connectors.shopify import tenders


def command(*tender: TenderCommand) -> RefundCommand:
    return RefundCommand(order_id="O1", currency="USD", idempotency_key="k", tenders=tender)


def test_suggested_parents_fill_tenders_without_one() -> None:
    suggested = SuggestedRefund(
        currency="USD", tenders=(SuggestedTender(amount=500, gateway="bogus", parent_id="T1"),)
    )
    filled = tenders.with_suggested_tenders(command(TenderCommand(amount=500)), suggested)
    assert [(t.parent_id, t.gateway, t.amount) for t in filled.tenders] == [("T1", "bogus", 500)]


def test_the_platform_is_asked_only_when_a_tender_lacks_its_parent() -> None:
    asked: list[RefundCommand] = []

    def suggest(sent: RefundCommand) -> SuggestedRefund:
        asked.append(sent)
        return SuggestedRefund(currency="USD", tenders=(SuggestedTender(amount=1, parent_id="T9"),))

    known = command(
        TenderCommand(amount=500, parent_id="T1"), TenderCommand(amount=1, method="store_credit")
    )
    assert tenders.with_parents(known, suggest) is known
    assert asked == []
    filled = tenders.with_parents(command(TenderCommand(amount=500)), suggest)
    assert [t.parent_id for t in filled.tenders] == ["T9"]
    assert len(asked) == 1
