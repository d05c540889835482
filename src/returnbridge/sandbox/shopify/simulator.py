"""Everything one sandbox app holds: shops, rate-limit buckets, faults, journal and the clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from returnbridge.sandbox.shopify.apps import Installs
from returnbridge.sandbox.shopify.faults import FaultPlan
from returnbridge.sandbox.shopify.journal import Journal
from returnbridge.sandbox.shopify.state import Shop, World
from returnbridge.sandbox.shopify.throttle import LeakyBucket


@dataclass
class Simulator:
    """The state behind one app; every part is safe to use from several threads."""

    clock: Callable[[], float] = time.time
    restore_rate: float = 100.0
    bucket_size: int = 2000
    world: World = field(default_factory=World)
    journal: Journal = field(default_factory=Journal)
    faults: FaultPlan = field(default_factory=FaultPlan)
    buckets: dict[str, LeakyBucket] = field(default_factory=dict)
    installs: Installs = field(default_factory=Installs)

    def timestamp(self, at: float | None = None) -> str:
        """An ISO-8601 UTC ``DateTime`` for a clock value (now by default)."""
        value = self.clock() if at is None else at
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def bucket(self, shop: Shop) -> LeakyBucket:
        """The shop's bucket, created full on first use."""
        with self.world.lock:
            bucket = self.buckets.get(shop.domain)
            if bucket is None:
                bucket = LeakyBucket.full(
                    size=shop.bucket_size, restore_rate=shop.restore_rate, now=self.clock()
                )
                self.buckets[shop.domain] = bucket
            return bucket

    def put_shop(self, shop: Shop) -> None:
        """Create or replace a shop (its bucket starts full again)."""
        with self.world.lock:
            self.world.shops[shop.domain] = shop
            self.buckets.pop(shop.domain, None)

    def reset(self) -> None:
        """Forget shops, buckets, apps, faults and journal."""
        with self.world.lock:
            self.world.reset()
            self.installs.clear()
            self.buckets.clear()
            self.faults.clear()
            self.journal.clear()
