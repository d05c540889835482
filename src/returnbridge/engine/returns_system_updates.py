"""What the returns system (Loop) says about its returns: from a signed webhook or the poll.

Each report updates the return's link; when the return was waiting on that system
(`awaiting_returns_system`) and the report settles it (closed, cancelled, expired) or says
processing failed, the return resumes at the sync step in a new workflow. The return's row
is locked while deciding, as the sync step does before it parks, so a report that arrives
while the step runs is acted on exactly once, by one of the two.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from returnbridge.connectors.base.returns_system import ExternalReturn
from returnbridge.domain.returns import ReturnStatus
from returnbridge.engine import review
from returnbridge.engine.returns_sync import AWAITING, UPDATED, details_of
from returnbridge.engine.returns_systems import display_name
from returnbridge.engine.runtime import Runtime
from returnbridge.observability import get_logger
from returnbridge.store import decisions
from returnbridge.store import returns as return_store
from returnbridge.store import returns_system_links as links
from returnbridge.store.clock import utc_now
from returnbridge.store.tables import Connection, Return

log = get_logger(__name__)

Outcome = Literal["unknown", "unchanged", "recorded", "resumed"]


@dataclass(frozen=True, slots=True)
class Applied:
    outcome: Outcome
    return_id: str | None = None


def apply_update(
    runtime: Runtime, system: Connection, external: ExternalReturn, *, via: str
) -> Applied:
    """Record `external` (one return of `system`); resume its return if it was waiting."""
    started: tuple[Return, str] | None = None
    with runtime.sessions.begin() as session:
        link = links.by_external_id(session, system.id, external.id)
        if link is None or link.tenant_id != system.tenant_id:
            return Applied("unknown")
        record = return_store.lock_return(session, link.return_id, tenant_id=link.tenant_id)
        details = details_of(external)
        known = link.details or {}
        # What matters is the state, the refund and a failure: representations differ
        # slightly between webhook, list and details, and must not count as news.
        if (link.state, known.get("refund"), known.get("processing_error")) == (
            external.state,
            details["refund"],
            details["processing_error"],
        ):
            return Applied("unchanged", record.id)
        links.update_link(link, now=utc_now(), state=external.state, details=details)
        name = display_name(system.platform)
        reason = f"{name} reports return {external.id} as {external.state}" + (
            f" (processing failed: {external.processing_error})"
            if external.processing_error
            else ""
        )
        data = {"external_return_id": external.id, "state": external.state, "via": via}
        parked = None
        if record.status == ReturnStatus.NEEDS_REVIEW.value:
            parked = decisions.parked_events(session, record.tenant_id, [record.id]).get(record.id)
        if (
            parked is not None
            and parked.event == AWAITING
            and (link.settled or external.processing_error)
        ):
            workflow_id = review.resume(
                session,
                record,
                to_status=ReturnStatus.RESTOCKED,
                event=UPDATED,
                actor=via,
                reason=reason,
                data=data,
            )
            started = (record, workflow_id)
        else:
            return_store.record_event(
                session,
                record.id,
                tenant_id=record.tenant_id,
                event=UPDATED,
                actor=via,
                reason=reason,
                data=data,
            )
    if started is None:
        return Applied("recorded", link.return_id)
    review.start_resumed(*started)
    log.info("return resumed by its returns system", return_id=started[0].id, via=via)
    return Applied("resumed", started[0].id)
