"""Declarative mappings: the shipped examples, each kind of failure, bad mapping files."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from returnbridge.domain.returns import Channel, Condition
from returnbridge.mappings import (
    MappingError,
    MappingSpecError,
    apply_mapping,
    load_mapping,
    parse_mapping,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "mappings"


def _example(name: str, payload: str | None = None) -> tuple[Any, Any]:
    spec = load_mapping(EXAMPLES / f"{name}.yaml")
    text = (EXAMPLES / f"{payload or name}.json").read_text()
    return spec, json.loads(text, parse_float=Decimal)


def _issues(error: pytest.ExceptionInfo[MappingError]) -> dict[str, tuple[str | None, str]]:
    return {issue.field: (issue.source, issue.reason) for issue in error.value.issues}


def test_helpdesk_ticket_maps_custom_fields_and_euro_cents() -> None:
    spec, payload = _example("helpdesk-ticket")
    ret = apply_mapping(spec, payload)
    assert ret.external_id == "35436"
    assert ret.channel is Channel.TICKET
    assert ret.status == "requested"
    assert ret.requested_at == datetime(2026, 3, 14, 9, 21, 7, tzinfo=UTC)
    assert ret.order.order_number == "#1001"
    assert ret.order.customer_email == "dana.reyes@example.com"
    assert ret.reason == "too small"
    assert [(line.sku, line.quantity, line.condition) for line in ret.lines] == [
        ("BOOT-TRAIL-42", 2, Condition.NEW)
    ]
    assert ret.metadata == {"requested_refund_minor": 4990, "tags": ["return", "sizing"]}


def test_marketplace_dispute_maps_yen_without_decimals() -> None:
    spec, payload = _example("marketplace-dispute")
    ret = apply_mapping(spec, payload)
    assert ret.external_id == "5000123456"
    assert ret.channel is Channel.MARKETPLACE
    assert ret.requested_at is not None
    assert ret.requested_at.utcoffset() == timedelta(hours=9)
    assert ret.order.platform_order_id == "gid://shopify/Order/1005"
    assert [(line.sku, line.quantity) for line in ret.lines] == [
        ("MUG-INDIGO", 2),
        ("SAUCER-INDIGO", 1),
    ]
    assert ret.refund.currency == "JPY"
    assert ret.refund.return_label_fee == Decimal(350)
    assert ret.metadata["claimed_refund_minor"] == 4980
    assert ret.return_shipping is not None
    assert ret.return_shipping.tracking_number == "4455-6677-8899"


def test_marketplace_dispute_in_dollars_counts_cents() -> None:
    spec, payload = _example("marketplace-dispute")
    payload["sellerTotalRefund"]["estimatedRefundAmount"] = {"value": "19.99", "currency": "usd"}
    payload["returnShipping"]["labelCost"] = {"value": "4.5", "currency": "USD"}
    ret = apply_mapping(spec, payload)
    assert ret.metadata["claimed_refund_minor"] == 1999
    assert ret.refund.currency == "USD"
    assert ret.refund.return_label_fee == Decimal("4.50")


def test_social_message_takes_the_mapping_timezone_for_a_naive_date() -> None:
    spec, payload = _example("social-message")
    ret = apply_mapping(spec, payload)
    assert ret.external_id == "instagram:aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3"
    assert ret.channel is Channel.SOCIAL
    assert ret.order.order_number == "#1004"
    assert ret.requested_at == datetime(2026, 3, 14, 18, 40, tzinfo=UTC)
    summer = copy.deepcopy(payload)
    summer["message"]["sent"] = "14/07/2026 18:40"
    later = apply_mapping(spec, summer).requested_at
    assert later is not None
    assert later.utcoffset() == timedelta(hours=1)
    assert [(line.sku, line.quantity) for line in ret.lines] == [("SHIRT-LINEN-M", 1)]
    assert ret.customer_note is not None
    assert "linen shirt" in ret.customer_note


def test_broken_payload_names_every_failing_field_and_its_source() -> None:
    spec, payload = _example("marketplace-dispute", "marketplace-dispute.broken")
    with pytest.raises(MappingError) as error:
        apply_mapping(spec, payload)
    issues = _issues(error)
    assert issues["lines[1].quantity"] == ("returnItems[1].returnQuantity", "not an integer: 'two'")
    source, reason = issues["status"]
    assert source == "state"
    assert reason.startswith("unknown status 'PENDING_REVIEW'; the status table knows: ")
    assert "'RETURN_REQUESTED'" in reason
    source, reason = issues["metadata.claimed_refund_minor"]
    assert source == "sellerTotalRefund.estimatedRefundAmount.value"
    assert reason == "'4980.50' has more decimals than JPY allows (0)"
    assert set(issues) == {"lines[1].quantity", "status", "metadata.claimed_refund_minor"}


def test_a_missing_value_is_named_missing() -> None:
    spec, payload = _example("social-message")
    del payload["capture"]["order_number"]
    del payload["message"]["text"]
    with pytest.raises(MappingError) as error:
        apply_mapping(spec, payload)
    issues = _issues(error)
    assert issues["customer_note"] == ("message.text", "missing")
    source, reason = issues["order.order_number"]
    assert source == "join('', ['#', capture.order_number])"
    assert reason.startswith("the expression failed: ")


def test_a_missing_list_of_lines_is_named() -> None:
    spec, payload = _example("social-message")
    payload["capture"]["items"] = "one shirt"
    with pytest.raises(MappingError) as error:
        apply_mapping(spec, payload)
    assert _issues(error)["lines"] == ("capture.items", "not a list: 'one shirt'")


def test_naive_date_without_a_timezone_is_refused() -> None:
    spec, payload = _example("helpdesk-ticket")
    payload["ticket"]["created_at"] = "2026-03-14T09:21:07"
    with pytest.raises(MappingError) as error:
        apply_mapping(spec, payload)
    assert _issues(error)["requested_at"] == (
        "ticket.created_at",
        "'2026-03-14T09:21:07' has no timezone and the mapping gives none",
    )


def test_a_bad_currency_is_named_with_its_expression() -> None:
    spec, payload = _example("marketplace-dispute")
    payload["sellerTotalRefund"]["estimatedRefundAmount"]["currency"] = "YEN"
    with pytest.raises(MappingError) as error:
        apply_mapping(spec, payload)
    source, reason = _issues(error)["metadata.claimed_refund_minor"]
    assert source == "sellerTotalRefund.estimatedRefundAmount.value"
    assert "sellerTotalRefund.estimatedRefundAmount.currency" in reason
    assert "not an ISO 4217 currency code: 'YEN'" in reason


def test_canonical_validation_errors_name_the_field_and_source() -> None:
    spec, payload = _example("marketplace-dispute")
    payload["returnItems"][0]["returnQuantity"] = 0
    payload["buyer"]["email"] = "x" * 400
    with pytest.raises(MappingError) as error:
        apply_mapping(spec, payload)
    issues = _issues(error)
    assert issues["lines[0].quantity"] == (
        "returnItems[0].returnQuantity",
        "Input should be greater than or equal to 1",
    )
    assert issues["order.customer_email"] == (
        "buyer.email",
        "String should have at most 320 characters",
    )


def _mapping(fields: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"name": "test", "fields": fields, **extra}


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (_mapping({"order.ordr_number": "a"}), "fields.order.ordr_number: order has no field"),
        (_mapping({"refund_id": "a"}), "the canonical return has no field 'refund_id'"),
        (_mapping({"reason": {"expr": "a", "tranform": "lower"}}), "fields.reason.tranform"),
        (_mapping({"reason": "a[["}), "'a[[' is not a valid JMESPath expression"),
        (_mapping({"reason": {"expr": "a", "const": "b"}}), "exactly one of expr and const"),
        (
            _mapping({"metadata.x": {"expr": "a", "transform": "money"}}),
            "needs exactly one of currency, currency_expr",
        ),
        (
            _mapping({"metadata.x": {"expr": "a", "transform": "money", "currency": "EURO"}}),
            "not an ISO 4217 currency code",
        ),
        (
            _mapping({"status": {"expr": "s", "transform": "status", "table": {"x": "done"}}}),
            "fields.status.table.x",
        ),
        (_mapping({"status": {"expr": "s", "transform": "status"}}), "a status table goes"),
        (
            _mapping({"requested_at": {"expr": "d", "transform": "date", "timezone": "Mars/X"}}),
            "unknown timezone 'Mars/X'",
        ),
        (_mapping({"lines.sku": "a"}), "lines are mapped in the lines section"),
        (
            _mapping({"reason": "r"}, lines={"each": "i", "fields": {"qty": "q"}}),
            "lines: fields.qty: a return line has no field 'qty'",
        ),
        (["not", "a", "mapping"], "a mapping is a YAML object"),
    ],
)
def test_a_bad_mapping_is_refused_naming_the_key(data: Any, message: str) -> None:
    with pytest.raises(MappingSpecError) as error:
        parse_mapping(data, origin="m.yaml")
    assert error.value.message.startswith("m.yaml: ")
    assert message in error.value.message


def test_a_mapping_file_that_is_not_yaml_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("name: x\nfields: [a: b: c\n")
    with pytest.raises(MappingSpecError, match=r"m\.yaml is not valid YAML: .*\(line 2"):
        load_mapping(path)
