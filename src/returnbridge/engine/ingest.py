"""Accepting a return: store the revision, then start its workflow, before answering.

The store decides duplicates (same key, or same external id and revision); the workflow id is
derived from the stored revision's key, so a duplicate delivery can never start a second
workflow; it does start one when the return is unfinished and its workflow is gone
(`redrive.heal`). A crash between commit and enqueue is healed by `requeue_received`, run at
worker start, and by the sweeper: enqueueing is idempotent by workflow id.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from returnbridge.domain.returns import CanonicalReturn, ReturnStatus
from returnbridge.engine.queueing import enqueue
from returnbridge.engine.redrive import UNFINISHED, heal
from returnbridge.engine.runtime import Runtime
from returnbridge.engine.workflows import workflow_id_for
from returnbridge.observability import RETURNS_RECEIVED
from returnbridge.store import returns as return_store
from returnbridge.store.tables import Return, ReturnRevision


def default_key(canonical: CanonicalReturn) -> str:
    """The idempotency key of a return sent without one: its external id and revision, so the
    same revision is one return whichever way it came in (API, push, import)."""
    return f"{canonical.external_id}:r{canonical.revision}"


@dataclass(frozen=True, slots=True)
class Submitted:
    record: Return
    duplicate: bool
    workflow_id: str
    payload_matches: bool = True


ConnectionChoice = Callable[[Session], str]
"""Finds the connection id in the ingest's own transaction (raising the caller's error)."""


def submit_return(
    runtime: Runtime,
    tenant_id: str,
    *,
    connection_id: str | None = None,
    choose_connection: ConnectionChoice | None = None,
    canonical: CanonicalReturn,
    idempotency_key: str,
    source: str = "api",
    connection_checked: bool = False,
) -> Submitted:
    """Store the return revision and enqueue its workflow (both idempotent).

    Give ``connection_id``, or ``choose_connection``: a function that picks it for this tenant
    in the same transaction (it then counts as checked). ``connection_checked``: the caller
    has just read the connection for this tenant.
    """
    if connection_id is not None and choose_connection is not None:
        raise TypeError("give connection_id or choose_connection, not both")
    payload = canonical.model_dump(mode="json")
    with runtime.sessions.begin() as session:
        if choose_connection is not None:
            connection_id, connection_checked = choose_connection(session), True
        elif connection_id is None:
            raise TypeError("give connection_id or choose_connection")
        result = return_store.ingest_return(
            session,
            tenant_id,
            connection_id=connection_id,
            channel=canonical.channel.value,
            source=source,
            external_id=canonical.external_id,
            revision=canonical.revision,
            idempotency_key=idempotency_key,
            payload=payload,
            order_ref=canonical.order.model_dump(mode="json", exclude_none=True),
            currency=canonical.refund.currency,
            # a stored revision's workflow is named by its key: ours, when this one is stored
            workflow_id=workflow_id_for(tenant_id, idempotency_key),
            connection_checked=connection_checked,
        )
        workflow_id = workflow_id_for(tenant_id, result.revision.idempotency_key)
        record = result.record
    if result.outcome in ("created", "new_revision"):
        enqueue(
            tenant_id,
            record.id,
            record.revision,
            workflow_id,
            connection_id=connection_id,
            order_ref=record.order_ref,
        )
    elif record.status in UNFINISHED:
        # A redelivery of a return whose workflow is gone drives it again.
        heal(runtime, tenant_id, record.id, why="delivered again while it was not moving")
    RETURNS_RECEIVED.labels(
        channel=canonical.channel.value, duplicate=str(result.is_duplicate).lower()
    ).inc()
    return Submitted(
        record=record,
        duplicate=result.is_duplicate,
        workflow_id=workflow_id,
        payload_matches=result.payload_matches,
    )


def requeue_received(runtime: Runtime) -> int:
    """Enqueue every stored return still `received` (lost between commit and enqueue)."""
    with runtime.reads() as session:
        rows = session.execute(
            select(Return, ReturnRevision.idempotency_key)
            .join(
                ReturnRevision,
                (ReturnRevision.return_id == Return.id)
                & (ReturnRevision.revision == Return.revision),
            )
            .where(Return.status == ReturnStatus.RECEIVED.value)
        ).all()
    for record, key in rows:
        enqueue(
            record.tenant_id,
            record.id,
            record.revision,
            record.workflow_id or workflow_id_for(record.tenant_id, key),
            connection_id=record.connection_id,
            order_ref=record.order_ref,
        )
    return len(rows)
