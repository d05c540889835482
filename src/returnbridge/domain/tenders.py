"""Where refund money goes: the tenders of a refund (refund-math §3.8)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from returnbridge.domain.allocation import largest_remainder
from returnbridge.domain.errors import DomainError
from returnbridge.domain.orders import Payment

#: Tenders whose money can only be spent in the same shop; refunded before anything else.
CLOSED_LOOP_METHODS: frozenset[str] = frozenset({"gift_card", "store_credit"})


class RefundMethod(StrEnum):
    """`original`: back to what the customer paid with; `store_credit`: one new credit."""

    ORIGINAL = "original"
    STORE_CREDIT = "store_credit"


@dataclass(frozen=True, slots=True)
class Tender:
    """One refund transaction: `payment_id` is the parent payment it goes back to, if known."""

    method: str
    amount: int
    payment_id: str | None = None
    gateway: str | None = None

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"method": self.method, "amount": self.amount}
        if self.payment_id is not None:
            out["payment_id"] = self.payment_id
        if self.gateway is not None:
            out["gateway"] = self.gateway
        return out


def allocate_tenders(
    total: int, payments: Sequence[Payment], *, method: RefundMethod
) -> tuple[Tender, ...]:
    """Spread a refund total over tenders (§3.8).

    `store_credit` issues one new store-credit tender. `original` without known payments gives
    one `original` tender; with payments, closed-loop tenders (gift card, store credit) come
    first in payment order, then the others in payment order, each up to `amount − refunded`.
    """
    if total < 0:
        raise DomainError("INVALID_AMOUNT", f"a refund total cannot be negative ({total})")
    if method is RefundMethod.STORE_CREDIT:
        return (Tender(method=RefundMethod.STORE_CREDIT.value, amount=total),)
    if not payments:
        return (Tender(method=RefundMethod.ORIGINAL.value, amount=total),)
    ordered = [p for p in payments if p.method in CLOSED_LOOP_METHODS]
    ordered += [p for p in payments if p.method not in CLOSED_LOOP_METHODS]
    tenders: list[Tender] = []
    left = total
    for payment in ordered:
        take = min(left, max(payment.amount - payment.refunded, 0))
        if take > 0:
            tenders.append(
                Tender(
                    method=payment.method,
                    amount=take,
                    payment_id=payment.id,
                    gateway=payment.gateway,
                )
            )
            left -= take
    if left > 0:
        raise DomainError(
            "REFUND_EXCEEDS_CAPTURED",
            f"the order's payments can take back only {total - left} of {total}",
            field="order.payments",
        )
    return tuple(tenders)


def mirror_tenders(tenders: Sequence[Tender], total: int) -> tuple[Tender, ...]:
    """The same tenders for a second currency's total, split by largest remainder (§3.9)."""
    if not tenders:
        return ()
    weights = [tender.amount for tender in tenders]
    if sum(weights) == 0:
        weights = [1] + [0] * (len(tenders) - 1)
    amounts = largest_remainder(total, weights)
    return tuple(
        Tender(method=t.method, amount=a, payment_id=t.payment_id, gateway=t.gateway)
        for t, a in zip(tenders, amounts, strict=True)
    )


__all__ = [
    "CLOSED_LOOP_METHODS",
    "RefundMethod",
    "Tender",
    "allocate_tenders",
    "mirror_tenders",
]
