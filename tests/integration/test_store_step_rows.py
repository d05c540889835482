"""Step rows: the plain-SQL read and write of a return by workflow steps, on both databases."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from returnbridge.domain.errors import DomainError
from returnbridge.domain.lifecycle import can_transition
from returnbridge.domain.money import Money
from returnbridge.domain.returns import ReturnStatus
from returnbridge.store import refunds, returns, step_rows
from returnbridge.store.clock import SteppingClock
from returnbridge.store.errors import RecordNotFoundError, TransitionForbiddenError
from returnbridge.store.tables import Refund, TimelineEvent
from support import stored

if TYPE_CHECKING:
    from conftest import SeededTenant

PAYLOAD = {"lines": [{"sku": "TEE-M", "quantity": 1}], "refund": {"method": "original"}}


def new_return(session: Session, seeded: SeededTenant, external_id: str = "RMA-1") -> str:
    return stored.new_return(session, seeded, external_id, payload=PAYLOAD)


def test_a_row_carries_the_columns_steps_use_and_the_payload_on_demand(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    seeded = seed_tenant("Acme")
    return_id = new_return(session, seeded)

    row = step_rows.load_step_row(session, return_id, tenant_id=seeded.tenant_id)

    stored = returns.get_return(session, return_id, tenant_id=seeded.tenant_id)
    assert (row.id, row.tenant_id, row.status, row.connection_id, row.payload_hash) == (
        return_id,
        seeded.tenant_id,
        "received",
        seeded.connection_id,
        stored.payload_hash,
    )
    assert (row.matched_order_id, row.matched_order_name, row.staged) == (None, None, {})
    assert step_rows.step_payload(session, row) == PAYLOAD


def test_another_tenants_return_is_not_found(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    acme, globex = seed_tenant("Acme"), seed_tenant("Globex")
    return_id = new_return(session, acme)

    with pytest.raises(RecordNotFoundError):
        step_rows.load_step_row(session, return_id, tenant_id=globex.tenant_id)


def test_a_transition_writes_status_staged_changes_and_one_event_together(
    session: Session, seed_tenant: Callable[[str], SeededTenant], clock: SteppingClock
) -> None:
    seeded = seed_tenant("Acme")
    return_id = new_return(session, seeded)
    row = step_rows.load_step_row(session, return_id, tenant_id=seeded.tenant_id)

    step_rows.stage_matched_order(row, "gid://shopify/Order/7", "#1007")
    step_rows.stage_refund_total(row, Money(1250, "EUR"))
    step_rows.write_transition(
        session,
        row,
        to_status=ReturnStatus.MATCHED,
        event="order_matched",
        actor="engine",
        reason="matched by id",
        data={"order_id": "gid://shopify/Order/7"},
        allowed=can_transition,
        clock=clock,
    )
    session.commit()

    stored = returns.get_return(session, return_id, tenant_id=seeded.tenant_id)
    assert (stored.status, stored.matched_order_id, stored.matched_order_name) == (
        "matched",
        "gid://shopify/Order/7",
        "#1007",
    )
    assert (stored.refund_total, stored.currency) == (1250, "EUR")
    assert (row.status, row.staged) == ("matched", {})
    events = returns.timeline(session, return_id, tenant_id=seeded.tenant_id)
    last = events[-1]
    assert (last.from_status, last.to_status, last.event, last.actor) == (
        "received",
        "matched",
        "order_matched",
        "engine",
    )
    assert (last.reason, last.data) == ("matched by id", {"order_id": "gid://shopify/Order/7"})
    assert last.at == stored.updated_at


def test_a_forbidden_transition_writes_nothing(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    seeded = seed_tenant("Acme")
    return_id = new_return(session, seeded)
    row = step_rows.load_step_row(session, return_id, tenant_id=seeded.tenant_id)
    step_rows.stage_matched_order(row, "gid://shopify/Order/7", None)
    before = len(returns.timeline(session, return_id, tenant_id=seeded.tenant_id))

    with pytest.raises(TransitionForbiddenError):
        step_rows.write_transition(
            session,
            row,
            to_status=ReturnStatus.COMPLETED,
            event="completed",
            actor="engine",
            allowed=can_transition,
        )
    session.commit()

    stored = returns.get_return(session, return_id, tenant_id=seeded.tenant_id)
    assert (stored.status, stored.matched_order_id) == ("received", None)
    assert len(returns.timeline(session, return_id, tenant_id=seeded.tenant_id)) == before


def test_several_hops_write_one_status_and_their_events_in_order(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    seeded = seed_tenant("Acme")
    return_id = new_return(session, seeded)
    row = step_rows.load_step_row(session, return_id, tenant_id=seeded.tenant_id)
    hops = [
        step_rows.Hop(ReturnStatus.MATCHED, "order_matched", "by id", {"order_id": "7"}),
        step_rows.Hop(ReturnStatus.PLANNED, "refund_planned"),
    ]

    step_rows.write_hops(session, row, hops, actor="engine", allowed=can_transition)
    session.commit()

    assert returns.get_return(session, return_id, tenant_id=seeded.tenant_id).status == "planned"
    events = returns.timeline(session, return_id, tenant_id=seeded.tenant_id)
    assert [(e.from_status, e.to_status, e.event, e.data) for e in events[1:]] == [
        ("received", "matched", "order_matched", {"order_id": "7"}),
        ("matched", "planned", "refund_planned", {}),
    ]
    assert row.status == "planned"


def test_one_forbidden_hop_among_several_writes_nothing(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    seeded = seed_tenant("Acme")
    return_id = new_return(session, seeded)
    row = step_rows.load_step_row(session, return_id, tenant_id=seeded.tenant_id)
    hops = [
        step_rows.Hop(ReturnStatus.MATCHED, "order_matched"),
        step_rows.Hop(ReturnStatus.COMPLETED, "completed"),
    ]

    with pytest.raises(TransitionForbiddenError):
        step_rows.write_hops(session, row, hops, actor="engine", allowed=can_transition)
    session.commit()

    assert returns.get_return(session, return_id, tenant_id=seeded.tenant_id).status == "received"
    assert len(returns.timeline(session, return_id, tenant_id=seeded.tenant_id)) == 1
    assert row.status == "received"


def test_staged_changes_alone_are_written_without_an_event(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    seeded = seed_tenant("Acme")
    return_id = new_return(session, seeded)
    row = step_rows.load_step_row(session, return_id, tenant_id=seeded.tenant_id)
    step_rows.write_staged(session, row)  # nothing staged: nothing written
    step_rows.stage_refund_total(row, Money(990, "USD"))
    step_rows.write_staged(session, row)
    session.commit()

    stored = returns.get_return(session, return_id, tenant_id=seeded.tenant_id)
    assert (stored.status, stored.refund_total) == ("received", 990)
    events = session.scalars(select(TimelineEvent).where(TimelineEvent.return_id == return_id))
    assert [e.event for e in events] == ["received"]


def test_only_the_row_of_that_tenant_is_written(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    acme, globex = seed_tenant("Acme"), seed_tenant("Globex")
    ours = new_return(session, acme)
    theirs = new_return(session, globex)
    row = step_rows.load_step_row(session, ours, tenant_id=acme.tenant_id)

    step_rows.write_transition(
        session, row, to_status=ReturnStatus.MATCHED, event="x", actor="engine"
    )
    session.commit()

    assert returns.get_return(session, theirs, tenant_id=globex.tenant_id).status == "received"


def _refund(session: Session, seeded: SeededTenant, return_id: str) -> str:
    refund_id = refunds.add_refund(
        session,
        seeded.tenant_id,
        return_id=return_id,
        connection_id=seeded.connection_id,
        idempotency_key=f"rb-{return_id}-1-1",
        order_id="gid://shopify/Order/1",
        amount=Money(2500, "USD"),
        plan={"breakdown": {}},
    )
    session.commit()
    return refund_id


def test_an_added_refund_is_pending_and_a_used_key_fails_the_insert(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    seeded = seed_tenant("Acme")
    return_id = new_return(session, seeded)
    refund_id = _refund(session, seeded, return_id)

    stored = refunds.get_refund(session, refund_id, tenant_id=seeded.tenant_id)
    assert (stored.status, stored.amount, stored.currency, stored.plan) == (
        "pending",
        2500,
        "USD",
        {"breakdown": {}},
    )
    session.rollback()
    with pytest.raises(IntegrityError):
        _refund(session, seeded, return_id)


def test_record_made_completes_in_one_update_and_keeps_complete_refunds_rules(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    seeded = seed_tenant("Acme")
    return_id = new_return(session, seeded)
    refund_id = _refund(session, seeded, return_id)
    tenant = seeded.tenant_id

    refunds.record_made(
        session, refund_id, tenant_id=tenant, platform_refund_id="r1", amount=Money(2400, "USD")
    )
    session.commit()
    made = session.scalars(select(Refund).where(Refund.id == refund_id)).one()
    session.refresh(made)
    assert (made.status, made.platform_refund_id, made.amount) == ("succeeded", "r1", 2400)
    # again with the same platform id: a no-op; with another one, or another currency: errors
    refunds.record_made(
        session, refund_id, tenant_id=tenant, platform_refund_id="r1", amount=Money(2400, "USD")
    )
    with pytest.raises(DomainError):
        refunds.record_made(
            session, refund_id, tenant_id=tenant, platform_refund_id="r2", amount=Money(1, "USD")
        )
    other = _refund(session, seeded, new_return(session, seeded, "RMA-2"))
    with pytest.raises(DomainError, match="EUR"):
        refunds.record_made(
            session, other, tenant_id=tenant, platform_refund_id="r3", amount=Money(1, "EUR")
        )


def test_start_sending_marks_the_first_attempt_only(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    seeded = seed_tenant("Acme")
    refund_id = _refund(session, seeded, new_return(session, seeded))
    refund = refunds.get_refund(session, refund_id, tenant_id=seeded.tenant_id)

    assert refunds.start_sending(session, refund) is True
    assert refunds.start_sending(session, refund) is False
    session.commit()
    stored = refunds.get_refund(session, refund_id, tenant_id=seeded.tenant_id)
    assert stored.status == "sending"
