"""Refunds: one row per idempotency key, created before the first platform call.

The key (``rb-{return_id}-{revision}-{n}``) is fixed by the engine before the first attempt;
``begin_refund`` with the same key returns the same row, so a retried step never creates a
second refund record. Flush only; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final, Literal, cast

from sqlalchemy import Select, Table, bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from returnbridge.domain.errors import DomainError
from returnbridge.domain.money import Money
from returnbridge.store.clock import Clock, utc_now
from returnbridge.store.connections import get_connection
from returnbridge.store.errors import IdempotencyConflictError, RecordNotFoundError
from returnbridge.store.ids import IdSource, new_id
from returnbridge.store.returns import get_return
from returnbridge.store.tables import Connection, Refund

PENDING: Final = "pending"
SENDING: Final = "sending"  # a first attempt went out; its outcome may be unknown
SUCCEEDED: Final = "succeeded"
FAILED: Final = "failed"
DELEGATED: Final = "delegated"  # the returns system (Loop) refunds; the row keeps our plan


# Built once: the refund steps run these for every return.
_BY_KEY = (
    select(Refund)
    .where(Refund.idempotency_key == bindparam("key"))
    .execution_options(populate_existing=True)
)
_TENANT_KEY = select(Refund).where(
    Refund.tenant_id == bindparam("tenant_id"), Refund.idempotency_key == bindparam("key")
)
_refunds = cast(Table, Refund.__table__)
# the plain completion: not completed yet, in the currency planned
_COMPLETE = (
    update(_refunds)
    .where(
        _refunds.c.id == bindparam("w_id"),
        _refunds.c.tenant_id == bindparam("w_tenant_id"),
        _refunds.c.status != SUCCEEDED,
        _refunds.c.currency == bindparam("w_currency"),
    )
    .values(
        status=SUCCEEDED,
        amount=bindparam("new_amount"),
        platform_refund_id=bindparam("new_platform_refund_id"),
        failure_reason=None,
        updated_at=bindparam("new_updated_at"),
    )
)
_SENDING = (
    update(_refunds)
    .where(_refunds.c.id == bindparam("w_id"), _refunds.c.status != SUCCEEDED)
    .values(status=SENDING, updated_at=bindparam("new_updated_at"))
)
_LOCK_CONNECTION = (
    select(Connection.id).where(Connection.id == bindparam("connection_id")).with_for_update()
)
_BY_ID_LOCKED = (
    select(Refund)
    .where(Refund.id == bindparam("refund_id"), Refund.tenant_id == bindparam("tenant_id"))
    .with_for_update()
    .execution_options(populate_existing=True)
)


@dataclass(frozen=True, slots=True)
class BeginRefundResult:
    """The refund row for the key, and whether this call created it."""

    refund: Refund
    created: bool


def begin_refund(
    session: Session,
    tenant_id: str,
    *,
    return_id: str,
    connection_id: str,
    idempotency_key: str,
    order_id: str,
    amount: Money,
    plan: dict[str, Any],
    ids: IdSource = new_id,
    clock: Clock = utc_now,
    owners_checked: bool = False,
) -> BeginRefundResult:
    """Record a pending refund under ``idempotency_key``, or return the one already recorded.

    The existing row is returned as stored (its amount and plan are not overwritten). A key
    already used by another return, or by another tenant, raises IdempotencyConflictError; a
    return or connection of another tenant raises RecordNotFoundError, unless
    ``owners_checked`` says the caller loaded both for ``tenant_id`` in this transaction.
    """
    if not owners_checked:
        get_return(session, return_id, tenant_id=tenant_id)
        get_connection(session, connection_id, tenant_id=tenant_id)
    existing = _by_key(session, tenant_id, idempotency_key=idempotency_key, return_id=return_id)
    if existing is not None:
        return BeginRefundResult(existing, created=False)
    now = clock()
    refund = Refund(
        id=ids("rfd"),
        tenant_id=tenant_id,
        return_id=return_id,
        connection_id=connection_id,
        idempotency_key=idempotency_key,
        order_id=order_id,
        currency=amount.currency,
        amount=amount.minor,
        plan=plan,
        status=PENDING,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(refund)
            session.flush()
    except IntegrityError:
        existing = _by_key(session, tenant_id, idempotency_key=idempotency_key, return_id=return_id)
        if existing is None:
            raise
        return BeginRefundResult(existing, created=False)
    return BeginRefundResult(refund, created=True)


_INSERT = insert(_refunds)


def add_refund(
    session: Session,
    tenant_id: str,
    *,
    return_id: str,
    connection_id: str,
    idempotency_key: str,
    order_id: str,
    amount: Money,
    plan: dict[str, Any],
    ids: IdSource = new_id,
    clock: Clock = utc_now,
) -> str:
    """Record a pending refund under a key known to be new (one plain INSERT); its id.

    For a caller that already looked the key up in this workflow and found nothing: should
    the key exist after all, the unique constraint fails the transaction (IntegrityError) and
    the step's retry finds the row. The return and connection must be the tenant's (the
    caller loaded both). Anyone else uses ``begin_refund``.
    """
    now = clock()
    refund_id = ids("rfd")
    session.connection().execute(
        _INSERT,
        {
            "id": refund_id,
            "tenant_id": tenant_id,
            "return_id": return_id,
            "connection_id": connection_id,
            "idempotency_key": idempotency_key,
            "platform_refund_id": None,
            "order_id": order_id,
            "currency": amount.currency,
            "amount": amount.minor,
            "plan": plan,
            "status": PENDING,
            "failure_reason": None,
            "created_at": now,
            "updated_at": now,
        },
    )
    return refund_id


def _by_key(
    session: Session, tenant_id: str, *, idempotency_key: str, return_id: str
) -> Refund | None:
    refund = session.scalar(_BY_KEY, {"key": idempotency_key})
    if refund is None:
        return None
    if refund.tenant_id != tenant_id or refund.return_id != return_id:
        raise IdempotencyConflictError(
            message="refund idempotency key already used for another return",
            idempotency_key=idempotency_key,
        )
    return refund


def get_refund(session: Session, refund_id: str, *, tenant_id: str) -> Refund:
    """The tenant's refund ``refund_id``; raises RecordNotFoundError otherwise."""
    refund = session.scalar(_BY_ID_LOCKED, {"refund_id": refund_id, "tenant_id": tenant_id})
    if refund is None:
        raise RecordNotFoundError(message="refund not found", kind="refund", id=refund_id)
    return refund


def refund_by_key(session: Session, tenant_id: str, *, idempotency_key: str) -> Refund | None:
    """The tenant's refund recorded under ``idempotency_key``, or None."""
    return session.scalar(_TENANT_KEY, {"tenant_id": tenant_id, "key": idempotency_key})


def complete_refund(
    session: Session,
    refund_id: str,
    *,
    tenant_id: str,
    platform_refund_id: str,
    amount: Money | None = None,
    clock: Clock = utc_now,
) -> Refund:
    """Mark the refund as made on the platform (also from ``failed``, when reconcile finds it).

    ``amount`` records what the platform actually refunded when it differs from the plan.
    Completing twice with the same platform id is a no-op; with a different one it is an error.
    """
    refund = get_refund(session, refund_id, tenant_id=tenant_id)
    if refund.status == SUCCEEDED:
        if refund.platform_refund_id != platform_refund_id:
            raise DomainError(
                "REFUND_ALREADY_COMPLETED",
                "refund already completed with a different platform refund id",
                refund_id=refund_id,
            )
        return refund
    if amount is not None:
        if amount.currency != refund.currency:
            raise DomainError(
                "CURRENCY_MISMATCH",
                f"refund is in {refund.currency}, platform reported {amount.currency}",
                field="amount",
            )
        refund.amount = amount.minor
    refund.status = SUCCEEDED
    refund.platform_refund_id = platform_refund_id
    refund.failure_reason = None
    refund.updated_at = clock()
    session.flush()
    return refund


def record_made(
    session: Session,
    refund_id: str,
    *,
    tenant_id: str,
    platform_refund_id: str,
    amount: Money,
    clock: Clock = utc_now,
) -> None:
    """``complete_refund`` for the refund step: the plain case (not completed yet, in the
    currency planned) is one UPDATE; any other goes through ``complete_refund``'s rules."""
    done = session.connection().execute(
        _COMPLETE,
        {
            "w_id": refund_id,
            "w_tenant_id": tenant_id,
            "w_currency": amount.currency,
            "new_amount": amount.minor,
            "new_platform_refund_id": platform_refund_id,
            "new_updated_at": clock(),
        },
    )
    if done.rowcount != 1:
        complete_refund(
            session,
            refund_id,
            tenant_id=tenant_id,
            platform_refund_id=platform_refund_id,
            amount=amount,
            clock=clock,
        )


def hold_refund(
    session: Session, refund_id: str, *, tenant_id: str, clock: Clock = utc_now
) -> Refund:
    """Back to `pending`: nothing was sent and nothing will be until the return goes on (a
    platform return opened, waiting for its goods)."""
    refund = get_refund(session, refund_id, tenant_id=tenant_id)
    if refund.status != SUCCEEDED:
        refund.status = PENDING
        refund.updated_at = clock()
        session.flush()
    return refund


def note_refusal(session: Session, refund: Refund) -> int:
    """Count one more send of a refund the platform refused (`failed`), about to be sent again;
    the count names the platform key of the new send (`refusals` in its plan)."""
    refusals = int(refund.plan.get("refusals", 0)) + 1
    refund.plan = {**refund.plan, "refusals": refusals}
    session.flush()
    return refusals


def start_sending(session: Session, refund: Refund, *, clock: Clock = utc_now) -> bool:
    """Mark the refund as being sent now; True only for its very first attempt (was pending).

    Any later attempt (a retry, a crash recovery, a re-drive) sees `sending` or `failed` and
    must first look for the refund on the platform: the first one may have landed. Every
    attempt refreshes `updated_at`, so other refunds of the order see it in flight.
    """
    first = refund.status == PENDING
    if refund.status != SUCCEEDED:
        now = clock()
        session.connection().execute(_SENDING, {"w_id": refund.id, "new_updated_at": now})
        set_committed_value(refund, "status", SENDING)
        set_committed_value(refund, "updated_at", now)
    return first


OrderConflict = Literal["busy", "changed"]
IN_FLIGHT_FOR: Final = timedelta(seconds=90)
"""How long a refund marked `sending` counts as in flight. Longer than any one attempt (HTTP
timeouts are seconds); an older mark was left by a worker that died and blocks nobody."""


def order_conflict(
    session: Session, refund: Refund, *, clock: Clock = utc_now
) -> OrderConflict | None:
    """Whether another refund of the same order stands in the way of sending ``refund``.

    ``busy``: one is being sent right now (wait, then look again). ``changed``: one was sent
    or made since the order was read for ``refund``'s plan (``plan["order_read_at"]``, else
    the row's creation), so its stored plan may be stale (read the order again first).

    Locks the connection's row first, so that on PostgreSQL two workers cannot both find the
    order free and both start sending (SQLite writers already take turns); call it in the
    transaction that then marks the refund as sending.
    """
    session.connection().execute(_LOCK_CONNECTION, {"connection_id": refund.connection_id})
    read_at = (refund.plan or {}).get("order_read_at")
    planned_on = datetime.fromisoformat(read_at) if read_at else refund.created_at
    others = _sent_since(
        session,
        refund.connection_id,
        refund.order_id,
        planned_on,
        other_than=refund.id,
        or_sending=True,  # one marked before our read may still be on its way
    )
    in_flight_since = clock() - IN_FLIGHT_FOR
    if any(status == SENDING and at > in_flight_since for status, at in others):
        return "busy"
    return "changed" if any(at >= planned_on for _, at in others) else None


def fail_refund(
    session: Session, refund_id: str, *, tenant_id: str, reason: str, clock: Clock = utc_now
) -> Refund:
    """Mark the refund as failed (permanently, for this attempt); a succeeded one cannot fail."""
    refund = get_refund(session, refund_id, tenant_id=tenant_id)
    if refund.status == SUCCEEDED:
        raise DomainError(
            "REFUND_ALREADY_COMPLETED",
            "a refund that succeeded on the platform cannot be marked failed",
            refund_id=refund_id,
        )
    refund.status = FAILED
    refund.failure_reason = reason
    refund.updated_at = clock()
    session.flush()
    return refund


def delegate_refund(
    session: Session, refund_id: str, *, tenant_id: str, clock: Clock = utc_now
) -> Refund:
    """Mark a planned refund as made by the returns system, not by us (never sent)."""
    refund = get_refund(session, refund_id, tenant_id=tenant_id)
    if refund.status in (PENDING, DELEGATED):
        refund.status = DELEGATED
        refund.updated_at = clock()
        session.flush()
    return refund


def _sent_since(
    session: Session,
    connection_id: str,
    order_id: str,
    since: datetime,
    *,
    other_than: str = "",
    or_sending: bool = False,
) -> list[tuple[str, datetime]]:
    """(status, updated_at) of the order's refunds sent or made at or after ``since`` (and,
    with ``or_sending``, of those marked as being sent whenever that was)."""
    rows = (
        session.connection()
        .execute(
            _SENT_SINCE_OR_SENDING if or_sending else _SENT_SINCE,
            {
                "connection_id": connection_id,
                "order_id": order_id,
                "since": since,
                "other": other_than,
            },
        )
        .all()
    )
    return [(status, at) for status, at in rows]


def _sent_since_statement(*, or_sending: bool) -> Select[str, datetime]:
    recent = Refund.updated_at >= bindparam("since")
    return select(Refund.status, Refund.updated_at).where(
        Refund.connection_id == bindparam("connection_id"),
        Refund.order_id == bindparam("order_id"),
        Refund.id != bindparam("other"),
        Refund.status.in_((SENDING, SUCCEEDED)),
        or_(recent, Refund.status == SENDING) if or_sending else recent,
    )


_SENT_SINCE = _sent_since_statement(or_sending=False)
_SENT_SINCE_OR_SENDING = _sent_since_statement(or_sending=True)


def order_moved_since(session: Session, connection_id: str, order_id: str, since: datetime) -> bool:
    """Whether a refund of the order was sent or made at or after ``since``, or is being sent
    (read only)."""
    return bool(_sent_since(session, connection_id, order_id, since, or_sending=True))


def refunds_for_return(session: Session, return_id: str, *, tenant_id: str) -> list[Refund]:
    """The return's refunds, oldest first."""
    return list(
        session.scalars(
            select(Refund)
            .where(Refund.return_id == return_id, Refund.tenant_id == tenant_id)
            .order_by(Refund.created_at, Refund.id)
        )
    )


_MADE_FOR_RETURN = (
    select(Refund.platform_refund_id)
    .where(
        Refund.return_id == bindparam("return_id"),
        Refund.tenant_id == bindparam("tenant_id"),
        Refund.platform_refund_id.is_not(None),
    )
    .order_by(Refund.created_at, Refund.id)
)


def platform_refund_ids(session: Session, return_id: str, *, tenant_id: str) -> list[str]:
    """The platform ids of the return's refunds that were made, oldest first."""
    params = {"return_id": return_id, "tenant_id": tenant_id}
    ids = session.connection().scalars(_MADE_FOR_RETURN, params)
    return [refund_id for refund_id in ids if refund_id]
