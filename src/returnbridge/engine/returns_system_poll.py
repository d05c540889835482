"""The poll that catches returns-system webhooks that never arrived (Loop Returns).

For every returns-system connection with returns still open there, list that system's
returns updated since the last poll (less an overlap; at first since the oldest open link
changed) and apply each one we know (`returns_system_updates.apply_update`), exactly as if
its webhook had come. Reports that change nothing are ignored, so a webhook and the poll
seeing the same update act once.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from returnbridge.engine.returns_system_updates import apply_update
from returnbridge.engine.runtime import Runtime
from returnbridge.observability import get_logger
from returnbridge.store import returns_system_links as links
from returnbridge.store.tables import Connection

log = get_logger(__name__)

OVERLAP = timedelta(minutes=5)
"""Updates are read again this far back: clocks differ and lists lag."""
MAX_WINDOW = timedelta(days=119)
"""Loop's detailed list accepts at most 120 days."""


@dataclass
class ReturnsSystemPoll:
    """Poll state for one process: the time each connection was last read up to."""

    runtime: Runtime
    read_up_to: dict[str, datetime] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def run_once(self, now: datetime) -> int:
        """Poll every connection with open returns; the number of returns that changed."""
        with self._lock:  # one round at a time in a process
            with self.runtime.reads() as session:
                connection_ids = links.connections_with_unsettled(session)
            changed = 0
            for connection_id in connection_ids:
                try:
                    changed += self._poll(connection_id, now)
                except Exception as error:  # one system down must not stop the others
                    log.warning(
                        "returns system poll failed", connection_id=connection_id, error=str(error)
                    )
            return changed

    def _poll(self, connection_id: str, now: datetime) -> int:
        with self.runtime.reads() as session:
            system = session.get(Connection, connection_id)
            waiting = links.unsettled(session, connection_id)
        if system is None or not waiting:
            return 0
        known = {link.external_id for link in waiting}
        since = self.read_up_to.get(connection_id) or min(link.updated_at for link in waiting)
        since = max(since - OVERLAP, now - MAX_WINDOW)
        updated = self.runtime.returns_system(system).changed_since(since, now)
        changed = 0
        for external in updated:
            if external.id in known:
                applied = apply_update(self.runtime, system, external, via="poll")
                changed += applied.outcome in ("recorded", "resumed")
        self.read_up_to[connection_id] = now
        if changed:
            log.info("returns system poll found updates", connection_id=connection_id, n=changed)
        return changed
