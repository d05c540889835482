"""Everything one sandbox app holds: stores, faults, journal and the clock."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from returnbridge.sandbox.woocommerce.faults import FaultPlan
from returnbridge.sandbox.woocommerce.journal import Journal
from returnbridge.sandbox.woocommerce.state import World


@dataclass
class Simulator:
    """The state behind one app; every part is safe to use from several threads."""

    clock: Callable[[], float] = time.time
    world: World = field(default_factory=World)
    journal: Journal = field(default_factory=Journal)
    faults: FaultPlan = field(default_factory=FaultPlan)

    def timestamp(self, at: float | None = None) -> str:
        """A WooCommerce ``date_*_gmt`` value (ISO 8601, no offset) for a clock value."""
        value = self.clock() if at is None else at
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%S")

    def reset(self) -> None:
        """Forget stores, faults and journal."""
        with self.world.lock:
            self.world.reset()
            self.faults.clear()
            self.journal.clear()
