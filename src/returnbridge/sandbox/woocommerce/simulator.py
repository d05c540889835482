"""Everything one sandbox app holds: stores, faults, journal and the clock."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from returnbridge.sandbox.woocommerce.faults import FaultPlan
from returnbridge.sandbox.woocommerce.journal import Journal
from returnbridge.sandbox.woocommerce.state import World
from returnbridge.sandbox.woocommerce.webhooks import Subscriptions, WebhookSender


@dataclass
class Simulator:
    """The state behind one app; every part is safe to use from several threads."""

    clock: Callable[[], float] = time.time
    world: World = field(default_factory=World)
    journal: Journal = field(default_factory=Journal)
    faults: FaultPlan = field(default_factory=FaultPlan)
    subscriptions: dict[str, Subscriptions] = field(default_factory=dict)
    """Webhooks per store name."""
    webhooks: WebhookSender = field(init=False)
    auth_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    """Keys the nonces of ``/wc-auth/v1`` grant links (``key_delivery.py``)."""

    def __post_init__(self) -> None:
        self.webhooks = WebhookSender(self.world.lock)

    def subscriptions_of(self, store: str) -> Subscriptions:
        """A store's webhooks (created empty on first use; call under the world lock)."""
        return self.subscriptions.setdefault(store, Subscriptions())

    def timestamp(self, at: float | None = None) -> str:
        """A WooCommerce ``date_*_gmt`` value (ISO 8601, no offset) for a clock value."""
        value = self.clock() if at is None else at
        return datetime.fromtimestamp(value, UTC).strftime("%Y-%m-%dT%H:%M:%S")

    def reset(self) -> None:
        """Forget stores, webhooks, faults and journal."""
        with self.world.lock:
            self.world.reset()
            self.subscriptions.clear()
            self.faults.clear()
            self.journal.clear()
