"""Nothing stuck: a return whose workflow ended, or never started, before it came to rest is
driven again.

Every unfinished return should have a live workflow (queued, running or waiting). When it has
none (the workflow errored outside its steps, its enqueue was lost, or DBOS recorded it as
failed), `heal` either enqueues the missing workflow under its own id or starts a new one
(`...-redrive-N`). The steps are idempotent, so running them again finishes the return; the
refund key fixed at planning keeps money from moving twice. After `max_redrives` new workflows
in a row, the return is parked in `failed` for an operator instead.

`heal` runs from the sweeper (returns unchanged for `stuck_after` seconds), from a duplicate
delivery of the return, and from the operator's retry route. Several callers may race: the
workflow id is compared and set under the return's row lock, so one of them wins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum

from dbos import DBOS

from returnbridge.domain.lifecycle import can_transition
from returnbridge.domain.returns import ReturnStatus
from returnbridge.engine.queueing import enqueue
from returnbridge.engine.runtime import Runtime
from returnbridge.engine.workflows import workflow_id_for
from returnbridge.observability import get_logger
from returnbridge.store import returns as return_store

log = get_logger(__name__)

UNFINISHED = frozenset(
    {
        ReturnStatus.RECEIVED,
        ReturnStatus.MATCHED,
        ReturnStatus.PLANNED,
        ReturnStatus.REFUNDED,
        ReturnStatus.RESTOCKED,
        ReturnStatus.SYNCED,
        ReturnStatus.NOTIFIED,
    }
)
REDRIVE_EVENT = "workflow_redriven"
STALLED_EVENT = "stalled"
_RESET_EVENTS = frozenset({"retry_requested", "revision_received"})
_ALIVE = frozenset({"PENDING", "ENQUEUED", "DELAYED"})


class WorkflowState(StrEnum):
    ALIVE = "alive"
    """Queued, running or waiting: it will move the return."""
    MISSING = "missing"
    """Never reached DBOS (lost between commit and enqueue)."""
    ENDED = "ended"
    """Finished, errored or cancelled while the return was still unfinished."""


class Healed(StrEnum):
    REQUEUED = "requeued"
    REDRIVEN = "redriven"
    PARKED = "parked"


@dataclass(frozen=True, slots=True)
class SweepReport:
    examined: int
    healed: dict[Healed, int]


def workflow_state(workflow_id: str | None) -> WorkflowState:
    if workflow_id is None:
        return WorkflowState.MISSING
    status = DBOS.get_workflow_status(workflow_id)
    if status is None:
        return WorkflowState.MISSING
    return WorkflowState.ALIVE if status.status in _ALIVE else WorkflowState.ENDED


def heal(runtime: Runtime, tenant_id: str, return_id: str, *, why: str) -> Healed | None:
    """Give an unfinished return without a live workflow one; None when nothing was needed."""
    with runtime.reads() as session:
        record = return_store.get_return(session, return_id, tenant_id=tenant_id)
    if record.status not in UNFINISHED:
        return None
    seen = record.workflow_id
    state = workflow_state(seen)
    if state is WorkflowState.ALIVE:
        return None
    if state is WorkflowState.MISSING and seen is not None:
        # The same id the ingest meant to enqueue: if that enqueue lands too, DBOS keeps one.
        enqueue(
            tenant_id,
            return_id,
            record.revision,
            seen,
            connection_id=record.connection_id,
            order_ref=record.order_ref,
        )
        log.warning("return re-queued", return_id=return_id, workflow_id=seen, why=why)
        return Healed.REQUEUED
    return _start_new_workflow(runtime, tenant_id, return_id, seen=seen, why=why)


def _start_new_workflow(
    runtime: Runtime, tenant_id: str, return_id: str, *, seen: str | None, why: str
) -> Healed | None:
    with runtime.sessions.begin() as session:
        record = return_store.lock_return(session, return_id, tenant_id=tenant_id)
        if record.workflow_id != seen or record.status not in UNFINISHED:
            return None  # someone else healed it (or it moved on) since we looked
        events = return_store.timeline(session, return_id, tenant_id=tenant_id)
        since_reset = 0
        for event in events:
            if event.event in _RESET_EVENTS:
                since_reset = 0
            elif event.event == REDRIVE_EVENT:
                since_reset += 1
        if since_reset >= runtime.settings.max_redrives:
            return_store.record_transition(
                session,
                return_id,
                tenant_id=tenant_id,
                to_status=ReturnStatus.FAILED,
                event=STALLED_EVENT,
                actor="engine",
                reason=f"the return stopped making progress {since_reset + 1} times;"
                " an operator can retry it",
                data={"code": "STALLED", "workflow_id": seen},
                allowed=can_transition,
            )
            log.error("return parked: keeps stalling", return_id=return_id)
            return Healed.PARKED
        key = return_store.current_revision_key(session, record)
        workflow_id = f"{workflow_id_for(tenant_id, key)}-redrive-{len(events)}"
        return_store.record_event(
            session,
            return_id,
            tenant_id=tenant_id,
            event=REDRIVE_EVENT,
            actor="engine",
            reason=why,
            data={"workflow_id": workflow_id, "previous_workflow_id": seen},
        )
        return_store.set_workflow_id(
            session, return_id, tenant_id=tenant_id, workflow_id=workflow_id
        )
        revision, connection_id, order_ref = record.revision, record.connection_id, record.order_ref
    enqueue(
        tenant_id,
        return_id,
        revision,
        workflow_id,
        connection_id=connection_id,
        order_ref=order_ref,
    )
    log.warning("return re-driven", return_id=return_id, workflow_id=workflow_id, why=why)
    return Healed.REDRIVEN


def sweep(runtime: Runtime, *, now: datetime | None = None, limit: int = 100) -> SweepReport:
    """Heal unfinished returns that have not changed for `stuck_after` seconds."""
    now = now or datetime.now(UTC)
    before = now - timedelta(seconds=runtime.settings.stuck_after)
    with runtime.reads() as session:
        stalled = return_store.stalled_returns(
            session, statuses=[s.value for s in UNFINISHED], before=before, limit=limit
        )
    healed: dict[Healed, int] = {}
    for row in stalled:
        try:
            outcome = heal(
                runtime,
                row.tenant_id,
                row.return_id,
                why=f"no progress since {row.updated_at:%Y-%m-%dT%H:%M:%SZ}",
            )
        except Exception as error:  # one bad return must not stop the sweep
            log.error("sweep could not heal a return", return_id=row.return_id, error=str(error))
            continue
        if outcome is not None:
            healed[outcome] = healed.get(outcome, 0) + 1
    return SweepReport(examined=len(stalled), healed=healed)
