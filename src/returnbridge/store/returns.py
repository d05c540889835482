"""Returns: idempotent ingest, status transitions with a timeline, cursor-paginated listing.

Every function takes the tenant and never reads or writes another tenant's rows. Functions
flush but never commit: the caller owns the transaction, so a status change and its timeline
event (or a return, its revision and its "received" event) commit or roll back together.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal, cast

from sqlalchemy import Table, and_, bindparam, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from returnbridge.domain.errors import DomainError
from returnbridge.domain.money import Money
from returnbridge.store.clock import Clock, utc_now
from returnbridge.store.connections import get_connection
from returnbridge.store.errors import (
    IdempotencyConflictError,
    RecordNotFoundError,
    TransitionForbiddenError,
)
from returnbridge.store.ids import IdSource, new_id
from returnbridge.store.tables import Return, ReturnRevision, TimelineEvent

INITIAL_STATUS: Final = "received"
MAX_PAGE_SIZE: Final = 200

IngestOutcome = Literal["created", "new_revision", "stale_revision", "duplicate"]
TransitionCheck = Callable[[str, str], bool]
"""``allowed(from_status, to_status)``: the lifecycle's rule, owned by the domain."""


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What ``ingest_return`` did.

    ``outcome``: ``created`` (new return), ``new_revision`` (a later revision replaced the
    current payload), ``stale_revision`` (an older revision arrived late: kept in history, not
    applied) or ``duplicate`` (already stored: nothing written). ``payload_matches`` is False
    when a duplicate delivery carried a different payload than the stored revision.
    """

    record: Return
    revision: ReturnRevision
    outcome: IngestOutcome
    payload_matches: bool = True

    @property
    def is_duplicate(self) -> bool:
        return self.outcome == "duplicate"


@dataclass(frozen=True, slots=True)
class ReturnPage:
    """One page of returns and the opaque cursor for the next one (None at the end)."""

    items: list[Return]
    next_cursor: str | None


def payload_hash(payload: dict[str, Any]) -> str:
    """SHA-256 hex of the payload's canonical JSON (sorted keys, no whitespace)."""
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def ingest_return(
    session: Session,
    tenant_id: str,
    *,
    connection_id: str,
    channel: str,
    source: str,
    external_id: str,
    revision: int,
    idempotency_key: str,
    payload: dict[str, Any],
    order_ref: dict[str, Any] | None = None,
    currency: str | None = None,
    actor: str = "api",
    ids: IdSource = new_id,
    clock: Clock = utc_now,
    workflow_id: str | None = None,
    connection_checked: bool = False,
) -> IngestResult:
    """Store a return revision exactly once, or return what is already stored.

    ``workflow_id`` names the workflow that will drive a created or newly applied revision
    (stored on the return in the same write).

    A duplicate is the same tenant with the same ``idempotency_key``, or the same
    ``external_id`` and ``revision``. Safe under concurrent duplicate deliveries: the unique
    constraints decide, the loser's savepoint is rolled back and the winner's row is re-read.
    ``connection_id`` must belong to the tenant (RecordNotFoundError otherwise; not looked
    up again when ``connection_checked`` says the caller just did). Reusing an
    idempotency key for a different external id or revision raises IdempotencyConflictError.
    """
    if revision < 0:
        raise DomainError("INVALID_REVISION", "revision must be >= 0", field="revision")
    if not connection_checked:
        get_connection(session, connection_id, tenant_id=tenant_id)
    digest = payload_hash(payload)
    existing = _find_duplicate(
        session,
        tenant_id,
        idempotency_key=idempotency_key,
        external_id=external_id,
        revision=revision,
        digest=digest,
    )
    if existing is not None:
        return existing
    # Two attempts: a concurrent first insert of a *different* revision makes the first fail
    # with no duplicate to return; the second attempt then adds a revision to the winner's row.
    for attempt in range(2):
        try:
            with session.begin_nested():
                return _insert_revision(
                    session,
                    tenant_id,
                    connection_id=connection_id,
                    channel=channel,
                    source=source,
                    external_id=external_id,
                    revision=revision,
                    idempotency_key=idempotency_key,
                    payload=payload,
                    digest=digest,
                    order_ref=order_ref or {},
                    currency=currency,
                    actor=actor,
                    ids=ids,
                    now=clock(),
                    workflow_id=workflow_id,
                )
        except IntegrityError:
            existing = _find_duplicate(
                session,
                tenant_id,
                idempotency_key=idempotency_key,
                external_id=external_id,
                revision=revision,
                digest=digest,
            )
            if existing is not None:
                return existing
            if attempt == 1:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


# Built once: every accepted return runs these. Plain columns, not ORM entities: loading
# entities cost more CPU than the rest of an accepted return's write (issue 7); the rare
# duplicate then loads its rows as objects.
_returns_table = cast(Table, Return.__table__)
_revisions_table = cast(Table, ReturnRevision.__table__)
_events_table = cast(Table, TimelineEvent.__table__)
_REVISION_BY_KEY = select(
    _revisions_table.c.id, _revisions_table.c.return_id, _revisions_table.c.revision
).where(
    _revisions_table.c.tenant_id == bindparam("tenant_id"),
    _revisions_table.c.idempotency_key == bindparam("key"),
)
_REVISION_BY_EXTERNAL = (
    select(_revisions_table.c.id, _revisions_table.c.return_id, _revisions_table.c.revision)
    .join(_returns_table, _revisions_table.c.return_id == _returns_table.c.id)
    .where(
        _returns_table.c.tenant_id == bindparam("tenant_id"),
        _returns_table.c.external_id == bindparam("external_id"),
        _revisions_table.c.revision == bindparam("revision"),
    )
)
_RETURN_ID_BY_EXTERNAL_LOCKED = (
    select(_returns_table.c.id)
    .where(
        _returns_table.c.tenant_id == bindparam("tenant_id"),
        _returns_table.c.external_id == bindparam("external_id"),
    )
    .with_for_update()
)
_INSERT_RETURN = insert(_returns_table)
_INSERT_REVISION = insert(_revisions_table)
_INSERT_EVENT = insert(_events_table)


def _find_duplicate(
    session: Session,
    tenant_id: str,
    *,
    idempotency_key: str,
    external_id: str,
    revision: int,
    digest: str,
) -> IngestResult | None:
    params = {"tenant_id": tenant_id, "key": idempotency_key}
    hit = session.connection().execute(_REVISION_BY_KEY, params).first()
    if hit is not None:
        record = _load(session, hit.return_id, tenant_id=tenant_id)
        if record.external_id != external_id or hit.revision != revision:
            raise IdempotencyConflictError(
                message="idempotency key already used for a different return or revision",
                idempotency_key=idempotency_key,
                return_id=record.id,
            )
        return _duplicate(session, record, hit.id, digest)
    hit = (
        session.connection()
        .execute(
            _REVISION_BY_EXTERNAL,
            {"tenant_id": tenant_id, "external_id": external_id, "revision": revision},
        )
        .first()
    )
    if hit is None:
        return None
    return _duplicate(session, _load(session, hit.return_id, tenant_id=tenant_id), hit.id, digest)


def _duplicate(session: Session, record: Return, revision_id: str, digest: str) -> IngestResult:
    stored = session.get(ReturnRevision, revision_id, populate_existing=True)
    assert stored is not None  # just found by id in this transaction
    return IngestResult(record, stored, "duplicate", payload_matches=stored.payload_hash == digest)


def _insert_revision(
    session: Session,
    tenant_id: str,
    *,
    connection_id: str,
    channel: str,
    source: str,
    external_id: str,
    revision: int,
    idempotency_key: str,
    payload: dict[str, Any],
    digest: str,
    order_ref: dict[str, Any],
    currency: str | None,
    actor: str,
    ids: IdSource,
    now: datetime,
    workflow_id: str | None,
) -> IngestResult:
    existing_id = session.connection().scalar(
        _RETURN_ID_BY_EXTERNAL_LOCKED, {"tenant_id": tenant_id, "external_id": external_id}
    )
    stored_values = {
        "id": ids("rev"),
        "tenant_id": tenant_id,
        "revision": revision,
        "idempotency_key": idempotency_key,
        "payload": payload,
        "payload_hash": digest,
        "created_at": now,
    }
    if existing_id is None:
        # A new return: three plain INSERTs; the objects handed back are not in the session.
        values: dict[str, Any] = {
            "id": ids("ret"),
            "tenant_id": tenant_id,
            "connection_id": connection_id,
            "channel": channel,
            "source": source,
            "external_id": external_id,
            "revision": revision,
            "status": INITIAL_STATUS,
            "idempotency_key": idempotency_key,
            "payload_hash": digest,
            "order_ref": order_ref,
            "matched_order_id": None,
            "matched_order_name": None,
            "candidates": [],
            "payload": payload,
            "refund_total": None,
            "currency": currency,
            "workflow_id": workflow_id,
            "created_at": now,
            "updated_at": now,
        }
        stored_values["return_id"] = values["id"]
        session.connection().execute(_INSERT_RETURN, values)
        session.connection().execute(_INSERT_REVISION, stored_values)
        session.connection().execute(
            _INSERT_EVENT,
            _event_values(
                values["id"],
                tenant_id,
                at=now,
                from_status=None,
                to_status=INITIAL_STATUS,
                event="received",
                actor=actor,
                data={"revision": revision},
            ),
        )
        return IngestResult(Return(**values), ReturnRevision(**stored_values), "created")
    record = _load(session, existing_id, tenant_id=tenant_id, lock=True)
    # A later (or late) revision of a stored return.
    applied = revision > record.revision
    outcome: IngestOutcome = "new_revision" if applied else "stale_revision"
    event = _event(
        record,
        at=now,
        from_status=record.status,
        to_status=record.status,
        event="revision_received",
        actor=actor,
        data={"revision": revision, "previous_revision": record.revision, "applied": applied},
    )
    if applied:
        record.revision = revision
        record.idempotency_key = idempotency_key
        record.payload = payload
        record.payload_hash = digest
        record.order_ref = order_ref
        record.channel = channel
        record.currency = currency if currency is not None else record.currency
        record.workflow_id = workflow_id if workflow_id is not None else record.workflow_id
        record.updated_at = now
    stored = ReturnRevision(**stored_values, return_id=record.id)
    session.add_all([stored, event])
    session.flush()
    return IngestResult(record, stored, outcome)


def _event(
    record: Return,
    *,
    at: datetime,
    from_status: str | None,
    to_status: str | None,
    event: str,
    actor: str,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> TimelineEvent:
    return TimelineEvent(
        **_event_values(
            record.id,
            record.tenant_id,
            at=at,
            from_status=from_status,
            to_status=to_status,
            event=event,
            actor=actor,
            reason=reason,
            data=data,
        )
    )


def _event_values(
    return_id: str,
    tenant_id: str,
    *,
    at: datetime,
    from_status: str | None,
    to_status: str | None,
    event: str,
    actor: str,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A timeline event's columns, for an ORM object or a plain INSERT."""
    return {
        "return_id": return_id,
        "tenant_id": tenant_id,
        "at": at,
        "from_status": from_status,
        "to_status": to_status,
        "event": event,
        "actor": actor,
        "reason": reason,
        "data": dict(data or {}),
    }


# Built once: every step loads its return, and building the statement each time costs more
# CPU than running it (the values are bound per call).
_BY_ID = (
    select(Return)
    .where(Return.id == bindparam("return_id"), Return.tenant_id == bindparam("tenant_id"))
    .execution_options(populate_existing=True)
)
_BY_ID_LOCKED = _BY_ID.with_for_update()


def _load(session: Session, return_id: str, *, tenant_id: str, lock: bool = False) -> Return:
    record = session.scalar(
        _BY_ID_LOCKED if lock else _BY_ID, {"return_id": return_id, "tenant_id": tenant_id}
    )
    if record is None:
        raise RecordNotFoundError(message="return not found", kind="return", id=return_id)
    return record


def get_return(session: Session, return_id: str, *, tenant_id: str, lock: bool = False) -> Return:
    """The tenant's return ``return_id`` (row-locked with `lock`); RecordNotFoundError if none."""
    return _load(session, return_id, tenant_id=tenant_id, lock=lock)


def current_revision_key(session: Session, record: Return) -> str:
    """The idempotency key the return's current revision arrived with (names its workflows)."""
    key = session.scalar(
        select(ReturnRevision.idempotency_key).where(
            ReturnRevision.tenant_id == record.tenant_id,
            ReturnRevision.return_id == record.id,
            ReturnRevision.revision == record.revision,
        )
    )
    if key is None:
        raise RecordNotFoundError(message="revision not found", kind="revision", id=record.id)
    return key


def lock_return(session: Session, return_id: str, *, tenant_id: str) -> Return:
    """``get_return`` holding the row until the transaction ends (compare-and-set updates)."""
    return _load(session, return_id, tenant_id=tenant_id, lock=True)


@dataclass(frozen=True, slots=True)
class StalledReturn:
    """A return that has not changed since ``updated_at``, with the workflow meant to drive it."""

    tenant_id: str
    return_id: str
    status: str
    workflow_id: str | None
    updated_at: datetime


def stalled_returns(
    session: Session, *, statuses: Sequence[str], before: datetime, limit: int = 100
) -> list[StalledReturn]:
    """Returns in ``statuses`` unchanged since ``before``, oldest first, across every tenant.

    The one query that is not tenant-scoped: the engine's sweeper owns every return. It hands
    back ids only; the sweeper then reads and changes each return under its tenant.
    """
    rows = session.execute(
        select(Return.tenant_id, Return.id, Return.status, Return.workflow_id, Return.updated_at)
        .where(Return.status.in_(list(statuses)), Return.updated_at < before)
        .order_by(Return.updated_at)
        .limit(limit)
    ).all()
    return [StalledReturn(*row) for row in rows]


def find_return(session: Session, tenant_id: str, *, external_id: str) -> Return | None:
    """The tenant's return with the ISV's ``external_id``, or None."""
    return session.scalar(
        select(Return).where(Return.tenant_id == tenant_id, Return.external_id == external_id)
    )


def return_revisions(session: Session, return_id: str, *, tenant_id: str) -> list[ReturnRevision]:
    """Every stored revision of a return, lowest revision first."""
    return list(
        session.scalars(
            select(ReturnRevision)
            .where(ReturnRevision.return_id == return_id, ReturnRevision.tenant_id == tenant_id)
            .order_by(ReturnRevision.revision)
        )
    )


def check_transition(
    allowed: TransitionCheck | None, return_id: str, from_status: str, to_status: str
) -> None:
    """TransitionForbiddenError when ``allowed`` is given and says no."""
    if allowed is not None and not allowed(from_status, to_status):
        here, there = str(from_status), str(to_status)  # plain values, also for enums
        raise TransitionForbiddenError(
            message=f"a return cannot move from {here!r} to {there!r}",
            return_id=return_id,
            from_status=here,
            to_status=there,
        )


def record_transition(
    session: Session,
    return_id: str,
    *,
    tenant_id: str,
    to_status: str,
    event: str,
    actor: str,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
    allowed: TransitionCheck | None = None,
    clock: Clock = utc_now,
    locked: Return | None = None,
) -> TimelineEvent:
    """Move a return to ``to_status`` and append the timeline event, in the caller's transaction.

    The row is locked (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite transactions are
    already serialised) so concurrent transitions see each other; ``locked`` is the row when
    the caller already loaded it with `get_return(..., lock=True)` in this transaction. When
    ``allowed`` is given and says no, raises TransitionForbiddenError and writes nothing.
    """
    record = _locked(session, return_id, tenant_id=tenant_id, locked=locked)
    from_status = record.status
    check_transition(allowed, return_id, from_status, to_status)
    now = clock()
    record.status = to_status
    record.updated_at = now
    entry = _event(
        record,
        at=now,
        from_status=from_status,
        to_status=to_status,
        event=event,
        actor=actor,
        reason=reason,
        data=data,
    )
    session.add(entry)
    session.flush()
    return entry


def record_event(
    session: Session,
    return_id: str,
    *,
    tenant_id: str,
    event: str,
    actor: str,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
    clock: Clock = utc_now,
) -> TimelineEvent:
    """Append a timeline event that does not change status (e.g. ``step_skipped``)."""
    record = _load(session, return_id, tenant_id=tenant_id)
    entry = _event(
        record,
        at=clock(),
        from_status=record.status,
        to_status=record.status,
        event=event,
        actor=actor,
        reason=reason,
        data=data,
    )
    session.add(entry)
    session.flush()
    return entry


def timeline(session: Session, return_id: str, *, tenant_id: str) -> list[TimelineEvent]:
    """A return's timeline in the order it was written (insertion order, not clock order)."""
    _load(session, return_id, tenant_id=tenant_id)
    return list(
        session.scalars(
            select(TimelineEvent)
            .where(TimelineEvent.return_id == return_id, TimelineEvent.tenant_id == tenant_id)
            .order_by(TimelineEvent.id)
        )
    )


def set_candidates(
    session: Session,
    return_id: str,
    *,
    tenant_id: str,
    candidates: Sequence[dict[str, Any]],
    clock: Clock = utc_now,
) -> Return:
    """Store the candidate orders found when matching was ambiguous (or none)."""
    record = _load(session, return_id, tenant_id=tenant_id, lock=True)
    record.candidates = [dict(candidate) for candidate in candidates]
    record.updated_at = clock()
    session.flush()
    return record


def set_matched_order(
    session: Session,
    return_id: str,
    *,
    tenant_id: str,
    order_id: str,
    order_name: str | None = None,
    clock: Clock = utc_now,
) -> Return:
    """Record which platform order the return belongs to (written with the caller's next
    flush). Workflow steps stage it on their step row instead (`step_rows`)."""
    record = _load(session, return_id, tenant_id=tenant_id, lock=True)
    record.matched_order_id = order_id
    record.matched_order_name = order_name
    record.updated_at = clock()
    return record


def _locked(session: Session, return_id: str, *, tenant_id: str, locked: Return | None) -> Return:
    """``locked`` if it is that return, else the row loaded and locked now."""
    if locked is not None and locked.id == return_id and locked.tenant_id == tenant_id:
        return locked
    return _load(session, return_id, tenant_id=tenant_id, lock=True)


def set_refund_total(
    session: Session,
    return_id: str,
    *,
    tenant_id: str,
    total: Money | None,
    clock: Clock = utc_now,
) -> Return:
    """Store the planned refund total (minor units + currency), or clear it (as
    `set_matched_order`)."""
    record = _load(session, return_id, tenant_id=tenant_id, lock=True)
    record.refund_total = None if total is None else total.minor
    if total is not None:
        record.currency = total.currency
    record.updated_at = clock()
    return record


def set_workflow_id(
    session: Session, return_id: str, *, tenant_id: str, workflow_id: str, clock: Clock = utc_now
) -> Return:
    """Remember the durable workflow driving the return's current revision."""
    record = _load(session, return_id, tenant_id=tenant_id, lock=True)
    record.workflow_id = workflow_id
    record.updated_at = clock()
    session.flush()
    return record


def list_returns(
    session: Session,
    tenant_id: str,
    *,
    status: str | Sequence[str] | None = None,
    channel: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
    newest_first: bool = False,
) -> ReturnPage:
    """A page of the tenant's returns ordered by (created_at, id), oldest first by default.

    ``created_from`` is inclusive, ``created_to`` exclusive. ``cursor`` is the previous page's
    ``next_cursor``; it carries its direction, so it must be used with the same filters.
    """
    if not 1 <= limit <= MAX_PAGE_SIZE:
        raise DomainError("INVALID_LIMIT", f"limit must be 1..{MAX_PAGE_SIZE}", field="limit")
    query = select(Return).where(Return.tenant_id == tenant_id)
    if isinstance(status, str):
        query = query.where(Return.status == status)
    elif status is not None:
        query = query.where(Return.status.in_(list(status)))
    if channel is not None:
        query = query.where(Return.channel == channel)
    if created_from is not None:
        query = query.where(Return.created_at >= created_from)
    if created_to is not None:
        query = query.where(Return.created_at < created_to)
    if cursor is not None:
        after_at, after_id, newest_first = decode_cursor(cursor)
        if newest_first:
            query = query.where(
                or_(
                    Return.created_at < after_at,
                    and_(Return.created_at == after_at, Return.id < after_id),
                )
            )
        else:
            query = query.where(
                or_(
                    Return.created_at > after_at,
                    and_(Return.created_at == after_at, Return.id > after_id),
                )
            )
    order = (
        (Return.created_at.desc(), Return.id.desc())
        if newest_first
        else (Return.created_at.asc(), Return.id.asc())
    )
    rows = list(session.scalars(query.order_by(*order).limit(limit + 1)))
    items = rows[:limit]
    next_cursor = None
    if len(rows) > limit:
        last = items[-1]
        next_cursor = encode_cursor(last.created_at, last.id, newest_first=newest_first)
    return ReturnPage(items, next_cursor)


def encode_cursor(created_at: datetime, return_id: str, *, newest_first: bool) -> str:
    """An opaque page cursor pointing just after ``(created_at, return_id)``."""
    body = json.dumps(
        {"at": created_at.isoformat(), "id": return_id, "desc": newest_first},
        separators=(",", ":"),
    )
    return base64.urlsafe_b64encode(body.encode("utf-8")).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str, bool]:
    """Unpack a cursor from ``encode_cursor``; raises DomainError INVALID_CURSOR if malformed."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        body = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
        at = datetime.fromisoformat(body["at"])
        return_id = body["id"]
        descending = body["desc"]
        if at.tzinfo is None or not isinstance(return_id, str) or not isinstance(descending, bool):
            raise TypeError("bad cursor fields")
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeError) as exc:
        raise DomainError("INVALID_CURSOR", "malformed page cursor", field="cursor") from exc
    return at, return_id, descending
