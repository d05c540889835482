"""The request journal: one entry per API call, for exactly-once assertions.

Each platform defines its own frozen dataclass of entry fields; the first is ``seq`` (assigned
here), and one field scopes the entry to a tenant (``"shop"`` or ``"store"``).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

Entry = TypeVar("Entry", bound="DataclassInstance")


class Journal(Generic[Entry]):
    """Append-only list of entries, filterable by scope (store or shop) and operation."""

    def __init__(self, entry_type: Callable[..., Entry], *, scope: str) -> None:
        self.entry_type = entry_type
        self.scope = scope
        self._entries: list[Entry] = []
        self._seq = itertools.count(1)
        self._lock = threading.Lock()

    def record(self, **fields: Any) -> Entry:
        """Append an entry (``seq`` is assigned here)."""
        with self._lock:
            entry = self.entry_type(seq=next(self._seq), **fields)
            self._entries.append(entry)
            return entry

    def entries(
        self, *, scope: str | None = None, operation: str | None = None
    ) -> list[dict[str, Any]]:
        """Entries as JSON-ready dicts, oldest first."""
        with self._lock:
            return [
                asdict(e)
                for e in self._entries
                if (scope is None or getattr(e, self.scope) == scope)
                and (operation is None or getattr(e, "operation") == operation)  # noqa: B009
            ]

    def clear(self) -> None:
        """Forget every entry (sequence numbers keep growing)."""
        with self._lock:
            self._entries.clear()
