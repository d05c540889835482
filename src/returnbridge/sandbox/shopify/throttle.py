"""Shopify's GraphQL leaky bucket: cost points that drain per request and restore per second."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class LeakyBucket:
    """Points available to one shop; ``restore_rate`` points come back every second."""

    size: int
    restore_rate: float
    available: float
    updated_at: float

    @classmethod
    def full(cls, *, size: int, restore_rate: float, now: float) -> LeakyBucket:
        """A bucket with every point available."""
        return cls(size=size, restore_rate=restore_rate, available=float(size), updated_at=now)

    def _restore(self, now: float) -> None:
        elapsed = max(now - self.updated_at, 0.0)
        self.available = min(float(self.size), self.available + elapsed * self.restore_rate)
        self.updated_at = now

    def take(self, cost: int, *, now: float) -> bool:
        """Spend ``cost`` points if they are all available."""
        self._restore(now)
        if cost > self.available:
            return False
        self.available -= cost
        return True

    def give_back(self, points: int, *, now: float) -> None:
        """Return points charged but not used (requested minus actual cost)."""
        self._restore(now)
        self.available = min(float(self.size), self.available + max(points, 0))

    def status(self, *, now: float) -> dict[str, Any]:
        """The ``throttleStatus`` object."""
        self._restore(now)
        return {
            "maximumAvailable": float(self.size),
            "currentlyAvailable": int(self.available),
            "restoreRate": float(self.restore_rate),
        }
