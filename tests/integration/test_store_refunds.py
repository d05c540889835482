"""Refund records: one per idempotency key, also when retried concurrently."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from returnbridge.domain.errors import DomainError
from returnbridge.domain.money import Money
from returnbridge.store import refunds
from returnbridge.store.errors import IdempotencyConflictError, RecordNotFoundError
from returnbridge.store.refunds import BeginRefundResult
from returnbridge.store.tables import Refund
from support.stored import new_return

if TYPE_CHECKING:
    from conftest import SeededTenant


def begin(
    session: Session, seeded: SeededTenant, return_id: str, key: str, minor: int = 2500
) -> BeginRefundResult:
    return refunds.begin_refund(
        session,
        seeded.tenant_id,
        return_id=return_id,
        connection_id=seeded.connection_id,
        idempotency_key=key,
        order_id="gid://shopify/Order/1",
        amount=Money(minor, "USD"),
        plan={"lines": [{"line_id": "1", "quantity": 1, "amount": minor}]},
    )


def refund_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(Refund)) or 0


def test_begin_refund_is_idempotent_on_its_key(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    seeded = seed_tenant("Acme")
    return_id = new_return(session, seeded)
    key = f"rb-{return_id}-1-1"
    first = begin(session, seeded, return_id, key)
    session.commit()
    retry = begin(session, seeded, return_id, key, minor=2400)
    session.commit()

    assert first.created
    assert not retry.created
    assert retry.refund.id == first.refund.id
    assert (retry.refund.amount, retry.refund.currency, retry.refund.status) == (
        2500,
        "USD",
        "pending",
    )
    assert refund_count(session) == 1


def test_key_used_by_another_return_is_a_conflict(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    seeded = seed_tenant("Acme")
    first_return, second_return = new_return(session, seeded, "A"), new_return(session, seeded, "B")
    begin(session, seeded, first_return, "rb-key")
    session.commit()
    with pytest.raises(IdempotencyConflictError):
        begin(session, seeded, second_return, "rb-key")


def test_refunds_are_scoped_to_their_tenant(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    acme, globex = seed_tenant("Acme"), seed_tenant("Globex")
    acme_return, globex_return = new_return(session, acme), new_return(session, globex)
    refund = begin(session, acme, acme_return, "rb-acme").refund
    session.commit()

    with pytest.raises(RecordNotFoundError):
        begin(session, globex, acme_return, "rb-globex")
    session.rollback()
    with pytest.raises(RecordNotFoundError):
        begin(
            session, dataclasses.replace(acme, connection_id=globex.connection_id), acme_return, "x"
        )
    session.rollback()
    with pytest.raises(IdempotencyConflictError):
        begin(session, globex, globex_return, "rb-acme")
    session.rollback()
    with pytest.raises(RecordNotFoundError):
        refunds.complete_refund(
            session, refund.id, tenant_id=globex.tenant_id, platform_refund_id="r1"
        )
    assert refunds.refunds_for_return(session, acme_return, tenant_id=globex.tenant_id) == []
    assert refunds.refund_by_key(session, globex.tenant_id, idempotency_key="rb-acme") is None
    assert [
        r.id for r in refunds.refunds_for_return(session, acme_return, tenant_id=acme.tenant_id)
    ] == [refund.id]


def test_complete_and_fail_follow_the_refund_outcome(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    seeded = seed_tenant("Acme")
    return_id = new_return(session, seeded)
    first = begin(session, seeded, return_id, "rb-1").refund
    second = begin(session, seeded, return_id, "rb-2").refund

    failed = refunds.fail_refund(session, first.id, tenant_id=seeded.tenant_id, reason="declined")
    assert (failed.status, failed.failure_reason) == ("failed", "declined")
    # Reconcile found the refund on the platform after all: failed -> succeeded is allowed.
    done = refunds.complete_refund(
        session,
        first.id,
        tenant_id=seeded.tenant_id,
        platform_refund_id="gid://shopify/Refund/9",
        amount=Money(2400, "USD"),
    )
    assert (done.status, done.amount, done.failure_reason) == ("succeeded", 2400, None)
    again = refunds.complete_refund(
        session, first.id, tenant_id=seeded.tenant_id, platform_refund_id="gid://shopify/Refund/9"
    )
    assert again.status == "succeeded"
    with pytest.raises(DomainError):
        refunds.complete_refund(
            session, first.id, tenant_id=seeded.tenant_id, platform_refund_id="another"
        )
    with pytest.raises(DomainError):
        refunds.fail_refund(session, first.id, tenant_id=seeded.tenant_id, reason="late error")
    with pytest.raises(DomainError):
        refunds.complete_refund(
            session,
            second.id,
            tenant_id=seeded.tenant_id,
            platform_refund_id="r2",
            amount=Money(100, "EUR"),
        )
    session.commit()
    listed = refunds.refunds_for_return(session, return_id, tenant_id=seeded.tenant_id)
    assert [(r.id, r.status) for r in listed] == [(first.id, "succeeded"), (second.id, "pending")]


def test_concurrent_begin_with_one_key_records_one_refund(
    session_maker: sessionmaker[Session], seed_tenant: Callable[[str], SeededTenant]
) -> None:
    seeded = seed_tenant("Acme")
    with session_maker() as session:
        return_id = new_return(session, seeded)
    workers = 5
    barrier = threading.Barrier(workers)

    def attempt(_: int) -> BeginRefundResult:
        with session_maker() as session:
            barrier.wait(timeout=30)
            result = begin(session, seeded, return_id, "rb-shared")
            session.commit()
            return result

    with ThreadPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(attempt, range(workers)))

    assert sorted(r.created for r in results) == [False] * (workers - 1) + [True]
    assert len({r.refund.id for r in results}) == 1
    with session_maker() as session:
        assert refund_count(session) == 1


def test_start_sending_marks_every_attempt_and_says_which_was_the_first(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    seeded = seed_tenant("Acme")
    row = begin(session, seeded, new_return(session, seeded), "rb-send-1").refund
    session.commit()
    assert refunds.start_sending(session, row) is True
    assert row.status == "sending"
    refunds.fail_refund(session, row.id, tenant_id=seeded.tenant_id, reason="platform said no")
    assert refunds.start_sending(session, row) is False  # a retry: look on the platform first
    assert row.status == "sending"
    refunds.complete_refund(session, row.id, tenant_id=seeded.tenant_id, platform_refund_id="r1")
    assert refunds.start_sending(session, row) is False
    assert row.status == "succeeded"


def two_refunds_of_one_order(session: Session, seeded: SeededTenant) -> tuple[Refund, Refund]:
    """Planned refunds of two returns (RMA-A, RMA-B) of the same order."""
    first = begin(session, seeded, new_return(session, seeded, "RMA-A"), "rb-a").refund
    second = begin(session, seeded, new_return(session, seeded, "RMA-B"), "rb-b").refund
    return first, second


def test_another_refund_of_the_order_in_flight_or_made_since_the_plan_is_a_conflict(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    seeded = seed_tenant("Acme")
    first, second = two_refunds_of_one_order(session, seeded)
    session.commit()
    assert refunds.order_conflict(session, second) is None  # the other one is only planned

    refunds.start_sending(session, first)
    session.commit()
    assert refunds.order_conflict(session, second) == "busy"
    assert refunds.order_conflict(session, first) is None  # planned B: nothing sent since

    refunds.complete_refund(session, first.id, tenant_id=seeded.tenant_id, platform_refund_id="r")
    session.commit()
    assert refunds.order_conflict(session, second) == "changed"  # made after B was planned


def test_a_refund_marked_sending_before_our_read_is_still_in_flight(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    """Marked early, it may wait its turn in the rate limiter and land after our read."""
    seeded = seed_tenant("Acme")
    first = begin(session, seeded, new_return(session, seeded, "RMA-A"), "rb-a").refund
    refunds.start_sending(session, first)
    second = begin(session, seeded, new_return(session, seeded, "RMA-B"), "rb-b").refund
    read_later = first.updated_at + timedelta(seconds=5)
    second.plan = {**second.plan, "order_read_at": read_later.isoformat()}
    session.commit()
    assert refunds.order_conflict(session, second, clock=lambda: read_later) == "busy"
    assert refunds.order_moved_since(session, seeded.connection_id, second.order_id, read_later)


def test_a_sending_mark_left_by_a_dead_worker_blocks_nobody(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    seeded = seed_tenant("Acme")
    first, second = two_refunds_of_one_order(session, seeded)
    refunds.start_sending(session, first)
    session.commit()
    later = first.updated_at + refunds.IN_FLIGHT_FOR + timedelta(seconds=1)
    assert refunds.order_conflict(session, second, clock=lambda: later) == "changed"


def test_refunds_of_other_orders_or_connections_are_no_conflict(
    session: Session, seed_tenant: Callable[[str], SeededTenant]
) -> None:
    seeded = seed_tenant("Acme")
    first, second = two_refunds_of_one_order(session, seeded)
    second.order_id = "gid://shopify/Order/2"
    refunds.start_sending(session, first)
    session.commit()
    assert refunds.order_conflict(session, second) is None
