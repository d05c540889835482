"""The restock step on platforms whose refunds do not restock (Capability.RESTOCK).

Stock adjustments have no idempotency key on any platform we serve, so the step writes down
that it is about to send (`restock_sent`) before the call and what happened after it. A run that
finds `restock_sent` with neither `restocked` nor `restock_not_applied` after it cannot know
whether the platform applied the adjustment (the answer was lost, or the worker died): it
parks the return for review instead of adjusting the stock a second time.
"""

from __future__ import annotations

from dataclasses import dataclass

from returnbridge.connectors import registry
from returnbridge.connectors.base.connector import (
    Capability,
    RestockCommand,
    RestockLine,
    RestockResult,
)
from returnbridge.domain.errors import TransientError
from returnbridge.domain.returns import CanonicalReturn, ReturnStatus
from returnbridge.engine import completion
from returnbridge.engine import refund_commands as rc
from returnbridge.engine.refunding import restock_choice
from returnbridge.engine.runtime import Runtime
from returnbridge.engine.step_records import (
    ACTOR,
    StepOutcome,
    advance_through,
    classify,
    connection_of,
    load_return,
    park,
    reached,
    transaction,
)
from returnbridge.observability import get_logger
from returnbridge.store import refunds as refund_store
from returnbridge.store import returns as return_store
from returnbridge.store.step_rows import Hop
from returnbridge.store.tables import Connection

log = get_logger(__name__)

SENT = "restock_sent"
NOT_APPLIED = "restock_not_applied"


@dataclass(frozen=True, slots=True)
class _Work:
    canonical: CanonicalReturn
    connection: Connection
    order_id: str
    quantities: dict[str, int]
    key: str
    sent_before: bool


def restock(
    runtime: Runtime, tenant_id: str, return_id: str, *, after: ReturnStatus | None = None
) -> StepOutcome:
    """Record the restock, making it on the platform when the refund did not.

    ``after`` is the status the refund step left: when that is already past the restock (the
    refund step recorded it), there is nothing to read or write.
    """
    if after is not None and reached(after, ReturnStatus.RESTOCKED):
        return StepOutcome(after)
    work = _prepare(runtime, tenant_id, return_id)
    if isinstance(work, StepOutcome):
        return work
    if work.sent_before:
        return park(
            runtime,
            tenant_id,
            return_id,
            status=ReturnStatus.NEEDS_REVIEW,
            event="restock_uncertain",
            reason=(
                f"a stock adjustment was sent to {work.connection.platform} but its answer "
                "never arrived: check the stock of the returned items, then mark the return "
                "done or retry it"
            ),
            data={"quantities": work.quantities, "order_id": work.order_id},
        )
    connector = runtime.connector(work.connection)
    try:
        choice = restock_choice(connector, work.canonical, work.connection)
        command = RestockCommand(
            order_id=work.order_id,
            key=work.key,
            lines=tuple(RestockLine(line_id=k, quantity=q) for k, q in work.quantities.items()),
            location_id=choice.location_id,
            reason=rc.refund_note(work.key, work.canonical),
        )
        _note(runtime, tenant_id, return_id, SENT, {"key": work.key})
        try:
            result = connector.restock(command)
        except TransientError as error:
            if not error.details.get("ambiguous"):  # nothing was applied: a retry may send
                _note(runtime, tenant_id, return_id, NOT_APPLIED, {"code": error.code})
            raise
        except Exception:
            _note(runtime, tenant_id, return_id, NOT_APPLIED, {})
            raise
    except Exception as error:
        return classify(runtime, tenant_id, return_id, error, step="restock")
    finally:
        connector.close()
    return _record(runtime, tenant_id, return_id, work.connection.platform, result)


def _prepare(runtime: Runtime, tenant_id: str, return_id: str) -> _Work | StepOutcome:
    """What to restock, or the outcome when there is nothing for the platform to do."""
    with transaction(runtime) as session:
        record, canonical = load_return(session, tenant_id, return_id)
        if reached(record.status, ReturnStatus.RESTOCKED):
            return StepOutcome(record.status)
        if not canonical.restock or not canonical.lines:
            advance_through(session, record, [completion.restock_skipped()])
            return StepOutcome(ReturnStatus.RESTOCKED)
        connection = connection_of(session, record)
        capabilities = registry.capabilities(connection.platform)
        if Capability.RESTOCK_WITH_REFUND in capabilities or Capability.RESTOCK not in capabilities:
            made = refund_store.platform_refund_ids(session, return_id, tenant_id=tenant_id)
            advance_through(
                session, record, [completion.restocked_in_refund(connection.platform, made)]
            )
            return StepOutcome(ReturnStatus.RESTOCKED)
        refunds = refund_store.refunds_for_return(session, return_id, tenant_id=tenant_id)
        planned = refunds[-1] if refunds else None
        quantities = dict((planned.plan or {}).get("quantities") or {}) if planned else {}
        events = [
            e.event
            for e in return_store.timeline(session, return_id, tenant_id=tenant_id)
            if e.event in (SENT, NOT_APPLIED, "restocked")
        ]
    if planned is None or not quantities:
        return park(
            runtime,
            tenant_id,
            return_id,
            status=ReturnStatus.NEEDS_REVIEW,
            event="restock_needs_review",
            reason="no planned quantities to restock",
        )
    return _Work(
        canonical=canonical,
        connection=connection,
        order_id=planned.order_id,
        quantities={str(k): int(v) for k, v in quantities.items()},
        key=rc.refund_key(return_id, canonical.revision),
        sent_before=bool(events) and events[-1] == SENT,
    )


def _note(
    runtime: Runtime, tenant_id: str, return_id: str, event: str, data: dict[str, object]
) -> None:
    with transaction(runtime) as session:
        return_store.record_event(
            session, return_id, tenant_id=tenant_id, event=event, actor=ACTOR, data=dict(data)
        )


def _record(
    runtime: Runtime, tenant_id: str, return_id: str, platform: str, result: RestockResult
) -> StepOutcome:
    with transaction(runtime) as session:
        record, _ = load_return(session, tenant_id, return_id)
        hop = Hop(
            ReturnStatus.RESTOCKED,
            "restocked",
            f"restocked on {platform}",
            {
                "reference": result.reference,
                "location_id": result.location_id,
                "units": sum(line.quantity for line in result.lines),
                "lines": {line.line_id: line.quantity for line in result.lines},
            },
        )
        advance_through(session, record, [hop])
    log.info("restocked", platform=platform, reference=result.reference)
    return StepOutcome(ReturnStatus.RESTOCKED)
