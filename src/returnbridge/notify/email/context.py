"""What an email says, as data: filled in by the engine, stored with the delivery record."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

TEMPLATES = ("return_received", "refund_issued", "return_closed", "more_information_needed")
"""Every template returnbridge ships, in every locale of `messages.LOCALES`."""


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class EmailLine(_Model):
    title: str = Field(max_length=500)
    quantity: int = Field(ge=0)
    amount_minor: int = 0


class EmailTender(_Model):
    label: str = Field(max_length=200)
    amount_minor: int


class ReturnEmail(_Model):
    """One email about one return; money in integer minor units of `currency`."""

    template: str
    locale: str = "en"
    customer_name: str | None = None
    customer_email: str
    order_name: str | None = None
    return_reference: str
    currency: str = "USD"
    lines: list[EmailLine] = Field(default_factory=list)
    shipping_minor: int = 0
    fees_minor: int = 0
    """Restocking and return-label fees kept back (a positive number, shown as a deduction)."""
    tax_minor: int = 0
    tenders: list[EmailTender] = Field(default_factory=list)
    total_minor: int = 0
    reason: str | None = None
    """For `more_information_needed`: what we need from the customer."""
    managed_by: str | None = None
    """The returns system that processed the return (e.g. "Loop Returns"), if any."""


def sample(template: str, locale: str = "en", currency: str = "EUR") -> ReturnEmail:
    """Example content for previews: every part of every template has something to show."""
    return ReturnEmail(
        template=template,
        locale=locale,
        customer_name="Jane Doe",
        customer_email="jane@example.com",
        order_name="#1001",
        return_reference="RET-1001",
        currency=currency,
        lines=[
            EmailLine(title="Linen shirt (M)", quantity=1, amount_minor=4990),
            EmailLine(title="Wool socks", quantity=2, amount_minor=123450),
        ],
        shipping_minor=590,
        fees_minor=500,
        tax_minor=2137,
        tenders=[EmailTender(label="Visa •••• 4242", amount_minor=129530)],
        total_minor=129530,
        reason="a photo of the damaged item",
    )
