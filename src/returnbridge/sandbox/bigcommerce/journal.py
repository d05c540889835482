"""The request journal: one entry per API call, for exactly-once assertions."""

from __future__ import annotations

import itertools
import threading
from dataclasses import asdict, dataclass
from typing import Any, Literal

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


class Journal:
    """Append-only list of entries, filterable by store and operation."""

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
        self, *, store: str | None = None, operation: str | None = None
    ) -> list[dict[str, Any]]:
        """Entries as JSON-ready dicts, oldest first."""
        with self._lock:
            return [
                asdict(e)
                for e in self._entries
                if (store is None or e.store == store)
                and (operation is None or e.operation == operation)
            ]

    def clear(self) -> None:
        """Forget every entry (sequence numbers keep growing)."""
        with self._lock:
            self._entries.clear()
