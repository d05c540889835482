"""Shopify returns: the connector's returnCreate/returnProcess against the sandbox over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from returnbridge.connectors.base.connector import (
    Capability,
    DutyCommand,
    OpenReturnCommand,
    ProcessedReturn,
    ProcessReturnCommand,
    RefundCommand,
    RefundLineCommand,
    ReturnLineCommand,
    ReturnsConnector,
    TenderCommand,
)
from returnbridge.connectors.base.dedupe import find_by_key
from returnbridge.connectors.shopify.connector import ShopifyConnector, from_connection
from returnbridge.connectors.shopify.returns import process_input
from returnbridge.domain.errors import DomainError, NotFound, Rejected
from support.gateway import Sandbox, simple_order

pytestmark = pytest.mark.timeout(60)

LOCATION = "gid://shopify/Location/2"
KEY = "rb-ret-1-1-1"
NOTE = f"returnbridge {KEY} (return TCK-1: changed mind)"


@pytest.fixture
def connector(sandbox: Sandbox) -> Iterator[ShopifyConnector]:
    shop = ShopifyConnector(sandbox.url, sandbox.token, timeout=2.0, platform_returns=True)
    yield shop
    shop.close()


def _order(sandbox: Sandbox, connector: ShopifyConnector, order_id: int) -> tuple[str, str]:
    sandbox.seed_order(simple_order(order_id))
    order_gid = f"gid://shopify/Order/{order_id}"
    return order_gid, connector.get_order(order_gid).line_items[0].id


def _open(order_gid: str, line_id: str, quantity: int = 2, key: str = KEY) -> OpenReturnCommand:
    return OpenReturnCommand(
        order_id=order_gid,
        key=key,
        lines=(ReturnLineCommand(line_id=line_id, quantity=quantity),),
        note=NOTE.replace(KEY, key),
    )


def _refund(
    order_gid: str, line_id: str, *, amount: int = 2000, restock: bool = True
) -> RefundCommand:
    return RefundCommand(
        order_id=order_gid,
        currency="USD",
        idempotency_key=KEY,
        lines=(
            RefundLineCommand(
                line_id=line_id,
                quantity=2,
                restock="return" if restock else "none",
                location_id=LOCATION if restock else None,
            ),
        ),
        tenders=(TenderCommand(amount=amount),) if amount else (),
        note=NOTE,
    )


def _process(connector: ShopifyConnector, return_id: str, refund: RefundCommand) -> ProcessedReturn:
    return connector.process_return(ProcessReturnCommand(return_id=return_id, refund=refund))


def test_the_setting_turns_shopify_returns_on_and_is_off_by_default(sandbox: Sandbox) -> None:
    assert Capability.PLATFORM_RETURNS in ShopifyConnector.capabilities
    off = from_connection(sandbox.url, {"access_token": sandbox.token}, 5.0, {}, {})
    on = from_connection(
        sandbox.url, {"access_token": sandbox.token}, 5.0, {}, {"shopify_returns": True}
    )
    assert isinstance(on, ReturnsConnector)
    assert (off.platform_returns, on.platform_returns) == (False, True)
    off.close()
    on.close()


def test_return_is_opened_then_processed_restocking_and_refunding_once(
    sandbox: Sandbox, connector: ShopifyConnector
) -> None:
    order_gid, line_id = _order(sandbox, connector, 7001)
    before = sandbox.inventory().get("MUG-WHT", {}).get("2", 0)

    opened = connector.open_return(_open(order_gid, line_id))
    assert opened.status == "OPEN"
    assert [(ln.line_id, ln.quantity, ln.processed_quantity) for ln in opened.lines] == [
        (line_id, 2, 0)
    ]
    assert connector.open_return(_open(order_gid, line_id)).id == opened.id  # found, not made

    done = _process(connector, opened.id, _refund(order_gid, line_id))
    assert done.platform_return.status == "CLOSED"
    assert done.platform_return.processed
    assert done.refund is not None
    assert (done.refund.total, done.refund.currency) == (2000, "USD")
    assert sandbox.inventory()["MUG-WHT"]["2"] == before + 2

    # processing again answers the same refund and sends nothing
    again = _process(connector, opened.id, _refund(order_gid, line_id))
    assert again.refund is not None
    assert again.refund.id == done.refund.id
    assert len(sandbox.journal("returnProcess")) == 1
    assert len(sandbox.journal("returnCreate")) == 1
    state = sandbox.order(7001)
    assert len(state["refunds"]) == 1
    # a retry finds the return and its refund by the key, without relying on the note ...
    earlier = connector.find_return(order_gid, KEY)
    assert earlier is not None
    assert earlier.platform_return.id == opened.id
    assert earlier.refund is not None
    assert (earlier.refund.id, earlier.refund.total) == (done.refund.id, 2000)
    assert connector.find_return(order_gid, "rb-other-1-1") is None
    # ... and the engine finds the refund by its key in the note, as for refundCreate
    found = find_by_key(connector.list_refunds(order_gid), KEY)
    assert found is not None
    assert found.id == done.refund.id


def test_goods_only_processing_restocks_without_a_refund(
    sandbox: Sandbox, connector: ShopifyConnector
) -> None:
    order_gid, line_id = _order(sandbox, connector, 7002)
    opened = connector.open_return(_open(order_gid, line_id))
    done = _process(connector, opened.id, _refund(order_gid, line_id, amount=0))
    assert done.refund is None
    assert done.platform_return.status == "CLOSED"
    assert sandbox.inventory()["MUG-WHT"]["2"] == 2
    assert sandbox.order(7002)["refunds"] == []


def test_not_restocked_units_leave_the_stock_alone(
    sandbox: Sandbox, connector: ShopifyConnector
) -> None:
    order_gid, line_id = _order(sandbox, connector, 7003)
    opened = connector.open_return(_open(order_gid, line_id))
    done = _process(connector, opened.id, _refund(order_gid, line_id, restock=False))
    assert done.refund is not None
    assert sandbox.inventory().get("MUG-WHT", {}).get("2", 0) == 0


def test_a_lost_answer_to_return_process_is_recovered_without_a_second_refund(
    sandbox: Sandbox, connector: ShopifyConnector
) -> None:
    order_gid, line_id = _order(sandbox, connector, 7004)
    opened = connector.open_return(_open(order_gid, line_id))
    sandbox.fault("timeout_after_commit", operation="returnProcess", delay=4)
    done = _process(connector, opened.id, _refund(order_gid, line_id))
    assert done.refund is not None
    assert done.platform_return.status == "CLOSED"
    assert len(sandbox.order(7004)["refunds"]) == 1
    assert [e["effect"] for e in sandbox.journal("returnProcess")] == ["return_processed"]


def test_a_lost_answer_to_return_create_finds_the_return_instead_of_opening_another(
    sandbox: Sandbox, connector: ShopifyConnector
) -> None:
    order_gid, line_id = _order(sandbox, connector, 7005)
    sandbox.fault("timeout_after_commit", operation="returnCreate", delay=4)
    opened = connector.open_return(_open(order_gid, line_id))
    assert opened.status == "OPEN"
    assert connector.open_return(_open(order_gid, line_id)).id == opened.id
    assert [e["effect"] for e in sandbox.journal("returnCreate")] == ["return_created"]


def test_more_units_than_were_shipped_are_refused(
    sandbox: Sandbox, connector: ShopifyConnector
) -> None:
    order_gid, line_id = _order(sandbox, connector, 7006)
    with pytest.raises(Rejected) as refused:
        connector.open_return(_open(order_gid, line_id, quantity=4))
    assert refused.value.details["user_errors"][0]["code"] == "INVALID"
    connector.open_return(_open(order_gid, line_id, quantity=3))
    # every shipped unit is held by the first return: another key gets none
    with pytest.raises(Rejected):
        connector.open_return(_open(order_gid, line_id, quantity=1, key="rb-ret-2-1-1"))


def test_return_process_refuses_unknown_ids_and_too_many_units(
    sandbox: Sandbox, connector: ShopifyConnector
) -> None:
    order_gid, line_id = _order(sandbox, connector, 7007)
    opened = connector.open_return(_open(order_gid, line_id, quantity=1))
    with pytest.raises(DomainError):  # the command asks for 2 of the 1 unit held
        _process(connector, opened.id, _refund(order_gid, line_id))
    with pytest.raises(NotFound):
        _process(connector, "gid://shopify/Return/999999", _refund(order_gid, line_id))
    data = connector.client.execute(
        "ReturnProcess",
        {
            "input": {
                "returnId": opened.id,
                "returnLineItems": [{"id": opened.lines[0].id, "quantity": 5}],
            }
        },
    )
    errors = data["returnProcess"]["userErrors"]
    assert [e["field"] for e in errors] == [["input", "returnLineItems", "0", "quantity"]]
    assert data["returnProcess"]["return"] is None


def test_restocking_at_a_location_that_does_not_stock_the_item_is_refused(
    sandbox: Sandbox, connector: ShopifyConnector
) -> None:
    order = simple_order(7008)
    order["line_items"][0]["stocked_at"] = [1]
    sandbox.seed_order(order)
    order_gid = "gid://shopify/Order/7008"
    line_id = connector.get_order(order_gid).line_items[0].id
    opened = connector.open_return(_open(order_gid, line_id))
    for amount in (0, 2000):  # goods only, and with the refund (refundCreate's own rule)
        with pytest.raises(Rejected, match="not stocked"):
            _process(connector, opened.id, _refund(order_gid, line_id, amount=amount))
    assert sandbox.journal("returnProcess")[-1]["effect"] == "rejected"
    assert sandbox.inventory().get("MUG-WHT", {}).get("2", 0) == 0


def test_process_input_carries_dispositions_money_shipping_and_duties() -> None:
    node = {
        "id": "gid://shopify/Return/9",
        "returnLineItems": {
            "nodes": [
                {
                    "id": "gid://shopify/ReturnLineItem/10",
                    "quantity": 2,
                    "processedQuantity": 0,
                    "fulfillmentLineItem": {
                        "id": "gid://shopify/FulfillmentLineItem/5",
                        "lineItem": {"id": "gid://shopify/LineItem/5"},
                    },
                }
            ]
        },
        "reverseFulfillmentOrders": {
            "nodes": [
                {
                    "lineItems": {
                        "nodes": [
                            {
                                "id": "gid://shopify/ReverseFulfillmentOrderLineItem/11",
                                "fulfillmentLineItem": {
                                    "id": "gid://shopify/FulfillmentLineItem/5"
                                },
                            }
                        ]
                    }
                }
            ]
        },
    }
    command = RefundCommand(
        order_id="gid://shopify/Order/1",
        currency="usd",
        idempotency_key=KEY,
        lines=(
            RefundLineCommand(
                line_id="gid://shopify/LineItem/5",
                quantity=1,
                restock="return",
                location_id=LOCATION,
            ),
            RefundLineCommand(line_id="gid://shopify/LineItem/5", quantity=1, restock="none"),
        ),
        shipping_amount=250,
        duties=(DutyCommand(duty_id="gid://shopify/Duty/3", refund_type="proportional"),),
        tenders=(
            TenderCommand(amount=1500, parent_id="gid://shopify/OrderTransaction/7"),
            TenderCommand(amount=300, method="store_credit"),
        ),
        note=NOTE,
    )
    rfo_line = "gid://shopify/ReverseFulfillmentOrderLineItem/11"
    assert process_input(node, command) == {
        "returnId": "gid://shopify/Return/9",
        "returnLineItems": [
            {
                "id": "gid://shopify/ReturnLineItem/10",
                "quantity": 2,
                "dispositions": [
                    {
                        "reverseFulfillmentOrderLineItemId": rfo_line,
                        "quantity": 1,
                        "dispositionType": "RESTOCKED",
                        "locationId": LOCATION,
                    },
                    {
                        "reverseFulfillmentOrderLineItemId": rfo_line,
                        "quantity": 1,
                        "dispositionType": "NOT_RESTOCKED",
                    },
                ],
            }
        ],
        "notifyCustomer": False,
        "note": NOTE,
        "financialTransfer": {
            "issueRefund": {
                "orderTransactions": [
                    {
                        "parentId": "gid://shopify/OrderTransaction/7",
                        "transactionAmount": {"amount": "15.00", "currencyCode": "USD"},
                    }
                ],
                "refundMethods": [
                    {"storeCreditRefund": {"amount": {"amount": "3.00", "currencyCode": "USD"}}}
                ],
            }
        },
        "refundShipping": {"shippingRefundAmount": {"amount": "2.50", "currencyCode": "USD"}},
        "refundDuties": [{"dutyId": "gid://shopify/Duty/3", "refundType": "PROPORTIONAL"}],
    }
