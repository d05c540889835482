"""The review queue as the API, the dashboard and the MCP gateway show it."""

from __future__ import annotations

from returnbridge.api.schemas import ReturnOut, return_out
from returnbridge.domain.returns import ReturnStatus
from returnbridge.engine.runtime import Runtime
from returnbridge.store import decisions
from returnbridge.store import returns as return_store


def waiting_returns(
    runtime: Runtime, tenant_id: str, *, limit: int
) -> tuple[list[ReturnOut], bool]:
    """The tenant's returns in `needs_review`, oldest first, each with why it waits; and
    whether more wait beyond `limit`."""
    with runtime.reads() as session:
        page = return_store.list_returns(
            session, tenant_id, status=[ReturnStatus.NEEDS_REVIEW.value], limit=limit
        )
        parked = decisions.parked_events(session, tenant_id, [r.id for r in page.items])
    base = runtime.settings.resolved_public_url
    waiting = [return_out(r, base_url=base, parked=parked.get(r.id)) for r in page.items]
    return waiting, page.next_cursor is not None
