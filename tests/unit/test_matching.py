"""Matching a return to one order, or sending it to a human."""

from __future__ import annotations

import pytest

from returnbridge.domain.errors import DomainError
from returnbridge.domain.matching import decide_match, normalise_order_name, resolve_lines
from returnbridge.domain.orders import Order, OrderLine, OrderSummary
from returnbridge.domain.returns import OrderReference, ReturnLine


def summary(order_id: str, name: str, email: str, *skus: str) -> OrderSummary:
    return OrderSummary(id=order_id, name=name, email=email, skus=skus)


def test_order_names_match_with_or_without_hash() -> None:
    assert normalise_order_name("#1001") == normalise_order_name(" 1001 ")


def test_single_candidate_by_number_matches() -> None:
    decision = decide_match(
        OrderReference(order_number="1001"),
        [summary("o1", "#1001", "a@x.com"), summary("o2", "#10011", "a@x.com")],
    )
    assert decision.order_id == "o1"


def test_email_case_does_not_matter() -> None:
    decision = decide_match(
        OrderReference(customer_email="Jane@Example.com"), [summary("o1", "#1", "jane@example.com")]
    )
    assert decision.matched


def test_several_candidates_go_to_review_with_all_of_them() -> None:
    hits = [summary("o1", "#1", "a@x.com", "TEE"), summary("o2", "#2", "a@x.com", "TEE")]
    decision = decide_match(OrderReference(customer_email="a@x.com"), hits, skus=("TEE",))
    assert decision.order_id is None
    assert [c.id for c in decision.candidates] == ["o1", "o2"]
    assert "2 orders" in decision.reason


def test_skus_narrow_candidates_to_one() -> None:
    hits = [summary("o1", "#1", "a@x.com", "TEE"), summary("o2", "#2", "a@x.com", "CAP")]
    decision = decide_match(OrderReference(customer_email="a@x.com"), hits, skus=("CAP",))
    assert decision.order_id == "o2"


def test_no_candidate_goes_to_review() -> None:
    decision = decide_match(OrderReference(order_number="#9"), [])
    assert not decision.matched
    assert decision.reason == "no order matches the reference"


def _order() -> Order:
    return Order(
        id="o1",
        currency="USD",
        amount_paid=10_000,
        line_items=(
            OrderLine(id="L1", sku="TEE", quantity=1, unit_price=2000),
            OrderLine(id="L2", sku="TEE", quantity=2, unit_price=2000, already_returned_quantity=1),
            OrderLine(id="L3", sku="CAP", quantity=1, unit_price=1500),
        ),
    )


def test_lines_resolve_by_sku_across_lines_with_units_left() -> None:
    resolved = resolve_lines(
        _order(), (ReturnLine(sku="TEE", quantity=1), ReturnLine(sku="TEE", quantity=1))
    )
    assert [(r.line.id, r.quantity) for r in resolved] == [("L1", 1), ("L2", 1)]


def test_line_id_wins_over_sku() -> None:
    resolved = resolve_lines(_order(), (ReturnLine(line_id="L3", sku="TEE", quantity=1),))
    assert resolved[0].line.id == "L3"


def test_unresolvable_line_names_its_position() -> None:
    with pytest.raises(DomainError) as caught:
        resolve_lines(
            _order(), (ReturnLine(sku="CAP", quantity=1), ReturnLine(sku="CAP", quantity=1))
        )
    assert caught.value.code == "UNRESOLVED_LINE"
    assert caught.value.field == "lines[1]"
