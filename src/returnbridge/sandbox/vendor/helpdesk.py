"""The vendor's records: return requests that are created and updated while someone pages them.

Listing is newest change first (``updated_at`` descending), so an insert or an update lands at
the head and pushes older records to later pages. The change feed is the same records in
ascending change order (``seq``). Every revision is kept in ``history`` with the request numbers
it was current between, so a test can tell which revisions a poller could not have missed.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

Clock = Callable[[], datetime]

REASONS = ("too small", "too big", "damaged in transit", "changed mind", "wrong colour")
SKUS = ("MUG-WHT", "MUG-BLK", "TEE-M", "TEE-L", "CAP-01")


_OWN = frozenset({"id", "version", "seq", "updated_at", "created_at"})
"""Fields the helpdesk keeps for itself."""


def wall_clock() -> datetime:
    return datetime.now(UTC)


@dataclass
class Revision:
    """One revision of a record and the requests it was current between (``until`` exclusive)."""

    id: str
    version: int
    since: int
    until: int | None = None


@dataclass
class FailurePlan:
    """Fail ``count`` list requests with ``status`` once ``after`` more have succeeded."""

    after: int = 0
    count: int = 0
    status: int = 503


@dataclass
class Helpdesk:
    """Thread-safe record store with churn, failures and a revision history."""

    clock: Clock = wall_clock
    records: dict[str, dict[str, Any]] = field(default_factory=dict)
    history: list[Revision] = field(default_factory=list)
    requests: int = 0
    log: list[str] = field(default_factory=list)
    """Path and query of each list request, in order."""
    churn_seed: int | None = None
    hot_id: str | None = None
    failure: FailurePlan = field(default_factory=FailurePlan)
    _lock: threading.RLock = field(default_factory=threading.RLock)
    _rng: random.Random = field(default_factory=random.Random)
    _seq: int = 0
    _next_number: int = 1001
    _last_time: datetime | None = None

    def _now(self) -> datetime:
        # Strictly increasing, so two changes never share an updated_at.
        now = self.clock()
        if self._last_time is not None and now <= self._last_time:
            now = self._last_time + timedelta(microseconds=1)
        self._last_time = now
        return now

    def _stamp(self, record: dict[str, Any]) -> None:
        self._seq += 1
        record["seq"] = self._seq
        record["updated_at"] = self._now().isoformat().replace("+00:00", "Z")
        for revision in self.history:
            if revision.id == record["id"] and revision.until is None:
                revision.until = self.requests
        self.history.append(Revision(record["id"], record["version"], self.requests))

    def insert(self, overrides: dict[str, Any] | None = None) -> dict[str, Any]:
        """A new return request, at the head of the listing (``overrides`` replace fields)."""
        with self._lock:
            number = self._next_number
            self._next_number += 1
            record: dict[str, Any] = {
                "id": f"RMA-{number}",
                "version": 1,
                "created_at": self._now().isoformat().replace("+00:00", "Z"),
                "order_number": f"#{number}",
                "customer": {"email": f"Customer{number}@Example.com"},
                "reason": REASONS[number % len(REASONS)],
                "items": [{"sku": SKUS[number % len(SKUS)], "qty": 1 + number % 3}],
            }
            record.update({k: v for k, v in (overrides or {}).items() if k not in _OWN})
            self._stamp(record)
            self.records[record["id"]] = record
            return dict(record)

    def update(self, record_id: str) -> dict[str, Any]:
        """A new revision of ``record_id``: it moves to the head of the listing."""
        with self._lock:
            record = self.records[record_id]
            record["version"] += 1
            record["items"] = [{"sku": record["items"][0]["sku"], "qty": record["version"]}]
            self._stamp(record)
            return dict(record)

    def seed(self, count: int) -> None:
        with self._lock:
            for _ in range(count):
                self.insert()

    def start_churn(self, seed: int) -> None:
        """From now on every list request changes the records first (see `churn`)."""
        with self._lock:
            self.churn_seed = seed
            self._rng = random.Random(seed)
            ordered = self.listing(None)
            self.hot_id = ordered[len(ordered) // 2]["id"] if ordered else None

    def stop_churn(self) -> None:
        with self._lock:
            self.churn_seed = None

    def churn(self) -> None:
        """An insert at the head, an update of an old record (it jumps pages) and, every other
        request, another update of the same hot record."""
        listing = self.listing(None)
        self.insert()
        if len(listing) > 1:
            older = listing[len(listing) // 2 :]
            self.update(self._rng.choice(older)["id"])
        if self.hot_id is not None and self.requests % 2 == 0:
            self.update(self.hot_id)

    def begin_request(self, target: str = "") -> int | None:
        """Count a list request, churn if asked; the status to fail it with, if it must fail."""
        with self._lock:
            self.requests += 1
            self.log.append(target)
            if self.failure.after > 0:
                self.failure.after -= 1
            elif self.failure.count > 0:
                self.failure.count -= 1
                return self.failure.status
            if self.churn_seed is not None:
                self.churn()
            return None

    def listing(self, updated_since: datetime | None) -> list[dict[str, Any]]:
        """Records changed after ``updated_since``, newest change first."""
        with self._lock:
            rows = [
                dict(r)
                for r in self.records.values()
                if updated_since is None or _parse(r["updated_at"]) > updated_since
            ]
        return sorted(rows, key=lambda r: (r["updated_at"], r["id"]), reverse=True)

    def feed(self, after_seq: int, limit: int) -> list[dict[str, Any]]:
        """Records whose last change came after ``after_seq``, oldest change first."""
        with self._lock:
            rows = [dict(r) for r in self.records.values() if r["seq"] > after_seq]
        return sorted(rows, key=lambda r: r["seq"])[:limit]

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "requests": self.requests,
                "log": list(self.log),
                "records": [
                    {"id": r["id"], "version": r["version"], "updated_at": r["updated_at"]}
                    for r in self.records.values()
                ],
                "history": [
                    {"id": h.id, "version": h.version, "since": h.since, "until": h.until}
                    for h in self.history
                ],
            }


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))
