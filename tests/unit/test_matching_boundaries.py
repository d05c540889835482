"""Edges of order matching and line resolution that the main matching tests leave open.

`decide_match` keeps only the search hits that agree with every clue and matches a single
survivor; `resolve_lines` pins return lines to order lines and counts the units it has
already handed out (docs/architecture.md, `match_order` and `plan_refund`).
"""

from __future__ import annotations

import pytest

from returnbridge.domain.errors import DomainError
from returnbridge.domain.matching import (
    decide_match,
    normalise_email,
    normalise_order_name,
    resolve_lines,
)
from returnbridge.domain.orders import Order, OrderLine, OrderSummary
from returnbridge.domain.returns import OrderReference, ReturnLine


def _hit(order_id: str, name: str | None, email: str | None, *skus: str) -> OrderSummary:
    return OrderSummary(id=order_id, name=name, email=email, skus=skus)


# --- names and emails ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "normal"),
    [("#1001", "1001"), (" # 1001 ", "1001"), ("##1001", "1001"), ("#XMAS-1", "xmas-1")],
)
def test_an_order_name_loses_its_hashes_and_spaces_and_nothing_else(
    written: str, normal: str
) -> None:
    assert normalise_order_name(written) == normal


def test_an_order_name_that_starts_with_letters_keeps_them() -> None:
    assert normalise_order_name("X1001") == "x1001"
    decision = decide_match(OrderReference(order_number="#1001"), [_hit("o1", "X1001", None)])
    assert not decision.matched


def test_an_email_is_trimmed_and_case_folded() -> None:
    assert normalise_email("  Jane@Example.COM ") == "jane@example.com"


# --- decide_match -------------------------------------------------------------------------------


def test_a_single_survivor_is_the_match_and_the_only_candidate_recorded() -> None:
    hits = [_hit("o1", "#1001", "a@x.com"), _hit("o2", "#1002", "a@x.com")]
    decision = decide_match(OrderReference(order_number="1001"), hits)
    assert decision.order_id == "o1"
    assert decision.matched
    assert decision.reason == "single candidate"
    assert decision.candidates == (hits[0],)


def test_the_email_clue_drops_hits_with_another_email_or_none() -> None:
    hits = [
        _hit("o1", "#1", "b@x.com"),
        _hit("o2", "#2", None),
        _hit("o3", "#3", "A@X.com"),
    ]
    decision = decide_match(OrderReference(customer_email="a@x.com"), hits)
    assert decision.order_id == "o3"
    assert decision.candidates == (hits[2],)


def test_no_survivor_records_every_hit_the_search_returned() -> None:
    hits = [_hit("o1", "#1", "b@x.com"), _hit("o2", "#2", "c@x.com")]
    decision = decide_match(OrderReference(customer_email="a@x.com"), hits)
    assert decision.order_id is None
    assert decision.reason == "no order matches the reference"
    assert decision.candidates == tuple(hits)


def test_several_survivors_are_recorded_without_the_hits_that_failed_a_clue() -> None:
    hits = [
        _hit("o1", "#1", "a@x.com"),
        _hit("o2", "#2", "b@x.com"),
        _hit("o3", "#3", "a@x.com"),
    ]
    decision = decide_match(OrderReference(customer_email="a@x.com"), hits)
    assert decision.order_id is None
    assert decision.reason == "2 orders match the reference"
    assert decision.candidates == (hits[0], hits[2])


def test_skus_that_no_hit_carries_do_not_remove_the_only_hit() -> None:
    # SKU clues only narrow: with no hit carrying CAP the single hit still matches.
    hit = _hit("o1", "#1", "a@x.com", "TEE")
    decision = decide_match(OrderReference(customer_email="a@x.com"), [hit], skus=("CAP",))
    assert decision.order_id == "o1"


def test_skus_that_no_hit_carries_leave_several_hits_for_review() -> None:
    hits = [_hit("o1", "#1", "a@x.com", "TEE"), _hit("o2", "#2", "a@x.com")]
    decision = decide_match(OrderReference(customer_email="a@x.com"), hits, skus=("CAP",))
    assert decision.order_id is None
    assert decision.candidates == tuple(hits)


def test_skus_narrow_only_to_hits_that_carry_all_of_them() -> None:
    hits = [
        _hit("o1", "#1", "a@x.com", "TEE"),
        _hit("o2", "#2", "a@x.com", "TEE", "CAP"),
        _hit("o3", "#3", "a@x.com", "CAP"),
    ]
    decision = decide_match(OrderReference(customer_email="a@x.com"), hits, skus=("TEE", "CAP"))
    assert decision.order_id == "o2"


def test_a_hit_whose_lines_were_not_all_read_is_not_ruled_out_by_skus() -> None:
    # o2's first page of lines shows TEE only; CAP may sit on a later page, so o1 (which shows
    # CAP) is not a single match: both go to review.
    hits = [
        _hit("o1", "#1", "a@x.com", "CAP"),
        OrderSummary(id="o2", name="#2", email="a@x.com", skus=("TEE",), skus_complete=False),
    ]
    decision = decide_match(OrderReference(customer_email="a@x.com"), hits, skus=("CAP",))
    assert decision.order_id is None
    assert decision.candidates == tuple(hits)


# --- resolve_lines ------------------------------------------------------------------------------


def _order(name: str | None = "#1001") -> Order:
    return Order(
        id="gid://shopify/Order/1",
        name=name,
        currency="USD",
        amount_paid=10_000,
        line_items=(
            OrderLine(id="L1", sku="TEE", quantity=3, unit_price=1000),
            OrderLine(id="L2", sku="CAP", quantity=2, unit_price=500, already_returned_quantity=1),
        ),
    )


def _by_id(line_id: str, quantity: int) -> ReturnLine:
    return ReturnLine(line_id=line_id, quantity=quantity)


def test_each_resolved_line_keeps_the_return_line_it_came_from() -> None:
    asked = (_by_id("L1", 2), ReturnLine(sku="CAP", quantity=1))
    resolved = resolve_lines(_order(), asked)
    assert [(r.line.id, r.quantity) for r in resolved] == [("L1", 2), ("L2", 1)]
    assert [r.source for r in resolved] == list(asked)


def test_units_asked_by_line_id_add_up_to_exactly_the_line() -> None:
    # L1 has 3 units: 1 + 1 + 1 takes them all.
    resolved = resolve_lines(_order(), (_by_id("L1", 1), _by_id("L1", 1), _by_id("L1", 1)))
    assert [r.quantity for r in resolved] == [1, 1, 1]


def test_units_asked_by_line_id_beyond_the_line_are_refused_at_the_line_that_overflows() -> None:
    # L1 has 3 units: 1 + 1 leaves 1, so the third line asking for 2 cannot be pinned.
    with pytest.raises(DomainError) as caught:
        resolve_lines(_order(), (_by_id("L1", 1), _by_id("L1", 1), _by_id("L1", 2)))
    assert caught.value.code == "UNRESOLVED_LINE"
    assert caught.value.field == "lines[2]"
    assert caught.value.message == (
        "lines[2]: line id L1 is not on order #1001 with enough returnable units"
    )


def test_units_already_returned_are_not_returnable_again() -> None:
    # L2: 2 ordered − 1 already returned = 1 returnable unit, so 2 is too many.
    with pytest.raises(DomainError) as caught:
        resolve_lines(_order(), (_by_id("L2", 2),))
    assert caught.value.code == "UNRESOLVED_LINE"
    assert caught.value.field == "lines[0]"


def test_the_last_returnable_unit_of_a_partly_returned_line_resolves() -> None:
    resolved = resolve_lines(_order(), (_by_id("L2", 1),))
    assert [(r.line.id, r.quantity) for r in resolved] == [("L2", 1)]


def test_an_unknown_line_id_is_refused_by_its_id() -> None:
    with pytest.raises(DomainError) as caught:
        resolve_lines(_order(), (ReturnLine(line_id="L9", sku="TEE", quantity=1),))
    assert caught.value.code == "UNRESOLVED_LINE"
    assert caught.value.message == (
        "lines[0]: line id L9 is not on order #1001 with enough returnable units"
    )


def test_an_unresolved_sku_is_named_by_its_sku_and_the_order_by_its_id_without_a_name() -> None:
    # CAP: 1 returnable unit on L2, so 2 units cannot be pinned.
    with pytest.raises(DomainError) as caught:
        resolve_lines(_order(name=None), (ReturnLine(sku="CAP", quantity=2),))
    assert caught.value.field == "lines[0]"
    assert caught.value.message == (
        "lines[0]: sku CAP is not on order gid://shopify/Order/1 with enough returnable units"
    )
