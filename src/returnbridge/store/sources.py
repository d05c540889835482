"""Sources of both kinds, read per tenant; poll sources created, paused, resumed and synced.

A poll source is a `sources` row of kind `poll`: `config` says how to call the vendor (checked
by the engine before it reaches here), `secrets_encrypted` holds its auth secrets, `cursor` is
the last committed cursor (an updated-since watermark or the vendor's opaque cursor) and
`stats` keeps the counts of the last run, the running totals and, while a sync is unfinished,
where it stopped (`stats["resume"]`), so the next run carries on from there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.orm import Session

from returnbridge.domain.errors import DomainError
from returnbridge.store.clock import Clock, utc_now
from returnbridge.store.connections import get_connection
from returnbridge.store.crypto import CredentialCipher
from returnbridge.store.errors import RecordNotFoundError
from returnbridge.store.ids import IdSource, new_id
from returnbridge.store.tables import Source

POLL: Final = "poll"
ACTIVE: Final = "active"
PAUSED: Final = "paused"


def create_poll_source(
    session: Session,
    tenant_id: str,
    *,
    connection_id: str,
    name: str,
    config: dict[str, Any],
    secrets: dict[str, Any],
    cipher: CredentialCipher,
    mapping: str | None = None,
    first_run_at: datetime | None = None,
    ids: IdSource = new_id,
    clock: Clock = utc_now,
) -> Source:
    """Store a new active poll source, due at ``first_run_at`` (default: now)."""
    get_connection(session, connection_id, tenant_id=tenant_id)
    taken = session.scalar(
        select(Source.id).where(Source.tenant_id == tenant_id, Source.name == name)
    )
    if taken is not None:
        raise DomainError("SOURCE_NAME_TAKEN", f"a source named {name!r} exists", field="name")
    now = clock()
    source = Source(
        id=ids("src"),
        tenant_id=tenant_id,
        connection_id=connection_id,
        name=name,
        kind=POLL,
        status=ACTIVE,
        mapping=mapping,
        config=dict(config),
        secrets_encrypted=cipher.encrypt(secrets),
        cursor=None,
        next_run_at=first_run_at or now,
        stats={},
        created_at=now,
        updated_at=now,
    )
    session.add(source)
    session.flush()
    return source


def get_source(
    session: Session, source_id: str, *, tenant_id: str, kind: str | None = None
) -> Source:
    """The tenant's source ``source_id`` (of ``kind``, if given); RecordNotFoundError otherwise."""
    query = select(Source).where(Source.id == source_id, Source.tenant_id == tenant_id)
    if kind is not None:
        query = query.where(Source.kind == kind)
    source = session.scalar(query)
    if source is None:
        raise RecordNotFoundError(message="source not found", kind="source", id=source_id)
    return source


def list_sources(session: Session, tenant_id: str, *, kind: str | None = None) -> list[Source]:
    """The tenant's sources, oldest first, optionally of one kind."""
    query = select(Source).where(Source.tenant_id == tenant_id)
    if kind is not None:
        query = query.where(Source.kind == kind)
    return list(session.scalars(query.order_by(Source.created_at, Source.id)))


def source_secrets(source: Source, *, cipher: CredentialCipher) -> dict[str, Any]:
    """Decrypt a source's secrets; call only where they are about to be used."""
    return cipher.decrypt(source.secrets_encrypted)


def pause_source(
    session: Session, source_id: str, *, tenant_id: str, clock: Clock = utc_now
) -> Source:
    """Stop scheduling the poll source (a sync under way finishes its page and stops)."""
    source = get_source(session, source_id, tenant_id=tenant_id, kind=POLL)
    source.status = PAUSED
    source.updated_at = clock()
    session.flush()
    return source


def resume_source(
    session: Session, source_id: str, *, tenant_id: str, clock: Clock = utc_now
) -> Source:
    """Schedule the poll source again, due now."""
    source = get_source(session, source_id, tenant_id=tenant_id, kind=POLL)
    now = clock()
    source.status = ACTIVE
    source.next_run_at = now
    source.updated_at = now
    session.flush()
    return source


def request_run(
    session: Session, source_id: str, *, tenant_id: str, clock: Clock = utc_now
) -> Source:
    """Make the poll source due now (run now), whether active or paused."""
    source = get_source(session, source_id, tenant_id=tenant_id, kind=POLL)
    now = clock()
    source.next_run_at = now
    source.updated_at = now
    session.flush()
    return source


def due_poll_sources(session: Session, *, now: datetime, limit: int = 100) -> list[Source]:
    """Active poll sources whose next run is due, any tenant: the scheduler's question."""
    query = (
        select(Source)
        .where(Source.kind == POLL, Source.status == ACTIVE, Source.next_run_at <= now)
        .order_by(Source.next_run_at, Source.id)
        .limit(limit)
    )
    return list(session.scalars(query))


def save_sync_state(
    session: Session,
    source_id: str,
    *,
    tenant_id: str,
    stats: dict[str, Any],
    cursor: str | None,
    last_error: str | None,
    last_run_at: datetime | None = None,
    last_success_at: datetime | None = None,
    next_run_at: datetime | None = None,
    clock: Clock = utc_now,
) -> Source:
    """Commit a sync's progress: its stats (with the resume point), cursor and error.

    ``last_run_at``, ``last_success_at`` and ``next_run_at`` change only when given.
    """
    source = get_source(session, source_id, tenant_id=tenant_id, kind=POLL)
    source.stats = dict(stats)
    source.cursor = cursor
    source.last_error = last_error
    if last_run_at is not None:
        source.last_run_at = last_run_at
    if last_success_at is not None:
        source.last_success_at = last_success_at
    if next_run_at is not None:
        source.next_run_at = next_run_at
    source.updated_at = clock()
    session.flush()
    return source
