"""The request journal: one entry per GraphQL call, for exactly-once assertions and cost counts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from returnbridge.sandbox.common import journal

Effect = Literal["refund_created", "idempotent_replay", "rejected"]


@dataclass(frozen=True)
class Entry:
    """What one call asked for and what it did."""

    seq: int
    at: float
    shop: str | None
    operation: str | None
    operation_name: str | None
    kind: str | None
    variables: dict[str, Any] | None
    idempotency_key: str | None
    http_status: int
    effect: Effect | None
    refund_id: str | None
    throttled: bool
    fault: str | None
    requested_cost: int | None
    """``requestedQueryCost``: charged up front; also given for a throttled or too costly
    call, which is charged nothing."""
    actual_cost: int | None
    """Points the call really used, after the refund of requested minus actual; None when
    nothing was executed (throttled, too costly, refused before costing)."""


class Journal(journal.Journal[Entry]):
    """Append-only list of entries, filterable by shop and operation."""

    def __init__(self) -> None:
        super().__init__(Entry, scope="shop")
