"""The request journal: one entry per API call, for exactly-once assertions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from returnbridge.sandbox.common import journal

Effect = Literal["refund_created", "quote_created", "rejected", "inventory_adjusted"]


@dataclass(frozen=True)
class Entry:
    """What one call asked for and what it did."""

    seq: int
    at: float
    store: str
    operation: str
    method: str
    path: str
    http_status: int
    effect: Effect | None
    refund_id: int | None
    rate_limited: bool
    fault: str | None


class Journal(journal.Journal[Entry]):
    """Append-only list of entries, filterable by store and operation."""

    def __init__(self) -> None:
        super().__init__(Entry, scope="store")
