"""The sync step: the return in the merchant's returns system (Loop Returns), exactly once.

A store connection whose setting `returns_system` names a returns-system connection of the
same tenant hands its returns to that system: the refund step makes no refund (the returns
system refunds when it processes the return; the plan is still computed and recorded), and
the sync step opens the return there (found again by our key on a retry), then asks it to
process the return (money to give back) or close it (goods only). Processing is
asynchronous: the return waits in `needs_review` (`awaiting_returns_system`) until a signed
webhook or the poll (`engine/returns_system_poll.py`) reports the outcome, then resumes at
this step, which compares the refund the returns system made with our plan and moves on.

Every request and answer is on the timeline; the link row (`store/returns_system_links.py`)
is written before each request so a retry knows what was asked.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from returnbridge.connectors.base.returns_system import (
    ExternalReturn,
    ReturnLine,
    ReturnsSystem,
    ReturnsSystemRequest,
)
from returnbridge.domain.errors import DomainError, PermanentError
from returnbridge.domain.lifecycle import can_transition
from returnbridge.domain.money import parse_minor
from returnbridge.domain.returns import CanonicalReturn, ReturnStatus
from returnbridge.engine import completion
from returnbridge.engine.refunding import cross_check_tolerance
from returnbridge.engine.returns_systems import display_name, managed_by
from returnbridge.engine.runtime import Runtime
from returnbridge.engine.step_records import (
    ACTOR,
    StepOutcome,
    advance,
    classify,
    connection_of,
    load_return,
    reached,
    transaction,
)
from returnbridge.observability import get_logger
from returnbridge.store import refunds as refund_store
from returnbridge.store import returns as return_store
from returnbridge.store import returns_system_links as links
from returnbridge.store.clock import utc_now
from returnbridge.store.connections import get_connection
from returnbridge.store.step_rows import StepRow, load_step_row, write_transition
from returnbridge.store.tables import Connection, Refund, Return

log = get_logger(__name__)

AWAITING = "awaiting_returns_system"
DISAGREES = "returns_system_disagrees"
OPENED = "returns_system_opened"
REQUESTED = "returns_system_requested"
SETTLED = "returns_system_settled"
UPDATED = "returns_system_updated"
FAILED = "returns_system_failed"


@dataclass(frozen=True, slots=True)
class _Work:
    record: Return
    canonical: CanonicalReturn
    store: Connection
    system: Connection
    refund: Refund | None
    link_external_id: str | None
    link_state: str
    link_action: str | None


def sync(runtime: Runtime, tenant_id: str, return_id: str) -> StepOutcome:
    """Open, then process or close, the return in the returns system; wait for its outcome."""
    with runtime.reads() as session:
        # the common case first, cheaply: no returns system, nothing to read but the row
        row = load_step_row(session, return_id, tenant_id=tenant_id, lock=False)
        if reached(row.status, ReturnStatus.SYNCED):
            return StepOutcome(row.status)
        store = connection_of(session, row)
        system_id = managed_by(store)
        if system_id is None:
            return completion.skip(ReturnStatus.SYNCED, completion.NO_RETURNS_SYSTEM)
        _, canonical = load_return(session, tenant_id, return_id, lock=False)
        record = return_store.get_return(session, return_id, tenant_id=tenant_id)
        system = get_connection(session, system_id, tenant_id=tenant_id)
        rows = refund_store.refunds_for_return(session, return_id, tenant_id=tenant_id)
        link = links.get_link(session, return_id, tenant_id=tenant_id)
        work = _Work(
            record,
            canonical,
            store,
            system,
            rows[-1] if rows else None,
            link.external_id if link else None,
            link.state if link else "new",
            link.action if link else None,
        )
    client = runtime.returns_system(system)
    try:
        external_id = work.link_external_id or _open(runtime, client, work)
        if work.link_action is None and work.link_state not in links.SETTLED_STATES:
            _request(runtime, client, work, external_id)
    except (DomainError, PermanentError) as error:
        return classify(runtime, tenant_id, return_id, error, step="sync")
    return _settle_or_wait(runtime, tenant_id, return_id)


def _open(runtime: Runtime, client: ReturnsSystem, work: _Work) -> str:
    record, canonical = work.record, work.canonical
    with transaction(runtime) as session:
        links.start_link(
            session,
            tenant_id=record.tenant_id,
            return_id=record.id,
            connection_id=work.system.id,
            now=utc_now(),
        )
    plan = (work.refund.plan if work.refund else None) or {}
    quantities: dict[str, int] = plan.get("quantities") or {}
    reasons = {line.line_id: line.reason for line in canonical.lines if line.line_id}
    lines = tuple(
        ReturnLine(line_item_id=line_id, quantity=int(qty), reason=reasons.get(line_id))
        for line_id, qty in quantities.items()
        if int(qty) > 0
    )
    email = plan.get("customer_email") or canonical.order.customer_email
    if not record.matched_order_name or not email:
        raise DomainError(
            "RETURNS_SYSTEM_INPUT",
            f"{display_name(work.system.platform)} needs the order's name and the customer's"
            " email to open a return; the matched order has "
            + ("no name" if not record.matched_order_name else "no customer email"),
        )
    key = _key(record)
    request = ReturnsSystemRequest(
        key=key,
        order_name=record.matched_order_name,
        order_id=record.matched_order_id,
        secondary_input=str(email),
        lines=lines,
        note=f"returnbridge {key}: return {record.external_id}",
    )
    opened = client.open_return(request)
    with transaction(runtime) as session:
        link = links.get_link(session, record.id, tenant_id=record.tenant_id)
        assert link is not None  # created above, in this step
        links.update_link(
            link,
            now=utc_now(),
            external_id=opened.id,
            state=opened.state,
            details=details_of(opened),
        )
        return_store.record_event(
            session,
            record.id,
            tenant_id=record.tenant_id,
            event=OPENED,
            actor=ACTOR,
            reason=f"return {opened.id} opened in {display_name(work.system.platform)}",
            data={"external_return_id": opened.id, "state": opened.state, "key": key},
        )
    return opened.id


def _request(runtime: Runtime, client: ReturnsSystem, work: _Work, external_id: str) -> None:
    """Ask for processing (money to give back) or closing (goods only).

    The action is recorded once the returns system took the request, so a step that died
    before that asks again; the returns system guards its actions by state, and a request it
    refuses because the return is already settled counts as done.
    """
    record = work.record
    refund_total = work.refund.amount if work.refund else 0
    action = "process" if work.canonical.refund.issue and refund_total > 0 else "close"
    note = f"returnbridge {_key(record)}: {action} requested"
    settled: ExternalReturn | None = None
    try:
        if action == "process":
            client.process(external_id, note)
        else:
            client.close(external_id, note)
    except (DomainError, PermanentError):
        settled = client.get_return(external_id)
        if settled.state not in links.SETTLED_STATES:
            raise
    with transaction(runtime) as session:
        link = links.get_link(session, record.id, tenant_id=record.tenant_id)
        if link is None or link.action is not None:
            return  # another run of this step recorded it already
        links.update_link(link, now=utc_now(), action=action)
        if settled is not None:
            links.update_link(link, now=utc_now(), state=settled.state, details=details_of(settled))
        return_store.record_event(
            session,
            record.id,
            tenant_id=record.tenant_id,
            event=REQUESTED,
            actor=ACTOR,
            reason=f"asked {display_name(work.system.platform)} to {action} return {external_id}",
            data={"external_return_id": external_id, "action": action},
        )


def _settle_or_wait(runtime: Runtime, tenant_id: str, return_id: str) -> StepOutcome:
    """With the return locked: move on when the returns system settled it, else wait.

    The webhook handler takes the same lock, so an outcome that arrives while this step runs
    is seen either here or by the handler, which then resumes the parked return.
    """
    with transaction(runtime) as session:
        record, _ = load_return(session, tenant_id, return_id)
        if reached(record.status, ReturnStatus.SYNCED):
            return StepOutcome(record.status)
        link = links.get_link(session, return_id, tenant_id=tenant_id)
        assert link is not None  # the step created it before asking anything
        store = connection_of(session, record)
        system = get_connection(session, link.connection_id, tenant_id=tenant_id)
        name = display_name(system.platform)
        details = link.details or {}
        if link.state == "closed":
            differences = _differences(session, record, store, details)
            if differences and not details.get("accepted_by"):
                return _park_in(
                    session,
                    record,
                    DISAGREES,
                    f"{name} refunded a different amount than our plan: " + "; ".join(differences),
                    {"differences": differences, "external_return_id": link.external_id},
                )
            advance(
                session,
                record,
                ReturnStatus.SYNCED,
                event=SETTLED,
                reason=f"{name} closed return {link.external_id}",
                data={"external_return_id": link.external_id, **details},
            )
            return StepOutcome(ReturnStatus.SYNCED)
        if link.state in ("cancelled", "expired"):
            return _park_in(
                session,
                record,
                FAILED,
                f"{name} reports return {link.external_id} as {link.state}",
                {"external_return_id": link.external_id, "state": link.state},
            )
        if details.get("processing_error") and link.action == "process":
            return _park_in(
                session,
                record,
                FAILED,
                f"{name} could not process return {link.external_id}: "
                f"{details['processing_error']}",
                {"external_return_id": link.external_id},
            )
        return _park_in(
            session,
            record,
            AWAITING,
            f"waiting for {name} to {link.action or 'settle'} return {link.external_id}",
            {"external_return_id": link.external_id, "action": link.action},
        )


def _park_in(
    session: Session, record: StepRow, event: str, reason: str, data: dict[str, Any]
) -> StepOutcome:
    write_transition(
        session,
        record,
        to_status=ReturnStatus.NEEDS_REVIEW,
        event=event,
        actor=ACTOR,
        reason=reason,
        data=data,
        allowed=can_transition,
    )
    log.info("return waits on its returns system", timeline_event=event, reason=reason)
    return StepOutcome(ReturnStatus.NEEDS_REVIEW, reason=reason)


def _differences(
    session: Session, record: StepRow, store: Connection, details: dict[str, Any]
) -> list[str]:
    """Where the returns system's refund differs from our plan beyond the tolerance."""
    rows = refund_store.refunds_for_return(session, record.id, tenant_id=record.tenant_id)
    if not rows:
        return []
    planned, currency = rows[-1].amount, rows[-1].currency
    refunded = details.get("refund")
    if refunded is None:
        return []
    theirs = parse_minor(Decimal(str(refunded)), details.get("currency") or currency)
    tolerance = cross_check_tolerance(store)
    if details.get("currency") and str(details["currency"]).upper() != currency.upper():
        return [f"currency {details['currency']} differs from the order's {currency}"]
    if abs(theirs - planned) > tolerance:
        return [f"refund {theirs} minor units, planned {planned} (tolerance {tolerance})"]
    return []


def _key(record: Return) -> str:
    return f"rb-{record.id}-{record.revision}-sync"


def details_of(external: ExternalReturn) -> dict[str, Any]:
    """What the returns system said, JSON-safe (amounts as decimal strings)."""

    def text(value: Decimal | None) -> str | None:
        return None if value is None else str(value)

    return {
        "refund": text(external.refund),
        "total": text(external.total),
        "product_total": text(external.product_total),
        "tax_total": text(external.tax_total),
        "discount_total": text(external.discount_total),
        "currency": external.currency,
        "processing_error": external.processing_error,
    }
