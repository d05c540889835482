"""The platform-neutral contract of a returns system (Loop Returns): what the engine calls.

A returns system is not an order platform: it keeps the merchant's returns and, when it
processes one, makes the refund and restock in the store itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class ReturnLine:
    """Units of one order line (the store's line item id) in a return."""

    line_item_id: str
    quantity: int
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ReturnsSystemRequest:
    """A return to open; `key` is ours, kept on the return so a retry finds it."""

    key: str
    order_name: str
    order_id: str | None
    secondary_input: str
    lines: tuple[ReturnLine, ...]
    note: str | None = None


@dataclass(frozen=True, slots=True)
class ExternalReturn:
    """A return as the returns system reports it; `state` is normalised."""

    id: str
    state: str  # open | closed | cancelled | expired | review
    order_name: str | None
    currency: str | None
    refund: Decimal | None
    total: Decimal | None
    product_total: Decimal | None
    tax_total: Decimal | None
    discount_total: Decimal | None
    lines: tuple[ReturnLine, ...]
    updated_at: datetime | None
    processing_error: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict)


class ReturnsSystem(Protocol):
    """What the engine asks of a returns system. Its HTTP client is the connection's shared
    one (closed by the runtime), so a client object needs no closing of its own."""

    platform: str

    def open_return(self, request: ReturnsSystemRequest) -> ExternalReturn: ...

    def process(self, return_id: str, note: str | None = None) -> None: ...

    def close(self, return_id: str, note: str | None = None) -> None: ...

    def cancel(self, return_id: str, note: str | None = None) -> None: ...

    def get_return(self, return_id: str) -> ExternalReturn: ...

    def changed_since(self, since: datetime, until: datetime) -> list[ExternalReturn]: ...
