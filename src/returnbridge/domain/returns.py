"""The canonical return: what a vendor's event becomes once validated and mapped.

Core: external id, date, status, order reference, items and quantities, reason. Secondary: the
refund instruction, return shipping, condition and free-form metadata. Goods and money are
separate: `restock` says whether goods go back to stock, `refund.issue` whether money moves.
Amounts stay decimal strings here; they become minor units once the order's currency is known.
"""

from __future__ import annotations

import json
import re
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from returnbridge.domain.money import is_iso_currency


class Channel(StrEnum):
    """Where the customer asked for the return."""

    TICKET = "ticket"
    EMAIL = "email"
    CHAT = "chat"
    SOCIAL = "social"
    MARKETPLACE = "marketplace"
    PHONE = "phone"
    WEB = "web"
    API = "api"
    OTHER = "other"


class Condition(StrEnum):
    NEW = "new"
    OPENED = "opened"
    USED = "used"
    DAMAGED = "damaged"
    DEFECTIVE = "defective"
    UNKNOWN = "unknown"


class ReturnStatus(StrEnum):
    """Lifecycle states (DESIGN.md §3); transitions live in `lifecycle.py`."""

    RECEIVED = "received"
    MATCHED = "matched"
    PLANNED = "planned"
    REFUNDED = "refunded"
    RESTOCKED = "restocked"
    SYNCED = "synced"
    NOTIFIED = "notified"
    COMPLETED = "completed"
    NEEDS_REVIEW = "needs_review"
    FAILED = "failed"
    CANCELLED = "cancelled"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


MAX_AMOUNT = Decimal(10) ** 12
"""No single return moves a trillion of any currency: larger figures are input errors."""
MAX_REVISION = 2**31 - 1
MAX_AMOUNT_DECIMALS = 4
"""No ISO 4217 currency has more minor-unit digits (CLF, UYW): more can never be exact."""
MAX_RATE_DECIMALS = 6
MAX_LINES = 250
MAX_JSON_OBJECT_BYTES = 16 * 1024
"""Free-form objects (metadata, connection settings) stay small: they are stored and listed."""
MAX_JSON_DEPTH = 8
MAX_JSON_KEYS = 256
MAX_JSON_KEY_LENGTH = 200

_PLAIN_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")


def _exact_decimal(value: Any) -> Any:
    """A decimal string or JSON number as an exact Decimal; anything else is left to pydantic.

    Strings must be plain decimals ("12.34"): no sign, spaces, underscores or exponent. A JSON
    number keeps the text it was written with (see ``JsonNumber``), so ``5e-1000000`` is not
    silently read as zero.
    """
    if isinstance(value, bool):
        raise ValueError("must be a decimal string such as '12.34'")
    if isinstance(value, str):
        if not _PLAIN_DECIMAL.fullmatch(value):
            raise ValueError("must be a plain decimal string such as '12.34'")
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(getattr(value, "json_text", None) or repr(value))
    return value


def _at_most_decimals(places: int) -> AfterValidator:
    def check(value: Decimal) -> Decimal:
        exponent = value.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -places and value != round(value, places):
            raise ValueError(f"must have at most {places} decimal places")
        # Plain notation without a sign, so the stored form reads back through the same rules.
        # Zero is one spelling whatever its decimals: str(Decimal("0.0000000")) is "0E-7".
        return Decimal(0) if value.is_zero() else Decimal(format(value, "f"))

    return AfterValidator(check)


def _iso_currency(value: str) -> str:
    if not is_iso_currency(value):
        raise ValueError("must be an ISO 4217 currency code such as 'USD'")
    return value


def _json_within_bounds(value: dict[str, Any]) -> dict[str, Any]:
    """Refuse free-form objects that are too big, too deep or have too many keys."""
    keys = 0
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if depth > MAX_JSON_DEPTH:
            raise ValueError(f"must nest at most {MAX_JSON_DEPTH} levels deep")
        if isinstance(item, dict):
            keys += len(item)
            if any(len(str(key)) > MAX_JSON_KEY_LENGTH for key in item):
                raise ValueError(f"keys must be at most {MAX_JSON_KEY_LENGTH} characters")
            pending.extend((child, depth + 1) for child in item.values())
        elif isinstance(item, list | tuple):
            pending.extend((child, depth + 1) for child in item)
    if keys > MAX_JSON_KEYS:
        raise ValueError(f"must have at most {MAX_JSON_KEYS} keys in all")
    size = len(json.dumps(value, ensure_ascii=False, default=str).encode())
    if size > MAX_JSON_OBJECT_BYTES:
        raise ValueError(f"must be at most {MAX_JSON_OBJECT_BYTES} bytes as JSON")
    return value


BoundedObject = Annotated[
    dict[str, Any],
    AfterValidator(_json_within_bounds),
    Field(description=f"free-form JSON object, at most {MAX_JSON_OBJECT_BYTES} bytes"),
]
"""A free-form JSON object with bounded size, depth and keys."""
StrictInt = Annotated[int, Strict()]
"""A JSON integer: strings, booleans and floats such as 1.0 are refused."""
Currency = Annotated[
    str,
    Field(min_length=3, max_length=3, pattern="^[A-Z]{3}$", description="ISO 4217 code"),
    AfterValidator(_iso_currency),
]


def _any_of_required(*names: str) -> dict[str, Any]:
    """JSON Schema for "at least one of these fields", so the published schema tells the truth."""
    return {"anyOf": [{"required": [name]} for name in names]}


# Optional fields that may be left out but, when present, must carry a value: the JSON schema
# shows no `null` for them (pydantic's SkipJsonSchema), matching what the validators accept.
_Id = Annotated[str, Field(min_length=1, max_length=200)]
_Number = Annotated[str, Field(min_length=1, max_length=100, description="e.g. '#1001'")]
_Email = Annotated[str, Field(min_length=1, max_length=320)]
_Phone = Annotated[str, Field(min_length=1, max_length=40)]
_Postal = Annotated[str, Field(min_length=1, max_length=20)]
_Amount = Annotated[
    Decimal,
    BeforeValidator(_exact_decimal),
    Field(ge=0, lt=MAX_AMOUNT, allow_inf_nan=False),
    _at_most_decimals(MAX_AMOUNT_DECIMALS),
]
_Rate = Annotated[
    Decimal,
    BeforeValidator(_exact_decimal),
    Field(ge=0, le=1, allow_inf_nan=False),
    _at_most_decimals(MAX_RATE_DECIMALS),
]


class OrderReference(_Model):
    """How the vendor names the original order: a platform id, or clues to look it up."""

    model_config = ConfigDict(
        json_schema_extra=_any_of_required("platform_order_id", "order_number", "customer_email")
    )

    platform_order_id: _Id | SkipJsonSchema[None] = None
    order_number: _Number | SkipJsonSchema[None] = None
    customer_email: _Email | SkipJsonSchema[None] = None
    customer_phone: _Phone | SkipJsonSchema[None] = Field(
        default=None, description="helps tell candidate orders apart; never searched alone"
    )
    postal_code: _Postal | SkipJsonSchema[None] = Field(
        default=None, description="shipping postal code; helps tell candidate orders apart"
    )

    @model_validator(mode="after")
    def _one_clue(self) -> Self:
        if not (self.platform_order_id or self.order_number or self.customer_email):
            raise ValueError("give at least one of platform_order_id, order_number, customer_email")
        return self


class ReturnLine(_Model):
    """Units of one order line coming back (or being refunded)."""

    model_config = ConfigDict(json_schema_extra=_any_of_required("line_id", "sku"))

    line_id: _Id | SkipJsonSchema[None] = Field(default=None, description="platform line item id")
    sku: _Id | SkipJsonSchema[None] = None
    quantity: StrictInt = Field(ge=1, le=100_000)
    reason: str | None = Field(default=None, max_length=500)
    condition: Condition = Condition.UNKNOWN
    note: str | None = Field(default=None, max_length=1000)

    @model_validator(mode="after")
    def _identified(self) -> Self:
        if not (self.line_id or self.sku):
            raise ValueError("give line_id or sku")
        return self


class ShippingRefund(_Model):
    """`amount` goes with mode `amount`, and only with it."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"properties": {"mode": {"const": "amount"}}, "required": ["mode", "amount"]},
                {
                    "properties": {"mode": {"enum": ["none", "full"]}},
                    "not": {"required": ["amount"]},
                },
            ]
        }
    )

    mode: Literal["none", "full", "amount"] = "none"
    amount: _Amount | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _amount_with_mode(self) -> Self:
        if (self.mode == "amount") != (self.amount is not None):
            raise ValueError("amount is required with mode 'amount' and only then")
        return self


class RestockingFee(_Model):
    """A percent fee needs `rate` (0..1); a fixed fee needs `amount`."""

    model_config = ConfigDict(
        json_schema_extra={
            "oneOf": [
                {"properties": {"type": {"const": "percent"}}, "required": ["type", "rate"]},
                {"properties": {"type": {"const": "fixed"}}, "required": ["type", "amount"]},
            ]
        }
    )

    type: Literal["percent", "fixed"]
    rate: _Rate | SkipJsonSchema[None] = None
    amount: _Amount | SkipJsonSchema[None] = None

    @model_validator(mode="after")
    def _value(self) -> Self:
        if self.type == "percent" and self.rate is None:
            raise ValueError("a percent fee needs rate (0..1)")
        if self.type == "fixed" and self.amount is None:
            raise ValueError("a fixed fee needs amount")
        return self


class RefundInstruction(_Model):
    """What money the vendor wants moved; `issue=False` means goods only (exchange, policy)."""

    issue: bool = True
    method: Literal["original", "store_credit"] = "original"
    shipping: ShippingRefund = ShippingRefund()
    duties: Literal["none", "proportional", "full"] = Field(
        default="none",
        description="import duties of the returned lines: none, proportional to the units "
        "returned, or full (everything still unrefunded on the line)",
    )
    restocking_fee: RestockingFee | None = None
    return_label_fee: _Amount | None = None
    currency: Currency | None = None


class ReturnShipping(_Model):
    carrier: str | None = Field(default=None, max_length=100)
    tracking_number: str | None = Field(default=None, max_length=200)
    label_url: str | None = Field(default=None, max_length=2000)


class CanonicalReturn(_Model):
    """A return request as returnbridge understands it, whatever channel it came from."""

    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {"required": ["lines"], "properties": {"lines": {"minItems": 1}}},
                {
                    "required": ["refund"],
                    "properties": {
                        "refund": {
                            "required": ["shipping"],
                            "properties": {
                                "shipping": {
                                    "required": ["mode"],
                                    "properties": {"mode": {"enum": ["full", "amount"]}},
                                }
                            },
                        }
                    },
                },
            ]
        }
    )

    external_id: str = Field(min_length=1, max_length=200)
    revision: StrictInt = Field(default=1, ge=1, le=MAX_REVISION)
    channel: Channel = Channel.API
    requested_at: AwareDatetime | None = None
    status: Literal["requested", "approved", "received", "cancelled"] = "approved"
    order: OrderReference
    lines: tuple[ReturnLine, ...] = Field(default=(), max_length=MAX_LINES)
    reason: str | None = Field(default=None, max_length=500)
    restock: bool = True
    restock_location_id: str | None = Field(default=None, min_length=1, max_length=200)
    refund: RefundInstruction = RefundInstruction()
    return_shipping: ReturnShipping | None = None
    customer_note: str | None = Field(default=None, max_length=2000)
    customer_locale: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8}){0,3}$",
        description="the customer's language (BCP 47, e.g. de-DE): the emails they get use it",
    )
    metadata: BoundedObject = Field(default_factory=dict)

    @property
    def approved(self) -> bool:
        """Money may move: approved, or the goods already received (which implies it)."""
        return self.status in ("approved", "received")

    @model_validator(mode="after")
    def _something_to_do(self) -> Self:
        if not self.lines and self.refund.shipping.mode == "none":
            raise ValueError("a return needs at least one line or a shipping refund")
        return self
