"""The request journal: one entry per API call, for exactly-once assertions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from returnbridge.sandbox.common import journal

Effect = Literal["refund_created", "return_created", "return_closed", "rejected"]


@dataclass(frozen=True)
class Entry:
    """What one call asked for and what it did; ``refund_id`` is set only when one was made."""

    seq: int
    at: float
    store: str
    operation: str
    method: str
    path: str
    http_status: int
    effect: Effect | None
    refund_id: str | None
    rate_limited: bool
    fault: str | None
    trace_id: str


class Journal(journal.Journal[Entry]):
    """Append-only list of entries, filterable by store and operation."""

    def __init__(self) -> None:
        super().__init__(Entry, scope="store")
