"""An operator sends a parked return back through its workflow (`needs_review` or `failed`).

The retry runs the same revision again under a new workflow id; the refund key stays the one
fixed at planning, so a refund that already reached the platform is found, never paid twice.
"""

from __future__ import annotations

from returnbridge.domain.errors import DomainError
from returnbridge.domain.lifecycle import can_transition
from returnbridge.domain.returns import ReturnStatus
from returnbridge.engine.queueing import enqueue
from returnbridge.engine.redrive import UNFINISHED, heal
from returnbridge.engine.runtime import Runtime
from returnbridge.engine.workflows import workflow_id_for
from returnbridge.store import returns as return_store
from returnbridge.store.tables import Return

RETRYABLE = frozenset({ReturnStatus.NEEDS_REVIEW.value, ReturnStatus.FAILED.value})
RETRY_EVENT = "retry_requested"


def retry_return(
    runtime: Runtime, tenant_id: str, return_id: str, *, actor: str, reason: str | None = None
) -> Return:
    """Move a parked return back to `received` and start a fresh workflow for it.

    An unfinished return whose workflow is gone is driven again where it stopped instead.
    """
    with runtime.reads() as session:
        status = return_store.get_return(session, return_id, tenant_id=tenant_id).status
    if status in UNFINISHED and heal(runtime, tenant_id, return_id, why=f"retried by {actor}"):
        with runtime.reads() as session:
            return return_store.get_return(session, return_id, tenant_id=tenant_id)
    with runtime.sessions.begin() as session:
        record = return_store.lock_return(session, return_id, tenant_id=tenant_id)
        if record.status not in RETRYABLE:
            raise DomainError(
                "NOT_RETRYABLE",
                f"return {return_id} is {record.status}; only needs_review or failed returns,"
                " or unfinished ones whose workflow stopped, can be retried",
            )
        earlier = sum(
            1
            for event in return_store.timeline(session, return_id, tenant_id=tenant_id)
            if event.event == RETRY_EVENT
        )
        key = return_store.current_revision_key(session, record)
        workflow_id = f"{workflow_id_for(tenant_id, key)}-retry-{earlier + 1}"
        return_store.record_transition(
            session,
            return_id,
            tenant_id=tenant_id,
            to_status=ReturnStatus.RECEIVED,
            event=RETRY_EVENT,
            actor=actor,
            reason=reason,
            data={"workflow_id": workflow_id},
            allowed=can_transition,
        )
        return_store.set_workflow_id(
            session, return_id, tenant_id=tenant_id, workflow_id=workflow_id
        )
    enqueue(
        tenant_id,
        record.id,
        record.revision,
        workflow_id,
        connection_id=record.connection_id,
        order_ref=record.order_ref,
    )
    return record
