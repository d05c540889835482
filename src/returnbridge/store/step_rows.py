"""A return as the workflow's steps read and write it: a few columns, in plain SQL.

Every step of every return loads its row and records one transition. Done through the ORM
(load an object, flush its changes, add a timeline object) that bookkeeping cost more CPU
than the step's own work; here it is one SELECT of the columns steps use, one UPDATE and one
INSERT, all built once and run on the session's connection (the ORM's execute path costs
several times the statement). Same rules as `returns.record_transition`: the row is locked
for the transaction (``FOR UPDATE`` on PostgreSQL; SQLite writers already take turns), the
lifecycle's check runs before anything is written, and the status change and its timeline
event commit together. Flush-free: the caller owns the transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from sqlalchemy import Table, Update, bindparam, insert, select, update
from sqlalchemy.orm import Session

from returnbridge.domain.money import Money
from returnbridge.domain.returns import ReturnStatus
from returnbridge.store.clock import Clock, utc_now
from returnbridge.store.errors import RecordNotFoundError
from returnbridge.store.returns import TransitionCheck, check_transition
from returnbridge.store.tables import Return, TimelineEvent

_returns = cast(Table, Return.__table__)
_COLUMNS = (
    _returns.c.id,
    _returns.c.tenant_id,
    _returns.c.status,
    _returns.c.connection_id,
    _returns.c.matched_order_id,
    _returns.c.matched_order_name,
    _returns.c.payload_hash,
)
_THIS_RETURN = (
    _returns.c.id == bindparam("where_id"),
    _returns.c.tenant_id == bindparam("where_tenant_id"),
)
_PEEK = select(*_COLUMNS).where(*_THIS_RETURN)
_LOAD = _PEEK.with_for_update()
_PAYLOAD = select(_returns.c.payload).where(*_THIS_RETURN)
_INSERT_EVENT = insert(cast(Table, TimelineEvent.__table__))


@dataclass(slots=True)
class StepRow:
    """The columns a step reads, and the changes it has staged for its next write."""

    id: str
    tenant_id: str
    status: ReturnStatus
    connection_id: str
    matched_order_id: str | None
    matched_order_name: str | None
    payload_hash: str
    staged: dict[str, Any] = field(default_factory=dict)


def load_step_row(
    session: Session, return_id: str, *, tenant_id: str, lock: bool = True
) -> StepRow:
    """The tenant's return, locked for this transaction unless ``lock`` is False (a step
    that only reads); RecordNotFoundError if none."""
    params = {"where_id": return_id, "where_tenant_id": tenant_id}
    row = session.connection().execute(_LOAD if lock else _PEEK, params).one_or_none()
    if row is None:
        raise RecordNotFoundError(message="return not found", kind="return", id=return_id)
    record = StepRow(*row)
    record.status = ReturnStatus(record.status)  # the column holds its value
    return record


def step_payload(session: Session, row: StepRow) -> dict[str, Any]:
    """The return's stored payload (read only when it is not already validated and cached)."""
    payload: dict[str, Any] = (
        session.connection()
        .execute(_PAYLOAD, {"where_id": row.id, "where_tenant_id": row.tenant_id})
        .scalar_one()
    )
    return payload


def stage_matched_order(row: StepRow, order_id: str, order_name: str | None) -> None:
    """Record which platform order the return belongs to, with the row's next write."""
    row.matched_order_id = order_id
    row.matched_order_name = order_name
    row.staged.update(matched_order_id=order_id, matched_order_name=order_name)


def stage_refund_total(row: StepRow, total: Money) -> None:
    """Record the refund total (minor units + currency), with the row's next write."""
    row.staged.update(refund_total=total.minor, currency=total.currency)


@dataclass(frozen=True, slots=True)
class Hop:
    """One move along the lifecycle and the timeline event that records it."""

    to_status: ReturnStatus
    event: str
    reason: str | None = None
    data: dict[str, Any] | None = None


def write_transition(
    session: Session,
    row: StepRow,
    *,
    to_status: ReturnStatus,
    event: str,
    actor: str,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
    allowed: TransitionCheck | None = None,
    clock: Clock = utc_now,
) -> None:
    """Move the return to ``to_status`` with its staged changes, and append the timeline event.

    When ``allowed`` says no, raises TransitionForbiddenError and writes nothing.
    """
    hop = Hop(to_status, event, reason, data)
    write_hops(session, row, [hop], actor=actor, allowed=allowed, clock=clock)


def write_hops(
    session: Session,
    row: StepRow,
    hops: Sequence[Hop],
    *,
    actor: str,
    allowed: TransitionCheck | None = None,
    clock: Clock = utc_now,
) -> None:
    """Several moves in a row (e.g. past steps that had nothing to do): every hop is checked
    first, then one UPDATE to the last status and one INSERT per timeline event."""
    if not hops:
        write_staged(session, row, clock=clock)
        return
    status = row.status
    for hop in hops:
        check_transition(allowed, row.id, status, hop.to_status)
        status = hop.to_status
    now = clock()
    _write(session, row, {**row.staged, "status": status, "updated_at": now})
    events = []
    from_status = row.status
    for hop in hops:
        events.append(
            {
                "return_id": row.id,
                "tenant_id": row.tenant_id,
                "at": now,
                "from_status": from_status,
                "to_status": hop.to_status,
                "event": hop.event,
                "actor": actor,
                "reason": hop.reason,
                "data": dict(hop.data or {}),
            }
        )
        from_status = hop.to_status
    session.connection().execute(_INSERT_EVENT, events)
    row.status = status


def write_staged(session: Session, row: StepRow, *, clock: Clock = utc_now) -> None:
    """Write the staged changes without a transition (nothing to do when none are staged)."""
    if row.staged:
        _write(session, row, {**row.staged, "updated_at": clock()})


_UPDATES: dict[tuple[str, ...], Update] = {}


def _write(session: Session, row: StepRow, values: dict[str, Any]) -> None:
    columns = tuple(sorted(values))
    statement = _UPDATES.get(columns)
    if statement is None:  # a handful of column sets, each built once
        statement = (
            update(_returns)
            .where(*_THIS_RETURN)
            .values({name: bindparam(f"new_{name}") for name in columns})
        )
        _UPDATES[columns] = statement
    params = {f"new_{name}": value for name, value in values.items()}
    where = {"where_id": row.id, "where_tenant_id": row.tenant_id}
    session.connection().execute(statement, {**where, **params})
    row.staged.clear()
