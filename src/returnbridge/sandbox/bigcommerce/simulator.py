"""Everything one sandbox app holds: stores, rate windows, faults, journal and the clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from returnbridge.sandbox.bigcommerce.faults import FaultPlan
from returnbridge.sandbox.bigcommerce.journal import Journal
from returnbridge.sandbox.bigcommerce.rate_limit import RollingWindow
from returnbridge.sandbox.bigcommerce.state import Store, World


@dataclass
class Simulator:
    """The state behind one app; every part is safe to use from several threads."""

    clock: Callable[[], float] = time.time
    world: World = field(default_factory=World)
    journal: Journal = field(default_factory=Journal)
    faults: FaultPlan = field(default_factory=FaultPlan)
    windows: dict[str, RollingWindow] = field(default_factory=dict)

    def timestamp(self) -> str:
        """Now as an RFC 3339 UTC date-time (the v3 ``created`` form)."""
        return datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%S+00:00")

    def window(self, store: Store) -> RollingWindow:
        """The store's rate window, created empty on first use."""
        with self.world.lock:
            window = self.windows.get(store.store_hash)
            if window is None:
                window = RollingWindow(
                    quota=store.rate_quota, window_seconds=store.rate_window_seconds
                )
                self.windows[store.store_hash] = window
            return window

    def put_store(self, store: Store) -> None:
        """Create or replace a store (its rate window starts empty again)."""
        with self.world.lock:
            self.world.stores[store.store_hash] = store
            self.windows.pop(store.store_hash, None)

    def reset(self) -> None:
        """Forget stores, rate windows, faults and journal."""
        with self.world.lock:
            self.world.reset()
            self.windows.clear()
            self.faults.clear()
            self.journal.clear()
