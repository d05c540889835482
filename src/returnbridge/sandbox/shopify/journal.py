"""The request journal: one entry per GraphQL call, for exactly-once assertions and cost counts."""

from __future__ import annotations

import itertools
import threading
from dataclasses import asdict, dataclass
from typing import Any, Literal

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


class Journal:
    """Append-only list of entries, filterable by shop and operation."""

    def __init__(self) -> None:
        self._entries: list[Entry] = []
        self._seq = itertools.count(1)
        self._lock = threading.Lock()

    def record(self, **fields: Any) -> Entry:
        """Append an entry (``seq`` is assigned here)."""
        with self._lock:
            entry = Entry(seq=next(self._seq), **fields)
            self._entries.append(entry)
            return entry

    def entries(
        self, *, shop: str | None = None, operation: str | None = None
    ) -> list[dict[str, Any]]:
        """Entries as JSON-ready dicts, oldest first."""
        with self._lock:
            return [
                asdict(e)
                for e in self._entries
                if (shop is None or e.shop == shop)
                and (operation is None or e.operation == operation)
            ]

    def clear(self) -> None:
        """Forget every entry (sequence numbers keep growing)."""
        with self._lock:
            self._entries.clear()
