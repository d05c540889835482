"""Where refund money goes (refund-math "Tenders", "Two currencies"): refusals and mirroring.

The boundaries of what each payment can still take are in test_money_boundaries.py; here are
the refusals' messages and the shop-currency mirror of several tenders.
"""

from __future__ import annotations

import pytest

from returnbridge.domain.errors import DomainError
from returnbridge.domain.orders import Payment
from returnbridge.domain.tenders import RefundMethod, Tender, allocate_tenders, mirror_tenders


def test_a_negative_total_says_which_total() -> None:
    with pytest.raises(DomainError) as caught:
        allocate_tenders(-250, [], method=RefundMethod.STORE_CREDIT)
    assert caught.value.code == "INVALID_AMOUNT"
    assert caught.value.message == "a refund total cannot be negative (-250)"


def test_a_shortfall_says_how_much_the_payments_can_take_back() -> None:
    # gift card 5.00 of which 4.00 refunded (1.00 left) and card 3.00: 4.00 left in all, so a
    # 4.01 refund is one minor unit short.
    payments = [
        Payment(id="G", method="gift_card", amount=500, refunded=400),
        Payment(id="C", method="card", amount=300),
    ]
    with pytest.raises(DomainError) as caught:
        allocate_tenders(401, payments, method=RefundMethod.ORIGINAL)
    assert caught.value.code == "REFUND_EXCEEDS_CAPTURED"
    assert caught.value.message == "the order's payments can take back only 400 of 401"


def test_a_refund_on_fully_refunded_payments_can_take_back_nothing() -> None:
    payments = [Payment(id="C", method="card", amount=300, refunded=300)]
    with pytest.raises(DomainError) as caught:
        allocate_tenders(1, payments, method=RefundMethod.ORIGINAL)
    assert caught.value.message == "the order's payments can take back only 0 of 1"


def test_mirrored_tenders_keep_method_payment_and_gateway_in_order() -> None:
    # presentment 100 + 300 + 600 = 1000; shop total 2001: exact 200.1, 600.3, 1200.6,
    # floors 200 + 600 + 1200 = 2000, the last unit to the largest fraction (.6): 1201.
    tenders = (
        Tender(method="store_credit", amount=100, payment_id="S", gateway="shopify"),
        Tender(method="gift_card", amount=300, payment_id="G", gateway="gift"),
        Tender(method="card", amount=600, payment_id="C", gateway="stripe"),
    )
    assert mirror_tenders(tenders, 2001) == (
        Tender(method="store_credit", amount=200, payment_id="S", gateway="shopify"),
        Tender(method="gift_card", amount=600, payment_id="G", gateway="gift"),
        Tender(method="card", amount=1201, payment_id="C", gateway="stripe"),
    )


def test_mirrored_tenders_with_a_zero_tender_give_it_nothing() -> None:
    # weights 0, 250, 750 over 9: exact 0, 2.25, 6.75; floors 0 + 2 + 6 = 8; the unit left
    # goes to .75: 0, 2, 7.
    tenders = (
        Tender(method="gift_card", amount=0),
        Tender(method="card", amount=250),
        Tender(method="card", amount=750),
    )
    assert [t.amount for t in mirror_tenders(tenders, 9)] == [0, 2, 7]


def test_mirroring_all_zero_tenders_gives_everything_to_the_first_tender() -> None:
    tenders = tuple(
        Tender(method=method, amount=0, payment_id=pid)
        for method, pid in (("gift_card", "G"), ("card", "C1"), ("card", "C2"))
    )
    mirrored = mirror_tenders(tenders, 7)
    assert [(t.payment_id, t.amount) for t in mirrored] == [("G", 7), ("C1", 0), ("C2", 0)]


def test_mirroring_all_zero_tenders_to_a_zero_total_gives_zeros() -> None:
    tenders = (Tender(method="card", amount=0), Tender(method="card", amount=0))
    assert [t.amount for t in mirror_tenders(tenders, 0)] == [0, 0]


def test_a_tender_as_a_dict_leaves_out_what_it_does_not_know() -> None:
    assert Tender(method="original", amount=5).to_dict() == {"method": "original", "amount": 5}
    assert Tender(method="card", amount=5, payment_id="P", gateway="stripe").to_dict() == {
        "method": "card",
        "amount": 5,
        "payment_id": "P",
        "gateway": "stripe",
    }
