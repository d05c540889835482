"""Everything one sandbox app holds: stores, buckets, faults, journal and the clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from returnbridge.sandbox.shopline.faults import FaultPlan
from returnbridge.sandbox.shopline.journal import Journal
from returnbridge.sandbox.shopline.rate_limit import LeakyBucket
from returnbridge.sandbox.shopline.state import Store, World


@dataclass
class Simulator:
    """The state behind one app; every part is safe to use from several threads."""

    clock: Callable[[], float] = time.time
    world: World = field(default_factory=World)
    journal: Journal = field(default_factory=Journal)
    faults: FaultPlan = field(default_factory=FaultPlan)
    buckets: dict[str, LeakyBucket] = field(default_factory=dict)

    def now(self) -> datetime:
        """The clock's time as an aware UTC datetime (whole seconds)."""
        return datetime.fromtimestamp(int(self.clock()), UTC)

    def bucket(self, store: Store) -> LeakyBucket:
        """The store's bucket, created empty on first use."""
        with self.world.lock:
            bucket = self.buckets.get(store.handle)
            if bucket is None:
                bucket = LeakyBucket(size=store.bucket_size, leak_rate=store.leak_rate)
                self.buckets[store.handle] = bucket
            return bucket

    def put_store(self, store: Store) -> None:
        """Create or replace a store (its bucket starts empty again)."""
        with self.world.lock:
            self.world.stores[store.handle] = store
            self.buckets.pop(store.handle, None)

    def reset(self) -> None:
        """Forget stores, buckets, faults and journal."""
        with self.world.lock:
            self.world.reset()
            self.buckets.clear()
            self.faults.clear()
            self.journal.clear()
