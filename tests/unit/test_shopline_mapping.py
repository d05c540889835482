"""SHOPLINE JSON <-> domain, on payloads shaped as the research notes and the SDK describe."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from returnbridge.connectors.base.connector import (
    LineMoney,
    RefundCommand,
    RefundLineCommand,
    RefundMoney,
    TenderCommand,
)
from returnbridge.connectors.shopline import mapping
from returnbridge.connectors.shopline.client import next_page_info, store_root
from returnbridge.connectors.shopline.returns import (
    ReturnLineRequest,
    platform_return,
    return_line_items,
)
from returnbridge.domain.errors import PermanentError

ORDER_ID = "21057520029298437725452511"
TEE = "1100000000000001"
MUG = "1100000000000002"
SLIP = "23050000000000000000000001"
FULFILLMENT = "22050000000000000000000001"


def usd(amount: str) -> dict[str, Any]:
    return {
        "shop_money": {"amount": amount, "currency_code": "USD"},
        "presentment_money": {"amount": amount, "currency_code": "EUR"},
    }


def order_json(**overrides: Any) -> dict[str, Any]:
    """3 tees at 20.00 (5.00 coupon across, 8 % tax 4.40), all shipped; 2 mugs at 6.00
    untaxed, none shipped; shipping 10.00 + 0.80; one PayPal slip of 86.80."""
    order: dict[str, Any] = {
        "id": ORDER_ID,
        "name": "#1001",
        "email": "Ann@Example.com",
        "created_at": "2026-03-05T21:40:11+00:00",
        "currency": "USD",
        "presentment_currency": "EUR",
        "taxes_included": False,
        "total_price": "86.80",
        "total_price_set": usd("78.12"),
        "total_discounts": "5.00",
        "discount_applications": [
            {
                "code": "SAVE5",
                "value": "5.00",
                "target_type": "line_item",
                "allocation_method": "across",
            }
        ],
        "line_items": [
            {
                "id": TEE,
                "sku": "TEE-1",
                "title": "Tee",
                "name": "Tee - M",
                "variant_id": "18050000000000000001",
                "quantity": 3,
                "price": "20.00",
                "price_set": usd("18.00"),
                "tax_lines": [{"title": "VAT", "rate": "0.08", "price": "4.40"}],
                "discount_allocations": [{"amount": "5.00", "discount_application_index": 0}],
                "fulfillable_quantity": 0,
            },
            {
                "id": MUG,
                "sku": "MUG-1",
                "title": "Mug",
                "quantity": 2,
                "price": "6.00",
                "tax_lines": [],
                "discount_allocations": [],
                "fulfillable_quantity": 2,
            },
        ],
        "shipping_lines": [
            {
                "title": "Standard",
                "price": "10.00",
                "discounted_price": "10.00",
                "tax_lines": [{"title": "VAT", "rate": "0.08", "price": "0.80"}],
            }
        ],
        "transactions": [
            {
                "id": SLIP,
                "order_id": ORDER_ID,
                "kind": "sale",
                "gateway": "Paypal",
                "status": "success",
                "amount": "86.80",
                "currency": "USD",
            }
        ],
        "fulfillments": [
            {
                "id": FULFILLMENT,
                "order_id": ORDER_ID,
                "status": "success",
                "line_items": [{"id": TEE, "quantity": 3}],
            }
        ],
        "refunds": [],
    }
    order.update(overrides)
    return order


def refund_json(note: str | None = "returnbridge rb-1 customer return") -> dict[str, Any]:
    return {
        "id": "2605700000000000000001",
        "order_id": ORDER_ID,
        "created_at": "2026-03-06T10:00:00+00:00",
        "note": note,
        "currency": "USD",
        "refund_line_items": [
            {
                "id": "1",
                "line_item_id": TEE,
                "quantity": 1,
                "type": "Returned",
                "restock_type": "return",
                "location_id": "5409000000000000001",
                "subtotal": "18.33",
                "total_tax": "1.47",
            }
        ],
        "shipping": {"amount": "0.00", "tax": "0.00"},
        "transactions": [
            {
                "id": "23050000000000000000000099",
                "parent_id": SLIP,
                "kind": "refund",
                "gateway": "Paypal",
                "status": "success",
                "amount": "19.80",
                "currency": "USD",
            }
        ],
    }


def command(*lines: RefundLineCommand, **overrides: Any) -> RefundCommand:
    values: dict[str, Any] = {
        "order_id": ORDER_ID,
        "currency": "USD",
        "idempotency_key": "rb-1",
        "lines": lines
        or (RefundLineCommand(line_id=TEE, quantity=1, restock="return", location_id="L1"),),
        "tenders": (TenderCommand(amount=1980, parent_id=SLIP, gateway="Paypal"),),
        "note": "customer return",
        "money": RefundMoney(
            lines=(LineMoney(line_id=TEE, quantity=1, subtotal=1833, tax=147),), total=1980
        ),
    }
    values.update(overrides)
    return RefundCommand(**values)


# --------------------------------------------------------------------------- values


def test_amounts_are_parsed_exactly_and_never_through_floats() -> None:
    assert mapping.minor("18.33", "USD") == 1833
    assert mapping.minor("10", "USD") == 1000
    assert mapping.minor("100.00", "JPY") == 100
    assert mapping.minor(None, "USD") == 0
    assert mapping.minor("", "USD") == 0
    for bad in ("1.234", "abc", "NaN", True):
        with pytest.raises(PermanentError):
            mapping.minor(bad, "USD")
    assert mapping.wire(1980, "USD") == "19.80"
    assert mapping.wire(5, "USD") == "0.05"


def test_store_root_and_link_cursor() -> None:
    assert store_root("acme") == "https://acme.myshopline.com"
    assert store_root("acme.myshopline.com/") == "https://acme.myshopline.com"
    assert (
        store_root("https://acme.myshopline.com/admin/openapi/v20251201")
        == "https://acme.myshopline.com"
    )
    assert store_root("http://127.0.0.1:8768/stores/acme") == "http://127.0.0.1:8768/stores/acme"
    link = (
        "<https://acme.myshopline.com/admin/openapi/v20251201/orders.json?limit=2&page_info=abc>; "
        'rel="previous", <https://acme.myshopline.com/admin/openapi/v20251201/orders.json?'
        'limit=2&page_info=XYZ%3D>; rel="next"'
    )
    assert next_page_info({"link": link}) == "XYZ="
    assert next_page_info({"Link": link.split(", ", maxsplit=1)[0]}) is None
    assert next_page_info({}) is None


# --------------------------------------------------------------------------- orders


def test_order_maps_in_the_settlement_currency() -> None:
    order = mapping.order_from_shopline(order_json())
    assert (order.id, order.name, order.email, order.platform) == (
        ORDER_ID,
        "#1001",
        "Ann@Example.com",
        "shopline",
    )
    assert (order.currency, order.shop_currency, order.taxes_included) == ("USD", "USD", False)
    tee, mug = order.line_items
    assert (tee.id, tee.sku, tee.unit_price, tee.quantity, tee.fulfilled_quantity) == (
        TEE,
        "TEE-1",
        2000,
        3,
        3,
    )
    assert [(d.amount, d.code, d.level) for d in tee.discount_allocations] == [
        (500, "SAVE5", "order")
    ]
    assert [(t.title, str(t.rate), t.amount) for t in tee.tax_lines] == [("VAT", "0.08", 440)]
    assert (mug.fulfilled_quantity, mug.tax_lines, mug.already_returned_quantity) == (0, (), 0)
    (shipping,) = order.shipping_lines
    assert (shipping.price, [t.amount for t in shipping.tax_lines]) == (1000, [80])
    assert order.order_discounts == ()
    assert order.amount_paid == 8680
    (payment,) = order.payments
    assert (payment.id, payment.gateway, payment.amount, payment.refunded) == (
        SLIP,
        "Paypal",
        8680,
        0,
    )


def test_refunds_on_the_order_count_as_returned_and_refunded() -> None:
    refund = refund_json()
    refund["shipping"] = {"amount": "5.00", "tax": "0.40"}
    order = mapping.order_from_shopline(order_json(refunds=[refund]))
    assert order.line_items[0].already_returned_quantity == 1
    assert order.already_refunded_amount == 1980
    assert order.payments[0].refunded == 1980
    assert (
        order.shipping_lines[0].already_refunded,
        order.shipping_lines[0].already_refunded_tax,
    ) == (500, 40)


def test_payment_details_stand_in_when_there_are_no_transactions() -> None:
    raw = order_json()
    del raw["transactions"]
    raw["payment_details"] = [
        {"pay_seq": SLIP, "gateway": "Paypal", "pay_amount": "78.12", "settle_pay_amount": "86.80"}
    ]
    order = mapping.order_from_shopline(raw)
    assert [(p.id, p.amount) for p in order.payments] == [(SLIP, 8680)]


def test_summary_has_the_skus_and_total() -> None:
    summary = mapping.order_summary(order_json())
    assert (summary.id, summary.name, summary.total, summary.skus) == (
        ORDER_ID,
        "#1001",
        8680,
        ("TEE-1", "MUG-1"),
    )


# --------------------------------------------------------------------------- typing lines


def units(**overrides: Any) -> dict[str, mapping.LineUnits]:
    return mapping.line_units(order_json(**overrides))


def test_shipped_units_are_returned_and_the_rest_unshipped() -> None:
    cmd = command(
        RefundLineCommand(line_id=TEE, quantity=2, restock="return", location_id="L1"),
        RefundLineCommand(line_id=MUG, quantity=2, restock="cancel"),
    )
    typed = mapping.typed_lines(cmd, units(), location_for=lambda: "DEFAULT")
    assert [(t.line_id, t.quantity, t.type, t.restock, t.location_id) for t in typed] == [
        (TEE, 2, "Returned", "return", "L1"),
        (MUG, 2, "Unshipped", "cancel", "DEFAULT"),
    ]


def test_a_partly_shipped_line_is_split_by_what_was_shipped_and_refunded() -> None:
    raw = order_json()
    raw["fulfillments"][0]["line_items"] = [{"id": TEE, "quantity": 2}]
    raw["refunds"] = [refund_json()]  # one shipped tee already refunded as Returned
    cmd = command(RefundLineCommand(line_id=TEE, quantity=2, restock="none"))
    typed = mapping.typed_lines(cmd, mapping.line_units(raw), location_for=lambda: "X")
    assert [(t.quantity, t.type, t.restock, t.location_id) for t in typed] == [
        (1, "Returned", "none", None),
        (1, "Unshipped", "none", None),
    ]
    body = mapping.calculate_body(cmd, typed)
    assert body["refund_line_items"] == [
        {"line_item_id": TEE, "quantity": 1, "type": "Returned"},
        {"line_item_id": TEE, "quantity": 1, "type": "Unshipped"},
    ]


def test_no_fulfillment_list_means_every_unit_counts_as_shipped() -> None:
    raw = order_json()
    del raw["fulfillments"]
    cmd = command(RefundLineCommand(line_id=MUG, quantity=2))
    typed = mapping.typed_lines(cmd, mapping.line_units(raw), location_for=lambda: "X")
    assert [(t.quantity, t.type) for t in typed] == [(2, "Returned")]


def test_the_engine_split_lines_are_merged_per_type_for_the_calculation() -> None:
    cmd = command(
        RefundLineCommand(line_id=TEE, quantity=1, restock="return", location_id="L1"),
        RefundLineCommand(line_id=TEE, quantity=1, restock="return", location_id="L1"),
        shipping_amount=500,
    )
    typed = mapping.typed_lines(cmd, units(), location_for=lambda: "X")
    assert [(t.quantity, t.type) for t in typed] == [(2, "Returned")]
    body = mapping.calculate_body(cmd, typed)
    assert body == {
        "currency": "USD",
        "refund_line_items": [{"line_item_id": TEE, "quantity": 2, "type": "Returned"}],
        "shipping": {"amount": "5.00", "full_refund": False},
    }
    full = mapping.calculate_body(cmd.model_copy(update={"shipping_full": True}), typed)
    assert full["shipping"] == {"full_refund": True}


# --------------------------------------------------------------------------- calculation


def calculation(**overrides: Any) -> dict[str, Any]:
    calc: dict[str, Any] = {
        "currency": "USD",
        "refund_line_items": [
            {
                "line_item_id": TEE,
                "type": "Returned",
                "quantity": 1,
                "price": "20.00",
                "subtotal": "18.33",
                "total_tax": "1.47",
                "discount_total_amount": "1.67",
            }
        ],
        "shipping": {"amount": "0.00", "maximum_refundable": "10.00", "tax": "0.00"},
        "transactons": [
            {
                "gateway": "Paypal",
                "kind": "suggested_refund",
                "maximum_refundable": "86.80",
                "order_id": ORDER_ID,
                "parent_id": SLIP,
                "amount": "19.80",
                "currency": "USD",
            }
        ],
        "total_duties_set": usd("0.00"),
    }
    calc.update(overrides)
    return calc


def test_the_calculation_becomes_a_suggestion_with_lines_merged() -> None:
    calc = calculation()
    calc["refund_line_items"].append(
        {
            "line_item_id": TEE,
            "type": "Unshipped",
            "quantity": 1,
            "subtotal": "18.34",
            "total_tax": "1.46",
        }
    )
    calc["shipping"] = {"amount": "5.00", "maximum_refundable": "10.00", "tax": "0.40"}
    suggested = mapping.suggested_refund(calc, command())
    assert [(x.line_id, x.quantity, x.subtotal, x.tax) for x in suggested.lines] == [
        (TEE, 2, 3667, 293)
    ]
    assert (suggested.shipping_amount, suggested.shipping_tax, suggested.duties) == (500, 40, 0)
    assert [(t.amount, t.gateway, t.parent_id) for t in suggested.tenders] == [
        (1980, "Paypal", SLIP)
    ]
    assert suggested.total == 3667 + 293 + 500 + 40


def test_transactions_take_the_calculations_slips_and_the_plans_amounts() -> None:
    made = mapping.refund_transactions(command(), calculation())
    assert made == [
        {
            "id": SLIP,
            "kind": "refund",
            "gateway": "Paypal",
            "amount": "19.80",
            "currency": "USD",
            "type": True,
        }
    ]
    store_credit = command(tenders=(TenderCommand(amount=1000, method="store_credit"),))
    assert mapping.refund_transactions(store_credit, calculation())[0]["type"] is False


def test_a_tender_is_spread_over_slips_within_what_each_can_refund() -> None:
    calc = calculation()
    second = "23050000000000000000000002"
    calc["transactons"] = [
        {**calc["transactons"][0], "maximum_refundable": "10.00"},
        {
            **calc["transactons"][0],
            "parent_id": second,
            "gateway": "Stripe",
            "maximum_refundable": "50.00",
        },
    ]
    spread = mapping.refund_transactions(command(tenders=(TenderCommand(amount=1980),)), calc)
    assert [(t["id"], t["amount"], t["gateway"]) for t in spread] == [
        (SLIP, "10.00", "Paypal"),
        (second, "9.80", "Stripe"),
    ]
    by_gateway = mapping.refund_transactions(
        command(tenders=(TenderCommand(amount=1980, gateway="stripe"),)), calc
    )
    assert [(t["id"], t["amount"]) for t in by_gateway] == [(second, "19.80")]
    with pytest.raises(PermanentError) as too_much:
        mapping.refund_transactions(command(tenders=(TenderCommand(amount=9000),)), calc)
    assert too_much.value.code == "TENDER_EXCEEDS_PAYMENTS"


def test_refund_body_has_the_order_id_typed_lines_restock_and_our_key() -> None:
    cmd = command(notify_customer=True, shipping_full=True)
    typed = mapping.typed_lines(cmd, units(), location_for=lambda: "X")
    body = mapping.refund_body(cmd, typed, mapping.refund_transactions(cmd, calculation()))
    assert body["order_id"] == ORDER_ID
    assert body["currency"] == "USD"
    assert body["note"] == "returnbridge rb-1 customer return"
    assert body["notify"] is True
    assert body["refund_line_items"] == [
        {
            "line_item_id": int(TEE),
            "quantity": 1,
            "type": "Returned",
            "restock_type": "return",
            "location_id": "L1",
        }
    ]
    assert body["shipping"] == {"full_refund": True}
    assert [t["amount"] for t in body["transactions"]] == ["19.80"]
    keyed = command(note="returnbridge rb-1 already keyed")
    assert mapping.refund_note(keyed) == "returnbridge rb-1 already keyed"
    assert mapping.refund_note(command(note=None)) == "returnbridge rb-1"


# --------------------------------------------------------------------------- refunds


def test_a_refund_is_read_back_with_its_key_and_merged_lines() -> None:
    raw = refund_json()
    raw["refund_line_items"].append(
        {
            "line_item_id": TEE,
            "quantity": 1,
            "type": "Unshipped",
            "restock_type": "no_restock",
            "subtotal": "18.34",
            "total_tax": "1.46",
        }
    )
    refund = mapping.platform_refund(raw)
    assert (refund.id, refund.order_id, refund.currency, refund.total) == (
        "2605700000000000000001",
        ORDER_ID,
        "USD",
        1980,
    )
    assert refund.idempotency_key == "rb-1"
    (line,) = refund.lines
    assert (line.line_id, line.quantity, line.restock, line.location_id) == (
        TEE,
        2,
        "return",
        "5409000000000000001",
    )
    assert (line.subtotal, line.tax, refund.shipping) == (3667, 293, 0)
    assert mapping.platform_refund(refund_json(note=None)).idempotency_key is None


def test_failed_refund_transactions_do_not_count() -> None:
    raw = refund_json()
    raw["transactions"].append({**raw["transactions"][0], "status": "failure", "amount": "5.00"})
    assert mapping.platform_refund(raw).total == 1980


# --------------------------------------------------------------------------- returns


def test_return_lines_are_tied_to_the_fulfillments_that_shipped_them() -> None:
    raw = order_json()
    second = "22050000000000000000000002"
    raw["fulfillments"] = [
        {"id": FULFILLMENT, "status": "success", "line_items": [{"id": TEE, "quantity": 1}]},
        {"id": second, "status": "success", "line_items": [{"id": TEE, "quantity": 2}]},
    ]
    earlier = [
        {
            "id": "2605800000000000000001",
            "status": "CLOSED",
            "return_line_items": [
                {
                    "quantity": 1,
                    "fulfillment_id": FULFILLMENT,
                    "fulfillment_line_item": {"line_item": {"id": TEE}, "quantity": 1},
                }
            ],
        }
    ]
    items = return_line_items(
        raw,
        earlier,
        [ReturnLineRequest(line_id=TEE, quantity=2, reason="SIZE_TOO_SMALL", note="tight")],
    )
    assert items == [
        {
            "fulfillment_id": second,
            "line_item_id": TEE,
            "quantity": 2,
            "return_reason": "SIZE_TOO_SMALL",
            "return_reason_note": "tight",
        }
    ]
    with pytest.raises(PermanentError) as unshipped:
        return_line_items(raw, earlier, [ReturnLineRequest(line_id=MUG, quantity=1)])
    assert unshipped.value.code == "NOT_SHIPPED"
    with pytest.raises(PermanentError):
        return_line_items(raw, [], [ReturnLineRequest(line_id=TEE, quantity=1, note="x" * 129)])


def test_a_return_answer_is_read() -> None:
    made = platform_return(
        {
            "id": "2605800000000000000002",
            "order_id": ORDER_ID,
            "status": "OPEN",
            "created_at": "2026-03-06T10:00:00+00:00",
            "return_reason": "too small",
            "return_line_items": [
                {
                    "id": "9",
                    "quantity": 1,
                    "return_reason": "SIZE_TOO_SMALL",
                    "fulfillment_id": FULFILLMENT,
                    "fulfillment_line_item": {"line_item": {"id": TEE}, "quantity": 1},
                }
            ],
        }
    )
    assert (made.id, made.order_id, made.is_open, made.reason) == (
        "2605800000000000000002",
        ORDER_ID,
        True,
        "too small",
    )
    assert [(x.line_id, x.quantity, x.fulfillment_id, x.reason) for x in made.lines] == [
        (TEE, 1, FULFILLMENT, "SIZE_TOO_SMALL")
    ]


def test_order_without_currency_is_refused() -> None:
    raw = copy.deepcopy(order_json())
    raw["currency"] = None
    with pytest.raises(PermanentError):
        mapping.order_from_shopline(raw)


def test_the_create_answer_as_the_sdk_shows_it_reads_with_a_pending_transaction() -> None:
    """No currency, epoch-millisecond `create_at`, a `pending` refund transaction (counted:
    the refund is committed) and a failed one (not counted)."""
    answer = {
        "id": "2605755870074105241861",
        "order_id": ORDER_ID,
        "create_at": "1673404700862",
        "note": "returnbridge rb-9 x",
        "refund_line_items": [
            {
                "id": 0,
                "line_item_id": 601,
                "quantity": 1,
                "restock_type": "return",
                "subtotal": "3.45",
                "total_tax": "0.28",
            }
        ],
        "transactions": [
            {
                "id": SLIP,
                "kind": "refund",
                "status": "pending",
                "amount": "3.73",
                "currency": "USD",
            },
            {
                "id": SLIP,
                "kind": "refund",
                "status": "failure",
                "amount": "3.73",
                "currency": "USD",
            },
        ],
    }
    refund = mapping.platform_refund(answer, currency="usd")
    assert (refund.currency, refund.total, refund.idempotency_key) == ("USD", 373, "rb-9")
    assert refund.created_at is not None
    assert refund.created_at.year == 2023
    assert [(x.line_id, x.restock) for x in refund.lines] == [("601", "return")]
    assert refund.shipping is None


def test_a_refund_without_its_own_currency_takes_its_transactions_or_the_orders() -> None:
    raw = refund_json()
    del raw["currency"]
    assert mapping.refund_currency(raw) == "USD"
    for txn in raw["transactions"]:
        del txn["currency"]
    assert mapping.refund_currency(raw) is None
    assert mapping.platform_refund(raw, currency="EUR").currency == "EUR"
    with pytest.raises(PermanentError):
        mapping.platform_refund(raw)


def test_untyped_refund_lines_are_split_by_what_is_still_fulfillable() -> None:
    """The SDK's refund line names no type: 2 of 3 tees shipped, one unshipped and one shipped
    tee refunded (fulfillable 0 of the 1 never shipped): one of each type."""
    raw = order_json()
    raw["fulfillments"][0]["line_items"] = [{"id": TEE, "quantity": 2}]
    refund = refund_json()
    refund["refund_line_items"][0]["quantity"] = 2
    del refund["refund_line_items"][0]["type"]
    raw["refunds"] = [refund]
    raw["line_items"][0]["fulfillable_quantity"] = 0
    tee = mapping.line_units(raw)[TEE]
    assert (tee.returned, tee.unshipped, tee.returnable, tee.cancellable) == (1, 1, 1, 0)
    raw["line_items"][0]["fulfillable_quantity"] = 1  # the unshipped one is still there
    tee = mapping.line_units(raw)[TEE]
    assert (tee.returned, tee.unshipped) == (2, 0)
    del raw["line_items"][0]["fulfillable_quantity"]  # nothing to tell: shipped ones first
    assert mapping.line_units(raw)[TEE].returned == 2


def test_a_listed_refund_as_the_sdk_shows_it_counts_on_the_order() -> None:
    """Listed refunds name shipping as a `shipping_refund` adjustment, and their transactions
    carry their own ids (no `parent_id`): with one slip, that slip took the money."""
    listed = {
        "id": "SL201AS4571669738589065294",
        "order_id": ORDER_ID,
        "created_at": "2022-10-03T12:44:45-04:00",
        "note": "returnbridge rb-7 x",
        "order_adjustments": [
            {"kind": "shipping_refund", "amount": "-5.00", "tax_amount": "-0.40"},
            {"kind": "refund_discrepancy", "amount": "1.00", "tax_amount": "0"},
        ],
        "refund_line_items": [
            {
                "line_item_id": TEE,
                "quantity": 1,
                "restock_type": "no_restock",
                "subtotal": "18.33",
                "total_tax": "1.47",
            }
        ],
        "transactions": [
            {
                "id": "10100112220607455014540963840",
                "kind": "refund",
                "status": "success",
                "amount": "25.20",
                "currency": "USD",
            }
        ],
    }
    order = mapping.order_from_shopline(order_json(refunds=[listed]))
    assert (order.payments[0].refunded, order.already_refunded_amount) == (2520, 2520)
    shipping = order.shipping_lines[0]
    assert (shipping.already_refunded, shipping.already_refunded_tax) == (500, 40)
    refund = mapping.platform_refund(listed)
    assert (refund.currency, refund.total, refund.shipping) == ("USD", 2520, 500)
    assert mapping.platform_refund({**listed, "order_adjustments": None}).shipping is None
