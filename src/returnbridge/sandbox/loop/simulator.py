"""Everything one sandbox app holds: the world, the clock, the per-key window, faults, the
journal, and how webhooks leave (``sender``; tests may swap it)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from returnbridge.sandbox.loop.faults import FaultPlan
from returnbridge.sandbox.loop.journal import Journal
from returnbridge.sandbox.loop.rate_limit import MinuteWindow
from returnbridge.sandbox.loop.state import Delivery, World


def _no_send(_: Delivery) -> None:
    return None


@dataclass
class Simulator:
    """The state behind one app; every part is safe to use from several threads."""

    clock: Callable[[], float] = time.time
    world: World = field(default_factory=World)
    journal: Journal = field(default_factory=Journal)
    faults: FaultPlan = field(default_factory=FaultPlan)
    window: MinuteWindow = field(default_factory=MinuteWindow)
    sender: Callable[[Delivery], None] = _no_send

    def iso(self, at: float | None = None) -> str:
        """An instant (now by default) as Loop writes it: ISO 8601 UTC, ``Z``, whole seconds."""
        stamp = self.clock() if at is None else at
        moment = datetime.fromtimestamp(int(stamp), UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")

    def reset(self) -> None:
        """Forget shops, drafts, returns, deliveries, windows, faults and journal."""
        with self.world.lock:
            self.world.reset()
            self.window.clear()
            self.faults.clear()
            self.journal.clear()
