"""Validation of the canonical return's amounts, currency and free-form objects (returns.py).

What is accepted and refused follows docs/api.md (`POST /v1/returns`): amounts are plain
decimal strings, or JSON numbers exact at 4 decimals (`5e-1000000` is not); a fee rate has at
most 6 decimals; `refund.currency` is a current ISO 4217 code; `metadata` is at most 16 KiB as
JSON, 8 levels deep and 256 keys in all.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from returnbridge.api.json_body import parse_json_body
from returnbridge.domain import returns
from returnbridge.domain.returns import CanonicalReturn, OrderReference, ReturnLine

PLAIN = "Value error, must be a plain decimal string such as '12.34'"
NOT_A_DECIMAL = "Value error, must be a decimal string such as '12.34'"
FOUR_DECIMALS = "Value error, must have at most 4 decimal places"


def _body(**fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "external_id": "R-1",
        "order": {"order_number": "#1001"},
        "lines": [{"sku": "TEE", "quantity": 1}],
    }
    body.update(fields)
    return body


def _refusals(body: dict[str, Any]) -> list[str]:
    """The messages of a refused body (the `None` branch of an optional field left out)."""
    with pytest.raises(ValidationError) as caught:
        CanonicalReturn.model_validate(body)
    return [e["msg"] for e in caught.value.errors() if e["type"] != "none_required"]


def _label_fee(value: object) -> Decimal | None:
    return CanonicalReturn.model_validate(
        _body(refund={"return_label_fee": value})
    ).refund.return_label_fee


def _from_json(text: str) -> CanonicalReturn:
    return CanonicalReturn.model_validate(parse_json_body(text.encode()))


# --- amounts: decimal strings ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("12.34", "12.34"),
        ("0", "0"),
        ("4.0000", "4.0000"),
        ("999999999999.9999", "999999999999.9999"),
    ],
)
def test_a_plain_decimal_string_is_read_exactly(text: str, value: str) -> None:
    fee = _label_fee(text)
    assert fee == Decimal(value)
    assert str(fee) == value


@pytest.mark.parametrize(
    "text", ["-1.00", "+1.00", "1e3", "1E-2", " 1.00", "1.00 ", "1_000.00", ".5", "1.", "", "NaN"]
)
def test_a_decimal_string_with_a_sign_space_underscore_or_exponent_is_refused(text: str) -> None:
    assert _refusals(_body(refund={"return_label_fee": text})) == [PLAIN]


@pytest.mark.parametrize("flag", [True, False])
def test_a_boolean_is_not_an_amount(flag: bool) -> None:
    assert _refusals(_body(refund={"return_label_fee": flag})) == [NOT_A_DECIMAL]


def test_an_amount_with_five_decimals_is_refused() -> None:
    assert _refusals(_body(refund={"return_label_fee": "1.23456"})) == [FOUR_DECIMALS]


def test_an_integer_amount_is_left_to_the_decimal_type() -> None:
    fee = _label_fee(5)
    assert fee == Decimal(5)
    assert isinstance(fee, Decimal)


# --- amounts: JSON numbers -------------------------------------------------------------------


def test_a_json_number_keeps_the_text_it_was_written_with() -> None:
    # 2.50 as a float is 2.5; the body's text keeps the trailing zero.
    parsed = _from_json(
        '{"external_id": "R-1", "order": {"order_number": "#1"},'
        ' "lines": [{"sku": "TEE", "quantity": 1}], "refund": {"return_label_fee": 2.50}}'
    )
    assert str(parsed.refund.return_label_fee) == "2.50"


def test_a_json_number_too_small_for_a_float_is_not_read_as_zero() -> None:
    # 5e-1000000 is 0.0 as a float, but its text has far more than 4 decimals.
    body = parse_json_body(
        b'{"external_id": "R-1", "order": {"order_number": "#1"},'
        b' "lines": [{"sku": "TEE", "quantity": 1}], "refund": {"return_label_fee": 5e-1000000}}'
    )
    assert _refusals(body) == [FOUR_DECIMALS]


def test_a_json_number_with_an_exponent_is_accepted_when_exact() -> None:
    parsed = _from_json(
        '{"external_id": "R-1", "order": {"order_number": "#1"},'
        ' "lines": [{"sku": "TEE", "quantity": 1}], "refund": {"return_label_fee": 1.5e1}}'
    )
    assert parsed.refund.return_label_fee == Decimal(15)


@pytest.mark.parametrize(("number", "value"), [(12.5, "12.5"), (0.1, "0.1"), (100.0, "100.0")])
def test_a_python_float_is_read_by_its_shortest_repr(number: float, value: str) -> None:
    # Without the JSON text, the float's repr is the closest honest reading (0.1, not
    # 0.1000000000000000055511151231257827…).
    fee = _label_fee(number)
    assert str(fee) == value


# --- fee rates -------------------------------------------------------------------------------


def _rate(value: object) -> Decimal | None:
    body = _body(refund={"restocking_fee": {"type": "percent", "rate": value}})
    fee = CanonicalReturn.model_validate(body).refund.restocking_fee
    assert fee is not None
    return fee.rate


def test_a_rate_has_at_most_six_decimals() -> None:
    assert _rate("0.123456") == Decimal("0.123456")
    body = _body(refund={"restocking_fee": {"type": "percent", "rate": "0.1234567"}})
    assert _refusals(body) == ["Value error, must have at most 6 decimal places"]


# --- the decimals check itself ---------------------------------------------------------------
# The models bind `_at_most_decimals(4)` and `_at_most_decimals(6)` once, at import; these tests
# build the check again so that the check's own rules are exercised.


def _check(places: int, value: str) -> Decimal:
    validator = returns._at_most_decimals(places)
    result = validator.func(Decimal(value))
    assert isinstance(result, Decimal)
    return result


@pytest.mark.parametrize(
    ("value", "plain"),
    [
        ("1.2345", "1.2345"),  # exactly 4 decimals
        ("1.50000", "1.50000"),  # more digits, but exact at 4 decimals: trailing zeros kept
        ("7.000000", "7.000000"),
        ("12", "12"),
        ("1E+2", "100"),  # exponent notation becomes plain digits
        ("0", "0"),
        ("0.000000", "0"),  # zero with more decimals than 4, still exact: one spelling
        ("-0.0", "0"),  # a zero loses its sign
        ("-1.5", "-1.5"),  # other signs are the `ge=0` constraint's business, not this check's
    ],
)
def test_the_decimals_check_keeps_exact_values_in_plain_notation(value: str, plain: str) -> None:
    assert str(_check(4, value)) == plain


@pytest.mark.parametrize("zero", ["0.0000000", "0.00000000000"])
def test_a_zero_with_many_decimals_is_stored_in_a_form_that_reads_back(zero: str) -> None:
    # str(Decimal("0.0000000")) is "0E-7", which the plain-decimal rule refuses on the way back.
    body = _body(
        refund={"return_label_fee": zero, "restocking_fee": {"type": "percent", "rate": zero}}
    )
    stored = CanonicalReturn.model_validate(body).model_dump(mode="json")
    again = CanonicalReturn.model_validate(stored)
    assert again.refund.return_label_fee == 0
    assert stored["refund"]["return_label_fee"] == "0"


@pytest.mark.parametrize("value", ["1.23456", "0.00001", "5E-1000000", "1.23450001"])
def test_the_decimals_check_refuses_more_decimals_than_allowed(value: str) -> None:
    with pytest.raises(ValueError, match=r"^must have at most 4 decimal places$"):
        _check(4, value)


def test_the_decimals_check_counts_the_places_it_was_built_with() -> None:
    assert str(_check(6, "0.123456")) == "0.123456"
    with pytest.raises(ValueError, match=r"^must have at most 6 decimal places$"):
        _check(6, "0.1234567")


def test_the_decimals_check_never_rounds_a_value_within_its_places() -> None:
    # 27 whole digits and 4 decimals: 31 digits, more than the 28 of the default decimal
    # context, so rounding it would fail. It is within 4 decimals, so it is not rounded.
    # (The models refuse such a figure by size, MAX_AMOUNT, before this check.)
    value = "123456789012345678901234567.0000"
    assert str(_check(4, value)) == value
    whole = "1" + "0" * 30
    assert str(_check(4, whole)) == whole


@pytest.mark.parametrize("value", ["NaN", "Infinity"])
def test_the_decimals_check_leaves_non_finite_values_to_allow_inf_nan(value: str) -> None:
    assert str(_check(4, value)) == value


# --- currency --------------------------------------------------------------------------------


@pytest.mark.parametrize("code", ["USD", "JPY", "KWD", "CLF"])
def test_a_current_iso_4217_code_is_a_refund_currency(code: str) -> None:
    parsed = CanonicalReturn.model_validate(_body(refund={"currency": code}))
    assert parsed.refund.currency == code


@pytest.mark.parametrize("code", ["XXX", "XTS", "XAU", "ABC"])
def test_a_code_that_is_not_money_is_refused(code: str) -> None:
    assert _refusals(_body(refund={"currency": code})) == [
        "Value error, must be an ISO 4217 currency code such as 'USD'"
    ]


@pytest.mark.parametrize("code", ["usd", "US", "USDD"])
def test_a_code_that_is_not_three_upper_case_letters_is_refused(code: str) -> None:
    assert len(_refusals(_body(refund={"currency": code}))) == 1


# --- metadata bounds -------------------------------------------------------------------------


def _metadata(value: dict[str, Any]) -> dict[str, Any]:
    return CanonicalReturn.model_validate(_body(metadata=value)).metadata


def _nested_objects(levels: int, leaf: Any) -> dict[str, Any]:
    """`levels` objects inside one another, the innermost holding `leaf` under "k"."""
    value: Any = leaf
    for _ in range(levels):
        value = {"k": value}
    return value


def test_metadata_may_be_empty() -> None:
    assert _metadata({}) == {}


def test_metadata_eight_levels_deep_is_accepted() -> None:
    # 7 objects nested, the innermost holding a number: the number is the 8th level.
    value = _nested_objects(7, 1)
    assert _metadata(value) == value
    # 8 objects, the innermost empty: 8 levels again.
    assert _metadata(_nested_objects(7, {})) == _nested_objects(7, {})


def test_metadata_nine_levels_deep_is_refused() -> None:
    # 8 objects nested, the innermost holding a number: the number is the 9th level.
    assert _refusals(_body(metadata=_nested_objects(8, 1))) == [
        "Value error, must nest at most 8 levels deep"
    ]


def test_lists_count_as_levels_like_objects() -> None:
    # the object is level 1, then 7 lists (levels 2..8); one more element would be level 9.
    inner: Any = []
    for _ in range(6):
        inner = [inner]
    assert _metadata({"k": inner}) == {"k": inner}
    deepest: Any = ["x"]
    for _ in range(6):
        deepest = [deepest]
    assert _refusals(_body(metadata={"k": deepest})) == [
        "Value error, must nest at most 8 levels deep"
    ]


def test_metadata_with_256_keys_in_all_is_accepted_and_257_refused() -> None:
    # keys are counted over every object: 200 at the top and 56 inside one of them = 256.
    keys = {f"k{i}": i for i in range(199)}
    accepted = {**keys, "inner": {f"j{i}": i for i in range(56)}}
    assert _metadata(accepted) == accepted
    refused = {**keys, "inner": {f"j{i}": i for i in range(57)}}
    assert _refusals(_body(metadata=refused)) == ["Value error, must have at most 256 keys in all"]


def test_keys_are_counted_over_every_object_not_the_last_one() -> None:
    # 2 keys at the top and 149 in each inner object: 2 + 149 + 149 = 300 in all, though no
    # single object has more than 149.
    value = {
        "a": {f"a{i}": 0 for i in range(149)},
        "b": {f"b{i}": 0 for i in range(149)},
    }
    assert _refusals(_body(metadata=value)) == ["Value error, must have at most 256 keys in all"]


def test_a_key_of_200_characters_is_accepted_and_201_refused() -> None:
    assert _metadata({"k" * 200: 1}) == {"k" * 200: 1}
    assert _refusals(_body(metadata={"k" * 201: 1})) == [
        "Value error, keys must be at most 200 characters"
    ]


def test_metadata_of_16_kib_as_json_is_accepted_and_one_byte_more_refused() -> None:
    # '{"k": "' is 7 bytes and '"}' is 2: a value of 16384 − 9 = 16375 bytes fills 16 KiB.
    accepted = {"k": "x" * 16_375}
    assert len(json.dumps(accepted).encode()) == 16_384
    assert _metadata(accepted) == accepted
    assert _refusals(_body(metadata={"k": "x" * 16_376})) == [
        "Value error, must be at most 16384 bytes as JSON"
    ]


def test_metadata_size_counts_utf_8_bytes_not_characters() -> None:
    # "é" is 2 bytes in UTF-8: 8188 of them are 16376 bytes, 9 more make 16385.
    assert _refusals(_body(metadata={"k": "é" * 8_188})) == [
        "Value error, must be at most 16384 bytes as JSON"
    ]


# --- the published schema --------------------------------------------------------------------


def test_the_schema_says_which_clues_an_order_reference_needs() -> None:
    expected = {
        "anyOf": [
            {"required": ["platform_order_id"]},
            {"required": ["order_number"]},
            {"required": ["customer_email"]},
        ]
    }
    assert OrderReference.model_json_schema()["anyOf"] == expected["anyOf"]
    # the schema is built at import; building the fragment again checks its construction.
    assert returns._any_of_required("platform_order_id", "order_number", "customer_email") == (
        expected
    )


def test_the_schema_says_a_return_line_needs_a_line_id_or_a_sku() -> None:
    expected = [{"required": ["line_id"]}, {"required": ["sku"]}]
    assert ReturnLine.model_json_schema()["anyOf"] == expected
    assert returns._any_of_required("line_id", "sku") == {"anyOf": expected}
